#!/bin/sh
# Runs a command where haze-kvm can boot guests on a machine without
# /dev/kvm: inside a QEMU VM (software emulation, TCG) whose emulated CPU
# offers AMD's SVM, so Debian's kernel in it loads kvm_amd and has a
# /dev/kvm of its own. The VM shares the host's root file system (9p), so
# the command sees this checkout and its build tree, and runs as root.
#
#   tests/kvm/nested.sh [--smp N] COMMAND...   (from the project's root)
#
# The command's output is printed and its exit status is this script's.
# Its temporary files go to a tmpfs of the VM's own (TMPDIR=/run/tmp);
# the host's /tmp stays visible, as a checkout there must be.
# HAZE_KVM_EMULATED=1 is set for it: guests run a hundred times slower
# than on hardware, so what holds there is behaviour and exit counts,
# never time. The kernel is Debian's linux-image-amd64, unpacked under
# $O/nested (apt-get download: nothing is installed); needs root (9p
# passthrough), qemu-system-x86 and busybox-static. Exit status 77 means
# skipped (something is missing), as for the test suites.
set -eu

smp=1
if [ "${1:-}" = "--smp" ]; then
	smp=$2
	shift 2
fi
[ $# -gt 0 ] || {
	echo "usage: tests/kvm/nested.sh [--smp N] COMMAND..." >&2
	exit 2
}
O=${O:-build}
case $O in /*) ;; *) O=$(pwd)/$O ;; esac
top=$(pwd)

skip() {
	echo "nested: skipped: $*" >&2
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (the VM shares / over 9p as root)"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" ||
	skip "no busybox-static (a static /bin/busybox for the initramfs)"

dir=$O/nested
mkdir -p "$dir"
# Debian's kernel, unpacked here once: the image and its modules, with
# the module index its package's scripts would have made.
if ! ls "$dir"/kernel/boot/vmlinuz-*-amd64 >/dev/null 2>&1; then
	kernel_pkg() {
		apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1
	}
	pkg=$(kernel_pkg)
	[ -n "$pkg" ] || { apt-get update -qq && pkg=$(kernel_pkg); }
	[ -n "$pkg" ] || {
		echo "nested: apt knows no linux-image-amd64" >&2
		exit 1
	}
	rm -rf "$dir/kernel" "$dir"/*.deb
	# Package lists may be stale: updated once when the download fails.
	(cd "$dir" && { apt-get download -q "$pkg" || { apt-get update -qq &&
		apt-get download -q "$pkg"; }; } >"$dir/download.log" 2>&1) || {
		echo "nested: apt-get download $pkg failed:" >&2
		cat "$dir/download.log" >&2
		exit 1
	}
	dpkg-deb -x "$dir"/"$pkg"_*.deb "$dir/kernel"
	rm -f "$dir"/*.deb
	kver=${pkg#linux-image-}
	depmod -b "$dir/kernel" "$kver"
fi
kernel=$(ls "$dir"/kernel/boot/vmlinuz-*-amd64 | sort -V | tail -1)
kver=${kernel##*/vmlinuz-}
# The initramfs: busybox, the modules for virtio, 9p, KVM and the test
# networks (taps, veth pairs, bridges, nftables), and an init that mounts
# the host's root and runs the job in it.
mods="virtio_pci 9pnet_virtio 9p kvm_amd tun veth bridge nft_numgen"
initrd=$dir/initrd-$kver-$(echo "$mods" | cksum | cut -d' ' -f1).gz
if [ ! -s "$initrd" ]; then
	root=$dir/initrd
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/mods" "$root/newroot"
	cp /bin/busybox "$root/bin/"
	i=0
	for m in $mods; do
		modprobe -d "$dir/kernel" -S "$kver" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
		while read -r ko; do
			i=$((i + 1))
			cp "$ko" "$root/mods/$(printf %02d $i)-${ko##*/}"
		done
	cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in /mods/*; do /bin/busybox insmod "$m"; done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 \
	host /newroot || /bin/busybox poweroff -f
for d in proc sys dev; do /bin/busybox mount --bind /$d /newroot/$d; done
job=$(/bin/busybox sed -n 's/.*haze.job=\([^ ]*\).*/\1/p' /proc/cmdline)
exec /bin/busybox chroot /newroot /bin/sh "$job"
EOF
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) \
		>"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$root"
fi

job=$dir/job.$$
out=$dir/out.$$
trap 'rm -f "$job" "$job.cmd" "$out" "$out.rc"' EXIT
# The command, quoted for the shell in the VM.
for a in "$@"; do
	printf "'%s' " "$(printf %s "$a" | sed "s/'/'\\\\''/g")"
done >"$job.cmd"
cat >"$job" <<EOF
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root O='$O' HAZE_KVM_EMULATED=1 TMPDIR=/run/tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/shm /run/tmp && mount -t tmpfs tmpfs /dev/shm
ip link set lo up
cd '$top'
rc=0
sh -c "\$(cat '$job.cmd')" >'$out' 2>&1 </dev/null || rc=\$?
echo \$rc >'$out.rc'
sync
echo o >/proc/sysrq-trigger
EOF
timeout 3600 qemu-system-x86_64 -machine q35 -accel tcg,thread=multi \
	-cpu EPYC,+svm,+npt -smp "$smp" -m 6144 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 haze.job=$job" \
	-fsdev local,id=root,path=/,security_model=passthrough,multidevs=remap \
	-device virtio-9p-pci,fsdev=root,mount_tag=host \
	>"$dir/console.log" 2>&1 || true
[ -s "$out.rc" ] || {
	echo "nested: the VM did not finish; its console:" >&2
	tail -20 "$dir/console.log" >&2
	exit 1
}
cat "$out"
exit "$(cat "$out.rc")"
