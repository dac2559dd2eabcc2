#!/bin/sh
# Makes the certificates the TLS tests use, into directory $1, with
# openssl. Every file is fresh per run: nothing secret is checked in.
#
#   ca.pem              test CA (EC P-256), trusted by the test clients
#   ec.pem ec.key       leaf, EC P-256: localhost, *.haze.test, 127.0.0.1
#   rsa.pem rsa.key     leaf, RSA 2048: rsa.haze.test (SNI picks it)
#   expired.pem/.key    leaf for localhost, valid 2020-01-01..2021-01-01
#   wrongname.pem/.key  leaf naming only other.example
#   rogue.pem/.key      leaf for localhost signed by rogue-ca.pem,
#                       a CA nobody trusts
# Leaves are valid for ten years from yesterday, deliberately; the
# expired one deliberately lies in the past.
set -eu
d=$1
mkdir -p "$d"
cd "$d"

cat >ca.cnf <<'CNF'
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF

# ca NAME: a self-signed CA certificate NAME.pem with key NAME.key.
ca() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
	openssl req -x509 -new -key "$1.key" -sha256 -days 3650 \
		-subj "/CN=Haze test $1" -config ca.cnf -extensions v3_ca \
		-out "$1.pem" 2>/dev/null
}

# leaf NAME KEYTYPE CANAME START END SAN: NAME.pem and NAME.key.
leaf() {
	if [ "$2" = rsa ]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
			-out "$1.key" 2>/dev/null
	else
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-out "$1.key" 2>/dev/null
	fi
	openssl req -new -key "$1.key" -subj "/CN=$1" \
		-addext "subjectAltName = $6" -out "$1.csr" 2>/dev/null
	: >index.txt
	echo 01 >serial
	openssl ca -batch -config ca.cnf -cert "$3.pem" -keyfile "$3.key" \
		-extensions leaf -startdate "$4" -enddate "$5" \
		-notext -in "$1.csr" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr"
}

from=$(date -u -d yesterday +%Y%m%d%H%M%SZ)
to=$(date -u -d '+10 years' +%Y%m%d%H%M%SZ)
ca ca
ca rogue-ca
leaf ec ec ca "$from" "$to" "DNS:localhost, DNS:*.haze.test, IP:127.0.0.1"
leaf rsa rsa ca "$from" "$to" "DNS:rsa.haze.test"
leaf expired ec ca 20200101000000Z 20210101000000Z "DNS:localhost"
leaf wrongname ec ca "$from" "$to" "DNS:other.example"
leaf rogue ec rogue-ca "$from" "$to" "DNS:localhost"
# Keys that match no certificate: another RSA key, a P-384 key.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out other-rsa.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
	-out p384.key 2>/dev/null
rm -f index.txt* serial* ./*.cnf ./0*.pem
