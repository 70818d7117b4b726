#!/usr/bin/env bash
# vigil-smmd end to end, on its own swtpm (no cluster): keys sealed to
# predicted PCRs and unsealed once; the cap; the test hypervisor (fakehv)
# measured; sign / HMAC / unwrap checked with the openssl CLI; refused
# after fakehv rewrites its code, for a caller the policy does not allow,
# with the refusals in the log; garbage on the socket does not stop it;
# an emulated reboot unseals again and continues the chain; signed
# reference sets accepted, stale and foreign ones refused.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
BUILD=${BUILD:-build}
bin=$top/$BUILD/bin
case $BUILD in /*) bin=$BUILD/bin ;; esac
. tests/lib/swtpm.sh

for t in swtpm swtpm_setup tpm2_pcrextend tpm2_pcrread openssl xxd setpriv; do
	command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 77; }
done
for b in vigil-smmd vigil-smm fakehv; do
	[ -x "$bin/$b" ] || { echo "FAIL: $bin/$b missing: make BUILD=$BUILD all"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "skipped: needs root (vigil-smmd drops to nobody)"; exit 77; }

tmp=$(mktemp -d /tmp/vigil-e2e-smmd.XXXXXX)
chmod 755 "$tmp"
hv_pid= smmd_pid=
cleanup() {
	[ -n "$smmd_pid" ] && kill "$smmd_pid" 2>/dev/null && wait "$smmd_pid" 2>/dev/null
	[ -n "$hv_pid" ] && kill -CONT "$hv_pid" 2>/dev/null && kill "$hv_pid" 2>/dev/null
	swtpm_stop "$tmp/tpm"
	local keep=$top/$BUILD/test-logs/e2e-smmd_keys
	case $BUILD in /*) keep=$BUILD/test-logs/e2e-smmd_keys ;; esac
	mkdir -p "$keep" 2>/dev/null && cp "$tmp"/*.log "$keep/" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
log() { printf '%s %s\n' "$(date -u +%T)" "$*"; }
fail() { echo "FAIL: $*"; for f in "$tmp"/smmd*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 100); do
	port=$((10000 + RANDOM % 22000))
	port_free "$port" && port_free $((port + 1)) && break
done
tcti="swtpm:host=127.0.0.1,port=$port"
export TPM2TOOLS_TCTI=$tcti
swtpm_provision "$tmp/tpm" >/dev/null || fail "swtpm_provision"
swtpm_start "$tmp/tpm" "$port" || fail "swtpm_start"

st=$tmp/state
smm() { "$bin/vigil-smm" --socket "$tmp/smm.sock" "$@"; }
sha() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
# An emulated boot: one digest per PCR 0-7, and three more into PCR 2 that
# depend on the service (its image and both public keys) so that another
# service's boot gives other sealed PCR values. (The demo measures those
# into the runtime log's PCR 23, which keys are not sealed to.)
boot_digests() {
	local i
	for i in 0 1 3 4 5 6 7; do
		printf '%s %s\n' "$i" "$(printf 'vigil-e2e-pcr-%s' "$i" | openssl dgst -sha256 -r | cut -d' ' -f1)"
	done
	echo "2 $(sha "$bin/vigil-smmd")"
	echo "2 $(sha "$st/log-signing.pub.der")"
	echo "2 $(sha "$st/key-wrapping.pub.der")"
}
boot_extend() {
	boot_digests | while read -r pcr d; do
		tpm2_pcrextend "$pcr:sha256=$d" || exit 1
	done
}
# Predicted values, computed in software from the same digests.
boot_predict() {
	local -A v
	local i pcr d
	for i in 0 1 2 3 4 5 6 7 11; do v[$i]=$(printf '0%.0s' $(seq 64)); done
	while read -r pcr d; do
		v[$pcr]=$(printf '%s%s' "${v[$pcr]}" "$d" | xxd -r -p | openssl dgst -sha256 -r | cut -d' ' -f1)
	done < <(boot_digests)
	for i in 0 1 2 3 4 5 6 7 11; do echo "$i ${v[$i]}"; done
}
cap() { tpm2_pcrextend "11:sha256=$(printf 'vigil-cap' | openssl dgst -sha256 -r | cut -d' ' -f1)"; }

start_hv() {
	"$bin/fakehv" --pid-file "$tmp/hv.pid" 2>>"$tmp/fakehv.log" &
	hv_pid=$!
	for _ in $(seq 50); do [ -s "$tmp/hv.pid" ] && break; sleep 0.1; done
}
start_smmd() {
	local n=$1
	rm -f "$tmp/smm.sock"
	"$bin/vigil-smmd" run --config "$tmp/smmd.conf" >"$tmp/smmd$n.log" 2>&1 &
	smmd_pid=$!
	for _ in $(seq 100); do
		[ -S "$tmp/smm.sock" ] && return 0
		kill -0 "$smmd_pid" 2>/dev/null || fail "vigil-smmd exited at start ($n)"
		sleep 0.1
	done
	fail "vigil-smmd did not listen"
}

# First boot: keys, prediction, seal, measurements, service, cap.
log "init, predict, seal"
"$bin/vigil-smmd" init --state "$st" >"$tmp/pubkeys.pem" || fail "init"
grep -q "BEGIN PUBLIC KEY" "$tmp/pubkeys.pem" || fail "init printed no public keys"
boot_predict >"$tmp/pred.txt"
"$bin/vigil-smmd" seal --state "$st" --tcti "$tcti" --pcrs "$tmp/pred.txt" || fail "seal"
[ -e "$st/keys.pending" ] && fail "keys.pending still there after seal"
"$bin/vigil-smmd" unseal --state "$st" --tcti "$tcti" >/dev/null &&
	fail "unsealed before the boot measurements"
boot_extend || fail "boot extends"
for i in 0 2 7 11; do
	want=$(awk -v p="$i" '$1 == p {print $2}' "$tmp/pred.txt")
	got=$(tpm2_pcrread "sha256:$i" | awk -F'0x' '/:/ && NF > 1 {print tolower($2)}')
	[ "$got" = "$want" ] || fail "PCR $i is $got, predicted $want"
done

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/verifier.key" 2>/dev/null
openssl ec -in "$tmp/verifier.key" -pubout -out "$tmp/verifier.pub" 2>/dev/null
cat >"$tmp/smmd.conf" <<EOF
[smmd]
socket = $tmp/smm.sock
state_dir = $st
tcti = $tcti
user = nobody
verifier_key = $tmp/verifier.pub
scan_interval = 1
pause_bound_ms = 5
baseline_on_first_boot = yes
log_level = debug

[target:hv]
pid_file = $tmp/hv.pid
EOF
start_hv
start_smmd 1
cap || fail "cap"
"$bin/vigil-smmd" unseal --state "$st" --tcti "$tcti" >/dev/null &&
	fail "unsealing succeeded after the cap"
log "after the cap, unsealing fails"
grep -q "running as nobody" "$tmp/smmd1.log" || fail "vigil-smmd did not drop to nobody"
grep CapEff "/proc/$smmd_pid/status" | grep -q 0000000000080020 ||
	fail "vigil-smmd has more than CAP_KILL + CAP_SYS_PTRACE: $(grep CapEff /proc/$smmd_pid/status)"

# Tenant keys wrapped to the service's key-wrapping key.
mkdir -p "$tmp/pub"
smm pubkeys "$tmp/pub" || fail "pubkeys"
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/tenant-ec.pem" 2>/dev/null
openssl ec -in "$tmp/tenant-ec.pem" -pubout -out "$tmp/tenant-ec.pub" 2>/dev/null
head -c 32 /dev/urandom >"$tmp/secret"
"$bin/vigil-smm" wrap --to "$tmp/pub/key-wrapping.pem" --id sig1 --tenant tenant-a \
	--ops sign --callers 0 --ec-key "$tmp/tenant-ec.pem" --out "$tmp/sig1.vgkw" || fail "wrap sig1"
"$bin/vigil-smm" wrap --to "$tmp/pub/key-wrapping.pem" --id sec1 --tenant tenant-a \
	--ops hmac,unwrap --callers 0,1000 --secret "$tmp/secret" --out "$tmp/sec1.vgkw" || fail "wrap sec1"
[ "$(smm provision "$tmp/sig1.vgkw")" = sig1 ] || fail "provision sig1"
[ "$(smm provision "$tmp/sec1.vgkw")" = sec1 ] || fail "provision sec1"
# Another tenant's key of the same id, other material: the service names
# keys by (tenant, id), so it is a second key, not "exists" (issue 9).
head -c 32 /dev/urandom >"$tmp/secret-b"
"$bin/vigil-smm" wrap --to "$tmp/pub/key-wrapping.pem" --id sec1 --tenant tenant-b \
	--ops hmac --callers 0 --secret "$tmp/secret-b" --out "$tmp/sec1-b.vgkw" || fail "wrap tenant-b's sec1"
[ "$(smm provision "$tmp/sec1-b.vgkw")" = sec1 ] || fail "provision tenant-b's sec1"
[ -f "$st/keys/tenant-b~sec1.vgkw" ] || fail "tenant-b's sec1 not stored as keys/tenant-b~sec1.vgkw"

# Before tampering: all three operations, checked with openssl.
smm measure >/dev/null || fail "measure: $(smm measure)"
printf 'tenant data to sign' >"$tmp/data"
smm sign tenant-a sig1 "$tmp/data" >"$tmp/sig" || fail "sign refused"
openssl dgst -sha256 -verify "$tmp/tenant-ec.pub" -signature "$tmp/sig" "$tmp/data" >/dev/null ||
	fail "signature does not verify with openssl"
smm hmac tenant-a sec1 "$tmp/data" >"$tmp/mac" || fail "hmac refused"
openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(xxd -p -c 64 "$tmp/secret")" -binary "$tmp/data" >"$tmp/mac.want"
cmp -s "$tmp/mac" "$tmp/mac.want" || fail "HMAC differs from openssl's"
smm hmac tenant-b sec1 "$tmp/data" >"$tmp/mac-b" || fail "tenant-b's hmac refused"
openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(xxd -p -c 64 "$tmp/secret-b")" -binary "$tmp/data" >"$tmp/mac-b.want"
cmp -s "$tmp/mac-b" "$tmp/mac-b.want" || fail "tenant-b's HMAC is not with tenant-b's secret"
out=$(smm unwrap tenant-b sec1 "$tmp/data" 2>&1 >/dev/null) && fail "tenant-b's sec1 unwrapped (tenant-a's policy?)"
grep -q "refused: operation-refused" <<<"$out" || fail "tenant-b's unwrap: $out"
out=$(smm hmac tenant-c sec1 "$tmp/data" 2>&1 >/dev/null) && fail "tenant-c's sec1 was served"
grep -q "refused: not-found" <<<"$out" || fail "tenant-c's sec1: $out"
smm log >"$tmp/log0"
grep -q "tenant=tenant-b key=sec1 op=hmac uid=0 granted status=ok" "$tmp/log0" ||
	fail "tenant-b's use not logged under its tenant"
grep -q "tenant=tenant-c key=sec1 op=hmac uid=0 refused status=not-found" "$tmp/log0" ||
	fail "tenant-c's refusal not logged under its tenant"
head -c 32 /dev/urandom >"$tmp/dek"
openssl enc -id-aes256-wrap-pad -K "$(xxd -p -c 64 "$tmp/secret")" -iv A65959A6 \
	-in "$tmp/dek" -out "$tmp/dek.wrapped" || fail "openssl wrap"
smm unwrap tenant-a sec1 "$tmp/dek.wrapped" >"$tmp/dek.out" || fail "unwrap refused"
cmp -s "$tmp/dek" "$tmp/dek.out" || fail "unwrapped key differs"
log "sign, hmac, unwrap ok before tampering"

# A caller the policy does not allow.
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$bin/vigil-smm" \
	--socket "$tmp/smm.sock" hmac tenant-a sec1 "$tmp/data" 2>&1 >/dev/null) && fail "uid 65534 was served"
grep -q "refused: denied" <<<"$out" || fail "uid 65534: $out"
smm log | grep -q "tenant=tenant-a key=sec1 op=hmac uid=65534 refused status=denied" || fail "denial not in the log"

# Garbage on the socket: every malformed buffer of the corpus.
for f in tests/corpus/mm/*.bin; do
	smm raw "$f" >/dev/null 2>&1 && fail "$f was answered ok"
done
head -c 5000 /dev/urandom >"$tmp/noise"
smm raw "$tmp/noise" >/dev/null 2>&1
kill -0 "$smmd_pid" || fail "vigil-smmd died on garbage"
smm pubkeys >/dev/null || fail "vigil-smmd stopped serving after garbage"
log "garbage refused, still serving"

# Tampering: the next key request is refused and logged, page named.
kill -USR1 "$hv_pid"
sleep 0.3
out=$(smm hmac tenant-a sec1 "$tmp/data" 2>&1 >/dev/null) && fail "served after tampering"
grep -q "refused: tampered" <<<"$out" || fail "after tampering: $out"
smm log >"$tmp/log1"
grep -q "tenant=tenant-a key=sec1 op=hmac uid=0 refused status=tampered" "$tmp/log1" || fail "refusal not in the log"
grep -E "target=hv region=[^ ]*/fakehv@0x[0-9a-f]+ .*verdict=mismatch pages=[0-9]+" "$tmp/log1" >/dev/null ||
	fail "no mismatch naming fakehv's changed page in the log"
log "refused after tampering; $(grep -Eo 'fakehv@0x[0-9a-f]+ .*verdict=mismatch pages=[0-9,]+' "$tmp/log1" | tail -n 1 | sed 's/size=.*verdict/verdict/')"
grep -Eq "scan: .*p99=[0-9]+us" "$tmp/smmd1.log" || fail "no timed periodic scan"

# Emulated reboot: service stopped, TPM restarted (PCRs reset), the same
# boot measurements, a fresh hypervisor; keys unseal again, chain goes on.
last=$(tail -n 1 "$tmp/log1" | cut -d' ' -f1)
kill "$smmd_pid"; wait "$smmd_pid" 2>/dev/null; smmd_pid=
kill "$hv_pid"; wait "$hv_pid" 2>/dev/null; hv_pid=
swtpm_stop "$tmp/tpm"
swtpm_start "$tmp/tpm" "$port" || fail "swtpm restart"
boot_extend || fail "boot extends after reboot"
rm -f "$tmp/hv.pid"
start_hv
start_smmd 2
cap || fail "cap after reboot"
smm sign tenant-a sig1 "$tmp/data" >"$tmp/sig2" || fail "sign refused after reboot"
openssl dgst -sha256 -verify "$tmp/tenant-ec.pub" -signature "$tmp/sig2" "$tmp/data" >/dev/null ||
	fail "signature after reboot does not verify"
smm log >"$tmp/log2"
head -n "$last" "$tmp/log2" | cmp -s - "$tmp/log1" || fail "the log before the reboot changed"
# A periodic scan may have logged entries after log1 was read and before
# the service stopped: the chain continues with start boot=2 right after
# the last entry of the first boot, whichever seq that is.
startl=$(grep -n " start boot=2" "$tmp/log2" | head -n 1 | cut -d: -f1)
[ -n "$startl" ] && [ "$startl" -gt "$last" ] ||
	fail "no start boot=2 entry after seq $last"
sed -n "${startl}p" "$tmp/log2" | grep -q "^$startl " ||
	fail "the chain does not continue with start boot=2 at seq $startl (a gap)"
last=$((startl - 1))
"$bin/vigil-smmd" unseal --state "$st" --tcti "$tcti" >/dev/null &&
	fail "unsealing succeeded after the second cap"
log "reboot: keys usable again, chain continues at $((last + 1)), cap holds"

# Signed reference sets: from the roots measured now; stale and foreign
# sets refused.
smm measure >/dev/null || fail "measure before refs"
smm log | awk '/ measure target=hv / && /verdict=match/ {
	split($5, r, "="); split($7, o, "="); roots[r[2]] = o[2] }
	END { printf "{\"version\": 5, \"regions\": ["; n = 0
	      for (k in roots) { printf "%s{\"target\": \"hv\", \"region\": \"%s\", \"roots\": [\"%s\"]}", (n++ ? ", " : ""), k, roots[k] }
	      printf "]}" }' >"$tmp/refs5.json"
openssl dgst -sha256 -sign "$tmp/verifier.key" -out "$tmp/refs5.sig" "$tmp/refs5.json"
smm refs "$tmp/refs5.json" "$tmp/refs5.sig" | grep -q "version=5" || fail "signed refs refused"
sed 's/"version": 5/"version": 4/' "$tmp/refs5.json" >"$tmp/refs4.json"
openssl dgst -sha256 -sign "$tmp/verifier.key" -out "$tmp/refs4.sig" "$tmp/refs4.json"
out=$(smm refs "$tmp/refs4.json" "$tmp/refs4.sig" 2>&1) && fail "stale refs accepted"
grep -q "refused: stale" <<<"$out" || fail "stale refs: $out"
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/agent.key" 2>/dev/null
sed 's/"version": 5/"version": 9/' "$tmp/refs5.json" >"$tmp/refs9.json"
openssl dgst -sha256 -sign "$tmp/agent.key" -out "$tmp/refs9.sig" "$tmp/refs9.json"
out=$(smm refs "$tmp/refs9.json" "$tmp/refs9.sig" 2>&1) && fail "agent-signed refs accepted"
grep -q "refused: bad-signature" <<<"$out" || fail "agent-signed refs: $out"
smm hmac tenant-a sec1 "$tmp/data" >/dev/null || fail "hmac refused under the signed refs"
log "signed refs accepted; stale and agent-forged refused"
echo "ok"
