# What the benchmark scripts share: source this file.
# shellcheck shell=sh

# median: the middle of the numbers on stdin (the mean of the two middle
# ones for an even count).
median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# debian_install LOG PACKAGE...: installs the Debian packages with apt-get
# (updating the lists once if the first try fails), apt's output in LOG.
# No package's service is started: policy-rc.d refuses it (101) while
# apt runs, ours only if there was none. Returns apt-get's status.
debian_install() {
	log=$1
	shift
	ours=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d &&
			chmod 755 /usr/sbin/policy-rc.d && ours=y
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "$@" >"$log" 2>&1 ||
		{ apt-get update -qq >>"$log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends "$@" >>"$log" 2>&1; }
	rc=$?
	[ -n "$ours" ] && rm -f /usr/sbin/policy-rc.d
	return $rc
}
