#!/usr/bin/env bash
# Extending one node's PCR 7 behind the boot step's back makes that node
# contraindicated within two push intervals; the other nodes stay affirming.
. "$(dirname "$0")/lib.sh"

cluster_start 3 mixed
wait_all_affirming node1 node2 node3

e2e_log "extending PCR 7 of node2"
pcr7_tamper node2
start=$(date +%s%N)
# Two intervals, plus the time of one quote and our polling.
wait_status node2 contraindicated $((2 * E2E_IV + 2)) || {
	node_reasons node2 | sed 's/^/    reason: /'
	e2e_fail "node2 is not contraindicated within two intervals of the tampering"
}
e2e_log "node2 contraindicated after $((($(date +%s%N) - start) / 1000000)) ms; reasons:"
reasons=$(node_reasons node2)
printf '%s\n' "$reasons" | sed 's/^/    /'
[ -n "$reasons" ] || e2e_fail "node2 is contraindicated but its appraisal gives no reason"

# The others stay affirming for a while longer.
for _ in 1 2 3; do
	for name in node1 node3; do
		st=$(node_status "$name")
		[ "$st" = affirming ] || e2e_fail "$name turned '$st' after node2 was tampered with"
	done
	[ "$(node_status node2)" = contraindicated ] || e2e_fail "node2 went back from contraindicated on its own"
	sleep "$E2E_IV"
done
echo "PASS: a tampered PCR 7 is caught on node2 only"
