#!/bin/bash
# make run: serves the demo site (examples/website) from a unikernel, in the
# foreground, until Ctrl-C.
#
# With a usable /dev/kvm it boots the site under haze-kvm with user
# networking (no root): localhost:8080 to the guest's port 80, 8443 to 443.
# Without one, it runs the unix target on the host's sockets on the same
# ports. It says which and why, prints the URLs and the time from start to
# the first answer, and leaves the access log on the terminal.
#
# HTTPS needs a certificate: unless HAZE_TLS names a tar holding cert.pem
# and key.pem, a self-signed one for localhost is made once with openssl
# (in $O/run/) and used. HAZE_HTTP_PORT and HAZE_HTTPS_PORT move the ports.
#
# Ctrl-C stops the unikernel and `make run` exits 0: scripts/foreground.py
# makes the unikernel's process group the terminal's foreground one, so
# the interrupt reaches it and not make. Without a terminal (`make run &`
# in a script), SIGTERM or SIGINT to foreground.py stops it the same way.
set -u

O=${O:-build}
HTTP_PORT=${HAZE_HTTP_PORT:-8080}
HTTPS_PORT=${HAZE_HTTPS_PORT:-8443}
TENDER=$O/host/tender/haze-kvm
IMAGE=$O/kvm/examples/website/website.hz
UNIX_BIN=$O/unix/examples/website/website

say() { printf 'haze: %s\n' "$*"; }
die() { printf 'haze: %s\n' "$*" >&2; exit 1; }

# A certificate for localhost, made once.
tls=${HAZE_TLS:-}
if [ -z "$tls" ]; then
	dir=$O/run/tls
	tls=$O/run/tls.tar
	if [ ! -s "$tls" ]; then
		mkdir -p "$dir" || die "cannot make $dir"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -days 825 -subj /CN=localhost \
			-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
			-keyout "$dir/key.pem" -out "$dir/cert.pem" \
			>/dev/null 2>&1 || die "openssl could not make a certificate"
		tar -C "$dir" -cf "$tls" cert.pem key.pem ||
			die "cannot write $tls"
		say "made a self-signed certificate for localhost: $dir/cert.pem"
		say "(browsers will warn about it; curl --cacert $dir/cert.pem trusts it)"
	fi
fi
[ -r "$tls" ] || die "HAZE_TLS=$tls: no such archive"

# Which target: kvm if /dev/kvm opens for reading and writing.
why=""
if [ ! -e /dev/kvm ]; then
	why="there is no /dev/kvm on this machine"
elif ! { exec 3<>/dev/kvm; } 2>/dev/null; then
	why="/dev/kvm is not usable by $(id -un)"
else
	exec 3>&-
fi
if [ -z "$why" ] && [ -x "$TENDER" ] && [ -r "$IMAGE" ]; then
	say "target: kvm (haze-kvm, user networking)"
	cmd=("$TENDER" --mem 64
		--net "service=user,hostfwd=tcp:$HTTP_PORT-:80,hostfwd=tcp:$HTTPS_PORT-:443"
		--block "tls=$tls" "$IMAGE" --tls tls --metrics /metrics)
else
	[ -n "$why" ] || why="the kvm image is not built"
	say "target: unix process on the host's sockets ($why)"
	cmd=("$UNIX_BIN" --block "tls=$tls" -- --stack socket
		--http "$HTTP_PORT" --https "$HTTPS_PORT" --tls tls
		--metrics /metrics)
fi
[ -x "${cmd[0]}" ] || die "${cmd[0]} is not built (make unix kvm)"

HAZE_URLS="https://localhost:$HTTPS_PORT/ http://localhost:$HTTP_PORT/metrics" \
	exec /usr/bin/python3 scripts/foreground.py "$HTTP_PORT" -- "${cmd[@]}"
