#!/usr/bin/env bash
# A measured-boot policy made of events (docs/appraisal.md "Boot policies"):
# `vigil reference-values from-event-log` on a demo node's firmware log,
# PUT with no PCR values for PCRs 0-7: the node stays affirming on its
# events alone. The same policy with the node's boot application digest
# changed turns it contraindicated, the reason naming the event.
. "$(dirname "$0")/lib.sh"

cluster_start 1 rsa
wait_all_affirming node1
bin=$dc_bin
url=$(dc_url "$CLUSTER_DIR")
tok=$(cat "$CLUSTER_DIR/verifier/operator.token")
tmp=$CLUSTER_DIR/boot-policy
mkdir -p "$tmp"
fwlog=$(node_dir node1)/binary_bios_measurements
[ -s "$fwlog" ] || e2e_fail "no firmware log at $fwlog"

e2e_log "making a boot policy from node1's firmware log"
"$bin/vigil" reference-values from-event-log "$fwlog" --name fleet \
	>"$tmp/policy.json" 2>"$tmp/gen.err" ||
	e2e_fail "from-event-log failed: $(cat "$tmp/gen.err")"
orig=$(jq -r '.boot_policies.fleet.boot_applications[0].sha256[0]' "$tmp/policy.json")
[[ $orig =~ ^[0-9a-f]{64}$ ]] || e2e_fail "the policy has no boot application: $(cat "$tmp/policy.json")"

# The current document (learnt PCR values, smm settings) with the policy,
# and without its PCR values for 0-7: the events vouch for those.
put_doc() {
	local doc=$1 out
	out=$("$bin/vigil" --url "$url" --token "$tok" reference-values put "$doc" 2>&1) ||
		e2e_fail "PUT /v1/reference-values refused the policy: $out"
	e2e_log "$out"
}
api /v1/reference-values | jq '.document' >"$tmp/current.json" ||
	e2e_fail "GET /v1/reference-values failed"
jq -s '.[0] * .[1] | .pcrs = ((.pcrs // {}) | with_entries(select(.key | tonumber >= 8)))' \
	"$tmp/current.json" "$tmp/policy.json" >"$tmp/good.json"
put_doc "$tmp/good.json"

e2e_log "node1 must stay affirming on the boot policy"
sleep $((2 * E2E_IV + 1))
for _ in 1 2 3; do
	st=$(node_status node1)
	[ "$st" = affirming ] || {
		node_reasons node1 | sed 's/^/    reason: /'
		e2e_fail "node1 turned '$st' under the policy made from its own log"
	}
	sleep "$E2E_IV"
done
api /v1/reference-values | jq -e '.document.pcrs | has("0") or has("4") | not' >/dev/null ||
	e2e_fail "PCR 0 or 4 values were learnt although the boot policy appraised them"

e2e_log "the same policy with node1's boot application digest changed"
bad=0000000000000000000000000000000000000000000000000000000000000000
api /v1/reference-values | jq '.document' |
	jq --arg bad "$bad" '.boot_policies.fleet.boot_applications[0].sha256 = [$bad]' >"$tmp/bad.json"
put_doc "$tmp/bad.json"
wait_status node1 contraindicated $((3 * E2E_IV + 2)) || {
	node_reasons node1 | sed 's/^/    reason: /'
	e2e_fail "node1 is not contraindicated under a policy without its boot application"
}
reasons=$(node_reasons node1)
printf '%s\n' "$reasons" | sed 's/^/    /'
want="^boot application 0 event [0-9]+ \\(PCR 4, EV_IPL\\) sha256 $orig is not in boot policy \"fleet\"; accepted: 000000000000\\.\\.\\.\$"
grep -Eq "$want" <<<"$reasons" || e2e_fail "no reason naming the boot application event (want /$want/)"

e2e_log "a policy naming no such boot policy is refused"
out=$(jq '.boot_policy = "nope"' "$tmp/bad.json" >"$tmp/nope.json"; "$bin/vigil" --url "$url" --token "$tok" reference-values put "$tmp/nope.json" 2>&1) &&
	e2e_fail "PUT accepted a boot_policy naming no policy"
grep -q 'boot_policy: no boot policy named \\"nope\\" in boot_policies\|boot_policy: no boot policy named "nope" in boot_policies' <<<"$out" ||
	e2e_fail "the refusal does not name the field: $out"
echo "PASS: a boot policy from a node's own log keeps it affirming; its boot application changed contraindicates it, naming the event"
