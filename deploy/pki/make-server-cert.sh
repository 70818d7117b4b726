#!/usr/bin/env bash
# Creates the demo's server CA (once) and the verifier's HTTPS certificate,
# with the openssl CLI. Demo and tests only: a real deployment gets its
# server certificate from its own CA.
#
#   deploy/pki/make-server-cert.sh --out DIR [--days N] [--san LIST]
#
# Writes DIR/server-ca.pem, DIR/server-ca.key (the CA clients trust:
# [agent] verifier_ca, VIGIL_CACERT, curl --cacert) and DIR/verifier.pem,
# DIR/verifier.key (the verifier's [server] tls_cert and tls_key).
# --san defaults to "IP:127.0.0.1,DNS:localhost". Keys are ECDSA P-256,
# mode 0600. An existing CA is kept; the server certificate is made anew
# each time (rotation: run again and restart the verifier).
set -euo pipefail

out='' days=825 san='IP:127.0.0.1,DNS:localhost'
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift ;;
	--days) days=$2; shift ;;
	--san) san=$2; shift ;;
	*) echo "usage: $0 --out DIR [--days N] [--san LIST]" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || { echo "make-server-cert: --out DIR is required" >&2; exit 2; }
command -v openssl >/dev/null || { echo "make-server-cert: openssl not found (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$out"
ca=$out/server-ca.pem
cakey=$out/server-ca.key
umask 077
if ! [ -s "$ca" ] || ! [ -s "$cakey" ]; then
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$cakey.tmp" 2>/dev/null
	openssl req -new -x509 -key "$cakey.tmp" -out "$ca.tmp" -days 3650 \
		-sha256 -subj "/O=Vigil demo/CN=Vigil demo server CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>/dev/null
	chmod 0644 "$ca.tmp"
	mv "$cakey.tmp" "$cakey"
	mv "$ca.tmp" "$ca"
	echo "make-server-cert: created $ca"
fi

key=$out/verifier.key
crt=$out/verifier.pem
ext=$(mktemp)
trap 'rm -f "$ext" "$out/verifier.csr"' EXIT
printf '%s\n' \
	"basicConstraints=critical,CA:FALSE" \
	"keyUsage=critical,digitalSignature" \
	"extendedKeyUsage=serverAuth" \
	"subjectAltName=$san" \
	"subjectKeyIdentifier=hash" \
	"authorityKeyIdentifier=keyid" >"$ext"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$key.tmp" 2>/dev/null
openssl req -new -key "$key.tmp" -out "$out/verifier.csr" \
	-subj "/O=Vigil demo/CN=vigil-verifier" 2>/dev/null
openssl x509 -req -in "$out/verifier.csr" -CA "$ca" -CAkey "$cakey" \
	-CAcreateserial -out "$crt.tmp" -days "$days" -sha256 \
	-extfile "$ext" 2>/dev/null
chmod 0644 "$crt.tmp"
mv "$key.tmp" "$key"
mv "$crt.tmp" "$crt"
echo "make-server-cert: created $crt for $san ($(openssl x509 -in "$crt" -noout -enddate))"
