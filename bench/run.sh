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
#  5. read-route latency with 10 000 nodes and 1 000 000 appraisals while
#     ingestion runs at half its measured maximum (vigil-readbench).
#  6. SMM measurement of a 64 MiB target against SHA-256 on the same cores,
#     scan pauses against their bound, key-request latency (vigil-smmbench).
#  7. VM appraisal efficiency against OpenSSL's verify rate, VM attestation
#     latency and one migration (vigil-vmbench, bench/vm.sh).
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
smm_image_tofu = yes
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

echo
echo "== 5. read routes under ingestion: GET /v1/nodes/{id} and GET /v1/nodes?limit=100"
echo "   with ${BENCH_RB_NODES:-10000} nodes and ${BENCH_RB_APPRAISALS:-1000000} stored appraisals (SYNTHETIC rows written"
echo "   straight into SQLite by vigil-readbench fill), while vigil-loadgen ingests at"
echo "   half the maximum it measured against the same verifier"
RB_NODES=${BENCH_RB_NODES:-10000}
RB_APPRAISALS=${BENCH_RB_APPRAISALS:-1000000}
RB_SECONDS=${BENCH_RB_SECONDS:-30}
RB_AGENTS=${BENCH_RB_AGENTS:-50}
rb=$work/reads
mkdir -p "$rb"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$rb/ca.key" -out "$rb/ca.pem" -days 2 \
	-subj "/CN=vigil-readbench software EK CA (bench only)" \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
"$bin/vigil-readbench" fill --db "$rb/verifier.db" --nodes "$RB_NODES" \
	--appraisals "$RB_APPRAISALS" | tee "$rb/fill.out"
rbtoken=$(sed -n 's/^token=//p' "$rb/fill.out")
port=$(free_port)
cat >"$rb/verifier.conf" <<CONF
[server]
listen = 127.0.0.1
port = $port
insecure_http = yes
threads = 2
[limits]
expensive_per_minute = 0
[store]
path = $rb/verifier.db
[attestation]
interval_ms = 600000
stale_intervals = 3
nonce_ttl_ms = 60000
tpm_ca = $rb/ca.pem
learn_reference_values = yes
smm_image_tofu = yes
[log]
level = error
CONF
"$bin/vigil-verifier" --config "$rb/verifier.conf" 2>"$rb/verifier.log" &
vpid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
	sleep 0.1
done
"$bin/vigil-loadgen" --url "http://127.0.0.1:$port" --ca-cert "$rb/ca.pem" \
	--ca-key "$rb/ca.key" --agents "$RB_AGENTS" --threads "$THREADS" \
	--duration 10 >"$rb/max.out" || { echo "loadgen (maximum) failed:"; cat "$rb/max.out"; exit 1; }
max=$(sed -n 's/^bundles verified: .*(\([0-9]*\)\/s).*/\1/p' "$rb/max.out")
half=$(( ${max:-0} / 2 ))
[ "$half" -ge 1 ] || half=1
echo "ingestion maximum against this store: ${max:-?} bundles/s; reads measured at $half/s"
# Line-buffered, so "agents registered" shows when it happens.
stdbuf -oL "$bin/vigil-loadgen" --url "http://127.0.0.1:$port" --ca-cert "$rb/ca.pem" \
	--ca-key "$rb/ca.key" --agents "$RB_AGENTS" --threads $((THREADS * 2)) \
	--duration $((RB_SECONDS + 60)) --rate "$half" >"$rb/half.out" 2>&1 &
lpid=$!
# Reads start once the half-rate agents have registered and are pushing.
for _ in $(seq 600); do
	grep -qs '^agents registered' "$rb/half.out" && break
	sleep 0.1
done
sleep 2
# Evidence pushes answered 200 so far, from the verifier's own counters.
rb_pushes() {
	curl -sf -H "Authorization: Bearer $rbtoken" "http://127.0.0.1:$port/metrics" |
		awk '/^vigil_http_requests_total/ && /evidence/ && /status="200"/ {n += $NF} END {print n + 0}'
}
p0=$(rb_pushes); t0=$(date +%s.%N)
"$bin/vigil-readbench" measure --db "$rb/verifier.db" --url "http://127.0.0.1:$port" \
	--token "$rbtoken" --nodes "$RB_NODES" --duration "$RB_SECONDS"
p1=$(rb_pushes); t1=$(date +%s.%N)
printf 'ingestion during the reads: %.0f bundles/s (target %s/s, half of %s/s)\n' \
	"$(echo "($p1 - $p0) / ($t1 - $t0)" | bc -l)" "$half" "${max:-?}"
kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null || true
kill "$vpid"; wait "$vpid" 2>/dev/null || true
vpid=
echo "   (store ratio: the same SQLite reads through the store API in the bench process;"
echo "    healthz ratio: the server's floor for one request on the same connection)"

echo
echo "== 6. SMM measurement: vigil-smmd's engine on a ${BENCH_SMM_MIB:-64} MiB target (fakehv --exec-mib),"
echo "   throughput against OpenSSL SHA-256 on the same cores, periodic-scan pauses"
echo "   against the 5 ms bound, key-request latency against one full measurement"
SMM_MIB=${BENCH_SMM_MIB:-64}
SMM_KEYS=${BENCH_SMM_KEYS:-100}
# Its own directory, traversable: vigil-smmd drops to nobody.
sm=$(mktemp -d /tmp/vigil-bench-smm.XXXXXX)
chmod 755 "$sm"
hv_pid='' smmd_pid=''
smm_cleanup() {
	[ -n "$smmd_pid" ] && kill "$smmd_pid" 2>/dev/null && { wait "$smmd_pid" 2>/dev/null || true; }
	[ -n "$hv_pid" ] && kill -CONT "$hv_pid" 2>/dev/null && { kill "$hv_pid" 2>/dev/null || true; }
	[ -f "$sm/tpm/swtpm.pid" ] && { swtpm_stop "$sm/tpm" || true; }
	smmd_pid='' hv_pid=''
	rm -rf "$sm"
}
trap 'smm_cleanup; cleanup' EXIT
# shellcheck disable=SC1091
. tests/lib/swtpm.sh
"$bin/fakehv" --exec-mib "$SMM_MIB" --pid-file "$sm/hv.pid" 2>"$sm/fakehv.log" &
hv_pid=$!
for _ in $(seq 100); do [ -s "$sm/hv.pid" ] && break; sleep 0.1; done
[ -s "$sm/hv.pid" ] || { echo "fakehv did not start:"; cat "$sm/fakehv.log"; exit 1; }
echo "-- (1) measurement throughput and (2) periodic scans"
"$bin/vigil-smmbench" measure --pid "$hv_pid" --runs 5 --scans 5
echo "-- (3) key-request latency: $SMM_KEYS sign requests to vigil-smmd (swtpm) measuring the same target"
smm_keys() {
	local port tcti i
	[ "$(id -u)" = 0 ] || { echo "   not run: needs root (vigil-smmd drops to nobody)"; return 0; }
	for i in swtpm swtpm_setup tpm2_getcap; do
		command -v "$i" >/dev/null || { echo "   not run: $i is not installed"; return 0; }
	done
	for _ in $(seq 100); do
		port=$(free_port)
		(exec 3<>"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null || break
	done
	tcti="swtpm:host=127.0.0.1,port=$port"
	swtpm_provision "$sm/tpm" >/dev/null && swtpm_start "$sm/tpm" "$port" || return 1
	"$bin/vigil-smmd" init --state "$sm/state" >/dev/null || return 1
	# Sealed to the fresh TPM's PCRs (all zero: no boot measurements here).
	for i in 0 1 2 3 4 5 6 7 11; do
		printf '%s %064d\n' "$i" 0
	done >"$sm/pred.txt"
	"$bin/vigil-smmd" seal --state "$sm/state" --tcti "$tcti" --pcrs "$sm/pred.txt" \
		2>"$sm/seal.log" || { cat "$sm/seal.log"; return 1; }
	cat >"$sm/smmd.conf" <<CONF
[smmd]
socket = $sm/smm.sock
state_dir = $sm/state
tcti = $tcti
user = nobody
scan_interval = 0
pause_bound_ms = 5
threads = 0
baseline_on_first_boot = yes
log_level = warn

[target:hv]
pid_file = $sm/hv.pid
CONF
	"$bin/vigil-smmd" run --config "$sm/smmd.conf" >"$sm/smmd.log" 2>&1 &
	smmd_pid=$!
	for _ in $(seq 100); do
		[ -S "$sm/smm.sock" ] && break
		kill -0 "$smmd_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	[ -S "$sm/smm.sock" ] || return 1
	mkdir -p "$sm/pub"
	"$bin/vigil-smm" --socket "$sm/smm.sock" pubkeys "$sm/pub" || return 1
	openssl ecparam -name prime256v1 -genkey -noout -out "$sm/tenant.pem" 2>/dev/null
	"$bin/vigil-smm" wrap --to "$sm/pub/key-wrapping.pem" --id bench1 --tenant bench \
		--ops sign --callers 0 --ec-key "$sm/tenant.pem" --out "$sm/bench1.vgkw" || return 1
	[ "$("$bin/vigil-smm" --socket "$sm/smm.sock" provision "$sm/bench1.vgkw")" = bench1 ] || return 1
	"$bin/vigil-smmbench" keys --socket "unix:$sm/smm.sock" --tenant bench --key bench1 \
		--pid "$hv_pid" --n "$SMM_KEYS" || return 1
	# The requests measured the large region (its entries in the log).
	"$bin/vigil-smm" --socket "$sm/smm.sock" log >"$sm/smmlog.txt" || return 1
	grep -q 'memfd:fakehv-exec' "$sm/smmlog.txt" ||
		{ echo "   vigil-smmd's log names no fakehv-exec region"; return 1; }
}
smm_keys || { echo "   key-request latency failed; vigil-smmd log:"; tail -n 20 "$sm/smmd.log" 2>/dev/null; exit 1; }
smm_cleanup
trap cleanup EXIT

echo
echo "== 7. VMs (issue 4): the verifier's VM appraisal (vTPM quote, certified-AK binding,"
echo "   deep quote) with software keys against OpenSSL's ECDSA P-256 verify rate / 3 in"
echo "   the same run; then, on a two-node cluster with the real swtpms and vigil-psed,"
echo "   VM attestation latency (request to result) and one migration's time"
"$bin/vigil-vmbench" --vms "${BENCH_VM_VMS:-200}" --nodes 8 --seconds 3
vmrc=0
BUILD=$BUILD bench/vm.sh "${BENCH_VM_ATTESTS:-20}" || vmrc=$?
[ "$vmrc" -eq 0 ] || [ "$vmrc" -eq 77 ] || { echo "   bench/vm.sh failed ($vmrc)"; exit 1; }
