#!/usr/bin/env bash
# A node whose agent stops pushing falls to `none` (stale) after 3 intervals
# without a fresh quote, not much earlier; it comes back when the agent goes on.
. "$(dirname "$0")/lib.sh"

cluster_start 2 mixed
wait_all_affirming node1 node2

agent_kill node1 STOP
stopped=$(date +%s%N)
# The last quote was at most one interval before the stop: one interval
# after it, no 3 intervals have passed, so the node must still count.
sleep "$E2E_IV"
st=$(node_status node1)
[ "$st" = affirming ] || e2e_fail "node1 is '$st' one interval after its agent stopped (stale too early)"

wait_status node1 none $((3 * E2E_IV + 3)) ||
	e2e_fail "node1 did not turn 'none' within 3 intervals after its agent stopped"
e2e_log "node1 none after $((($(date +%s%N) - stopped) / 1000000)) ms without pushes"
[ "$(node_status node2)" = affirming ] || e2e_fail "node2 did not stay affirming"

agent_kill node1 CONT
wait_status node1 affirming $((5 * E2E_IV + 10)) ||
	e2e_fail "node1 did not become affirming again after its agent went on"
e2e_log "node1 affirming again"

# A killed agent goes stale the same way.
agent_kill node2 KILL
wait_status node2 none $((4 * E2E_IV + 3)) ||
	e2e_fail "node2 did not turn 'none' after its agent was killed"
echo "PASS: a silent agent makes its node stale (none) after 3 intervals"
