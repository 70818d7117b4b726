#!/usr/bin/env bash
# One TPM, one agent (issue 9), through the real verifier with a real
# node's swtpm EK: registrations made by hand from the node's public EK,
# EK certificate and AK.
#  - the same RSA EK key with its exponent written out (65537 instead of
#    0) or another authPolicy is refused: not TCG template L-1;
#  - the same key in template H-1's exact public area (a valid template, a
#    new agent id) is refused: the EK key belongs to the active node;
#  - registering the active node again under another host name changes
#    nothing: GET /v1/nodes/{id} keeps its host name, state and status.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || e2e_skip "skipped: python3 is not installed"

cluster_start 1 rsa
wait_all_affirming node1
id=$(node_id node1)
tmp=$CLUSTER_DIR/ek_identity
mkdir -p "$tmp"
url=$(dc_url "$CLUSTER_DIR")

e2e_log "reading node1's EK, EK certificate and AK from its TPM"
export TPM2TOOLS_TCTI
TPM2TOOLS_TCTI=$(node_tcti node1)
for try in 1 2 3 4 5; do
	tpm2_readpublic -c 0x81010001 -f tss -o "$tmp/ek.pub" >/dev/null 2>&1 &&
		tpm2_nvread -C o 0x01c00002 -o "$tmp/ek.der" >/dev/null 2>&1 &&
		tpm2_readpublic -c 0x81010010 -f tss -o "$tmp/ak.pub" >/dev/null 2>&1 &&
		break
	[ "$try" = 5 ] && e2e_fail "reading node1's TPM failed"
	sleep 0.3 # the agent holds the one swtpm connection now and then
done

# register EKFILE HOSTNAME: POST /v1/agents; prints the HTTP status, the
# body goes to $tmp/reply.
register() {
	python3 - "$1" "$tmp/ek.der" "$tmp/ak.pub" "$2" >"$tmp/req.bin" <<'EOF'
import sys
def field(n, b):
    out, v = bytes([(n << 3) | 2]), len(b)
    while True:
        if v < 0x80:
            out += bytes([v]); break
        out += bytes([(v & 0x7f) | 0x80]); v >>= 7
    return out + b
ek, cert, ak = (open(p, 'rb').read() for p in sys.argv[1:4])
sys.stdout.buffer.write(field(1, ek) + field(2, cert) + field(3, ak) +
    field(4, sys.argv[4].encode()))
EOF
	dc_curl "$CLUSTER_DIR" -sS -m 10 -o "$tmp/reply" -w '%{http_code}' \
		-H 'Content-Type: application/x-protobuf' --data-binary "@$tmp/req.bin" \
		"$url/v1/agents"
}

# variant OUT PYTHON-EXPRESSION-ON-b: a copy of ek.pub (a TPM2B_PUBLIC,
# bytearray b) changed by the statement.
variant() {
	python3 - "$tmp/ek.pub" "$tmp/$1" "$2" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
# TPM2B size(2) type(2) nameAlg(2) attributes(4) authPolicy(2+32)
# symmetric(6) scheme(2) keyBits(2) exponent(4) unique(2+256)
assert b[2:4] == b'\x00\x01' and b[6:10] == bytes.fromhex('000300b2')
exec(sys.argv[3])
open(sys.argv[2], 'wb').write(b)
EOF
}

detail() { jq -r .detail "$tmp/reply"; }

expect() { # STATUS SUBSTRING WHAT
	local st=$1 part=$2 what=$3 got
	got=$(detail)
	[ "$code" = "$st" ] || e2e_fail "$what: HTTP $code, want $st: $(cat "$tmp/reply")"
	case $got in *"$part"*) ;; *) e2e_fail "$what: detail '$got' lacks '$part'" ;; esac
	e2e_log "$what: $code $got"
}

variant exp.pub "b[54:58] = (65537).to_bytes(4, 'big')"
code=$(register "$tmp/exp.pub" node1)
expect 400 "EK template: the EK public area is not TCG EK Credential Profile template L-1 (RSA 2048): its RSA exponent is not encoded as 0" \
	"exponent written out"

variant pol.pub "b[12] ^= 1"
code=$(register "$tmp/pol.pub" node1)
expect 400 "template L-1 (RSA 2048): its authPolicy differs" "authPolicy changed"

variant attr.pub "b[7] |= 0x04"  # sign
code=$(register "$tmp/attr.pub" node1)
expect 400 "its objectAttributes differ" "attributes changed"

# Template H-1: userWithAuth added, PolicyB: valid, and a new agent id.
variant h1.pub "b[9] = 0xf2; b[12:44] = bytes.fromhex('ca3d0a99a2b93906f7a3342414efcfb3a385d44cd1fd459089d19b5071c0b7a0')"
code=$(register "$tmp/h1.pub" node1-again)
expect 409 "EK uniqueness: this EK key (SHA-256 " "same key as template H-1"
expect 409 "belongs to active agent $id" "same key as template H-1"
[ "$(api /v1/nodes | jq '.items | length')" = 1 ] || e2e_fail "a second node appeared"

e2e_log "registering node1 again as 'squatter' (its public EK, certificate and AK)"
code=$(register "$tmp/ek.pub" squatter)
[ "$code" = 200 ] || e2e_fail "re-registration: HTTP $code: $(cat "$tmp/reply")"
for _ in 1 2 3; do
	n=$(api "/v1/nodes/$id")
	[ "$(jq -r .hostname <<<"$n")" = node1 ] || e2e_fail "the host name changed: $n"
	[ "$(jq -r .state <<<"$n")" = active ] || e2e_fail "the state changed: $n"
	[ "$(jq -r .status <<<"$n")" = affirming ] || e2e_fail "the status changed: $n"
	sleep "$E2E_IV"
done
echo "PASS: EK variants of one TPM are refused with their reasons; a re-registration changes nothing about the active node"
