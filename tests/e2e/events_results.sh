#!/usr/bin/env bash
# Signed results and events through the CLI: `vigil result node ID
# --verify` accepts the verifier's EAR JWT (and so does the `jose` tool with
# the published key); `vigil events` shows the node's status change to
# affirming; `vigil events --follow` shows it turn `none` when its agent
# stops; after a key rotation the old token still verifies.
. "$(dirname "$0")/lib.sh"

command -v jose >/dev/null || e2e_skip "skipped: jose is not installed"
cluster_start 1 rsa
wait_all_affirming node1
id=$(node_id node1)
vigil=$e2e_top/$BUILD/bin/vigil
export VIGIL_URL VIGIL_TOKEN
VIGIL_URL=$(dc_url "$CLUSTER_DIR")
VIGIL_TOKEN=$(cat "$CLUSTER_DIR/verifier/operator.token")
work=$CLUSTER_DIR/events-results
mkdir -p "$work"

# The stored events: node1 became affirming.
"$vigil" --json events >"$work/events.json" || e2e_fail "vigil events failed"
# (jq -s and any(): an empty input must not pass.)
jq -s -e --arg id "$id" 'any(.[]; .kind == "node.status" and
    .subject == $id and .data.status == "affirming")' "$work/events.json" >/dev/null ||
	e2e_fail "no node.status affirming event for node1: $(cat "$work/events.json")"
e2e_log "vigil events: node1 became affirming"

# The signed result verifies, with the CLI and with jose.
"$vigil" result node "$id" --nonce e2e-nonce-1 --verify >"$work/t1.jwt" 2>"$work/verify.err" ||
	e2e_fail "vigil result --verify failed: $(cat "$work/verify.err")"
grep -q "tpm *affirming" "$work/verify.err" ||
	e2e_fail "the result's tpm submodule is not affirming: $(cat "$work/verify.err")"
api /v1/verifier/jwks | jq '.keys[0]' >"$work/key.jwk"
# jose reads the token bytes as they are: no trailing newline.
printf %s "$(cat "$work/t1.jwt")" >"$work/t1.jws"
jose jws ver -i "$work/t1.jws" -k "$work/key.jwk" -O "$work/claims.json" ||
	e2e_fail "jose jws ver refused the result"
jq -e --arg n e2e-nonce-1 '.eat_nonce == $n and
    .eat_profile == "tag:github.com,2023:veraison/ear"' "$work/claims.json" >/dev/null ||
	e2e_fail "unexpected claims: $(cat "$work/claims.json")"
e2e_log "result of node1 verified by vigil and by jose"

# After a rotation, the old token still verifies (previous key published).
"$dc_bin/vigil-verifier" keys rotate --config "$CLUSTER_DIR/verifier/verifier.conf" \
	>/dev/null 2>&1 || e2e_fail "keys rotate failed"
[ "$(api /v1/verifier/jwks | jq '.keys | length')" = 2 ] ||
	e2e_fail "the JWK set does not hold the current and previous keys"
api /v1/verifier/jwks >"$work/jwks.json"
jose jws ver -i "$work/t1.jws" -k "$work/jwks.json" -O /dev/null ||
	e2e_fail "the token of the previous key no longer verifies"
"$vigil" result node "$id" --verify >/dev/null 2>&1 ||
	e2e_fail "a result signed with the new key does not verify"

# Following: the agent stops, node1 turns none, the stream shows it.
"$vigil" --json events --follow >"$work/follow.json" 2>/dev/null &
fpid=$!
sleep 1
agent_kill node1 STOP
for _ in $(seq $((10 * E2E_IV + 20))); do
	jq -s -e --arg id "$id" 'any(.[]; .subject == $id and
	    .data.status == "none")' "$work/follow.json" >/dev/null 2>&1 && break
	sleep 0.5
done
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
agent_kill node1 CONT
jq -s -e --arg id "$id" 'any(.[]; .subject == $id and .data.status == "none"
    and .data.previous == "affirming")' "$work/follow.json" >/dev/null ||
	e2e_fail "vigil events --follow did not show node1 turning none: $(cat "$work/follow.json")"
e2e_log "vigil events --follow: node1 none"
"$vigil" audit | grep -q "keys.rotate" || e2e_fail "vigil audit does not show the key rotation"
echo "PASS: signed results verify (vigil, jose, across a rotation); events show status changes"
