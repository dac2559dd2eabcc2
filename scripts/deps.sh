#!/bin/sh
# Installs the Debian packages Haze builds and tests with, once: quiet when
# they are all present. Needs root or sudo (apt-get).
set -eu

PKGS="gcc make clang clang-format libclang-rt-14-dev libc6-dev libcmocka-dev
pkg-config python3 iproute2 git nftables dnsmasq-base iputils-ping curl openssl
libbearssl-dev nettle-dev libgmp-dev libslirp-dev libseccomp-dev wrk chromium fonts-dejavu-core tmux
nsd dnsperf bind9-dnsutils qemu-system-x86 gdb man-db libvirt-clients
liblwip-dev busybox-static cpio kmod"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "haze: need root or sudo to install:$missing" >&2
	exit 1
fi
echo "haze: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Servers installed only to compare against (nsd) must not start as system
# services: policy-rc.d refusing (101) keeps the packages' scripts from
# starting them, and they are disabled after. Ours only if there was none.
ours=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null &&
		$SUDO chmod 755 /usr/sbin/policy-rc.d && ours=y
fi
rc=0
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ -n "$ours" ] && $SUDO rm -f /usr/sbin/policy-rc.d
case $missing in
*nsd*)
	$SUDO systemctl disable --now nsd >/dev/null 2>&1 || true
	$SUDO update-rc.d nsd disable >/dev/null 2>&1 || true
	;;
esac
exit $rc
