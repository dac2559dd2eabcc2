#!/bin/sh
# What the layers buy, seen in the images: hello, which uses neither TLS
# nor randomness, links no BearSSL and no entropy on either target, while
# tls-echo, which declares Fortuna its random source, links both (so the
# check can tell them apart). The symbols are read with nm: a unix image
# names BearSSL's functions it calls from the shared library, a kvm image
# holds them.
set -u
. tests/tap.sh

O=${O:-build}

# symbols IMAGE PATTERN: how many symbols of IMAGE match PATTERN.
symbols() {
	nm "$1" 2>/dev/null | grep -c " $2"
}

for image in "$O/unix/examples/hello/hello" "$O/kvm/examples/hello/hello.hz"
do
	if [ ! -f "$image" ]; then
		not_ok "$image is built"
		continue
	fi
	br=$(symbols "$image" "br_")
	ent=$(symbols "$image" "hz_entropy_")
	if [ "$br" -eq 0 ] && [ "$ent" -eq 0 ]; then
		ok "$image links no BearSSL and no entropy"
	else
		not_ok "$image links no BearSSL and no entropy ($br br_*, $ent hz_entropy_*)"
	fi
done
for image in "$O/unix/examples/tls-echo/tls-echo" \
	"$O/kvm/examples/tls-echo/tls-echo.hz"; do
	if [ ! -f "$image" ]; then
		not_ok "$image is built"
		continue
	fi
	br=$(symbols "$image" "br_ssl_")
	src=$(symbols "$image" "hz_entropy_random")
	if [ "$br" -gt 0 ] && [ "$src" -gt 0 ]; then
		ok "$image links BearSSL's TLS and Fortuna as its random source"
	else
		not_ok "$image links BearSSL's TLS and Fortuna ($br br_ssl_*, $src hz_entropy_random)"
	fi
done

# hello runs without a random source: nothing seeds, nothing is missed.
out=$("$O/unix/examples/hello/hello" --log=debug -- x 2>&1)
if printf '%s\n' "$out" | grep -q "^Goodbye.$" &&
	! printf '%s\n' "$out" | grep -q "entropy:"; then
	ok "hello runs to the end with no random source, seeding nothing"
else
	not_ok "hello runs to the end with no random source, seeding nothing"
	diag "$out"
fi
done_testing
