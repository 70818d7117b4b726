#!/usr/bin/env bash
# An emulated reboot (TPM2_Shutdown, swtpm restarted: PCRs reset and
# resetCount moves on; boot step re-run, agent restarted) is reported: the
# node's latest appraisal after the reboot gives the reboot as a reason; and
# the node is affirming again with its new boot's measurements.
. "$(dirname "$0")/lib.sh"

cluster_start 1 rsa
wait_all_affirming node1
id=$(node_id node1)
before=$(api "/v1/nodes/$id/appraisals?limit=1" | jq -r '.items[0].id // 0')

node_reboot node1
end=$(($(date +%s) + 10 * E2E_IV + 20))
seen=
while :; do
	st=$(node_status node1)
	reasons=$(node_reasons node1)
	if [ -z "$seen" ] && grep -qiE 'reboot' <<<"$reasons"; then
		seen=1
		e2e_log "latest appraisal: $st; reasons:"
		printf '%s\n' "$reasons" | sed 's/^/    /'
	fi
	[ -n "$seen" ] && [ "$st" = affirming ] && break
	if [ "$(date +%s)" -ge "$end" ]; then
		echo "latest status: $st; latest reasons:"
		printf '%s\n' "$reasons" | sed 's/^/    /'
		echo "appraisals since the reboot:"
		api "/v1/nodes/$id/appraisals?limit=10" |
			jq -c --argjson b "$before" '.items[]? | select(.id > $b) | {status, reasons}' | sed 's/^/    /'
		[ -n "$seen" ] && e2e_fail "the reboot was reported but node1 did not become affirming again"
		e2e_fail "no latest appraisal of node1 mentioned the reboot"
	fi
	sleep 0.25
done

# The history has the reboot too, after the appraisal from before it.
api "/v1/nodes/$id/appraisals?limit=20" |
	jq -e --argjson b "$before" '[.items[] | select(.id > $b) | .reasons[]? | tostring | test("reboot"; "i")] | any' >/dev/null ||
	e2e_fail "the appraisal history of node1 does not record the reboot"
TPM2TOOLS_TCTI=$(node_tcti node1) tpm2_pcrread sha256:0,7 >/dev/null ||
	e2e_fail "tpm2_pcrread on node1 failed after the reboot"
echo "PASS: the reboot is reported and node1 is affirming again"
