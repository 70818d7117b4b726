#!/usr/bin/env bash
# `vigil record` on a node of a 1-node cluster: a shell program writes 3200
# bytes with a marker after byte 2500 and exits 3. The recorder passes the
# output through, exits 3, prints the computation id as the last line of
# stderr, and the verifier receives five checkpoints (every 1000 bytes:
# 1000, 2000, the marker at 2500, 3000, the final one at 3200) whose states
# are the SHA-256 of those output prefixes, chained from c0, and the end.
. "$(dirname "$0")/lib.sh"

cluster_start 1 rsa
cj=$CLUSTER_DIR/cluster.json
name=$(jq -r '.nodes[0].name' "$cj")
env=$(jq -r '.nodes[0].env' "$cj")
tok=$(jq -r '.tenants | to_entries[0].value' "$cj")
url=$(jq -r .verifier_url "$cj")
[ -n "$tok" ] && [ "$tok" != null ] || e2e_fail "cluster.json has no tenant token"
wait_status "$name" affirming $((30 * E2E_IV)) || e2e_fail "$name never became affirming"

work=$CLUSTER_DIR/record
mkdir -p "$work"
# printf and read are shell builtins: the program needs no PATH.
prog='i=0; while [ $i -lt 25 ]; do printf "%0100d" 0; i=$((i + 1)); done
printf m >&"$VIGIL_CHECKPOINT_FD"; read -r _ <&"$VIGIL_CHECKPOINT_FD"
i=0; while [ $i -lt 7 ]; do printf "%0100d" 0; i=$((i + 1)); done
exit 3'

e2e_log "vigil record without a token must refuse before running"
(
	# shellcheck disable=SC1090
	. "$env"
	unset VIGIL_TOKEN
	cd "$work" && "$dc_bin/vigil" record -- sh -c 'echo ran' >no-token.out 2>no-token.err
)
rc=$?
[ "$rc" = 2 ] || e2e_fail "without a token vigil record exited $rc, expected 2"
[ ! -s "$work/no-token.out" ] || e2e_fail "without a token the command still ran"

e2e_log "a refused token, an unset --env, an unknown command and no agent: exit 2 before running"
for args in "--token=not-a-token record -- sh -c 'echo ran'" \
	"record --env VIGIL_E2E_UNSET -- sh -c 'echo ran'" \
	"record -- vigil-e2e-no-such-command" \
	"record --socket $work/no-agent.sock -- sh -c 'echo ran'"; do
	(
		# shellcheck disable=SC1090
		. "$env"
		export VIGIL_TOKEN=$tok
		unset VIGIL_E2E_UNSET
		cd "$work" && eval "\"\$dc_bin/vigil\" $args" >refused.out 2>refused.err
	)
	rc=$?
	[ "$rc" = 2 ] || e2e_fail "vigil $args exited $rc, expected 2: $(cat "$work/refused.err")"
	[ ! -s "$work/refused.out" ] || e2e_fail "vigil $args still ran the command"
	e2e_log "  refused: $(grep 'vigil' "$work/refused.err" | tail -n 1)"
done

e2e_log "recording the program"
(
	# shellcheck disable=SC1090
	. "$env"
	export VIGIL_TOKEN=$tok
	cd "$work" && "$dc_bin/vigil" record --name e2e-basic --checkpoint-every 1000 \
		-- sh -c "$prog" >out 2>err
)
rc=$?
cat "$work/err"
[ "$rc" = 3 ] || e2e_fail "vigil record exited $rc, expected the command's 3"
[ "$(wc -c <"$work/out")" = 3200 ] || e2e_fail "stdout was not passed through: $(wc -c <"$work/out") bytes"
id=$(tail -n 1 "$work/err")
[[ $id =~ ^[0-9a-f]{32}$ ]] || e2e_fail "the last line of stderr is not a computation id: '$id'"

# The expected chain, computed here from the output.
hexsha() { sha256sum | cut -d' ' -f1; }
c=$(curl -fsS -H "Authorization: Bearer $tok" "$url/v1/computations/$id" | jq -r .c0) ||
	e2e_fail "GET /v1/computations/$id failed"
want_states=() want_cums=()
for n in 1000 2000 2500 3000 3200; do
	s=$(head -c "$n" "$work/out" | hexsha)
	c=$(perl -e 'print pack("H*", $ARGV[0])' "$c$s" | hexsha)
	want_states+=("$s")
	want_cums+=("$c")
done

e2e_log "waiting for the verifier to receive the checkpoints and the end"
end=$(($(date +%s) + 30 * E2E_IV))
while :; do
	doc=$(curl -fsS -H "Authorization: Bearer $tok" "$url/v1/computations/$id")
	[ "$(jq -r '.checkpoints_recorded' <<<"$doc")" = 5 ] &&
		[ "$(jq -r '.exit_status' <<<"$doc")" = 3 ] && break
	[ "$(date +%s)" -lt "$end" ] || e2e_fail "the verifier has not got 5 checkpoints and the end: $doc"
	sleep 0.5
done
for i in 0 1 2 3 4; do
	s=$(jq -r ".checkpoints[$i].state" <<<"$doc")
	cum=$(jq -r ".checkpoints[$i].cumulative" <<<"$doc")
	idx=$(jq -r ".checkpoints[$i].index" <<<"$doc")
	[ "$idx" = $((i + 1)) ] || e2e_fail "checkpoint $i has index $idx"
	[ "$s" = "${want_states[$i]}" ] || e2e_fail "checkpoint $idx state $s, expected ${want_states[$i]}"
	[ "$cum" = "${want_cums[$i]}" ] || e2e_fail "checkpoint $idx cumulative $cum, expected ${want_cums[$i]}"
done
[ "$(jq -r .final_cumulative <<<"$doc")" = "${want_cums[4]}" ] ||
	e2e_fail "final_cumulative $(jq -r .final_cumulative <<<"$doc"), expected ${want_cums[4]}"
[ "$(jq -r .count <<<"$doc")" = 5 ] || e2e_fail "count is $(jq -r .count <<<"$doc"), expected 5"

# The evidence items themselves: five ITEM_CHECKPOINT (3) and one
# ITEM_COMPUTATION_END (4) of this node's agent.
db=$CLUSTER_DIR/verifier/verifier.db
aid=$(node_id "$name")
n3=$(sqlite3 "$db" "SELECT count(*) FROM items WHERE agent_id = '$aid' AND kind = 3")
n4=$(sqlite3 "$db" "SELECT count(*) FROM items WHERE agent_id = '$aid' AND kind = 4")
[ "$n3" = 5 ] && [ "$n4" = 1 ] || e2e_fail "the verifier stored $n3 checkpoint and $n4 end items, expected 5 and 1"
bad=$(jq -r '[.checkpoints[] | select(.verdict != "valid")] | length' <<<"$doc")
[ "$bad" = 0 ] || e2e_log "note: $bad checkpoints not valid: $(jq -c '[.checkpoints[] | {index, verdict, reason}]' <<<"$doc")"
echo "PASS: vigil record passed stdout and status 3 through, and the verifier holds 5 checkpoints chained from c0 and the end"
