#!/usr/bin/env bash
# VM attestation benchmark (issue 4): on a two-node local cluster with the
# real swtpms and vigil-psed, one VM's attestation latency from request to
# result (POST /v1/vms/{id}/attest?wait=..., p50/p99 over N requests) and
# the time of one migration (`vigil-agent vm migrate`, from the call to the
# VM confirmed on the target). The latency is bound by the push interval:
# a request waits for the host's next push, its answer for the one after.
#   BUILD=build bench/vm.sh [N]        (N: attestations, default 20)
# Environment: BENCH_INTERVAL_MS (default 500).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export BUILD=${BUILD:-build}
n=${1:-20}
interval=${BENCH_INTERVAL_MS:-500}
. deploy/demo.sh
dc_pse_wanted || { echo "skipped: $dc_bin/vigil-psed is not built"; exit 77; }
work=$(mktemp -d /tmp/vigil-bench-vm.XXXXXX)
cleanup() { dc_stop "$work/cluster" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
dir=$work/cluster
dc_start "$dir" 2 "$interval" rsa quiet || { echo "FAIL: cluster did not start"; exit 1; }
for name in node1 node2; do
	dc_wait_status "$dir" "$name" affirming 60 || { echo "FAIL: $name not affirming"; exit 1; }
done
dc_insecure "$dir" || export VIGIL_CACERT
dc_insecure "$dir" || VIGIL_CACERT=$(dc_cacert "$dir")
export VIGIL_URL VIGIL_TOKEN
VIGIL_URL=$(dc_url "$dir")
VIGIL_TOKEN=$(jq -r .tenants.acme "$dir/cluster.json")
echo "guest firmware" >"$work/fw"
echo "guest kernel" >"$work/kernel"
vm=$("$dc_bin/vigil" vm create bench-vm) || { echo "FAIL: vm create"; exit 1; }
(
	# shellcheck disable=SC1091
	. "$dir/nodes/node1/env.sh"
	"$dc_bin/vigil-agent" vm start "$vm" --firmware "$work/fw" --kernel "$work/kernel"
) >/dev/null 2>&1 || { echo "FAIL: vm start"; exit 1; }

lat=()
for _ in $(seq "$n"); do
	t0=$(date +%s%N)
	out=$("$dc_bin/vigil" --json vm attest "$vm" --wait 30 2>/dev/null)
	t1=$(date +%s%N)
	[ "$(jq -r .state <<<"$out")" = done ] || { echo "FAIL: an attestation got no answer"; exit 1; }
	lat+=($(((t1 - t0) / 1000000)))
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
p50=$(sed -n "$(((n + 1) / 2))p" <<<"$sorted")
p99=$(sed -n "$(((n * 99 + 99) / 100))p" <<<"$sorted")
echo "vm attestation latency (request to result, push interval ${interval} ms, $n requests): p50 ${p50} ms, p99 ${p99} ms"

t0=$(date +%s%N)
(
	# shellcheck disable=SC1091
	. "$dir/nodes/node1/env.sh"
	"$dc_bin/vigil-agent" vm migrate "$vm" --to node2
) >/dev/null 2>&1 || { echo "FAIL: vm migrate"; exit 1; }
t1=$(date +%s%N)
echo "vm migration node1 -> node2 (sealed, relayed, imported, attested, source copy deleted): $(((t1 - t0) / 1000000)) ms"
