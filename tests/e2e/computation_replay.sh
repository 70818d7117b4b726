#!/usr/bin/env bash
# Repeatable computations end to end on a 1-node cluster:
#  - a deterministic program with checkpoints of both kinds (every 500 bytes
#    and markers on VIGIL_CHECKPOINT_FD) is recorded with `vigil record`,
#    replays to `match`, and `vigil verify --wait --junit` exits 0 with a
#    JUnit file that parses;
#  - a program that prints the time after 1500 fixed bytes diverges at
#    exactly checkpoint 4 (the first that includes it): `vigil verify`
#    exits 1 and names it;
#  - tenant B gets 404 for tenant A's computation and replay;
#  - after PCR 7 is tampered with, a computation recorded while the node is
#    contraindicated has its checkpoints flagged by name and is invalid:
#    `vigil verify` exits 1.
. "$(dirname "$0")/lib.sh"

cluster_start 1 rsa
cj=$CLUSTER_DIR/cluster.json
name=$(jq -r '.nodes[0].name' "$cj")
env=$(jq -r '.nodes[0].env' "$cj")
url=$(jq -r .verifier_url "$cj")
tok_a=$(jq -r '.tenants | to_entries[0].value' "$cj")
tok_b=$(jq -r '.tenants | to_entries[1].value' "$cj")
[ -n "$tok_a" ] && [ "$tok_a" != null ] && [ -n "$tok_b" ] && [ "$tok_b" != null ] ||
	e2e_fail "cluster.json lacks two tenant tokens"
wait_status "$name" affirming $((30 * E2E_IV)) || e2e_fail "$name never became affirming"

work=$CLUSTER_DIR/computations
mkdir -p "$work"

# record NAME OUTFILE ARGS... : runs vigil record as tenant A on the node;
# prints the computation id.
record() {
	local label=$1 out=$2
	shift 2
	(
		# shellcheck disable=SC1090
		. "$env"
		export VIGIL_TOKEN=$tok_a
		cd "$work" && "$dc_bin/vigil" record --name "$label" "$@" \
			>"$out.out" 2>"$out.err"
	) || e2e_fail "vigil record $label failed: $(tail -n 3 "$work/$out.err")"
	tail -n 1 "$work/$out.err"
}

# Waits until the computation's end reached the verifier.
wait_complete() {
	local id=$1 end doc st
	end=$(($(date +%s) + 30 * E2E_IV))
	while :; do
		doc=$(curl -fsS -H "Authorization: Bearer $tok_a" "$url/v1/computations/$id") ||
			e2e_fail "GET /v1/computations/$id failed"
		st=$(jq -r .status <<<"$doc")
		[ "$st" = complete ] && return 0
		[ "$st" = invalid ] && e2e_fail "computation $id is invalid: $(jq -c '{reason, checkpoints: [.checkpoints[] | select(.verdict != "valid") | {index, verdict, reason}]}' <<<"$doc")"
		[ "$(date +%s)" -lt "$end" ] || e2e_fail "computation $id still $st: $doc"
		sleep 0.5
	done
}

verify() {
	(
		export VIGIL_URL=$url VIGIL_TOKEN=$tok_a
		"$dc_bin/vigil" verify "$@"
	)
}

junit_parses() {
	if command -v xmllint >/dev/null 2>&1; then
		xmllint --noout "$1"
	else
		python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$1"
	fi
}

e2e_log "recording a deterministic program (byte-count checkpoints and markers)"
# printf and read are shell builtins: the program needs no PATH.
det='i=0
while [ $i -lt 12 ]; do
	printf "%0300d" $i
	if [ $((i % 3)) = 2 ]; then
		printf m >&"$VIGIL_CHECKPOINT_FD"; read -r _ <&"$VIGIL_CHECKPOINT_FD"
	fi
	i=$((i + 1))
done'
id=$(record e2e-deterministic det --checkpoint-every 500 -- sh -c "$det")
[[ $id =~ ^[0-9a-f]{32}$ ]] || e2e_fail "vigil record printed no computation id: '$id'"
wait_complete "$id"
n=$(curl -fsS -H "Authorization: Bearer $tok_a" "$url/v1/computations/$id" | jq -r .count)
[ "$n" -ge 8 ] || e2e_fail "expected at least 8 checkpoints, got $n"

e2e_log "vigil verify $id --wait --junit"
verify "$id" --wait --timeout 120 --junit "$work/det.xml" >"$work/verify-det.out" 2>&1
rc=$?
cat "$work/verify-det.out"
[ "$rc" = 0 ] || e2e_fail "vigil verify of the deterministic program exited $rc, expected 0"
grep -q "match" "$work/verify-det.out" || e2e_fail "the summary does not say match"
junit_parses "$work/det.xml" || e2e_fail "the JUnit file does not parse"
grep -q 'failures="0" errors="0"' "$work/det.xml" || e2e_fail "the JUnit file reports a failure: $(cat "$work/det.xml")"

# The finished replay is an event for the computation's tenant, from the
# replay pool (issue 9); another tenant does not see it.
events_of "$tok_a" | jq -s -e --arg s "computation/$id" \
	--arg t "$(jq -r '.tenants | to_entries[0].key' "$cj")" 'any(.[]; .kind == "replay.result"
    and .subject == $s and .tenant == $t and .data.status == "match" and .data.compared >= 8)' \
	>/dev/null || e2e_fail "no replay.result match event for $id: $(events_of "$tok_a" | tail -n 5)"
events_of "$tok_b" | jq -s -e --arg s "computation/$id" 'any(.[]; .subject == $s)' >/dev/null &&
	e2e_fail "tenant B sees tenant A's replay.result"
e2e_log "replay.result event: match, for its tenant only"

e2e_log "a second verify reuses the finished replay"
verify "$id" >"$work/verify-det2.out" 2>&1 || e2e_fail "vigil verify (reuse) exited $?"

e2e_log "recording a program that prints the time after 1500 fixed bytes"
timeprog='printf "%01500d" 0; date +%s%N; printf "%01000d" 0'
tid=$(record e2e-time time --env PATH --checkpoint-every 500 -- sh -c "$timeprog")
[[ $tid =~ ^[0-9a-f]{32}$ ]] || e2e_fail "vigil record printed no computation id: '$tid'"
wait_complete "$tid"
verify "$tid" --wait --timeout 120 --junit "$work/time.xml" >"$work/verify-time.out" 2>&1
rc=$?
cat "$work/verify-time.out"
[ "$rc" = 1 ] || e2e_fail "vigil verify of the time program exited $rc, expected 1"
grep -q "diverged at checkpoint 4" "$work/verify-time.out" ||
	e2e_fail "the summary does not name checkpoint 4 as the first divergent one"
junit_parses "$work/time.xml" || e2e_fail "the JUnit file of the divergence does not parse"
grep -q '<failure' "$work/time.xml" || e2e_fail "the JUnit file has no failure"

e2e_log "tenant B cannot read or replay tenant A's computation"
rid=$(curl -fsS -H "Authorization: Bearer $tok_a" "$url/v1/computations/$id" | jq -r .latest_replay.id)
for req in "GET /v1/computations/$id" "POST /v1/computations/$id/replays" "GET /v1/replays/$rid"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -X "${req%% *}" \
		-H "Authorization: Bearer $tok_b" "$url${req#* }")
	[ "$code" = 404 ] || e2e_fail "tenant B: $req answered $code, expected 404"
done
lb=$(api_checked GET /v1/computations 200 "$tok_b") ||
	e2e_fail "GET /v1/computations (tenant B) failed or is not as documented"
n=$(jq '.items | length' <<<"$lb")
[ "$n" = 0 ] || e2e_fail "tenant B lists $n computations, expected 0"
# Tenant A's list, as docs/openapi.json describes it (issue 13).
la=$(api_checked GET /v1/computations 200 "$tok_a") ||
	e2e_fail "GET /v1/computations (tenant A) failed or is not as documented"
jq -e --arg id "$id" '.items | any(.id == $id and .status == "complete")' <<<"$la" >/dev/null ||
	e2e_fail "tenant A's list lacks complete computation $id: $la"
p=$(api_checked GET "/v1/computations/$id" 404 "$tok_b") ||
	e2e_fail "tenant B's 404 is not a documented problem"

e2e_log "tampering with PCR 7: checkpoints made while contraindicated are flagged"
pcr7_tamper "$name"
wait_status "$name" contraindicated $((30 * E2E_IV)) || e2e_fail "$name never became contraindicated"
cid=$(record e2e-contra contra --checkpoint-every 500 -- sh -c "$det")
[[ $cid =~ ^[0-9a-f]{32}$ ]] || e2e_fail "vigil record printed no computation id: '$cid'"
end=$(($(date +%s) + 30 * E2E_IV))
while :; do
	doc=$(curl -fsS -H "Authorization: Bearer $tok_a" "$url/v1/computations/$cid") ||
		e2e_fail "GET /v1/computations/$cid failed"
	[ "$(jq -r .status <<<"$doc")" != recording ] && break
	[ "$(date +%s)" -lt "$end" ] || e2e_fail "computation $cid still recording: $doc"
	sleep 0.5
done
[ "$(jq -r .status <<<"$doc")" = invalid ] || e2e_fail "computation $cid is $(jq -r .status <<<"$doc"), expected invalid"
jq -r '.checkpoints[0].reason' <<<"$doc" | grep -q "while the node was contraindicated" ||
	e2e_fail "checkpoint 1 is not flagged as made while contraindicated: $(jq -c '.checkpoints[0]' <<<"$doc")"
verify "$cid" --wait --timeout 60 >"$work/verify-contra.out" 2>&1
rc=$?
cat "$work/verify-contra.out"
[ "$rc" = 1 ] || e2e_fail "vigil verify of the contraindicated run exited $rc, expected 1"
grep -q "invalid evidence: checkpoint 1 flagged" "$work/verify-contra.out" ||
	e2e_fail "the summary does not name the flagged checkpoint"

echo "PASS: a deterministic computation replays to match (vigil verify 0, JUnit parses), one printing the time diverges at checkpoint 4 (vigil verify 1), tenant B gets 404, and checkpoints made while contraindicated are flagged (vigil verify 1)"
