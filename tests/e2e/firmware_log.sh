#!/usr/bin/env bash
# A node booted from a real machine's firmware log (deploy/demo.sh
# --firmware-log, docs/real-machines.md): the boot step extends the log's
# digests into the node's TPM and the agent sends the file as is as its
# firmware log; Vigil's services still write the runtime log (PCR 23, the
# cap in PCR 11). The node becomes affirming, PCRs 0-7 learnt on first use,
# and the learnt values are those tpm2_eventlog replays from the same file.
# Skips (77) when the corpus (VIGIL_CORPUS_DIR, ../shared/corpus beside the
# checkout) is absent: nothing from it is committed.
. "$(dirname "$0")/lib.sh"

corpus=${VIGIL_CORPUS_DIR:-$e2e_top/../shared/corpus}
fwlog=${E2E_FIRMWARE_LOG:-$corpus/eventlogs/event-arch-linux.bin}
[ -f "$fwlog" ] ||
	e2e_skip "skipped: no corpus firmware log at $fwlog (VIGIL_CORPUS_DIR absent)"
command -v tpm2_eventlog >/dev/null ||
	e2e_skip "skipped: tpm2_eventlog is not installed (deploy/install-deps.sh)"

# What the log replays to, per tpm2_eventlog: "N hex" for PCRs 0-7.
want=$(tpm2_eventlog "$fwlog" 2>/dev/null | awk '
	/^pcrs:/ { p = 1; next }
	p && /^  sha256:/ { s = 1; next }
	p && /^  [a-z0-9]+:/ { s = 0 }
	s && $1 ~ /^[0-7]$/ { v = tolower($3); sub(/^0x/, "", v); print $1, v }')
[ "$(wc -l <<<"$want")" = 8 ] ||
	e2e_fail "tpm2_eventlog does not give PCRs 0-7 of $fwlog: $want"

export DC_FIRMWARE_LOG=$fwlog
cluster_start 1 rsa
wait_all_affirming node1
nd=$(node_dir node1)
id=$(node_id node1)
[ "$(cat "$nd/firmware-log")" = "$fwlog" ] ||
	e2e_fail "node1 was not booted from $fwlog"
[ -s "$nd/runtime-log.cel" ] ||
	e2e_fail "node1 has no runtime log although its services measured themselves"

e2e_log "PCRs 0-7 as the TPM has them equal the log's replay"
while read -r pcr v; do
	got=$(TPM2TOOLS_TCTI=$(node_tcti node1) tpm2_pcrread "sha256:$pcr" |
		sed -n "s/.*$pcr *: *0x\\([0-9A-Fa-f]*\\).*/\\1/p" | tr A-F a-f)
	[ "$got" = "$v" ] || e2e_fail "node1's PCR $pcr is $got, the log replays to $v"
done <<<"$want"

e2e_log "the learnt reference values are the log's PCRs 0-7"
doc=$(api /v1/reference-values) || e2e_fail "GET /v1/reference-values failed"
while read -r pcr v; do
	jq -e --arg p "$pcr" --arg v "$v" --arg id "$id" \
		'.document | ((.pcrs[$p] // []) + (.nodes[$id].pcrs[$p] // [])) |
		map(ascii_downcase) | index($v) != null' <<<"$doc" >/dev/null ||
		e2e_fail "PCR $pcr value $v was not learnt: $(jq -c '.document.pcrs' <<<"$doc")"
done <<<"$want"

e2e_log "node1 stays affirming on the learnt values"
sleep $((2 * E2E_IV + 1))
st=$(node_status node1)
[ "$st" = affirming ] || {
	node_reasons node1 | sed 's/^/    reason: /'
	e2e_fail "node1 turned '$st' on the values learnt from its own firmware log"
}
echo "PASS: a node booted from $(basename "$fwlog") is affirming, its PCRs 0-7 learnt as the log replays them"
