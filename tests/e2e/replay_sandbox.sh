#!/usr/bin/env bash
# The replay sandbox against a hostile recipe, through the real verifier
# and its replay worker on a 1-node cluster (issue 9, critical):
#  - the verifier's own files are its own: the store, its WAL, the signing
#    keys, the SMM reference-set key and its log are mode 0600;
#  - with the verifier as root, and again as an unprivileged uid with
#    only CAP_SETUID and CAP_SETGID ambient (as deploy/systemd runs it),
#    a recorded program that, when replayed, tries to read the verifier's
#    store, every key file, its log, init's environment and the host's
#    /etc/passwd reads none of them: it prints "denied" for each at replay
#    exactly as it did when recorded, so the replay matches. (At record
#    time a marker file tells it not to try; a sandbox that let one read
#    through would print "READ ..." and diverge at checkpoint 1.)
. "$(dirname "$0")/lib.sh"

cluster_start 1 rsa
cj=$CLUSTER_DIR/cluster.json
name=$(jq -r '.nodes[0].name' "$cj")
env=$(jq -r '.nodes[0].env' "$cj")
url=$(jq -r .verifier_url "$cj")
tok=$(jq -r '.tenants | to_entries[0].value' "$cj")
wait_status "$name" affirming $((30 * E2E_IV)) || e2e_fail "$name never became affirming"

e2e_log "the verifier's files are mode 0600"
v=$CLUSTER_DIR/verifier
secrets=("$v/verifier.db" "$v/verifier.db-wal" "$CLUSTER_DIR/logs/verifier.log")
for f in "$v"/keys/*; do secrets+=("$f"); done
for f in "${secrets[@]}"; do
	[ -f "$f" ] || e2e_fail "$f is missing"
	m=$(stat -c %a "$f")
	[ "$m" = 600 ] || e2e_fail "$f is mode $m, expected 600"
done
ls "$v"/keys/smm-refs.pem >/dev/null || e2e_fail "no SMM reference-set key in $v/keys"
secrets+=("$CLUSTER_DIR/pki/agent-ca.key" "$CLUSTER_DIR/pki/verifier.key" "$v"
	/proc/1/environ /etc/passwd)

work=$CLUSTER_DIR/computations
mkdir -p "$work"
marker=$work/recording-now
# shellcheck disable=SC2016
prog='for f in "$@"; do
	if [ -e '"$marker"' ]; then echo denied
	elif [ -d "$f" ] && ls "$f" >/dev/null 2>&1; then echo "READ $f"
	elif [ -f "$f" ] && head -c 1 "$f" >/dev/null 2>&1; then echo "READ $f"
	else echo denied
	fi
done'
# hostile LABEL: records the program on the node, replays it, and fails
# unless the replay matches (every secret denied).
hostile() {
	local label=$1 cid rc end
	: >"$marker"
	e2e_log "$label: recording a program that reads ${#secrets[@]} of the verifier's files when replayed"
	(
		# shellcheck disable=SC1090
		. "$env"
		export VIGIL_TOKEN=$tok
		cd "$work" && "$dc_bin/vigil" record --name "hostile-$label" --env PATH -- \
			sh -c "$prog" sh "${secrets[@]}" >"$label.out" 2>"$label.err"
	) || e2e_fail "vigil record failed: $(tail -n 3 "$work/$label.err")"
	rm -f "$marker"
	cid=$(tail -n 1 "$work/$label.err")
	[[ $cid =~ ^[0-9a-f]{32}$ ]] || e2e_fail "vigil record printed no computation id: '$cid'"
	[ "$(grep -c '^denied$' "$work/$label.out")" = "${#secrets[@]}" ] ||
		e2e_fail "the recorded run printed: $(cat "$work/$label.out")"
	end=$(($(date +%s) + 30 * E2E_IV))
	while [ "$(curl -fsS -H "Authorization: Bearer $tok" "$url/v1/computations/$cid" | jq -r .status)" != complete ]; do
		[ "$(date +%s)" -lt "$end" ] || e2e_fail "computation $cid never completed"
		sleep 0.5
	done
	e2e_log "$label: replaying it in the verifier's sandbox"
	(
		export VIGIL_URL=$url VIGIL_TOKEN=$tok
		"$dc_bin/vigil" verify "$cid" --wait --timeout 60
	) >"$work/$label-verify.out" 2>&1
	rc=$?
	cat "$work/$label-verify.out"
	[ "$rc" = 0 ] || e2e_fail "$label: vigil verify exited $rc: the replayed program read a secret or the sandbox failed (see above)"
	grep -q "match" "$work/$label-verify.out" || e2e_fail "$label: the replay did not match"
	left=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'vigil-replay-*' -newer "$work/$label.err" 2>/dev/null | wc -l)
	[ "$left" = 0 ] || e2e_fail "$label: $left replay job directories were left behind"
}

hostile root

e2e_log "restarting the verifier as uid 60999 with CAP_SETUID and CAP_SETGID ambient, as the systemd unit runs it"
verifier_kill TERM
sleep 1
DC_VERIFIER_UID=60999 verifier_start
vpid=$(cat "$CLUSTER_DIR/verifier/verifier.pid")
[ "$(stat -c %u "/proc/$vpid")" = 60999 ] || e2e_fail "the verifier does not run as uid 60999"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$vpid/status" ||
	e2e_fail "the verifier keeps effective capabilities: $(grep ^Cap "/proc/$vpid/status")"
wait_status "$name" affirming $((30 * E2E_IV)) || e2e_fail "$name is not affirming after the restart"
hostile unprivileged

echo "PASS: the verifier's store, keys and log are 0600, and a replayed program reads none of ${#secrets[@]} secrets (store, keys, log, /proc/1/environ, /etc/passwd), with the verifier as root and as an unprivileged uid with the unit's capabilities"
