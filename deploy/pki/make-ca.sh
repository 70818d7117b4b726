#!/usr/bin/env bash
# Creates a small certificate authority with the openssl CLI, for the demo
# and tests. Nothing here is meant for production: a real deployment keeps
# its CA keys offline or in an HSM and issues from there.
#
#   deploy/pki/make-ca.sh --out DIR [--kind agent|platform] [--days N]
#
#   --kind agent     (default) the verifier's agent-client CA: the verifier
#                    issues each agent's mTLS client certificate with it
#                    ([ca] cert/key in verifier.conf).
#                    Writes DIR/agent-ca.pem and DIR/agent-ca.key.
#   --kind platform  the platform vendor CA that certifies a node's platform
#                    attestation key (vigil-psed, later work).
#                    Writes DIR/platform-ca.pem and DIR/platform-ca.key.
#
# Keys are ECDSA P-256. Existing files are kept (idempotent): delete them to
# make a new CA. The key is written with mode 0600.
set -euo pipefail

out='' kind=agent days=3650
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift ;;
	--kind) kind=$2; shift ;;
	--days) days=$2; shift ;;
	*) echo "usage: $0 --out DIR [--kind agent|platform] [--days N]" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || { echo "make-ca: --out DIR is required" >&2; exit 2; }
case $kind in
agent) cn="Vigil agent client CA" ;;
platform) cn="Vigil platform vendor CA" ;;
*) echo "make-ca: --kind must be agent or platform" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "make-ca: openssl not found (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$out"
cert=$out/$kind-ca.pem
key=$out/$kind-ca.key
if [ -s "$cert" ] && [ -s "$key" ]; then
	echo "make-ca: $cert exists, kept"
	exit 0
fi

umask 077
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$key.tmp" 2>/dev/null
openssl req -new -x509 -key "$key.tmp" -out "$cert.tmp" -days "$days" \
	-sha256 -subj "/O=Vigil demo/CN=$cn" \
	-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" 2>/dev/null
chmod 0644 "$cert.tmp"
mv "$key.tmp" "$key"
mv "$cert.tmp" "$cert"
echo "make-ca: created $cert ($(openssl x509 -in "$cert" -noout -subject))"
