-- bench/http/report.lua: wrk's summary of one run as one line of numbers
-- for bench/http/run.sh, more precise than wrk's rounded text:
--   RESULT req/s MB/s p99-ms socket-errors non-2xx/3xx requests
-- MB are 10^6 bytes as the client read them, response heads included.
done = function(summary, latency, requests)
	local secs = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format("RESULT %.1f %.2f %.2f %d %d %d\n",
		summary.requests / secs, summary.bytes / secs / 1e6,
		latency:percentile(99) / 1000,
		e.connect + e.read + e.write + e.timeout, e.status,
		summary.requests))
end
