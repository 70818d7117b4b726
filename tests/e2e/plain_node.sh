#!/usr/bin/env bash
# A node without vigil-smmd and vigil-psed (DC_NO_SMM=1 DC_NO_PSE=1, as a
# real machine that runs only the agent): nothing writes its runtime log,
# nothing caps PCR 11, it sends its firmware log only. It is affirming
# (docs/appraisal.md: a node with no runtime log is appraised on its
# firmware log and PCRs 0-7), with no reason about the runtime log, the
# cap or the AK hand-off: those concern the SMM service and the PSE only.
. "$(dirname "$0")/lib.sh"

export DC_NO_SMM=1 DC_NO_PSE=1
cluster_start 1 rsa
wait_all_affirming node1
nd=$(node_dir node1)
id=$(node_id node1)
[ -e "$nd/smm.conf" ] && e2e_fail "node1 runs vigil-smmd although DC_NO_SMM is set"
[ -e "$nd/pse" ] && e2e_fail "node1 has a PSE although DC_NO_PSE is set"
# The agent is told where the runtime log would be; the file is absent.
grep -qx "runtime_log = $nd/runtime-log.cel" "$nd/agent.conf" ||
	e2e_fail "node1's agent.conf names no runtime_log: the absent-file case is not exercised"
[ -e "$nd/runtime-log.cel" ] &&
	e2e_fail "node1 has a runtime log ($(stat -c %s "$nd/runtime-log.cel") bytes) although no service measured itself"

e2e_log "PCR 23 and PCR 11 were never extended"
zero=$(printf '0%.0s' $(seq 64))
for pcr in 11 23; do
	got=$(TPM2TOOLS_TCTI=$(node_tcti node1) tpm2_pcrread "sha256:$pcr" |
		sed -n "s/.*$pcr *: *0x\\([0-9A-Fa-f]*\\).*/\\1/p" | tr A-F a-f)
	[ "$got" = "$zero" ] || e2e_fail "node1's PCR $pcr is $got, not all zero"
done

e2e_log "node1 stays affirming, with no runtime-log, cap or hand-off reason"
sleep $((2 * E2E_IV + 1))
st=$(node_status node1)
reasons=$(node_reasons node1)
printf '%s\n' "$reasons" | sed 's/^/    reason: /'
[ "$st" = affirming ] || e2e_fail "node1 without SMM and PSE turned '$st'"
if grep -Eiq 'runtime log|hand-off|not capped|PCR 23' <<<"$reasons"; then
	e2e_fail "node1's reasons mention what it does not run: $reasons"
fi
node=$(api "/v1/nodes/$id") || e2e_fail "GET /v1/nodes/$id failed"
[ "$(jq -r '.status' <<<"$node")" = affirming ] ||
	e2e_fail "GET /v1/nodes/$id: $(jq -c '{status}' <<<"$node")"
echo "PASS: a node without vigil-smmd and vigil-psed, no runtime log, is affirming"
