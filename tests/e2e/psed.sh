#!/usr/bin/env bash
# vigil-psed on one swtpm node, end to end (docs/pse.md):
#   init (platform key certified by a platform vendor CA from deploy/pki),
#   the boot step writes the "MSR", `vigil-agent measure` puts the PSE's
#   image and keys into the runtime log (PCR 23, docs/real-machines.md),
#   the keys are sealed to the boot PCRs, vigil-psed unseals them once,
#   PCR 11 is capped and a second unseal fails, the AK binding it signs
#   verifies against the vendor CA over exactly the node's AK, and the
#   daemon keeps serving after garbage on its socket.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
BUILD=${BUILD:-build}
bin=$BUILD/bin
for t in swtpm swtpm_setup tpm2_pcrextend tpm2_pcrread openssl python3; do
	command -v "$t" >/dev/null || { echo "skipped: $t not installed"; exit 77; }
done
[ -x "$bin/vigil-psed" ] && [ -x "$bin/vigil-agent" ] ||
	{ echo "FAIL: build $bin/vigil-psed and vigil-agent first"; exit 1; }

. tests/lib/swtpm.sh
tmp=$(mktemp -d /tmp/vigil-psed-e2e.XXXXXX)
psed_pid=
cleanup() {
	[ -x "$bin/vigil-agent" ] && [ -d "$tmp/vtpm/vm-e2e" ] &&
		"$bin/vigil-agent" vm stop vm-e2e --vtpm-dir "$tmp/vtpm" >/dev/null 2>&1
	[ -n "$psed_pid" ] && kill "$psed_pid" 2>/dev/null && wait "$psed_pid" 2>/dev/null
	# Sanitizer builds: what the daemon reported at exit.
	grep -A 30 -E "Sanitizer|runtime error" "$tmp"/psed*.log 2>/dev/null
	swtpm_stop "$tmp/tpm"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; [ -f "$tmp/psed.log" ] && tail -n 20 "$tmp/psed.log"; exit 1; }
log() { printf '%s %s\n' "$(date -u +%T)" "$*"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 100); do
	port=$((10000 + RANDOM % 22000))
	port_free "$port" && port_free $((port + 1)) && break
done
swtpm_provision "$tmp/tpm" >/dev/null || fail "swtpm_provision"
swtpm_start "$tmp/tpm" "$port" || fail "swtpm_start"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"

# The node's boot inputs.
mkdir -p "$tmp/boot" "$tmp/pki"
head -c 4096 /dev/urandom >"$tmp/boot/firmware"
echo "cfg" >"$tmp/boot/platform.cfg"
head -c 4096 /dev/urandom >"$tmp/boot/hypervisor"
echo "policy" >"$tmp/boot/policy"
deploy/pki/make-ca.sh --out "$tmp/pki" --kind platform >/dev/null || fail "make-ca"
deploy/pki/make-ca.sh --out "$tmp/other" --kind platform >/dev/null || fail "make-ca other"

log "init: platform and transport keys, vendor certificate"
"$bin/vigil-psed" init --dir "$tmp/pse" --vendor-ca-cert "$tmp/pki/platform-ca.pem" \
	--vendor-ca-key "$tmp/pki/platform-ca.key" >"$tmp/init.out" || fail "vigil-psed init"
[ -f "$tmp/pse/keys.pending" ] || fail "init left no pending keys"
openssl verify -CAfile "$tmp/pki/platform-ca.pem" \
	<(openssl x509 -inform DER -in "$tmp/pse/platform-cert.der") >/dev/null ||
	fail "platform certificate does not verify against the vendor CA"

log "boot: the firmware log and the MSR"
"$bin/vigil-agent" boot --event-log "$tmp/boot/evlog" --firmware "$tmp/boot/firmware" \
	--platform-config "$tmp/boot/platform.cfg" --hypervisor "$tmp/boot/hypervisor" \
	--boot-policy "$tmp/boot/policy" --msr "$tmp/msr" >/dev/null || fail "boot"
[ -f "$tmp/msr" ] || fail "no MSR written"
[ "$(stat -c %a "$tmp/msr")" = 444 ] || fail "MSR is not read-only"
pcr23_before=$(tpm2_pcrread sha256:23 | sed -n 's/.*23 *: *0x\([0-9A-Fa-f]*\).*/\1/p' | tr A-F a-f)

log "measure: the PSE's events in the runtime log (CEL-TLV, PCR 23)"
rt=$tmp/runtime-log.cel
"$bin/vigil-agent" measure --runtime-log "$rt" \
	--pse-image "$bin/vigil-psed" --pse-pubkey "$tmp/pse/platform.pub.der" \
	--pse-cert "$tmp/pse/platform-cert.der" \
	--pse-transport-pubkey "$tmp/pse/transport.pub.der" >/dev/null || fail "measure PSE"
# PCR 23 replays from the runtime log: image digest, keys, certificate,
# each one CEL-TLV record (recnum, PCR 23, SHA-256 digest, EV_EVENT_TAG).
python3 - "$rt" "$tmp/pse" "$bin/vigil-psed" "$pcr23_before" <<'EOF' >"$tmp/pcr23.expected" || fail "PCR 23 events"
import hashlib, struct, sys
log, d, img, before = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def tagged(tag, data): return struct.pack('<II', tag, len(data)) + data
def tlv(t, v): return struct.pack('>BI', t, len(v)) + v
ev = [tagged(0x56470301, hashlib.sha256(open(img, 'rb').read()).digest()),
      tagged(0x56470302, open(d + '/platform.pub.der', 'rb').read()),
      tagged(0x56470303, open(d + '/platform-cert.der', 'rb').read()),
      tagged(0x56470304, open(d + '/transport.pub.der', 'rb').read())]
want = b''
pcr = bytes.fromhex(before)
for i, e in enumerate(ev):
    dg = hashlib.sha256(e).digest()
    want += (tlv(0, struct.pack('>Q', i)) + tlv(1, struct.pack('>I', 23)) +
             tlv(3, tlv(0x0b, dg)) +
             tlv(5, tlv(0, struct.pack('>I', 6)) + tlv(1, e)))
    pcr = hashlib.sha256(pcr + dg).digest()
assert open(log, 'rb').read() == want, 'the runtime log is not the four CEL-TLV records'
print(pcr.hex())
EOF
got=$(tpm2_pcrread sha256:23 | sed -n 's/.*23 *: *0x\([0-9A-Fa-f]*\).*/\1/p' | tr A-F a-f)
[ "$got" = "$(cat "$tmp/pcr23.expected")" ] ||
	fail "PCR 23 is $got, the recomputed PSE events give $(cat "$tmp/pcr23.expected")"

log "seal to the boot PCRs, then run (unseal once)"
"$bin/vigil-psed" seal --dir "$tmp/pse" --current || fail "seal"
[ -f "$tmp/pse/keys.pending" ] && fail "seal left the keys in clear"
user_args=()
[ "$(id -u)" = 0 ] && user_args=(--user nobody)
chmod 0755 "$tmp"
"$bin/vigil-psed" run --dir "$tmp/pse" --socket "$tmp/psed.sock" --msr "$tmp/msr" \
	"${user_args[@]}" >"$tmp/psed.log" 2>&1 &
psed_pid=$!
for _ in $(seq 100); do [ -S "$tmp/psed.sock" ] && grep -q serving "$tmp/psed.log" && break; sleep 0.1; done
grep -q serving "$tmp/psed.log" || fail "vigil-psed did not start"

log "cap PCR 11: nobody can unseal again this boot"
"$bin/vigil-agent" measure --runtime-log "$rt" --cap >/dev/null || fail "measure --cap"
mkdir "$tmp/pse2" && cp "$tmp/pse"/* "$tmp/pse2/"
"$bin/vigil-psed" run --dir "$tmp/pse2" --socket "$tmp/psed2.sock" --msr "$tmp/msr" \
	"${user_args[@]}" >"$tmp/psed2.log" 2>&1 && fail "a second vigil-psed unsealed after the cap"
grep -q "cannot unseal" "$tmp/psed2.log" || fail "second start failed for another reason: $(tail -n 3 "$tmp/psed2.log")"

log "binding over the node's AK verifies against the vendor CA"
"$bin/vigil-psed" binding --socket "$tmp/psed.sock" --out "$tmp/binding" || fail "binding request"
out=$("$bin/vigil-psed" check-binding --binding "$tmp/binding" \
	--vendor-ca "$tmp/pki/platform-ca.pem" --ak "$tmp/msr") || fail "binding rejected: $out"
grep -q "$(awk '{print $3}' "$tmp/init.out")" <<<"$out" || fail "binding names another platform: $out"
tpm2_readpublic -c 0x81010010 -o "$tmp/ak.pub" >/dev/null || fail "readpublic AK"
cmp -s "$tmp/ak.pub" "$tmp/msr" || fail "the MSR does not hold the node's AK"
out=$("$bin/vigil-psed" check-binding --binding "$tmp/binding" \
	--vendor-ca "$tmp/other/platform-ca.pem") && fail "binding accepted under another CA"
grep -q "trusted platform vendor CA" <<<"$out" || fail "wrong reason: $out"

log "garbage on the socket; the daemon keeps serving"
python3 - "$tmp/psed.sock" <<'EOF' || fail "garbage client"
import socket, struct, sys
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); return s
for junk in [b'\xff\xff\xff\xff', struct.pack('>I', 12) + b'GARBAGEGARBA',
             struct.pack('>I', 0), struct.pack('>I', 100) + b'short', b'\x00']:
    s = conn(); s.sendall(junk)
    try: s.recv(4096)
    except socket.timeout: pass
    s.close()
EOF
"$bin/vigil-psed" binding --socket "$tmp/psed.sock" --out "$tmp/binding2" ||
	fail "vigil-psed stopped serving after garbage"
kill -0 "$psed_pid" || fail "vigil-psed died"
log "vigil-agent vm start: a vTPM whose EK certificate the PSE issued"
mkdir -p "$tmp/vtpm"
echo "guest fw" >"$tmp/boot/guest-fw"; echo "guest kernel" >"$tmp/boot/guest-kernel"
vmargs=(--vtpm-dir "$tmp/vtpm" --pse-socket "$tmp/psed.sock")
out=$("$bin/vigil-agent" vm start vm-e2e "${vmargs[@]}" --firmware "$tmp/boot/guest-fw" \
	--kernel "$tmp/boot/guest-kernel" 2>"$tmp/vm.log") || { cat "$tmp/vm.log"; fail "vm start"; }
grep -q "^vm vm-e2e running swtpm:" <<<"$out" || fail "vm start said: $out"
openssl x509 -inform DER -in "$tmp/pse/platform-cert.der" -out "$tmp/platform.pem"
openssl x509 -inform DER -in "$tmp/vtpm/vm-e2e/ek-cert.der" -out "$tmp/vtpm-ek.pem"
openssl verify -partial_chain -CAfile "$tmp/platform.pem" "$tmp/vtpm-ek.pem" >/dev/null ||
	fail "the vTPM EK certificate is not signed by the platform key"
"$bin/vigil-agent" vm list "${vmargs[@]}" | grep -q "^vm-e2e running" || fail "vm list"
"$bin/vigil-agent" vm stop vm-e2e "${vmargs[@]}" >/dev/null || fail "vm stop"
"$bin/vigil-agent" vm list "${vmargs[@]}" | grep -q "^vm-e2e stopped" || fail "vm list after stop"
echo "ok: psed init, seal, unseal once, cap, binding verified, survives garbage"
