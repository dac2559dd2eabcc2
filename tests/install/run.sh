#!/bin/sh
# Installed Haze, used from outside the tree (docs/using.md): `make
# install` into a temporary prefix; then, in a directory outside the tree
# with only that prefix for Haze on PATH and PKG_CONFIG_PATH, `haze new`
# for each template, `haze build` for unix, kvm and virtio, `haze run` on
# each target the machine can run (kvm only with a usable /dev/kvm; virtio
# under QEMU, TCG without it), the same application built by a plain cc
# line with pkg-config, gdb on a unix build and through `haze run -t virtio
# --gdb`, `haze inspect` on every example image (build ids included) and
# on corrupt ones, every refusal with its message, DESTDIR staging and
# `make uninstall`. Also: the website template serving every file of its
# site (names to decode, /dir to /dir/, ".." refused), compiled in and
# from a tar on a block device (unix and virtio); the runtime's --log
# kept first; scripts/foreground.py (`make run`) stopped by SIGTERM when
# started in the background of a script; README's echo without root.
set -u
. tests/tap.sh
. tests/net/lib.sh

# The make install below is a make of its own, not one of make test's
# jobs: it takes nothing from the make that runs the suites.
unset MAKEFLAGS MFLAGS MAKELEVEL
O=${O:-build}
case $O in /*) ;; *) O=$(pwd)/$O ;; esac
tree=$(pwd)
need pkg-config pkg-config
need man man-db
need gdb gdb
need curl curl
need ip iproute2
need /usr/bin/python3 python3
need qemu-system-x86_64 qemu-system-x86
built "$O/unix/libhaze.a"
built "$O/kvm/libhaze.a"
built "$O/host/tender/haze-kvm"
built "$O/virtio/haze-virtio-start.o"
end_if_missing

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
prefix=$tmp/prefix
work=$tmp/work
out=$tmp/out
mkdir -p "$work"

# --- make install -------------------------------------------------------------

if make -s --no-print-directory O="$O" install PREFIX="$prefix" >"$out" 2>&1; then
	ok "make install PREFIX=$prefix"
else
	not_ok "make install PREFIX=$prefix"
	diag "$(tail -n 20 "$out")"
	done_testing
	exit 1
fi
missing=""
for f in bin/haze bin/haze-kvm bin/haze-qemu lib/haze/virtio/guest.ld \
	lib/haze/virtio/haze-virtio-start.o lib/pkgconfig/haze-virtio.pc \
	share/man/man1/haze.1 include/haze/haze.h \
	include/haze/http.h lib/haze/unix/libhaze.a lib/haze/kvm/libhaze.a \
	lib/haze/kvm/libc.a lib/haze/kvm/haze-kvm-start.o lib/haze/kvm/guest.ld \
	lib/haze/kvm/include/string.h lib/pkgconfig/haze-unix.pc \
	lib/pkgconfig/haze-kvm.pc share/haze/templates/common/Makefile; do
	[ -e "$prefix/$f" ] || missing="$missing $f"
done
check "install puts the command, manual, headers, archives, linker script, start files and pkg-config files in place${missing:+ (missing:$missing)}" \
	[ -z "$missing" ]
man -l "$prefix/share/man/man1/haze.1" >"$out" 2>&1
check "the manual page formats and names every command" \
	grep -q 'haze inspect IMAGE' "$out"

# From here on: a directory outside the tree, only the prefix for Haze.
env_run() {
	env -i HOME="$tmp" PATH="$prefix/bin:/usr/bin:/bin" \
		PKG_CONFIG_PATH="$prefix/lib/pkgconfig" "$@"
}
pc_flags=$(env_run pkg-config --cflags --libs haze-unix haze-kvm \
	haze-virtio 2>&1)
case $pc_flags in
*"$tree"* | *"$O"*) not_ok "pkg-config's flags name only the prefix" ;;
*) ok "pkg-config's flags name only the prefix, never the tree" ;;
esac
unix_libs=$(env_run pkg-config --libs haze-unix)
kvm_flags=$(env_run pkg-config --cflags --libs haze-kvm)
case $unix_libs in *-lbearssl*) ok "haze-unix links BearSSL" ;;
*) not_ok "haze-unix links BearSSL: $unix_libs" ;; esac
case $kvm_flags in *libbearssl.a*"$prefix/lib/haze/kvm/guest.ld"* | \
	*"$prefix/lib/haze/kvm/guest.ld"*libbearssl.a*)
	ok "haze-kvm carries BearSSL and the guest's linker script" ;;
*) not_ok "haze-kvm carries BearSSL and the guest's linker script: $kvm_flags" ;;
esac
check "haze on PATH is the installed one" \
	[ "$(env_run sh -c 'command -v haze')" = "$prefix/bin/haze" ]

# haze_in DIR ARGS...: runs the installed haze in $work/DIR.
haze_in() {
	hd=$1
	shift
	(cd "$work/$hd" && env_run haze "$@")
}

# wait_port PORT: waits up to 10 s for a listener on 127.0.0.1:PORT.
wait_port() {
	/usr/bin/python3 - "$1" <<'EOF'
import socket, sys, time
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# echo_ok PORT: the echo server at PORT sends back what it is sent.
echo_ok() {
	/usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
msg = b"haze echo check\n" * 1000
s.sendall(msg)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
sys.exit(0 if got == msg else 1)
EOF
}

# stop PID: ends a server this suite started.
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

kvm_why=""
if [ ! -e /dev/kvm ]; then
	kvm_why="there is no /dev/kvm on this machine"
elif ! { exec 3<>/dev/kvm; } 2>/dev/null; then
	kvm_why="/dev/kvm is not usable by $(id -un)"
else
	exec 3>&-
fi

# serve_check APP TARGET HOSTPORT GUESTPORT KIND: runs APP's image,
# forwarding HOSTPORT, and checks it serves as KIND (echo or website).
serve_check() {
	sc_app=$1 sc_t=$2 sc_hp=$3 sc_gp=$4 sc_kind=$5
	sc_args=""
	[ "$sc_t" = unix ] && sc_args="-- --port $sc_gp"
	# shellcheck disable=SC2086
	(cd "$work/$sc_app" && exec env -i HOME="$tmp" \
		PATH="$prefix/bin:/usr/bin:/bin" \
		PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
		haze run -t "$sc_t" -p "$sc_hp:$sc_gp" $sc_args) \
		>"$out.$sc_app" 2>&1 &
	sc_pid=$!
	pids="$pids $sc_pid"
	if ! wait_port "$sc_hp"; then
		not_ok "$sc_app on $sc_t: serves on port $sc_hp"
		diag "$(cat "$out.$sc_app")"
		stop "$sc_pid"
		return
	fi
	if [ "$sc_kind" = echo ]; then
		check "$sc_app on $sc_t: echoes 16 KB back through -p $sc_hp:$sc_gp" \
			echo_ok "$sc_hp"
	else
		page=$(curl -s --max-time 10 "http://127.0.0.1:$sc_hp/")
		case $page in *"<h1>$sc_app</h1>"*)
			ok "$sc_app on $sc_t: serves site/index.html at / through -p $sc_hp:$sc_gp" ;;
		*) not_ok "$sc_app on $sc_t: serves site/index.html at /" ;;
		esac
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
			"http://127.0.0.1:$sc_hp/style.css")
		check "$sc_app on $sc_t: serves site/style.css" [ "$code" = 200 ]
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
			"http://127.0.0.1:$sc_hp/nothing-here")
		check "$sc_app on $sc_t: 404 for a file not in site/" [ "$code" = 404 ]
	fi
	stop "$sc_pid"
}

# --- haze new, build, run for each template -----------------------------------

for t in hello echo website; do
	app=app-$t
	if (cd "$work" && env_run haze new "$app" --template "$t") >"$out" 2>&1 &&
		[ -f "$work/$app/Makefile" ] && [ -f "$work/$app/main.c" ]; then
		ok "haze new $app --template $t makes a directory with a Makefile"
	else
		not_ok "haze new $app --template $t"
		diag "$(cat "$out")"
		continue
	fi
	for target in unix kvm virtio; do
		image=build/unix/$app
		[ "$target" = kvm ] && image=build/kvm/$app.hz
		[ "$target" = virtio ] && image=build/virtio/$app.virtio
		if haze_in "$app" build -t "$target" >"$out" 2>&1 &&
			[ -x "$work/$app/$image" ] &&
			grep -qx "haze: built $image ($target)" "$out"; then
			ok "$app: haze build -t $target makes $image"
		else
			not_ok "$app: haze build -t $target makes $image"
			diag "$(tail -n 20 "$out")"
			continue
		fi
		haze_in "$app" build -t "$target" >"$out" 2>&1
		check "$app: haze build -t $target again says $image is up to date" \
			grep -qx "haze: $image is up to date ($target)" "$out"
		haze_in "$app" inspect "$image" >"$out" 2>&1
		check "$app: haze inspect calls $image a $target image" \
			grep -q "^target:   $target" "$out"
	done
	if [ -z "$kvm_why" ]; then
		targets="unix kvm"
	else
		targets=unix
		skip "$app: haze run -t kvm" "$kvm_why"
	fi
	# virtio runs everywhere (QEMU, TCG without /dev/kvm): hello only,
	# for time; tests/virtio and tests/net serve through it.
	[ "$t" = hello ] && targets="$targets virtio"
	for target in $targets; do
		case $t in
		hello)
			haze_in "$app" run -t "$target" -- world >"$out" 2>&1
			rc=$?
			if [ "$rc" -eq 0 ] &&
				grep -q "^Hello from $app! (world)$" "$out"; then
				ok "$app: haze run -t $target -- world greets and exits 0"
			else
				not_ok "$app: haze run -t $target -- world (exit $rc)"
				diag "$(cat "$out")"
			fi
			;;
		echo | website)
			gp=7007
			[ "$t" = website ] && gp=8080
			hp=$(free_port)
			[ "$target" = unix ] && gp=$hp
			serve_check "$app" "$target" "$hp" "$gp" "$t"
			;;
		esac
	done
done

# dry_run DESC EXPECTED DIR ARGS...: haze run -n ARGS prints EXPECTED.
dry_run() {
	dr_desc=$1 dr_want=$2 dr_dir=$3
	shift 3
	dr_got=$(haze_in "$dr_dir" run -n "$@" 2>&1)
	if [ "$dr_got" = "$dr_want" ]; then
		ok "haze run -n: $dr_desc"
	else
		not_ok "haze run -n: $dr_desc"
		diag "got:      $dr_got" "expected: $dr_want"
	fi
}
hp=$(free_port)
dry_run "kvm gives the NIC user networking with the forward" \
	"$prefix/bin/haze-kvm --net service=user,hostfwd=tcp:$hp-:8080 build/kvm/app-website.hz" \
	app-website -t kvm -p "$hp:8080"
dry_run "kvm passes --mem, --block and the application's arguments" \
	"$prefix/bin/haze-kvm --mem 64 build/kvm/app-hello.hz world --log=debug" \
	app-hello -t kvm --mem 64 -- world --log=debug
dry_run "kvm takes --net as given" \
	"$prefix/bin/haze-kvm --net service=tap:tap9 build/kvm/app-echo.hz --port 7" \
	app-echo -t kvm --net service=tap:tap9 -- --port 7
dry_run "unix puts the socket stack first" \
	"$work/app-echo/build/unix/app-echo --mem 16 -- --stack socket --port $hp" \
	app-echo --mem 16 -p "$hp:$hp" -- --port "$hp"
dry_run "virtio gives the NIC user networking in haze-qemu's spelling" \
	"$prefix/bin/haze-qemu --net service=user,hostfwd=tcp::$hp-:8080 build/virtio/app-website.virtio" \
	app-website -t virtio -p "$hp:8080"
dry_run "virtio passes --mem, --gdb and the application's arguments" \
	"$prefix/bin/haze-qemu --mem 64 --gdb $hp build/virtio/app-hello.virtio world" \
	app-hello -t virtio --mem 64 --gdb "$hp" -- world
dry_run "kvm passes --gdb" \
	"$prefix/bin/haze-kvm --gdb $hp build/kvm/app-hello.hz" \
	app-hello -t kvm --gdb "$hp"
dry_run "unix with --net leaves the stack to the application" \
	"$work/app-echo/build/unix/app-echo --net service=tap:tap9 -- --stack direct:service" \
	app-echo --net service=tap:tap9 -- --stack direct:service

# The runtime's options stay first, before the socket stack haze adds:
# after it, the application would take them for its own and refuse them.
dry_run "unix keeps the runtime's --log first, before the socket stack" \
	"$work/app-echo/build/unix/app-echo -- --log=debug --stack socket --port $hp" \
	app-echo -- --log=debug --port "$hp"
dry_run "haze run --log=SPEC is the runtime's --log, first (unix)" \
	"$work/app-echo/build/unix/app-echo -- --log=tcp:debug --stack socket --port $hp" \
	app-echo --log=tcp:debug -- --port "$hp"
dry_run "haze run --log SPEC is the runtime's --log, first (kvm)" \
	"$prefix/bin/haze-kvm --net service=user build/kvm/app-echo.hz --log=debug --port 7" \
	app-echo -t kvm --log debug -- --port 7
hp=$(free_port)
(cd "$work/app-echo" && exec env -i HOME="$tmp" \
	PATH="$prefix/bin:/usr/bin:/bin" \
	haze run -p "$hp:$hp" -- --log=debug --port "$hp") >"$out.log" 2>&1 &
log_pid=$!
pids="$pids $log_pid"
if wait_port "$hp" && echo_ok "$hp"; then
	ok "haze run -- --log=debug: the runtime takes it, and echo serves"
else
	not_ok "haze run -- --log=debug: the runtime takes it, and echo serves"
	diag "$(tail -n 5 "$out.log")"
fi
stop "$log_pid"

# --- the website template: every file of site/, and a site on a block device --

# site_check PORT DIR: every file under DIR is served at its path,
# percent-encoded, with its bytes; a directory with an index.html, named
# without its '/', is a 301 to the same with it; "/" is index.html; a
# ".." segment, escaped or not, or an escaped '/' is refused with 400; a
# name not there is 404.
site_check() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import http.client, os, sys, urllib.parse
port, root = int(sys.argv[1]), sys.argv[2]
bad, n = [], 0

def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    got = r.status, r.getheader("Location"), r.read()
    c.close()
    return got

def content(*p):
    with open(os.path.join(root, *p), "rb") as f:
        return f.read()

for d, _, files in os.walk(root):
    rel = os.path.relpath(d, root)
    base = "" if rel == "." else rel + "/"
    for f in files:
        n += 1
        path = "/" + urllib.parse.quote(base + f)
        status, _, body = get(path)
        if status != 200 or body != content(d, f):
            bad.append(f"{path}: {status}")
    if base and "index.html" in files:
        path = "/" + urllib.parse.quote(base[:-1])
        status, loc, _ = get(path)
        if status != 301 or loc != path + "/":
            bad.append(f"{path}: {status} to {loc}, not 301 to {path}/")
status, _, body = get("/")
if status != 200 or body != content("index.html"):
    bad.append(f"/: {status}")
for path in ("/../index.html", "/%2e%2e/index.html", "/.%2E/index.html",
             "/sub/%2E%2E/index.html", "/sub/..", "/sub%2findex.html"):
    status, _, _ = get(path)
    if status != 400:
        bad.append(f"{path}: {status}, not 400")
status, _, _ = get("/no-such-file")
if status != 404:
    bad.append(f"/no-such-file: {status}, not 404")
print(f"{n} files")
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
}

# wait_http PORT: waits up to 60 s for an HTTP answer on 127.0.0.1:PORT
# (a guest's forward listens before the guest does).
wait_http() {
	n=0
	until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/"; do
		[ $n -ge 120 ] && return 1
		sleep 0.5
		n=$((n + 1))
	done
}

# web_serve DESC SITE ARGS...: haze run ARGS in app-website on a free
# port, then site_check against the directory SITE.
web_serve() {
	ws_desc=$1 ws_site=$2
	shift 2
	ws_port=$(free_port)
	(cd "$work/app-website" && exec env -i HOME="$tmp" \
		PATH="$prefix/bin:/usr/bin:/bin" \
		haze run -p "$ws_port:$ws_port" "$@" --port "$ws_port") \
		>"$out.web" 2>&1 &
	ws_pid=$!
	pids="$pids $ws_pid"
	if ! wait_http "$ws_port"; then
		not_ok "website template: $ws_desc: serves"
		diag "$(cat "$out.web")"
	elif site_check "$ws_port" "$ws_site" >"$out" 2>&1; then
		ok "website template: $ws_desc: every file at its encoded path ($(head -n 1 "$out")), /dir 301 to /dir/, '..' refused"
	else
		not_ok "website template: $ws_desc: every file at its encoded path, /dir 301, '..' refused"
		diag "$(cat "$out")"
	fi
	stop "$ws_pid"
}

# Names a server must decode (a space, UTF-8), a directory's index, and
# ".." inside a name, which is not a ".." segment.
/usr/bin/python3 - "$work/app-website/site" <<'PY'
import os, sys
site = sys.argv[1]
os.makedirs(os.path.join(site, "sub"), exist_ok=True)
for name, text in (("my file.txt", "a space\n"),
                   ("\u00fcn\u00ef\u00a9\u00f8d\u00e9.txt", "utf-8\n"),
                   ("sub/index.html", "<h1>sub</h1>\n"),
                   ("a..b.txt", "dots\n")):
    with open(os.path.join(site, name), "w") as f:
        f.write(text)
PY
if haze_in app-website build >"$out" 2>&1; then
	web_serve "the compiled site/" "$work/app-website/site" --
	# The same site and one file more, as a tar on the block device
	# `site`: what docs/using.md gives for a site too large to compile.
	cp -R "$work/app-website/site" "$tmp/tarsite"
	printf 'only in the archive\n' >"$tmp/tarsite/only-in-tar.txt"
	tar -C "$tmp/tarsite" -cf "$tmp/site.tar" .
	web_serve "--site site, a tar on --block site" "$tmp/tarsite" \
		--block "site=$tmp/site.tar" -- --site site
	# Where a large site must go: the virtio image ends below 16 MiB.
	if haze_in app-website build -t virtio >"$out" 2>&1; then
		web_serve "virtio: --site site, a tar on --block site" \
			"$tmp/tarsite" -t virtio --block "site=$tmp/site.tar" \
			-- --site site
	else
		not_ok "website template: haze build -t virtio with more files in site/"
		diag "$(tail -n 20 "$out")"
	fi
else
	not_ok "website template: haze build with more files in site/"
	diag "$(tail -n 20 "$out")"
fi

# --- a plain cc line ---------------------------------------------------------------

# shellcheck disable=SC2016 # expanded by the inner sh
if (cd "$work" && env_run sh -c 'cc -std=c11 -O2 -o hello-cc app-hello/main.c $(pkg-config --cflags --libs haze-unix)') >"$out" 2>&1 &&
	"$work/hello-cc" cc >"$out" 2>&1 && grep -q '^Hello from app-hello! (cc)$' "$out"; then
	ok "cc with pkg-config --cflags --libs haze-unix builds hello, and it runs"
else
	not_ok "cc with pkg-config --cflags --libs haze-unix builds hello, and it runs"
	diag "$(cat "$out")"
fi
# shellcheck disable=SC2016 # expanded by the inner sh
if (cd "$work" && env_run sh -c 'cc -std=c11 -O2 -o echo-cc app-echo/main.c $(pkg-config --cflags --libs haze-unix)') >"$out" 2>&1; then
	hp=$(free_port)
	"$work/echo-cc" -- --stack socket --port "$hp" >"$out" 2>&1 &
	pid=$!
	pids="$pids $pid"
	if wait_port "$hp" && echo_ok "$hp"; then
		ok "cc with pkg-config builds echo (BearSSL linked from the flags), and it echoes"
	else
		not_ok "cc with pkg-config builds echo, and it echoes"
		diag "$(cat "$out")"
	fi
	stop "$pid"
else
	not_ok "cc with pkg-config --cflags --libs haze-unix builds echo"
	diag "$(cat "$out")"
fi
# shellcheck disable=SC2016 # expanded by the inner sh
if (cd "$work" && env_run sh -c 'cc -std=c11 -O2 -o hello-cc.hz app-hello/main.c $(pkg-config --cflags --libs haze-kvm)') >"$out" 2>&1 &&
	env_run haze inspect "$work/hello-cc.hz" >"$out" 2>&1 &&
	grep -q '^target:   kvm' "$out"; then
	ok "cc with pkg-config --cflags --libs haze-kvm links a kvm image"
else
	not_ok "cc with pkg-config --cflags --libs haze-kvm links a kvm image"
	diag "$(cat "$out")"
fi

# --- debugging the unix target ---------------------------------------------------

gdb -q -batch -ex 'break hz_main' -ex 'run' -ex 'print greeting' -ex 'kill' \
	--args "$work/app-hello/build/unix/app-hello" world >"$out" 2>&1
if grep -q 'Breakpoint 1, hz_main' "$out" &&
	grep -q '"Hello from app-hello"' "$out"; then
	ok "gdb stops a unix build at hz_main and prints a global"
else
	not_ok "gdb stops a unix build at hz_main and prints a global"
	diag "$(cat "$out")"
fi

# gdb on a virtio guest, through haze run --gdb and the installed haze-qemu.
gp=$(free_port)
(cd "$work/app-hello" && exec env -i HOME="$tmp" \
	PATH="$prefix/bin:/usr/bin:/bin" haze run -t virtio --gdb "$gp" -- gdb) \
	>"$out.gdb" 2>&1 &
gdb_pid=$!
pids="$pids $gdb_pid"
n=0
until grep -q 'waiting for gdb' "$out.gdb" || [ $n -ge 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
timeout 120 gdb -q -nx -batch -ex "target remote 127.0.0.1:$gp" \
	-ex 'break hz_main' -ex continue -ex 'print greeting' -ex continue \
	"$work/app-hello/build/virtio/app-hello.virtio" >"$out" 2>&1
wait "$gdb_pid"
rc=$?
if grep -q 'Breakpoint 1, hz_main' "$out" &&
	grep -q '"Hello from app-hello"' "$out" &&
	grep -q 'exited normally\]' "$out" && [ "$rc" -eq 0 ] &&
	grep -q '^Hello from app-hello! (gdb)$' "$out.gdb"; then
	ok "haze run -t virtio --gdb: gdb stops at hz_main, prints a global, the guest exits 0"
else
	not_ok "haze run -t virtio --gdb: gdb stops at hz_main, prints a global (exit $rc)"
	diag "$(cat "$out")" "$(cat "$out.gdb")"
fi

# --- haze inspect --------------------------------------------------------------

n=0
bad=""
for img in "$O"/unix/examples/*/* "$O"/kvm/examples/*/*.hz \
	"$O"/virtio/examples/*/*.virtio; do
	case $img in *.o | *.d) continue ;; esac
	if [ ! -f "$img" ] || [ ! -x "$img" ]; then continue; fi
	n=$((n + 1))
	want=unix
	case $img in *.hz) want=kvm ;; *.virtio) want=virtio ;; esac
	env_run haze inspect "$img" >"$out" 2>&1 &&
		grep -q "^target:   $want" "$out" &&
		grep -q '^build id: [0-9a-f]\{40\}$' "$out" &&
		grep -q '^sha256:   ' "$out" &&
		grep -q '^  hz_main  *yes' "$out" || bad="$bad $img"
done
[ "$n" -ge 15 ] || bad="$bad (only $n images)"
check "haze inspect reads all $n example images of the three targets (target, a build id, hz_main)${bad:+; not:$bad}" \
	[ -z "$bad" ]
# Build ids name the image: two different images, two different ids.
for t in kvm virtio; do
	ext=hz
	[ "$t" = virtio ] && ext=virtio
	ids=$(for a in app-hello app-echo; do
		env_run haze inspect "$work/$a/build/$t/$a.$ext" |
			sed -n 's/^build id: //p'
	done)
	id1=$(echo "$ids" | sed -n 1p)
	id2=$(echo "$ids" | sed -n 2p)
	if echo "$id1" | grep -q '^[0-9a-f]\{40\}$' &&
		echo "$id2" | grep -q '^[0-9a-f]\{40\}$' && [ "$id1" != "$id2" ]; then
		ok "haze inspect prints a $t image's build id, and hello's differs from echo's"
	else
		not_ok "haze inspect prints a $t image's build id, different per image: '$id1' '$id2'"
	fi
done
env_run haze inspect "$O/virtio/examples/hello/hello.virtio" >"$out" 2>&1
check "haze inspect names the virtio target and its PVH entry" \
	grep -q '^target:   virtio (a PVH guest for haze-qemu), PVH entry 0x[0-9a-f]' "$out"
env_run haze inspect "$O/kvm/examples/website/website.hz" >"$out" 2>&1
if grep -q '^target:   kvm (a static guest for haze-kvm), ABI version [0-9]' "$out" &&
	grep -q '^  service  *net (optional)$' "$out" &&
	grep -q '^  site  *block (optional)$' "$out" &&
	grep -q '^  tls  *block (optional)$' "$out" &&
	grep -q '^  br_sha256_init  *yes' "$out"; then
	ok "haze inspect names the website's ABI version, devices by name and kind, and BearSSL"
else
	not_ok "haze inspect names the website's ABI version and devices"
	diag "$(cat "$out")"
fi
env_run haze inspect "$O/kvm/examples/hello/hello.hz" >"$out" 2>&1
if grep -q '^manifest: version 1, 0 devices' "$out" &&
	grep -q '^  br_sha256_init  *no' "$out"; then
	ok "haze inspect: hello declares no device and links no BearSSL"
else
	not_ok "haze inspect: hello declares no device and links no BearSSL"
	diag "$(cat "$out")"
fi

# inspect_refuses DESC FILE PATTERN: exit 1 and one line matching PATTERN.
inspect_refuses() {
	env_run haze inspect "$2" >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(wc -l <"$out")" -eq 1 ] &&
		grep -q -- "$3" "$out"; then
		ok "haze inspect refuses $1: $(cat "$out")"
	else
		not_ok "haze inspect refuses $1 (exit $rc)"
		diag "$(cat "$out")"
	fi
}
printf 'not an image\n' >"$tmp/text"
inspect_refuses "a text file" "$tmp/text" 'not a Haze image: not an ELF file$'
cp /bin/true "$tmp/true"
inspect_refuses "an ELF file without Haze's notes" "$tmp/true" \
	'not a Haze image: no Haze notes'
head -c 200 "$O/kvm/examples/hello/hello.hz" >"$tmp/short.hz"
inspect_refuses "a truncated image" "$tmp/short.hz" \
	'not a Haze image: program headers beyond the end of the file'
/usr/bin/python3 - "$O/kvm/examples/echo/echo.hz" "$tmp/count.hz" \
	"$tmp/kind.hz" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
note = struct.pack("<III", 5, 8 + 16 * 40, 0x485A4D31) + b"HAZE\0\0\0\0"
at = data.find(note)
assert at > 0 and data.find(note, at + 1) < 0
count = bytearray(data)
struct.pack_into("<I", count, at + len(note) + 4, 99)
open(sys.argv[2], "wb").write(count)
kind = bytearray(data)
struct.pack_into("<I", kind, at + len(note) + 8, 7)
open(sys.argv[3], "wb").write(kind)
EOF
inspect_refuses "a manifest of 99 devices" "$tmp/count.hz" \
	'not a Haze image: the manifest names 99 devices, more than 16'
inspect_refuses "a device of an unknown kind" "$tmp/kind.hz" \
	'not a Haze image: manifest device 0 is of unknown kind 7'
inspect_refuses "a directory" "$tmp" 'not a Haze image: not a regular file'

# --- refusals ------------------------------------------------------------------------

# refuses DESC STATUS PATTERN DIR ARGS...: haze ARGS in $work/DIR exits
# STATUS with one line matching PATTERN.
refuses() {
	rf_desc=$1 rf_status=$2 rf_pattern=$3 rf_dir=$4
	shift 4
	haze_in "$rf_dir" "$@" >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq "$rf_status" ] && [ "$(wc -l <"$out")" -eq 1 ] &&
		grep -q -- "$rf_pattern" "$out"; then
		ok "refused: $rf_desc: $(cat "$out")"
	else
		not_ok "refused: $rf_desc (exit $rc, expected $rf_status)"
		diag "$(cat "$out")"
	fi
}
refuses "an unknown target to build" 2 '^haze build: -t vmware: unknown target (known: unix, kvm, virtio)$' \
	app-hello build -t vmware
refuses "an unknown target to run" 2 '^haze run: -t vmware: unknown target' \
	app-hello run -t vmware
refuses "an unknown template" 2 '^haze new: --template blog: no such template (known: hello, echo, website)$' \
	. new blog --template blog
check "an unknown template leaves no directory" [ ! -e "$work/blog" ]
refuses "a directory that exists" 2 '^haze new: app-hello: already exists$' \
	. new app-hello
refuses "a name that is not one" 2 '^haze new: 9lives: a name is a letter' \
	. new 9lives
(cd "$work" && env_run haze new fresh) >/dev/null 2>&1

# Device manifests the compiler takes but no image may carry: refused by
# haze build (exit 2), naming the fault, and by haze run; one the
# compiler can check (a name too long) fails the compile, naming it.
# man_build DESC ENTRIES PATTERN: HZ_MANIFEST(ENTRIES) added to a new app.
man_n=0
man_build() {
	man_n=$((man_n + 1))
	(cd "$work" && env_run haze new "man$man_n") >/dev/null 2>&1
	printf 'HZ_MANIFEST(%s);\n' "$2" >>"$work/man$man_n/main.c"
	haze_in "man$man_n" build >"$out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q -- "$3" "$out"; then
		ok "haze build refuses $1: $(grep -m1 -- "$3" "$out")"
	else
		not_ok "haze build refuses $1 (exit $rc)"
		diag "$(tail -n 5 "$out")"
	fi
}
man_build "a manifest naming a device twice" \
	'HZ_DEVICE_BLOCK("storage"), HZ_DEVICE_BLOCK("storage")' \
	"^haze build: build/unix/man1: invalid device manifest: it names device 'storage' twice (HZ_MANIFEST in the application's source)$"
man_build "a device name a binding cannot carry" 'HZ_DEVICE_BLOCK("a=b")' \
	"invalid device manifest: device name 'a=b' has a character other than a letter"
man_build "an empty device name" 'HZ_DEVICE_NET("")' \
	"device_name_needs_1_to_31_characters"
man_build "a device name of 32 characters" \
	'HZ_DEVICE_NET("abcdefghijklmnopqrstuvwxyz012345")' \
	"device_name_needs_1_to_31_characters"
refuses "a manifest naming a device twice, at run" 2 \
	"^haze run: build/unix/man1: invalid device manifest: it names device 'storage' twice" \
	man1 run
refuses "a missing image" 2 '^haze run: build/unix/fresh: no such image: build it with haze build -t unix$' \
	fresh run
refuses "a missing kvm image" 2 '^haze run: build/kvm/fresh.hz: no such image: build it with haze build -t kvm$' \
	fresh run -t kvm
busy=$(free_port)
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("listening", flush=True); time.sleep(60)' "$busy" >"$tmp/busy" &
busy_pid=$!
pids="$pids $busy_pid"
wait_port "$busy"
refuses "a port in use (unix)" 2 "^haze run: -p $busy:$busy: port $busy on 127.0.0.1 is in use$" \
	app-echo run -p "$busy:$busy"
refuses "a port in use (kvm)" 2 "^haze run: -p $busy:7007: port $busy on 127.0.0.1 is in use$" \
	app-echo run -t kvm -p "$busy:7007"
refuses "a gdb port in use (virtio)" 2 "^haze run: --gdb $busy: port $busy on 127.0.0.1 is in use$" \
	app-hello run -t virtio --gdb "$busy"
stop "$busy_pid"
refuses "a forward the unix target cannot make" 2 '^haze run: -p 8080:80: on the unix target the application listens on the host' \
	app-echo run -p 8080:80
refuses "a forward to an application without a NIC" 2 '^haze run: -p 8080:8080: the unikernel declares no net device' \
	app-hello run -p 8080:8080
refuses "--gdb on the unix target" 2 '^haze run: --gdb 1234: the unix target is a Linux process: run it under gdb itself' \
	app-hello run --gdb 1234
refuses "a --gdb that is not a port" 2 '^haze run: --gdb 99999: expected a TCP port' \
	app-hello run -t virtio --gdb 99999
refuses "a bad forward" 2 '^haze run: -p 80: expected HOST:GUEST' \
	app-echo run -p 80
refuses "a --net naming no device" 2 "^haze run: --net disk=tap:tap0: the unikernel declares no net device 'disk'$" \
	app-echo run --net disk=tap:tap0
refuses "a --block naming no device" 2 "^haze run: --block disk=$tmp/text: the unikernel declares no block device 'disk'$" \
	app-echo run --block "disk=$tmp/text"
refuses "a --block file that does not exist" 2 '^haze run: --block disk=nowhere.img: no such file$' \
	app-echo run --block disk=nowhere.img
refuses "-p with --net" 2 '^haze run: -p 7:7: with --net, forwards are' \
	app-echo run --net service=tap:tap0 -p 7:7
refuses "an option meant for the application" 2 '^haze run: --port: unknown option (the application' \
	app-echo run --port 80
refuses "a build outside an application" 2 '^haze build: no Makefile in ' \
	. build
(cd "$work" && env_run haze new nosrc) >/dev/null 2>&1
rm -f "$work/nosrc/main.c"
refuses "a build with no C file" 2 \
	"^haze build: no C sources in $work/nosrc: an application is the .c files beside its Makefile" \
	nosrc build
(cd "$work/nosrc" && env_run make -s --no-print-directory) >"$out" 2>&1
rc=$?
# shellcheck disable=SC2016 # expanded by eval
check "make with no C file says so in one line (exit $rc): $(cat "$out")" \
	eval '[ $rc -ne 0 ] && [ "$(wc -l <"$out")" -eq 1 ] && grep -q "no C sources in" "$out"'
refuses "an unknown command" 2 '^haze: frobnicate: unknown command' \
	. frobnicate
refuses "a misspelt command, with a suggestion" 2 \
	'^haze: bulid: unknown command .*; did you mean build?$' . bulid
twice=$(free_port)
refuses "a host port forwarded twice" 2 \
	"^haze run: -p $twice:7007: host port $twice is forwarded twice$" \
	app-echo run -t virtio -p "$twice:7007" -p "$twice:7008"
haze_in app-hello run --help >"$out" 2>&1
rc=$?
check "haze run --help prints the usage, exit 0" \
	eval '[ $rc -eq 0 ] && grep -q "^usage: haze new" "$out"'
haze_in . --version >"$out" 2>&1
check "haze --version names the installed version ($(cat "$out"))" \
	grep -q '^haze [0-9][0-9.]*$' "$out"
# A dropped error does not compile in an application either.
printf '%s\n' '#include <haze/haze.h>' '#include <haze/kv.h>' \
	'void dropped(void);' 'void dropped(void)' '{' \
	'	struct hz_kv *kv;' '	hz_kv_static_open(NULL, &kv);' '}' \
	>"$work/app-hello/dropped.c"
haze_in app-hello build >"$out" 2>&1
rc=$?
rm -f "$work/app-hello/dropped.c"
check "a dropped must-check result stops haze build (exit $rc)" \
	eval '[ $rc -eq 1 ] && grep -q "unused-result" "$out"'
refuses "inspect without an image" 2 '^haze inspect: expected one IMAGE$' \
	. inspect
if [ -n "$kvm_why" ]; then
	refuses "kvm without /dev/kvm" 1 "^haze run: -t kvm: $kvm_why" \
		app-hello run -t kvm
fi
touch "$work/app-hello/main.c"
haze_in app-hello run -n >"$out" 2>&1
check "haze run warns when the image is older than a source" \
	grep -q '^haze run: warning: main.c is newer than build/unix/' "$out"
haze_in app-hello build >/dev/null 2>&1
make -s --no-print-directory O="$O" install PREFIX=relative/dir >"$out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] &&
	[ "$(wc -l <"$out")" -eq 1 ] &&
	grep -q 'make install: PREFIX=relative/dir: not an absolute path' "$out"; then
	ok "make install refuses a relative PREFIX in one line"
else
	not_ok "make install refuses a relative PREFIX in one line (exit $rc)"
	diag "$(cat "$out")"
fi

# --- make run in the background: scripts/foreground.py ---------------------------

# A `make run &` from a script: sh starts a background job with SIGINT
# ignored, and the unikernel must still stop when foreground.py is told
# to (SIGTERM), rather than leave foreground.py waiting and the site up.
# setsid: no terminal, as in a script run from cron or CI.
# fg_start PORT LOG COMMAND...: foreground.py over COMMAND, in the
# background of a non-interactive sh; its pid in $fg_pid.
fg_start() {
	fg_port=$1 fg_log=$2
	shift 2
	# shellcheck disable=SC2016 # expanded by the inner sh
	setsid sh -c '"$@" >"$0" 2>&1 & echo $! >"$0.pid"; wait' "$fg_log" \
		/usr/bin/python3 "$tree/scripts/foreground.py" "$fg_port" -- "$@" &
	pids="$pids $!"
	n=0
	until [ -s "$fg_log.pid" ] || [ $n -ge 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	fg_pid=$(cat "$fg_log.pid" 2>/dev/null)
	pids="$pids $fg_pid"
}
# fg_stops PID SECONDS: whether PID ends within SECONDS.
fg_stops() {
	n=0
	while kill -0 "$1" 2>/dev/null; do
		[ $n -ge $(($2 * 10)) ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}
# fg_reap PID: kills PID's children and PID, if still there.
fg_reap() {
	for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		kill -KILL "$c" 2>/dev/null
	done
	kill -KILL "$1" 2>/dev/null
}
hp=$(free_port)
fg_start "$hp" "$tmp/fg.log" "$O/unix/examples/website/website" -- \
	--stack socket --http "$hp" --quiet
if [ -n "$fg_pid" ] && wait_port "$hp"; then
	web_pid=$(tr -d " " <"/proc/$fg_pid/task/$fg_pid/children")
	grep SigIgn "/proc/$web_pid/status" >"$out" 2>&1
	kill -TERM "$fg_pid"
	if fg_stops "$fg_pid" 10 && ! kill -0 "$web_pid" 2>/dev/null &&
		grep -q '^haze: stopped$' "$tmp/fg.log"; then
		ok "foreground.py started in the background of a script: SIGTERM stops the unikernel and it, 'haze: stopped'"
	else
		not_ok "foreground.py started in the background of a script: SIGTERM stops the unikernel and it"
		diag "the unikernel's $(cat "$out")" "$(cat "$tmp/fg.log")"
		fg_reap "$fg_pid"
	fi
else
	not_ok "foreground.py serves the website in the background of a script"
	diag "$(cat "$tmp/fg.log")"
	[ -n "$fg_pid" ] && fg_reap "$fg_pid"
fi
# A unikernel that does not stop on the signal is killed after a while.
hp=$(free_port)
fg_start "$hp" "$tmp/fg2.log" /usr/bin/python3 -c '
import http.server, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])),
                       http.server.SimpleHTTPRequestHandler).serve_forever()' "$hp"
if [ -n "$fg_pid" ] && wait_port "$hp"; then
	kill -TERM "$fg_pid"
	if fg_stops "$fg_pid" 15 &&
		grep -q 'did not stop within [0-9]* s of the signal: killed' "$tmp/fg2.log"; then
		ok "foreground.py kills a unikernel that ignores the signal, after its grace"
	else
		not_ok "foreground.py kills a unikernel that ignores the signal, after its grace"
		diag "$(tail -n 5 "$tmp/fg2.log")"
		fg_reap "$fg_pid"
	fi
else
	not_ok "foreground.py runs a server in the background of a script"
	diag "$(tail -n 5 "$tmp/fg2.log")"
	[ -n "$fg_pid" ] && fg_reap "$fg_pid"
fi

# --- README's commands --------------------------------------------------------------

# The "no tap, no root" echo of README, as written there, run as a user
# who is not root (nobody, in a network namespace of its own, so that its
# fixed ports are free), or as the user this is when not root.
readme_echo=$(/usr/bin/python3 - "$tree/README.md" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
m = re.search(r"^build/unix/examples/echo/echo -- --stack socket.*$", text, re.M)
print(" ".join(m.group(0).split()) if m else "")
PY
)
if [ -z "$readme_echo" ]; then
	not_ok "README names an echo command on the socket stack"
else
	# As root, a network namespace of our own: its ports below 1024 need
	# root, as on any machine, and README's fixed ports are free in it.
	in_ns=""
	[ "$(id -u)" -eq 0 ] && in_ns="unshare --net"
	$in_ns /usr/bin/python3 - "$O" "$readme_echo" >"$out" 2>&1 <<'PY'
import os, shlex, shutil, socket, subprocess, sys, tempfile, time
argv = shlex.split(sys.argv[2])
argv[0] = os.path.join(sys.argv[1], argv[0][len("build/"):])
port = int(argv[argv.index("--echo-port") + 1])
if os.getuid() == 0:
    # A copy nobody can reach: the build tree may lie under a directory
    # only root may enter (mktemp -d's).
    pub = tempfile.mkdtemp()
    os.chmod(pub, 0o755)
    argv[0] = shutil.copy(argv[0], os.path.join(pub, "echo"))
def drop():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
if os.getuid() == 0:  # in the namespace: run it as nobody
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    p = subprocess.Popen(argv, preexec_fn=drop, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
else:
    p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
ok = False
for _ in range(100):
    if p.poll() is not None:
        break
    try:
        s = socket.create_connection(("127.0.0.1", port), 1)
        s.sendall(b"readme\n")
        ok = s.recv(64) == b"readme\n"
        s.close()
        break
    except OSError:
        time.sleep(0.05)
p.kill()
print(p.communicate()[0].decode(errors="replace").strip())
if os.getuid() == 0:
    shutil.rmtree(pub)
sys.exit(0 if ok else 1)
PY
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "README's echo on the socket stack runs without root and echoes: $readme_echo"
	else
		not_ok "README's echo on the socket stack runs without root: $readme_echo"
		diag "$(cat "$out")"
	fi
fi

# --- DESTDIR and uninstall ---------------------------------------------------------

stage=$tmp/stage
if make -s --no-print-directory O="$O" install PREFIX=/opt/haze \
	DESTDIR="$stage" >"$out" 2>&1 &&
	[ -x "$stage/opt/haze/bin/haze" ] &&
	grep -q '^prefix=/opt/haze$' "$stage/opt/haze/lib/pkgconfig/haze-kvm.pc"; then
	ok "make install DESTDIR stages under DESTDIR, the pkg-config files naming PREFIX"
else
	not_ok "make install DESTDIR stages under DESTDIR"
	diag "$(cat "$out")"
fi
make -s --no-print-directory O="$O" uninstall PREFIX=/opt/haze \
	DESTDIR="$stage" >"$out" 2>&1
left=$(find "$stage" -type f | head -n 5)
check "make uninstall DESTDIR removes every file it installed${left:+ (left: $left)}" \
	[ -z "$left" ]
make -s --no-print-directory O="$O" uninstall PREFIX="$prefix" >"$out" 2>&1
left=$(find "$prefix" -type f | head -n 5)
check "make uninstall removes every file it installed${left:+ (left: $left)}" \
	[ -z "$left" ]

done_testing
