# Running the website unikernel (examples/website) for its suites: source
# this file after tests/tap.sh and tests/net/lib.sh.
#
#   site_mode MODE       socket | direct | kvm: how the next site_start
#                        runs it, and where clients reach it
#   site_start LOG ARGS  starts it with the application's ARGS, waits for
#                        its "HTTP on port" line (its log in LOG)
#   site_up MODE LOG ARGS  site_mode, then site_start; either failing is
#                        reported, the plan ended and the suite exits 1
#   site_stop            stops it (SIGTERM), waits for it
#   client CMD...        runs a client where it reaches the site: in the
#                        namespace for direct and kvm, here for socket
#
# socket: the unix target on the host's sockets, HTTP and HTTPS on free
# ports of 127.0.0.1. direct: the unix target on Haze's own TCP/IP over
# a tap inside a network namespace made here, at 10.81.0.2, ports 80 and
# 443; the Linux side is 10.81.0.1. kvm: the same, the image under
# haze-kvm. HTTPS uses the test CA's EC leaf for localhost
# (tests/tls/mkcerts.sh, built into $O/gen/tls/certs); clients verify it
# against ca.pem with the name localhost resolved to $site_host.
#
# Sets: site_host, site_http, site_https, site_url (http://HOST:PORT),
# site_surl (https://localhost:PORT), site_resolve (curl's --resolve for
# it), site_pid, site_ns. Callers set tmp (a directory) and O first, and
# call site_cleanup from their EXIT trap.
# shellcheck shell=sh
# Its variables are for the suites that source it; dash has ulimit -n.
# shellcheck disable=SC2034,SC2154,SC3045

SITE_BIN=$O/unix/examples/website/website
SITE_IMAGE=$O/kvm/examples/website/website.hz
SITE_TENDER=$O/host/tender/haze-kvm
SITE_CERTS=$O/gen/tls/certs
SITE_DIR=examples/website/site
site_pid=
site_ns=
site_tap=
site_mem=${SITE_MEM:-512}
# More of the target's options (more --block), from the caller.
site_target_args=${SITE_TARGET_ARGS:-}

# site_need MODE: fails the suite (need/built) for what MODE uses.
site_need() {
	need curl curl
	need /usr/bin/python3 python3
	need openssl openssl
	case $1 in
	socket) built "$SITE_BIN" ;;
	direct) need ip iproute2 && built "$SITE_BIN" ;;
	kvm) need ip iproute2 && built "$SITE_IMAGE" && built "$SITE_TENDER" ;;
	esac
	built "$SITE_CERTS/ca.pem"
}

# site_unusable MODE: prints why this machine cannot run MODE (root,
# namespaces, /dev/kvm) and succeeds, or fails quietly when it can.
site_unusable() {
	case $1 in
	socket) return 1 ;;
	kvm)
		if ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
			echo "/dev/kvm is not usable"
			return 0
		fi
		;;
	esac
	netns_unusable
}

# site_tls_tar: $tmp/tls.tar holding the EC leaf as cert.pem, key.pem.
site_tls_tar() {
	mkdir -p "$tmp/tls" &&
		cp "$SITE_CERTS/ec.pem" "$tmp/tls/cert.pem" &&
		cp "$SITE_CERTS/ec.key" "$tmp/tls/key.pem" &&
		tar -C "$tmp/tls" -cf "$tmp/tls.tar" cert.pem key.pem
}

# site_mode MODE: prepares MODE (the namespace and tap for direct and
# kvm, the certificate archive). Fails if the namespace cannot be made.
site_mode() {
	site_m=$1
	site_tls_tar || return 1
	# The socket stack holds a descriptor per connection.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	case $site_m in
	socket)
		site_host=127.0.0.1
		site_http=$(free_port) && site_https=$(free_port) || return 1
		;;
	*)
		site_ns=hzw$$
		site_tap=hzwt$$
		site_host=10.81.0.2
		site_http=80
		site_https=443
		netns_up "$site_ns" "$site_tap" 10.81.0.1/24 || return 1
		ip netns exec "$site_ns" sysctl -qw \
			net.ipv4.ip_local_port_range="1024 65000"
		;;
	esac
	site_url=http://$site_host:$site_http
	site_surl=https://localhost:$site_https
	site_resolve=localhost:$site_https:$site_host
}

# site_start LOG ARGS...: runs the website with ARGS after the stack,
# ports and certificate options; waits (10 s) for it to serve.
site_start() {
	site_log=$1
	shift
	stack=direct:service,ip=$site_host/24,gw=10.81.0.1
	case $site_m in
	socket)
		"$SITE_BIN" --mem "$site_mem" --block tls="$tmp/tls.tar" \
			$site_target_args -- \
			--stack socket --http "$site_http" \
			--https "$site_https" --tls tls "$@" >"$site_log" 2>&1 &
		;;
	direct)
		ip netns exec "$site_ns" "$SITE_BIN" --mem "$site_mem" \
			--net service=tap:"$site_tap" \
			--block tls="$tmp/tls.tar" $site_target_args -- \
			--stack "$stack" \
			--tls tls "$@" >"$site_log" 2>&1 &
		;;
	kvm)
		ip netns exec "$site_ns" "$SITE_TENDER" --mem "$site_mem" \
			--net service=tap:"$site_tap" \
			--block tls="$tmp/tls.tar" $site_target_args \
			"$SITE_IMAGE" \
			--stack "$stack" --tls tls "$@" >"$site_log" 2>&1 &
		;;
	esac
	site_pid=$!
	wait_for "$site_log" "HTTP on port" 10
}

# site_stop: stops the website started last.
site_up() {
	su_mode=$1
	shift
	site_mode "$su_mode" || {
		not_ok "$su_mode: set up the site (ports, TLS tar; namespace and tap)"
		done_testing
		exit 1
	}
	if ! site_start "$@"; then
		not_ok "the website starts ($su_mode stack)"
		diag "$(cat "$1")"
		done_testing
		exit 1
	fi
}

site_stop() {
	[ -n "$site_pid" ] || return 0
	kill "$site_pid" 2>/dev/null
	wait "$site_pid" 2>/dev/null
	site_pid=
}

# site_cleanup: for the EXIT trap.
site_cleanup() {
	site_stop
	[ -n "$site_ns" ] && netns_down "$site_ns"
	site_ns=
}

# client CMD...: runs CMD where it reaches the site.
client() {
	if [ -n "$site_ns" ]; then
		ip netns exec "$site_ns" "$@"
	else
		"$@"
	fi
}

# metric PAGE NAME: the value of NAME on the metrics page saved in PAGE.
metric() {
	awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "" }' "$1"
}
