#!/usr/bin/env bash
# An event-log chunk that does not replay is refused, not stored, and the
# node recovers with the next good push (issue 9). On node1 an event is
# appended to the event log before its PCR 7 is extended (a runtime
# measurement logged ahead of its extend): the agent sends the chunk, the
# verifier refuses it naming the check (appraisal reasons and its log),
# does not acknowledge it and stores none of it, so the node is
# contraindicated but its stored log is not poisoned. The operator accepts
# the new PCR 7 value, the PCR is extended: the agent's next push (the same
# chunk again) replays, is stored, and node1 is affirming again.
. "$(dirname "$0")/lib.sh"

command -v xxd >/dev/null || e2e_skip "skipped: xxd is not installed"
cluster_start 1 rsa
wait_all_affirming node1
id=$(node_id node1)
url=$(dc_url "$CLUSTER_DIR")
op=$(cat "$CLUSTER_DIR/verifier/operator.token")
log=$(node_dir node1)/binary_bios_measurements
tcti=$(node_tcti node1)
work=$CLUSTER_DIR/evlog-chunk
mkdir -p "$work"
le32() { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }

data="vigil e2e: measured late"
dg=$(printf %s "$data" | sha256sum | cut -c1-64)
stored0=$(sqlite3 "file:$CLUSTER_DIR/verifier/verifier.db?mode=ro" \
	"SELECT coalesce(sum(length), 0) FROM evlogs WHERE agent_id = '$id'" 2>/dev/null || echo "?")

e2e_log "appending a PCR 7 event to node1's event log, not extended yet"
# TCG_PCR_EVENT2: pcrIndex, eventType EV_IPL (0xd), one SHA-256 digest, data.
{
	printf '%s%s%s%s%s%s' "$(le32 7)" "$(le32 13)" "$(le32 1)" 0b00 "$dg" \
		"$(le32 ${#data})"
	printf %s "$data" | xxd -p | tr -d '\n'
} | xxd -r -p >>"$log" || e2e_fail "appending to $log"

wait_status node1 contraindicated $((4 * E2E_IV + 5)) || {
	node_reasons node1 | sed 's/^/    reason: /'
	e2e_fail "node1 is not contraindicated by a chunk that does not replay"
}
node_reasons node1 >"$work/reasons"
grep -Eq '^event log chunk\(s\) seq [0-9-]+ of boot [0-9]+ refused, not stored: event log does not replay to the quoted PCR 7' \
	"$work/reasons" || {
	sed 's/^/    reason: /' "$work/reasons"
	e2e_fail "the reasons do not say the chunk was refused and why"
}
e2e_log "refused: $(grep -m1 'refused, not stored' "$work/reasons")"
grep -q "event log chunk epoch=.* refused, not stored" "$CLUSTER_DIR/logs/verifier.log" ||
	e2e_fail "the verifier's log has no line for the refused chunk"
if [ "$stored0" != "?" ]; then
	stored1=$(sqlite3 "file:$CLUSTER_DIR/verifier/verifier.db?mode=ro" \
		"SELECT coalesce(sum(length), 0) FROM evlogs WHERE agent_id = '$id'")
	[ "$stored1" = "$stored0" ] || e2e_fail "the refused chunk was stored ($stored0 -> $stored1 bytes)"
fi

e2e_log "the operator accepts PCR 7 with the event; the PCR is extended"
old7=$(TPM2TOOLS_TCTI=$tcti tpm2_pcrread sha256:7 | sed -n 's/.*7 *: *0x\([0-9A-Fa-f]*\).*/\1/p' |
	tr 'A-F' 'a-f')
[ ${#old7} = 64 ] || e2e_fail "cannot read node1's PCR 7"
new7=$(printf '%s%s' "$old7" "$dg" | xxd -r -p | sha256sum | cut -c1-64)
api /v1/reference-values | jq -c --arg v "$new7" --arg id "$id" '.document
	| .pcrs["7"] = ((.pcrs["7"] // []) + [$v])
	| if .nodes[$id].pcrs["7"] then .nodes[$id].pcrs["7"] += [$v] else . end' >"$work/refs.json" ||
	e2e_fail "GET /v1/reference-values"
dc_curl "$CLUSTER_DIR" -fsS -X PUT -H "Authorization: Bearer $op" --data-binary @"$work/refs.json" \
	"$url/v1/reference-values" >/dev/null || e2e_fail "PUT /v1/reference-values"
TPM2TOOLS_TCTI=$tcti tpm2_pcrextend "7:sha256=$dg" || e2e_fail "tpm2_pcrextend on node1"

wait_status node1 affirming $((4 * E2E_IV + 5)) || {
	node_reasons node1 | sed 's/^/    reason: /'
	e2e_fail "node1 did not recover once the chunk replays"
}
if [ "$stored0" != "?" ]; then
	stored2=$(sqlite3 "file:$CLUSTER_DIR/verifier/verifier.db?mode=ro" \
		"SELECT coalesce(sum(length), 0) FROM evlogs WHERE agent_id = '$id'")
	[ "$stored2" -gt "$stored0" ] || e2e_fail "the good chunk was not stored ($stored0 -> $stored2 bytes)"
fi
echo "PASS: a chunk that does not replay is refused with its reason and not stored; the next good push recovers"
