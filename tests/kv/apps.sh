#!/bin/sh
# Both KV stores inside a unikernel (tests/apps/kvcheck), on the unix
# target and, where /dev/kvm is usable, under haze-kvm: its site/ crunched
# in by the make convention, and the same files archived by GNU tar (in
# each of its formats) and Python's tarfile on a block device. Both stores
# must list the same keys, sizes, times, types and ETags, and read back
# the files' own bytes; a "KEY.gz" beside a file is its gzip variant when
# smaller; bad archives stop the unikernel with one line naming the device.
set -u
. tests/tap.sh

O=${O:-build}
app=$O/unix/tests/apps/kvcheck/kvcheck
image=$O/kvm/tests/apps/kvcheck/kvcheck.hz
tender=$O/host/tender/haze-kvm
site=tests/apps/kvcheck/site
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarx() { tar --sort=name --owner=0 --group=0 --numeric-owner "$@"; }

# The listing without the gzip column (the tar has no .gz files).
plain() { cut -f1-5,7 "$1"; }

"$app" list >"$tmp/list" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "^kvcheck: 3 entries$" "$tmp/list"; then
	ok "the compiled store lists the 3 files of site/"
else
	not_ok "the compiled store lists site/ (exit $rc)"
	diag "$(cat "$tmp/list")"
fi
grep -v '^kvcheck:' "$tmp/list" | while IFS="$(printf '\t')" read -r key size mtime _type etag _gz sum; do
	want=$(sha256sum <"$site/$key" | cut -c1-64)
	[ "$sum" = "$want" ] && [ "$size" -eq "$(stat -c %s "$site/$key")" ] &&
		[ "$mtime" -eq "$(stat -c %Y "$site/$key")" ] &&
		[ "$etag" = "\"$(printf %s "$want" | cut -c1-32)\"" ] ||
		echo "$key" >>"$tmp/bad"
done
check "each file reads back whole, with its size, time and ETag" \
	[ ! -e "$tmp/bad" ]
check "content types by extension" \
	grep -q "^index.html	.*	text/html; charset=utf-8	" "$tmp/list"

# tar_case NAME TAR-ARGS...: the tar store of an archive made by
# TAR-ARGS... agrees with the compiled store.
tar_case() {
	name=$1
	shift
	if ! "$@" 2>"$tmp/err"; then
		not_ok "$name: making the archive"
		diag "$(cat "$tmp/err")"
		return
	fi
	"$app" --block site="$tmp/site.tar" tar >"$tmp/tar" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$(plain "$tmp/tar")" = "$(plain "$tmp/list")" ]
	then
		ok "$name: the tar store agrees with the compiled one"
	else
		not_ok "$name: the tar store agrees with the compiled one (exit $rc)"
		diag "$(diff "$tmp/list" "$tmp/tar")"
	fi
}

tar_case "GNU tar, gnu format" \
	tarx --format=gnu -cf "$tmp/site.tar" -C "$site" .
tar_case "GNU tar, ustar format" \
	tarx --format=ustar -cf "$tmp/site.tar" -C "$site" .
tar_case "GNU tar, pax format" \
	tarx --format=pax -cf "$tmp/site.tar" -C "$site" .
tar_case "GNU tar, 4 KiB records" \
	tarx -b 8 -cf "$tmp/site.tar" -C "$site" index.html notes.txt css
tar_case "Python's tarfile" /usr/bin/python3 -c '
import sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    t.add(sys.argv[2], arcname="", recursive=True)
' "$tmp/site.tar" "$site"

"$app" --block site="$tmp/site.tar" tar weak >"$tmp/weak" 2>&1
check "weak ETags are W/\"size-mtime\"" \
	grep -q "^notes.txt	6	[0-9]*	text/plain; charset=utf-8	W/\"6-[0-9a-f]*\"	" \
	"$tmp/weak"

# KEY.gz beside KEY: its gzip variant, when smaller.
cp -rp "$site" "$tmp/gz"
for f in index.html css/style.css notes.txt; do
	gzip -n -9 -k "$tmp/gz/$f"
done
tarx -cf "$tmp/site.tar" -C "$tmp/gz" .
"$app" --block site="$tmp/site.tar" tar >"$tmp/tar" 2>&1
gzsize=$(stat -c %s "$tmp/gz/index.html.gz")
gzetag=$(sha256sum <"$tmp/gz/index.html.gz" | cut -c1-32)
check "a smaller index.html.gz is index.html's gzip variant" \
	grep -q "^index.html	.*	$gzsize:\"$gzetag\"	" "$tmp/tar"
check "a larger notes.txt.gz is not notes.txt's" \
	grep -q "^notes.txt	.*	-	" "$tmp/tar"
check "and each .gz is a key of its own" \
	grep -q "^kvcheck: 6 entries$" "$tmp/tar"

# refused DESC MESSAGE: kvcheck exits 1 on $tmp/site.tar saying MESSAGE,
# one line.
refused() {
	"$app" --block site="$tmp/site.tar" tar >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(cat "$tmp/out")" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1 (exit $rc)"
		diag "$(cat "$tmp/out")"
	fi
}

tarx --format=ustar -cf "$tmp/site.tar" -C "$site" notes.txt index.html
printf 'X' | dd of="$tmp/site.tar" bs=1 seek=1030 conv=notrunc 2>/dev/null
refused "a corrupt header is refused, naming the device and offset" \
	"kv site: bad tar header checksum at offset 1024"
tarx --format=ustar -cf "$tmp/full.tar" -C "$site" notes.txt index.html
head -c 1536 "$tmp/full.tar" >"$tmp/site.tar"
refused "a truncated archive is refused" \
	"kv site: entry of 385 bytes runs past the end of the device (1536 bytes) at offset 1024"
head -c 1024 "$tmp/full.tar" >"$tmp/site.tar"
refused "an archive cut at a header is refused" \
	"kv site: truncated archive: the device ends with no end-of-archive block at offset 1024"
gzip -c "$tmp/full.tar" >"$tmp/site.tar"
truncate -s 4096 "$tmp/site.tar"
refused "a compressed archive is refused, saying so" \
	"kv site: a gzip-compressed file, not a tar archive (uncompress it first) at offset 0"
/usr/bin/python3 -c '
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    for name in ("fine.txt", "../escape.txt"):
        i = tarfile.TarInfo(name)
        i.size = 2
        t.addfile(i, io.BytesIO(b"x\n"))
' "$tmp/site.tar"
refused "a path that escapes is refused" \
	"kv site: refused name '../escape.txt' ('..' in path) at offset 1024"
mkdir "$tmp/links"
echo data >"$tmp/links/file"
ln -s file "$tmp/links/link"
tarx -cf "$tmp/site.tar" -C "$tmp/links" file link
refused "a symbolic link is refused" \
	"kv site: 'link' is a symbolic link; only files and directories are served (tar -h --hard-dereference stores files, not links) at offset 1024"
# What the message advises works: with -h alone, GNU tar stores the
# link's target the second time as a hard link to the first.
tarx -h -cf "$tmp/site.tar" -C "$tmp/links" file link
refused "tar -h alone stores a second name as a hard link, refused" \
	"kv site: 'link' is a hard link; only files and directories are served (tar -h --hard-dereference stores files, not links) at offset 1024"
tarx -h --hard-dereference -cf "$tmp/site.tar" -C "$tmp/links" file link
"$app" --block site="$tmp/site.tar" tar >"$tmp/out" 2>&1
check "tar -h --hard-dereference stores both names as files" \
	grep -q "^kvcheck: 2 entries$" "$tmp/out"
printf 'not a tar file at all\n' >"$tmp/site.tar"
refused "a file shorter than a sector is refused, saying so" \
	"kv site: the device is empty or shorter than one sector (512 bytes): no tar archive on it"

# Under haze-kvm, the same image format's guest over the same archive.
if ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
	skip "both stores in a kvm guest" "/dev/kvm is not usable"
elif [ ! -x "$tender" ] || [ ! -e "$image" ]; then
	not_ok "both stores in a kvm guest: $image or $tender not built"
else
	tarx -cf "$tmp/site.tar" -C "$site" .
	"$tender" "$image" list >"$tmp/kvm-list" 2>"$tmp/kvm-err"
	"$tender" --block site="$tmp/site.tar" "$image" tar >"$tmp/kvm-tar" \
		2>>"$tmp/kvm-err"
	if cmp -s "$tmp/kvm-list" "$tmp/list" &&
		[ "$(plain "$tmp/kvm-tar")" = "$(plain "$tmp/list")" ]; then
		ok "both stores in a kvm guest list what the unix process does"
	else
		not_ok "both stores in a kvm guest"
		diag "$(cat "$tmp/kvm-list" "$tmp/kvm-tar" "$tmp/kvm-err")"
	fi
fi

done_testing
