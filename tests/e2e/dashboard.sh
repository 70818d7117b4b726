#!/usr/bin/env bash
# The dashboard (GET /ui/, docs/dashboard.md) in headless Chromium, driven
# over the DevTools protocol by tests/browser/dashboard.mjs: sign in as an
# operator, the fleet counts equal GET /v1/nodes, node2 tampered (PCR 7)
# while the page is open turns contraindicated on it without a reload, a
# tenant does not see another tenant's VM, and a node registered with the
# host name <img/src=x/onerror=alert(1)> (host names have no spaces) and a
# computation named <img src=x onerror=alert(1)> show that text and run
# nothing. Takes the screenshots of docs/dashboard/: into
# $BUILD/test-logs/dashboard/ by default (a test run leaves the tree
# clean), into docs/dashboard/ with `make screenshots`.
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null || e2e_skip "skipped: node is not installed (deploy/install-deps.sh installs nodejs)"
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$chromium" ] || e2e_skip "skipped: chromium is not installed (deploy/install-deps.sh installs it)"
[ -x "$dc_bin/vigil-psed" ] || e2e_fail "$dc_bin/vigil-psed is missing: run make BUILD=$BUILD all"

hostile_host='<img/src=x/onerror=alert(1)>'
hostile_name='<img src=x onerror=alert(1)>'
export DC_HOSTNAME_node3=$hostile_host
cluster_start 3 rsa
wait_all_affirming node1 node2 node3

url=$(dc_url "$CLUSTER_DIR")
acme=$(jq -r .tenants.acme "$CLUSTER_DIR/cluster.json")
globex=$(jq -r .tenants.globex "$CLUSTER_DIR/cluster.json")
vig() { VIGIL_URL=$url "$dc_bin/vigil" "$@"; }

e2e_log "acme declares VM web and starts it on node1; globex declares VM ledger"
acme_vm=$(VIGIL_TOKEN=$acme vig vm create web) || e2e_fail "vigil vm create web"
globex_vm=$(VIGIL_TOKEN=$globex vig vm create ledger) || e2e_fail "vigil vm create ledger"
mkdir -p "$CLUSTER_DIR/guest"
echo "guest firmware 1.0" >"$CLUSTER_DIR/guest/firmware"
echo "guest kernel 6.1" >"$CLUSTER_DIR/guest/kernel"
(
	. "$(node_dir node1)/env.sh"
	"$dc_bin/vigil-agent" vm start "$acme_vm" --firmware "$CLUSTER_DIR/guest/firmware" \
		--kernel "$CLUSTER_DIR/guest/kernel"
) 2>/dev/null | grep -q enrolled || e2e_fail "vm start $acme_vm on node1 did not enrol"

e2e_log "acme records a computation named $hostile_name on node1 and replays it"
(
	. "$(node_dir node1)/env.sh"
	export VIGIL_TOKEN=$acme
	cd "$CLUSTER_DIR" && "$dc_bin/vigil" record --name "$hostile_name" --checkpoint-every 40 -- \
		sh -c 'i=0; while [ $i -lt 20 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null 2>rec.err
) || e2e_fail "vigil record failed: $(tail -n 3 "$CLUSTER_DIR/rec.err")"
comp=$(tail -n 1 "$CLUSTER_DIR/rec.err")
for _ in $(seq 60); do
	[ "$(api "/v1/computations/$comp" | jq -r .status)" = complete ] && break
	sleep 0.5
done
VIGIL_TOKEN=$acme vig verify "$comp" --wait --timeout 60 >/dev/null || e2e_fail "the replay of $comp did not match"

cert=
dc_insecure "$CLUSTER_DIR" || cert=$CLUSTER_DIR/pki/verifier.pem
e2e_log "driving $chromium"
CHROMIUM=$chromium NODE_EXTRA_CA_CERTS=${CURL_CA_BUNDLE:-} \
DASH_URL=$url DASH_CERT=$cert DASH_OPERATOR=$(cat "$CLUSTER_DIR/verifier/operator.token") \
DASH_ACME=$acme DASH_GLOBEX=$globex DASH_ACME_VM=$acme_vm DASH_GLOBEX_VM=$globex_vm \
DASH_TAMPER_NODE=$(node_id node2) DASH_TAMPER_TCTI=$(node_tcti node2) \
DASH_HOSTILE_NODE=$(node_id node3) DASH_HOSTILE_HOST=$hostile_host \
DASH_HOSTILE_COMP=$comp DASH_HOSTILE_NAME=$hostile_name \
DASH_SHOTS=${VIGIL_SCREENSHOTS:-$e2e_top/$BUILD/test-logs/dashboard} \
	timeout 120 node tests/browser/dashboard.mjs
