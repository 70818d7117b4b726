#!/usr/bin/env bash
# Evidence survives crashes: the verifier is killed (SIGKILL) and restarted
# while agents push, and an agent is killed (SIGKILL) mid-push and
# restarted, and both nodes reboot meanwhile. Afterwards the verifier's store (read with the sqlite3 CLI,
# read-only) holds, for every agent and spool epoch, each item sequence
# 1..max exactly once, with no conflicting resend; every epoch's acknowledged
# sequence is covered; and the nodes' TPMs still answer tpm2_pcrread.
. "$(dirname "$0")/lib.sh"

cluster_start 2 mixed
wait_all_affirming node1 node2
sleep "$E2E_IV"

verifier_kill KILL
# A reboot while the verifier is down: the new boot's event log becomes
# evidence items that must wait in node2's spool.
node_reboot node2
e2e_log "verifier down for 3 intervals while the agents keep trying"
sleep $((3 * E2E_IV))
verifier_start

# node1 reboots (new items to push) and its agent is killed at a random
# point of its first push cycles, twice.
node_reboot node1
for _ in 1 2; do
	sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
	agent_kill node1 KILL
	agent_start node1
done
wait_all_affirming node1 node2
# Let the agents push and the verifier commit a few more rounds.
sleep $((3 * E2E_IV))

db=$CLUSTER_DIR/verifier/verifier.db
q() { sqlite3 -readonly -batch -noheader -separator ' ' "$db" "$1"; }
q "select count(*) from items" >/dev/null || e2e_fail "cannot read table items of $db"

total=$(q "select count(*) from items")
[ "$total" -gt 0 ] || e2e_fail "the verifier stored no evidence items at all"
e2e_log "$total evidence items stored; per agent and epoch (count, distinct, min, max):"
bad=0
while read -r agent epoch count distinct min max; do
	echo "    ${agent:0:12}... epoch $epoch: $count $distinct $min $max"
	if [ "$count" != "$distinct" ] || [ "$min" != 1 ] || [ "$max" != "$count" ]; then
		echo "    -> gap or duplicate in agent ${agent:0:12}... epoch $epoch"
		bad=1
	fi
done < <(q "select agent_id, epoch, count(*), count(distinct seq), min(seq), max(seq)
            from items group by agent_id, epoch order by agent_id, epoch")
[ "$bad" = 0 ] || e2e_fail "item sequences have gaps or duplicates"

for name in node1 node2; do
	id=$(node_id "$name")
	n=$(q "select count(*) from items where agent_id = '$id'")
	# The first boot's items and the reboot's.
	[ "$n" -ge 2 ] || e2e_fail "$name has $n evidence items stored, expected those of two boots"
done

# What the verifier acknowledged must all be there.
uncovered=$(q "select count(*) from epochs e where e.acked_seq >
               (select count(*) from items i where i.agent_id = e.agent_id
                and i.epoch = e.epoch and i.seq <= e.acked_seq)")
[ "$uncovered" = 0 ] || e2e_fail "$uncovered epochs acknowledge items that are not stored"

conflicts=$(q "select count(*) from item_conflicts")
if [ "$conflicts" != 0 ]; then
	q "select agent_id, epoch, seq, reason from item_conflicts" | sed 's/^/    /'
	e2e_fail "$conflicts resent items conflicted with stored ones"
fi

for name in node1 node2; do
	TPM2TOOLS_TCTI=$(node_tcti "$name") tpm2_pcrread sha256:0,7 >/dev/null ||
		e2e_fail "tpm2_pcrread on $name's TPM failed after the crashes"
done
echo "PASS: no evidence item lost or duplicated across verifier and agent crashes"
