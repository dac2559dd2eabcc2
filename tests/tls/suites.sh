# The TLS 1.2 suites tls-echo serves, as OpenSSL names them, each with
# the SNI name whose chain it needs (EC for ECDSA, RSA for RSA), joined by
# a colon: `for spec in $TLS_SUITES` then ${spec%%:*} and ${spec#*:}.
# Sourced by tests/tls/interop.sh and tests/net/interop.sh.
TLS_SUITES="ECDHE-ECDSA-AES128-GCM-SHA256:localhost
ECDHE-ECDSA-AES256-GCM-SHA384:localhost
ECDHE-ECDSA-CHACHA20-POLY1305:localhost
ECDHE-RSA-AES128-GCM-SHA256:rsa.haze.test
ECDHE-RSA-CHACHA20-POLY1305:rsa.haze.test"
