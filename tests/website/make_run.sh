#!/bin/sh
# `make run` as a newcomer tries it: a fresh clone of the repository's
# committed HEAD, `make run` typed in a real terminal (tmux), the printed
# URL fetched with curl, then Ctrl-C, which must stop it with status 0.
#
# The clone lives in $O/make-run/COMMIT, named by the commit it holds.
# Its first `make run` builds it from nothing (a minute or two on two
# cores: CI, and the first run after each commit, pay that); a later run
# for the same commit reuses that build, still through `make run` in
# that untouched checkout. Uncommitted changes are not in the clone: this
# suite tests what a newcomer would get. MAKERUN_REPO names another
# repository to clone.
#
# Nothing of the caller's make reaches the clone's: O, CC, MAKEFLAGS and
# the like are removed from the terminal's environment, so it builds in
# its own build/. HAZE_HTTP_PORT and HAZE_HTTPS_PORT move the site to
# free ports. The build runs with MAKEFLAGS=-j2 to keep the suite short.
set -u
. tests/tap.sh

O=${O:-build}
tmp=$(mktemp -d)
sock=hzrun$$
trap 'tmux -L $sock kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

need tmux tmux
need git git
need curl curl
need openssl openssl
need /usr/bin/python3 python3
end_if_missing

repo=${MAKERUN_REPO:-$(git rev-parse --show-toplevel)}
commit=$(git -C "$repo" rev-parse HEAD) || {
	not_ok "find the commit to clone in $repo"
	done_testing
	exit 1
}
[ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ] &&
	diag "$repo has uncommitted changes: they are not in the clone"
base=$(realpath -m "$O/make-run")
clone=$base/$commit
if [ -e "$clone.ok" ] && [ -d "$clone" ] &&
	[ -z "$(git -C "$clone" status --porcelain)" ] &&
	[ "$(git -C "$clone" rev-parse HEAD)" = "$commit" ]; then
	how="the clone of $commit built by an earlier run"
else
	rm -rf "$base"
	mkdir -p "$base"
	if ! git clone --quiet "$repo" "$clone" 2>"$tmp/clone.err" ||
		! git -C "$clone" checkout --quiet --detach "$commit" 2>>"$tmp/clone.err"; then
		not_ok "git clone $repo"
		diag "$(cat "$tmp/clone.err")"
		done_testing
		exit 1
	fi
	how="a fresh clone of $commit"
fi
ok "$how, a clean checkout"

port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
hp=$(port)
sp=$(port)
log=$tmp/terminal

# The terminal waits for a key before it starts, so that everything
# `make run` prints is piped to the log from its first byte.
tmux -L $sock new-session -d -s run -x 160 -y 50 \
	"read _; cd '$clone' && env -u O -u CC -u MAKEFLAGS -u MAKELEVEL \
	-u MFLAGS -u MAKEOVERRIDES HAZE_HTTP_PORT=$hp HAZE_HTTPS_PORT=$sp \
	MAKEFLAGS=-j2 make run; echo \"exit status \$?\" >'$tmp/status'; \
	sleep 60" || {
	not_ok "tmux starts a terminal"
	done_testing
	exit 1
}
tmux -L $sock pipe-pane -t run -o "cat >>'$log'"
start=$(date +%s)
tmux -L $sock send-keys -t run Enter

# The URLs are printed once the site answers; a fresh build comes first.
url=
while [ $(($(date +%s) - start)) -lt 600 ] && [ ! -e "$tmp/status" ]; do
	url=$(tr -d '\r' <"$log" 2>/dev/null |
		sed -n 's|^haze:   \(http://localhost:[0-9]*/\).*|\1|p' | head -n 1)
	[ -n "$url" ] && break
	sleep 0.5
done
took=$(($(date +%s) - start))
if [ "$url" = "http://localhost:$hp/" ]; then
	ok "make run prints the URL $url (after $took s: $(tr -d '\r' <"$log" | grep -m1 'haze: serving in'))"
else
	not_ok "make run prints the URL http://localhost:$hp/ (got '$url' after $took s)"
	diag "$(tr -d '\r' <"$log" | tail -n 30)"
	done_testing
	exit 1
fi
target=$(tr -d '\r' <"$log" | grep -m1 '^haze: target: ')
if [ -n "$target" ]; then
	ok "it says which target it picked and why (${target#haze: })"
else
	not_ok "it says which target it picked and why"
fi

if curl -sS --max-time 10 -o "$tmp/index" "$url" 2>"$tmp/curl.err" &&
	cmp -s "$tmp/index" "$clone/examples/website/site/index.html"; then
	ok "curl $url gets the site's index page"
else
	not_ok "curl $url gets the site's index page"
	diag "$(cat "$tmp/curl.err")"
fi
surl=$(tr -d '\r' <"$log" | sed -n 's|^haze:   \(https://localhost:[0-9]*/\).*|\1|p' | head -n 1)
cert=$clone/build/run/tls/cert.pem
if [ -n "$surl" ] && curl -sS --max-time 10 --cacert "$cert" -o "$tmp/sindex" \
	"$surl" 2>"$tmp/curl.err" &&
	cmp -s "$tmp/sindex" "$clone/examples/website/site/index.html"; then
	ok "curl --cacert its self-signed certificate gets the index page from $surl"
else
	not_ok "curl gets the index page from the printed HTTPS URL '$surl'"
	diag "$(cat "$tmp/curl.err")"
fi
if tr -d '\r' <"$log" | grep -q '"GET / HTTP/1.1" 200 [0-9]* [0-9]*$'; then
	ok "the terminal shows the access log"
else
	not_ok "the terminal shows the access log"
fi

tmux -L $sock send-keys -t run C-c
for _ in $(seq 100); do
	[ -s "$tmp/status" ] && break
	sleep 0.1
done
status=$(cat "$tmp/status" 2>/dev/null)
if [ "$status" = "exit status 0" ] && tr -d '\r' <"$log" | grep -q 'haze: stopped$'; then
	ok "Ctrl-C stops it: 'haze: stopped', make run exits 0"
	touch "$clone.ok"
else
	not_ok "Ctrl-C stops it with status 0 (got '${status:-no exit in 10 s}')"
	diag "$(tr -d '\r' <"$log" | tail -n 10)"
fi
if curl -s --max-time 2 -o /dev/null "$url"; then
	not_ok "nothing answers on $url any more"
else
	ok "nothing answers on $url any more"
fi
done_testing
