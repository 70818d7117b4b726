#!/usr/bin/env bash
# make bench: Vigil's benchmarks. Each figure is printed next to the
# machine's ceiling for the same work, measured in the same run, as a ratio.
#
#  1. ingestion: vigil-loadgen's simulated agents (software keys producing
#     TPM-format quotes) push to a real verifier over HTTP keep-alive;
#     efficiency = bundles verified per verifier CPU-second / OpenSSL's
#     ECDSA P-256 verifications per CPU-second.
#  2. agent memory: PSS of a real vigil-agent on a one-node cluster (swtpm)
#     after it has pushed for a while.
#  3. recording overhead of `vigil record` against the same program run
#     plainly (wall time ratio).
#  4. replay hashing throughput of the checkpoint runner against OpenSSL's
#     SHA-256 throughput.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
bin=$top/$BUILD/bin
AGENTS=${BENCH_AGENTS:-200}
THREADS=${BENCH_THREADS:-4}
DURATION=${BENCH_DURATION:-15}

work=$(mktemp -d /tmp/vigil-bench.XXXXXX)
vpid=
cleanup() {
	[ -n "$vpid" ] && kill "$vpid" 2>/dev/null && wait "$vpid" 2>/dev/null
	[ -f "$work/cluster/cluster.json" ] && deploy/demo.sh stop --dir "$work/cluster" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	local p
	while :; do
		p=$((10000 + RANDOM % 22000))
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
	done
}

echo "== 1. ingestion: $AGENTS simulated agents, $THREADS client threads, ${DURATION}s"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/ca.key" -out "$work/ca.pem" -days 2 \
	-subj "/CN=vigil-loadgen software EK CA (bench only)" \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
port=$(free_port)
cat >"$work/verifier.conf" <<CONF
[server]
listen = 127.0.0.1
port = $port
insecure_http = yes
threads = 2
[limits]
expensive_per_minute = 0
[store]
path = $work/verifier.db
[attestation]
interval_ms = 60000
stale_intervals = 3
nonce_ttl_ms = 60000
tpm_ca = $work/ca.pem
learn_reference_values = yes
[log]
level = error
CONF
"$bin/vigil-verifier" --config "$work/verifier.conf" 2>"$work/verifier.log" &
vpid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
	sleep 0.1
done
"$bin/vigil-loadgen" --url "http://127.0.0.1:$port" --ca-cert "$work/ca.pem" \
	--ca-key "$work/ca.key" --agents "$AGENTS" --threads "$THREADS" \
	--duration "$DURATION" --verifier-pid "$vpid" | tee "$work/loadgen.out"
kill "$vpid"; wait "$vpid" 2>/dev/null || true
vpid=
echo "   verifier database after the run: $(du -h "$work/verifier.db" | cut -f1)"

echo
echo "== 2. agent memory at steady state (one real node, swtpm)"
deploy/demo.sh start --dir "$work/cluster" --nodes 1 --interval-ms 1000 >"$work/cluster.log" 2>&1 || {
	echo "could not start a one-node cluster; see below"; tail -n 20 "$work/cluster.log"; exit 1; }
sleep 20
apid=$(cat "$work/cluster/nodes/node1/agent.pid")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$apid/smaps_rollup")
rss=$(awk '/^Rss:/ {print $2}' "/proc/$apid/smaps_rollup")
echo "vigil-agent PSS: $((pss / 1024)) MiB ($pss KiB; RSS $rss KiB), target under 10 MiB"
echo
echo "== 3. recording overhead: a CPU-bound deterministic program (~20 s, 256 MiB of"
echo "   output), plain and under vigil record with a checkpoint every 4 MiB (real swtpm quotes)"
prog='BEGIN { x = 1; for (i = 0; i < 400000; i++) { for (j = 0; j < 300; j++) x = (x * 1103515245 + 12345) % 2147483648; printf "%0655d\n", x } }'
t0=$(date +%s.%N)
awk "$prog" >/dev/null
plain=$(echo "$(date +%s.%N) - $t0" | bc)
tok=$(jq -r '.tenants.acme' "$work/cluster/cluster.json")
t0=$(date +%s.%N)
(
	# shellcheck disable=SC1091
	. "$work/cluster/nodes/node1/env.sh"
	export VIGIL_TOKEN=$tok
	cd "$work" && "$bin/vigil" record --name bench-record --checkpoint-every 4194304 \
		-- awk "$prog" >/dev/null 2>"$work/record.err"
) || { echo "vigil record failed:"; tail -n 5 "$work/record.err"; exit 1; }
recorded=$(echo "$(date +%s.%N) - $t0" | bc)
printf 'plain %.1f s, recorded %.1f s: %.3fx wall time (target <= 1.10x)\n' \
	"$plain" "$recorded" "$(echo "$recorded / $plain" | bc -l)"
deploy/demo.sh stop --dir "$work/cluster" >/dev/null 2>&1

echo
echo "== 4. replay hashing: the checkpoint runner replay workers use, on 1 GiB of output"
"$bin/vigil-ckptbench" 1024
