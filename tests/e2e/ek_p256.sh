#!/usr/bin/env bash
# TPMs as they ship (issue 10), through the real verifier and agent:
#  - an ECC P-256 EK node (template L-2 at 0x81010002, its certificate from
#    the local vendor CA at NV 0x01c0000a, made by this test's helper since
#    swtpm_setup makes no P-256 EK) registers and is affirming;
#  - the same TPM with the NV certificate removed: the agent registers
#    without one and the verifier refuses it ("EK certificate: none was
#    sent");
#  - given [agent] ek_cert_file with a certificate for the EK from a CA the
#    verifier does not trust: refused naming the certificate's issuer;
#  - given the vendor's certificate as ek_cert_file: it registers again
#    and is affirming.
. "$(dirname "$0")/lib.sh"

cluster_start 1 p256
wait_all_affirming node1
nd=$(node_dir node1)
log=$CLUSTER_DIR/logs/node1-agent.log
vlog=$CLUSTER_DIR/logs/verifier.log
tmp=$CLUSTER_DIR/ek_p256
mkdir -p "$tmp"

e2e_log "node1's EK is ECC P-256 at 0x81010002"
export TPM2TOOLS_TCTI
TPM2TOOLS_TCTI=$(node_tcti node1)
node_json=$(api "/v1/nodes/$(node_id node1)")
[ "$(cat "$nd/ek")" = p256 ] || e2e_fail "node1 is not a p256 node"
grep -q 'register: accepted agent_id=.* ek=p256' "$log" ||
	e2e_fail "the agent did not register its p256 EK; see $log"
echo "$node_json" | grep -q '"affirming"' || e2e_fail "node1 is not affirming: $node_json"

# registrations N: how many times the agent was accepted so far.
registrations() { grep -c 'register: accepted agent_id=' "$log"; }

# wait_log FILE PATTERN SECONDS
wait_log() {
	local end=$(($(date +%s) + $3))
	until grep -q "$2" "$1"; do
		[ "$(date +%s)" -ge "$end" ] && e2e_fail "no \"$2\" in $1 within $3 s"
		sleep 0.2
	done
}

# fresh_agent [CERTFILE]: the agent restarted with no state (it registers
# again), with ek_cert_file = CERTFILE (or none).
fresh_agent() {
	agent_kill node1 TERM
	sleep 0.5
	rm -rf "$nd/agent"
	mkdir -p "$nd/agent"
	sed -i '/^ek_cert_file =/d' "$nd/agent.conf"
	[ -n "${1:-}" ] && sed -i "s|^ek = p256\$|ek = p256\nek_cert_file = $1|" "$nd/agent.conf"
	: >"$log"
	agent_start node1
}

e2e_log "moving node1's EK certificate out of NV 0x01c0000a"
agent_kill node1 TERM
sleep 0.5
for try in 1 2 3 4 5; do
	tpm2_nvread -C o 0x01c0000a -o "$tmp/ek-cert.der" >/dev/null 2>&1 &&
		tpm2_nvundefine -C o 0x01c0000a >/dev/null 2>&1 && break
	[ "$try" = 5 ] && e2e_fail "removing NV 0x01c0000a failed"
	sleep 0.3
done
openssl x509 -inform DER -in "$tmp/ek-cert.der" -out "$tmp/ek-cert.pem" ||
	e2e_fail "the NV certificate is not DER X.509"

e2e_log "without an NV certificate or ek_cert_file: refused, named"
fresh_agent
wait_log "$log" 'no p256 EK certificate in NV 0x01c0000a and no \[agent\] ek_cert_file' 20
wait_log "$log" 'refused by verifier.*EK certificate: none was sent' 30
grep -q 'register: refused: EK certificate: none was sent' "$vlog" ||
	e2e_fail "the verifier did not log the refusal; see $vlog"
[ "$(registrations)" = 0 ] || e2e_fail "registered without an EK certificate"

e2e_log "ek_cert_file from an untrusted CA: refused naming the certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/rogue.key" -out "$tmp/rogue.pem" -subj "/CN=Rogue TPM CA" \
	-days 2 -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1 ||
	e2e_fail "making the rogue CA failed"
cp "$nd/ek-p256.pem" "$tmp/ek-p256.pem"
swtpm_p256_cert "$tmp" "$tmp/rogue.key" "$tmp/rogue.pem" "$tmp/rogue-ek.der" ||
	e2e_fail "making the rogue EK certificate failed"
fresh_agent "$tmp/rogue-ek.der"
wait_log "$log" "using $tmp/rogue-ek.der" 20
wait_log "$log" 'refused by verifier.*does not chain to a trusted TPM vendor CA.*issuer "CN=Rogue TPM CA", serial 0x' 30
grep -q 'register: refused: EK certificate does not chain to a trusted TPM vendor CA.*subject "(empty)", issuer "CN=Rogue TPM CA", serial 0x[0-9A-F]*: unable to get local issuer certificate' "$vlog" ||
	e2e_fail "the verifier's refusal does not name the certificate; see $vlog"
[ "$(registrations)" = 0 ] || e2e_fail "registered with a rogue EK certificate"

e2e_log "ek_cert_file with the vendor's certificate (PEM): registers, affirming"
fresh_agent "$tmp/ek-cert.pem"
wait_log "$log" "using $tmp/ek-cert.pem" 20
wait_log "$log" 'register: accepted agent_id=.* ek=p256' 30
wait_status node1 affirming 60 || e2e_fail "node1 is not affirming after registering with ek_cert_file"
echo "PASS: a P-256 EK node registers and attests; without an NV certificate it is refused, with an untrusted one refused naming the issuer, with the operator's file it registers and attests"
