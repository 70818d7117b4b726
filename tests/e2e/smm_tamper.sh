#!/usr/bin/env bash
# The SMM service end to end on the demo cluster (issue 3): a tenant wraps
# keys to node1's attested key-wrapping key (vigil key wrap), the verifier
# forwards them only to the affirming node, and vigil-smm sign / hmac /
# unwrap work (checked with openssl). Tenant B cannot see tenant A's key
# uses (404). Then node1's test hypervisor rewrites its own code (SIGUSR1 to
# hypervisor_pid): the next key request is refused, the refusal is in the
# key-use audit (GET /v1/keys/{id}/uses), and the verifier shows node1
# contraindicated naming the changed page, within a push interval or two,
# while node2 stays affirming. At the end (issue 9) tenants acme and
# globex both make key "k1" for node1: both 201, each local use reaches
# its own tenant's key material, each audit lists only its own uses.
. "$(dirname "$0")/lib.sh"

for t in xxd; do
	command -v "$t" >/dev/null || e2e_skip "skipped: $t is not installed"
done
for b in vigil-smmd vigil-smm fakehv vigil; do
	[ -x "$dc_bin/$b" ] || e2e_fail "$dc_bin/$b is missing: run make BUILD=$BUILD all"
done
[ -z "${DC_NO_SMM:-}" ] || e2e_skip "skipped: DC_NO_SMM is set"

cluster_start 2
wait_all_affirming node1 node2

work=$CLUSTER_DIR/smm-tamper
mkdir -p "$work"
id1=$(node_id node1)
sock=$(jq -r '.nodes[] | select(.name == "node1") | .smm_socket' "$CLUSTER_DIR/cluster.json")
hvpid=$(jq -r '.nodes[] | select(.name == "node1") | .hypervisor_pid' "$CLUSTER_DIR/cluster.json")
tok_a=$(jq -r '.tenants.acme' "$CLUSTER_DIR/cluster.json")
tok_b=$(jq -r '.tenants.globex' "$CLUSTER_DIR/cluster.json")
url=$(jq -r '.verifier_url' "$CLUSTER_DIR/cluster.json")
[ -S "$sock" ] || e2e_fail "node1 has no SMM socket at $sock"
smm() { "$dc_bin/vigil-smm" --socket "$sock" "$@"; }
vig() { VIGIL_URL=$url VIGIL_TOKEN=$1 "$dc_bin/vigil" "${@:2}"; }

# The attested key: node1's key-wrapping key as pinned from its runtime
# log (PCR 23).
curl -fsS -H "Authorization: Bearer $tok_a" "$url/v1/nodes/$id1/smm-key" >"$work/smm-key.json" ||
	e2e_fail "GET /v1/nodes/{id}/smm-key as tenant acme"
[ "$(jq -r .status "$work/smm-key.json")" = affirming ] ||
	e2e_fail "smm-key: node1 is $(jq -r .status "$work/smm-key.json")"
mkdir -p "$work/pub"
smm pubkeys "$work/pub" >/dev/null || e2e_fail "vigil-smm pubkeys"
[ "$(openssl pkey -pubin -in "$work/pub/key-wrapping.pem" -outform DER 2>/dev/null | sha256sum | cut -c1-64)" = \
	"$(jq -r .fingerprint "$work/smm-key.json")" ] ||
	e2e_fail "the verifier's attested key-wrapping key is not the one vigil-smmd holds"

# Tenant acme wraps two keys on its own machine and hands them over.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/sig1.pem" 2>/dev/null
openssl ec -in "$work/sig1.pem" -pubout -out "$work/sig1.pub" 2>/dev/null
head -c 32 /dev/urandom >"$work/sec1.bin"
uid=$(id -u)
vig "$tok_a" key wrap --node "$id1" --ops sign --uid "$uid" --in "$work/sig1.pem" \
	--id sig1 --tenant acme --out "$work/sig1.vgkw" >/dev/null || e2e_fail "vigil key wrap sig1"
vig "$tok_a" key wrap --node "$id1" --ops hmac,unwrap --uid "$uid" --in "$work/sec1.bin" \
	--id sec1 --tenant acme --out "$work/sec1.vgkw" >/dev/null || e2e_fail "vigil key wrap sec1"
vig "$tok_b" key provision --node "$id1" --in "$work/sig1.vgkw" >/dev/null 2>&1 &&
	e2e_fail "tenant globex could provision tenant acme's key"
for k in sig1 sec1; do
	vig "$tok_a" key provision --node "$id1" --in "$work/$k.vgkw" >/dev/null ||
		e2e_fail "vigil key provision $k"
done
e2e_log "keys wrapped client-side and stored by the verifier"

# Forwarded with node1's next affirming push.
printf 'tenant data to sign' >"$work/data"
end=$(($(date +%s) + 5 * E2E_IV + 10))
until smm sign acme sig1 "$work/data" >"$work/sig" 2>/dev/null; do
	[ "$(date +%s)" -lt "$end" ] || e2e_fail "key sig1 never reached node1's vigil-smmd"
	sleep 0.3
done
until smm hmac acme sec1 "$work/data" >"$work/mac" 2>/dev/null; do
	[ "$(date +%s)" -lt "$end" ] || e2e_fail "key sec1 never reached node1's vigil-smmd"
	sleep 0.3
done
openssl dgst -sha256 -verify "$work/sig1.pub" -signature "$work/sig" "$work/data" >/dev/null ||
	e2e_fail "the signature does not verify with openssl"
openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(xxd -p -c 64 "$work/sec1.bin")" -binary \
	"$work/data" >"$work/mac.want"
cmp -s "$work/mac" "$work/mac.want" || e2e_fail "the HMAC differs from openssl's"
head -c 32 /dev/urandom >"$work/dek"
openssl enc -id-aes256-wrap-pad -K "$(xxd -p -c 64 "$work/sec1.bin")" -iv A65959A6 \
	-in "$work/dek" -out "$work/dek.wrapped" || e2e_fail "openssl key wrap"
smm unwrap acme sec1 "$work/dek.wrapped" >"$work/dek.out" || e2e_fail "unwrap refused"
cmp -s "$work/dek" "$work/dek.out" || e2e_fail "the unwrapped key differs"
e2e_log "sign, HMAC and unwrap through vigil-smm agree with openssl"

# The key-use audit: its owner sees it, another tenant gets 404.
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_b" \
	"$url/v1/keys/sec1/uses")
[ "$code" = 404 ] || e2e_fail "tenant globex reading acme's key uses got $code, not 404"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_a" \
	"$url/v1/keys/nope/uses")
[ "$code" = 404 ] || e2e_fail "an unknown key gave $code, not 404"

# A reference set from the fleet's measured roots (each node's hypervisor
# copy has its own path, so its own region names), signed by the verifier
# and carried to vigil-smmd by the agents; the refs entry node1's logs must
# name it.
api "/v1/nodes/$id1/smm-log?limit=256" >"$work/log.json" || e2e_fail "GET smm-log"
api "/v1/nodes/$(node_id node2)/smm-log?limit=256" >"$work/log2.json" || e2e_fail "GET smm-log node2"
jq -s '{regions: [map(.entries[]) | map(select(.kind == "measure" and .verdict == "match"))
	| group_by([.target, .region])[] | last | {target, region, roots: [.root]}]}' \
	"$work/log.json" "$work/log2.json" >"$work/refs.json"
[ "$(jq '.regions | length' "$work/refs.json")" -ge 1 ] || e2e_fail "no measured region in node1's smm-log"
dc_curl "$CLUSTER_DIR" -fsS -X PUT -H "Authorization: Bearer $(cat "$CLUSTER_DIR/verifier/operator.token")" \
	--data-binary @"$work/refs.json" "$url/v1/smm/reference-set" >"$work/refs-put.json" ||
	e2e_fail "PUT /v1/smm/reference-set"
rv=$(jq -r .version "$work/refs-put.json")
rd=$(jq -r .sha256 "$work/refs-put.json")
end=$(($(date +%s) + 5 * E2E_IV + 10))
until api "/v1/nodes/$id1/smm-log?limit=256&after_seq=$(jq '[.entries[].seq] | max' "$work/log.json")" |
	jq -e --arg d "$rd" --argjson v "$rv" '[.entries[] | select(.kind == "refs" and .version == $v and .digest == $d)] | length == 1' \
		>/dev/null; do
	[ "$(date +%s)" -lt "$end" ] || e2e_fail "node1's vigil-smmd never took reference set version $rv"
	sleep 0.5
done
sleep $((2 * E2E_IV))
[ "$(node_status node1)" = affirming ] || {
	node_reasons node1 | sed 's/^/    reason: /'
	e2e_fail "node1 is $(node_status node1) under the verifier's signed reference set"
}
e2e_log "reference set version $rv (sha256 ${rd:0:12}...) signed by the verifier, taken by vigil-smmd, node1 affirming"

# Tampering with node1's hypervisor.
e2e_log "tampering with node1's hypervisor (SIGUSR1 to pid $hvpid: it rewrites its own code)"
kill -USR1 "$hvpid" || e2e_fail "cannot signal node1's hypervisor"
sleep 0.3
t0=$(date +%s)
out=$(smm hmac acme sec1 "$work/data" 2>&1 >/dev/null) && e2e_fail "a key request was served after tampering"
grep -q "refused: tampered" <<<"$out" || e2e_fail "after tampering: $out"
e2e_log "the next key request is refused: $out"

wait_status node1 contraindicated $((2 * E2E_IV + 5)) || {
	node_reasons node1 | sed 's/^/    reason: /'
	e2e_fail "node1 did not become contraindicated"
}
e2e_log "node1 contraindicated $(($(date +%s) - t0))s after the refused request"
node_reasons node1 >"$work/reasons"
grep -Eq 'page\(s\) [0-9]+.* changed in hypervisor hv region [^ ]*/boot/hypervisor@0x[0-9a-f]+' "$work/reasons" || {
	sed 's/^/    reason: /' "$work/reasons"
	e2e_fail "the reasons do not name the changed page of node1's hypervisor"
}
sed 's/^/    /' "$work/reasons"
api "/v1/nodes/$id1" | jq -e '.appraisal.trustworthiness_vector["runtime-opaque"] == 96' >/dev/null ||
	e2e_fail "runtime-opaque is not contraindicated (96)"

# The refusal reaches the audit with the next push.
end=$(($(date +%s) + 3 * E2E_IV + 5))
until curl -fsS -H "Authorization: Bearer $tok_a" "$url/v1/keys/sec1/uses" >"$work/uses.json" &&
	jq -e '[.entries[] | select(.op == "hmac" and .granted == false and .status == "tampered")] | length >= 1' \
		"$work/uses.json" >/dev/null; do
	[ "$(date +%s)" -lt "$end" ] || { cat "$work/uses.json"; e2e_fail "the refusal is not in the key-use audit"; }
	sleep 0.5
done
jq -e '[.entries[] | select(.granted == true)] | length >= 2' "$work/uses.json" >/dev/null ||
	e2e_fail "the granted uses are not in the audit"
e2e_log "key-use audit: $(jq -c '[.entries[] | {op, granted, status}]' "$work/uses.json")"
# The refusal node1 reported is an event for the key's tenant (issue 9).
events_of "$tok_a" | jq -s -e --arg id "$id1" 'any(.[]; .kind == "smm.refusal" and .subject == $id
    and .tenant == "acme" and .data.key_id == "sec1" and .data.op == "hmac"
    and .data.status == "tampered")' >/dev/null ||
	e2e_fail "no smm.refusal event for acme's key sec1: $(events_of "$tok_a" | tail -n 5)"
events_of "$tok_b" | jq -s -e 'any(.[]; .kind == "smm.refusal")' >/dev/null &&
	e2e_fail "tenant globex sees acme's smm.refusal"
e2e_log "smm.refusal event: sec1 hmac tampered, for acme only"

[ "$(node_status node2)" = affirming ] || e2e_fail "node2 is $(node_status node2), not affirming"
e2e_log "node2 still affirming"

# After the cap nobody on the node unseals vigil-smmd's keys.
nd1=$(node_dir node1)
out=$("$dc_bin/vigil-smmd" unseal --state "$nd1/smm" --tcti "$(node_tcti node1)" 2>/dev/null) &&
	e2e_fail "vigil-smmd's keys unsealed from the running node after the cap"
[ "$out" = "unseal refused" ] || e2e_fail "unseal after the cap: '$out'"

# An emulated reboot: a fresh hypervisor, vigil-smmd unseals again, its
# chain continues at the verifier (a start entry), keys usable again.
seq0=$(api "/v1/nodes/$id1/smm-key" | jq -r .log_seq)
node_reboot node1
wait_status node1 affirming $((10 * E2E_IV + 20)) || {
	node_reasons node1 | sed 's/^/    reason: /'
	e2e_fail "node1 did not become affirming again after its reboot"
}
api "/v1/nodes/$id1/smm-log?after_seq=$seq0&limit=256" |
	jq -e '[.entries[] | select(.kind == "start" and .boot == 2)] | length == 1' >/dev/null ||
	e2e_fail "the verifier has no start entry of boot 2 continuing node1's chain"
smm sign acme sig1 "$work/data" >"$work/sig2" || e2e_fail "sign refused after the reboot"
openssl dgst -sha256 -verify "$work/sig1.pub" -signature "$work/sig2" "$work/data" >/dev/null ||
	e2e_fail "the signature after the reboot does not verify"
e2e_log "after an emulated reboot: node1 affirming, its SMM chain continued, keys usable again"

# Two tenants, one key id, one node (issue 9): node1's SMM service names
# keys by (tenant, id), so neither tenant is told of the other's k1.
for t in acme globex; do
	tok=$tok_a
	[ "$t" = globex ] && tok=$tok_b
	head -c 32 /dev/urandom >"$work/k1-$t.bin"
	vig "$tok" key wrap --node "$id1" --ops hmac --uid "$uid" --in "$work/k1-$t.bin" \
		--id k1 --tenant "$t" --out "$work/k1-$t.vgkw" >/dev/null || e2e_fail "vigil key wrap k1 for $t"
	jq -n --arg n "$id1" --arg w "$(base64 -w0 "$work/k1-$t.vgkw")" '{node: $n, wrapped: $w}' \
		>"$work/k1-$t.json"
	code=$(curl -sS -o "$work/k1-$t.out" -w '%{http_code}' -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' --data-binary @"$work/k1-$t.json" "$url/v1/keys")
	[ "$code" = 201 ] || e2e_fail "tenant $t's key k1 for node1: $code $(cat "$work/k1-$t.out")"
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(xxd -p -c 64 "$work/k1-$t.bin")" -binary \
		"$work/data" >"$work/k1-$t.want"
done
e2e_log "tenants acme and globex both created key k1 for node1 (201 each)"
# Forwarded with the next affirming push; then acme uses its k1 twice,
# globex once, each with its own material.
end=$(($(date +%s) + 5 * E2E_IV + 10))
for t in acme globex; do
	until smm hmac "$t" k1 "$work/data" >"$work/k1-$t.mac" 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || e2e_fail "$t's key k1 never reached node1's vigil-smmd"
		sleep 0.3
	done
	cmp -s "$work/k1-$t.mac" "$work/k1-$t.want" || e2e_fail "$t's k1 HMAC is not with $t's secret"
done
smm hmac acme k1 "$work/data" >"$work/k1-acme.mac" || e2e_fail "acme's second use of k1 refused"
cmp -s "$work/k1-acme.mac" "$work/k1-acme.want" || e2e_fail "acme's k1 HMAC changed"
cmp -s "$work/k1-acme.want" "$work/k1-globex.want" && e2e_fail "the two secrets are the same"
e2e_log "smm hmac acme k1 / globex k1: each with its own tenant's secret"
# Each audit: its own tenant's entries only (2 granted for acme, 1 for
# globex; refusals while the keys were on their way are theirs too).
for t in acme:2 globex:1; do
	tn=${t%%:*}
	want=${t##*:}
	tok=$tok_a
	[ "$tn" = globex ] && tok=$tok_b
	end=$(($(date +%s) + 3 * E2E_IV + 5))
	until curl -fsS -H "Authorization: Bearer $tok" "$url/v1/keys/k1/uses" >"$work/k1-$tn.uses" &&
		jq -e --argjson w "$want" '[.entries[] | select(.granted == true)] | length == $w' \
			"$work/k1-$tn.uses" >/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || { cat "$work/k1-$tn.uses"; e2e_fail "$tn's k1 audit never showed $want granted uses"; }
		sleep 0.5
	done
	jq -e --arg t "$tn" --arg n "$id1" 'all(.entries[]; .tenant == $t and .node == $n and .key_id == "k1")' \
		"$work/k1-$tn.uses" >/dev/null || { cat "$work/k1-$tn.uses"; e2e_fail "$tn's k1 audit lists another tenant's entries"; }
	e2e_log "$tn's k1 audit: $(jq -c '[.entries[] | {seq, tenant, granted, status}]' "$work/k1-$tn.uses")"
done
# A refusal is an event for the tenant its entry names only.
events_of "$tok_b" | jq -s -e 'all(.[] | select(.kind == "smm.refusal"); .tenant == "globex" and .data.tenant == "globex")' \
	>/dev/null || e2e_fail "tenant globex sees another tenant's smm.refusal"
echo "ok"
