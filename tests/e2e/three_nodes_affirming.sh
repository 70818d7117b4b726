#!/usr/bin/env bash
# Three nodes, RSA and ECC EKs mixed, register and become affirming; the
# verifier lists exactly those three, under their host names and ids.
. "$(dirname "$0")/lib.sh"

cluster_start 3 mixed
wait_all_affirming node1 node2 node3

# Each body as docs/openapi.json describes it (api_checked, issue 13).
list=$(api_checked GET "/v1/nodes?limit=100" 200) || e2e_fail "GET /v1/nodes failed or is not as documented"
count=$(jq '.items | length' <<<"$list")
[ "$count" = 3 ] || e2e_fail "GET /v1/nodes lists $count nodes, expected 3: $list"
for name in node1 node2 node3; do
	id=$(node_id "$name")
	host=$(jq -r --arg id "$id" '.items[] | select(.id == $id) | .hostname' <<<"$list")
	[ "$host" = "$name" ] || e2e_fail "node $id is listed as '$host', expected $name"
	node=$(api_checked GET "/v1/nodes/$id" 200) ||
		e2e_fail "GET /v1/nodes/$id failed or is not as documented"
	[ "$(jq -r .appraisal.status <<<"$node")" = affirming ] ||
		e2e_fail "GET /v1/nodes/$id: appraisal $(jq -c .appraisal <<<"$node")"
	ek=$(cat "$(node_dir "$name")/ek")
	e2e_log "$name ($ek EK, id ${id:0:12}...) affirming"
done
gone=$(printf '0%.0s' {1..64})
p=$(api_checked GET "/v1/nodes/$gone" 404) || e2e_fail "GET /v1/nodes/(unknown) is not a documented 404"
[ "$(jq -r .type <<<"$p")" = urn:vigil:problem:not-found ] || e2e_fail "unknown node: $p"
if [ "$(cat "$(node_dir node1)/ek")" != rsa ] || [ "$(cat "$(node_dir node2)/ek")" != ecc ]; then
	e2e_fail "the cluster did not mix RSA and ECC EKs"
fi
echo "PASS: three nodes with RSA and ECC EKs are affirming"
