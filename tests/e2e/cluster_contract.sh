#!/usr/bin/env bash
# deploy/demo.sh keeps its contract: cluster.json has the fields DESIGN.md
# names and they work (URL and operator token answer, each node's TCTI
# reaches its TPM, hypervisor_pid runs, env.sh sets what commands on the
# node need); `stop` stops every process it started and is idempotent.
. "$(dirname "$0")/lib.sh"

cluster_start 2 mixed
cj=$CLUSTER_DIR/cluster.json
[ -f "$cj" ] || e2e_fail "no cluster.json"
jq -e '(.verifier_url | type == "string") and (.operator_token | length > 0)
       and (.tenants | type == "object" and length == 2)
       and (.nodes | length == 2)
       and all(.nodes[]; (.name | type == "string") and (.id | test("^[0-9a-f]{64}$"))
               and (.tcti | startswith("swtpm:host=127.0.0.1,port="))
               and (.hypervisor_pid | type == "number") and (.smm_socket | type == "string")
               and (.dir | type == "string") and (.env | type == "string"))' "$cj" >/dev/null ||
	e2e_fail "cluster.json misses fields: $(cat "$cj")"

url=$(jq -r .verifier_url "$cj")
tok=$(jq -r .operator_token "$cj")
curl -fsS -H "Authorization: Bearer $tok" "$url/v1/nodes" >/dev/null ||
	e2e_fail "the operator token of cluster.json is refused at $url/v1/nodes"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/nodes")
[ "$code" = 401 ] || e2e_fail "GET /v1/nodes without a token answered $code, expected 401"

pids=()
for i in 0 1; do
	name=$(jq -r ".nodes[$i].name" "$cj")
	[ "$(jq -r ".nodes[$i].id" "$cj")" = "$(node_id "$name")" ] || e2e_fail "$name: id mismatch"
	hpid=$(jq -r ".nodes[$i].hypervisor_pid" "$cj")
	kill -0 "$hpid" 2>/dev/null || e2e_fail "$name: hypervisor_pid $hpid does not run"
	env=$(jq -r ".nodes[$i].env" "$cj")
	(
		# shellcheck disable=SC1090
		. "$env"
		[ -n "$VIGIL_URL" ] && [ -n "$VIGIL_AGENT_SOCKET" ] && [ -n "$VIGIL_NODE_DIR" ] ||
			exit 1
		[ "$TPM2TOOLS_TCTI" = "$(jq -r ".nodes[$i].tcti" "$cj")" ] || exit 1
		tpm2_pcrread sha256:0 >/dev/null
	) || e2e_fail "$name: env.sh does not set VIGIL_URL, VIGIL_AGENT_SOCKET, VIGIL_NODE_DIR and a working TPM2TOOLS_TCTI"
	nd=$(node_dir "$name")
	pids+=("$hpid" "$(cat "$nd/agent.pid")" "$(cat "$nd/swtpm.pid")")
done
pids+=("$(cat "$CLUSTER_DIR/verifier/verifier.pid")")

e2e_log "stopping the cluster twice"
dc_stop "$CLUSTER_DIR"
dc_stop "$CLUSTER_DIR"
for p in "${pids[@]}"; do
	if dc_running "$p"; then
		e2e_fail "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) still runs after stop"
	fi
done
[ ! -f "$cj" ] || e2e_fail "cluster.json is still there after stop"
echo "PASS: cluster.json keeps its contract and stop stops everything"
