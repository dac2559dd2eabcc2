#!/bin/sh
# A real browser: headless Chromium (Debian's chromium) loads the website
# over HTTPS from the unikernel, on Haze's own TCP/IP over a tap in a
# namespace (the socket stack where namespaces cannot be made), driven
# through the DevTools protocol by tests/website/browser.py: the page
# loads over TLS, its title, the stylesheet and the image fetched with
# 200 and used, no failed request; the server's access log agrees. A
# screenshot is left in $O/website/screenshot.png for people to look at.
#
# Chromium does not know the test CA; it is told to ignore certificate
# errors for the server's key alone (--ignore-certificate-errors-spki-
# list), and the host name www.haze.test (in the certificate) is mapped
# to the unikernel's address.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
tmp=$(mktemp -d)
. tests/website/lib.sh
trap 'site_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

mode=direct
netns_unusable >/dev/null && mode=socket
site_need $mode
need chromium chromium
end_if_missing
log=$tmp/site.log
site_up $mode "$log"
ok "the website starts on the $mode stack"
diag "$(chromium --version 2>/dev/null)"

spki=$(openssl x509 -in "$SITE_CERTS/ec.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
title=$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' "$SITE_DIR/index.html")
shot=$O/website/screenshot.png
rm -f "$shot"
# browser.py reports 6 results and exits non-zero on a failure.
client_tap "chromium" 6 client /usr/bin/python3 tests/website/browser.py \
	chromium "https://www.haze.test:$site_https/" "$title" "$spki" \
	"MAP www.haze.test $site_host" "$(realpath -m "$shot")" \
	/css/site.css /img/haze.svg

for p in /css/site.css /img/haze.svg; do
	if grep -q "\"GET $p HTTP/1.1\" 200 [0-9]* [0-9]*\$" "$log"; then
		ok "the server's log: GET $p answered 200"
	else
		not_ok "the server's log: GET $p answered 200"
		diag "$(grep '"GET ' "$log" | tail -n 5)"
	fi
done
done_testing
