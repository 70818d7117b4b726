# shellcheck shell=bash
# Helpers for Vigil's end-to-end tests; sourced by tests/e2e/*.sh.
#
# A test is a bash script that exits 0 on pass, 1 on failure (with a line
# saying why), 77 to skip (a tool missing). It sources this file, calls
# cluster_start, and cluster_stop runs on every exit path (trap EXIT).
#
#   e2e_require_tools           skip (77) when swtpm, tpm2-tools, curl, jq, sqlite3 are missing
#   cluster_start N [EK]        a verifier and N nodes (EK: rsa|ecc|mixed, default mixed);
#                               interval E2E_INTERVAL_MS (default 1000 ms)
#   cluster_stop                stops it, keeps its logs in $BUILD/test-logs/e2e-NAME-cluster/
#   node_id NAME, node_tcti NAME, node_dir NAME
#   node_status NAME            affirming|warning|contraindicated|none|unknown
#   node_reasons NAME           reasons of the latest appraisal, one a line
#   wait_status NAME STATUS TIMEOUT_S
#   node_reboot NAME            emulated reboot: swtpm restarted, boot step re-run
#   agent_kill NAME SIGNAL, agent_start NAME
#   verifier_kill [SIGNAL], verifier_start
#   api PATH                    GET with the operator token, prints the body
#   events_of TOKEN             the events that token may see, stored now, one JSON a line
#   The cluster runs HTTPS with mTLS (E2E_INSECURE_HTTP=1: plain HTTP); after
#   cluster_start, CURL_CA_BUNDLE and VIGIL_CACERT name its server CA, so a
#   test's own curl and vigil calls trust the verifier.
#   e2e_fail MESSAGE            prints "FAIL: MESSAGE" and exits 1
#   api_checked METHOD PATH STATUS [TOKEN]
#                               a request without a body (operator token by default);
#                               prints the body, fails (1, the reason on stderr) when
#                               the status is not STATUS or docs/openapi.json does not
#                               describe the answer (tests/openapi/check.js)
#   openapi_check METHOD PATH STATUS CONTENT-TYPE FILE   that check alone
#   e2e_log MESSAGE             a timestamped progress line

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# tests/run.sh runs every tests/e2e/*.sh; this one is no test.
	echo "skipped: lib.sh is the e2e helper library, not a test"
	exit 77
fi

set -u
e2e_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$e2e_top" || exit 1
export BUILD=${BUILD:-build}
# shellcheck source=../../deploy/demo.sh
. "$e2e_top/deploy/demo.sh"

E2E_INTERVAL_MS=${E2E_INTERVAL_MS:-1000}
E2E_NAME=$(basename "$0" .sh)
CLUSTER_DIR=
# Interval in whole seconds, rounded up, for timeouts.
E2E_IV=$(((E2E_INTERVAL_MS + 999) / 1000))

e2e_log() { printf '%s %s\n' "$(date -u +%T)" "$*"; }

e2e_fail() {
	echo "FAIL: $*"
	exit 1
}

e2e_skip() {
	echo "$*"
	exit 77
}

e2e_require_tools() {
	local t
	for t in swtpm swtpm_setup tpm2_getcap tpm2_pcrextend tpm2_pcrread \
		tpm2_readpublic curl jq sqlite3 openssl; do
		command -v "$t" >/dev/null || e2e_skip "skipped: $t is not installed (deploy/install-deps.sh)"
	done
}

# The binaries missing is a failure, not a skip: make check builds them.
e2e_require_bins() {
	local b
	for b in vigil-verifier vigil-agent; do
		[ -x "$dc_bin/$b" ] || e2e_fail "$dc_bin/$b is missing: run make BUILD=$BUILD all"
	done
}

cluster_stop() {
	local rc=$? keep
	trap - EXIT
	if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ]; then
		dc_stop "$CLUSTER_DIR"
		case $BUILD in
		/*) keep=$BUILD/test-logs/e2e-$E2E_NAME-cluster ;;
		*) keep=$e2e_top/$BUILD/test-logs/e2e-$E2E_NAME-cluster ;;
		esac
		rm -rf "$keep"
		mkdir -p "$keep"
		cp -r "$CLUSTER_DIR/logs/." "$keep/" 2>/dev/null
		[ -f "$CLUSTER_DIR/cluster.json" ] && cp "$CLUSTER_DIR/cluster.json" "$keep/"
		rm -rf "$CLUSTER_DIR"
		[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && echo "cluster logs kept in $keep"
		CLUSTER_DIR=
	fi
	exit "$rc"
}

cluster_start() {
	local n=$1 ek=${2:-mixed}
	e2e_require_tools
	e2e_require_bins
	CLUSTER_DIR=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
	trap cluster_stop EXIT
	trap 'exit 1' INT TERM
	e2e_log "starting a cluster of $n nodes ($ek EKs, interval $E2E_INTERVAL_MS ms) in $CLUSTER_DIR"
	[ -n "${E2E_INSECURE_HTTP:-}" ] && export DC_INSECURE_HTTP=1
	dc_start "$CLUSTER_DIR" "$n" "$E2E_INTERVAL_MS" "$ek" ||
		e2e_fail "the cluster did not start (see the lines above)"
	if ! dc_insecure "$CLUSTER_DIR"; then
		export CURL_CA_BUNDLE VIGIL_CACERT
		CURL_CA_BUNDLE=$(dc_cacert "$CLUSTER_DIR")
		VIGIL_CACERT=$CURL_CA_BUNDLE
	fi
}

node_id() { dc_node_id "$CLUSTER_DIR" "$1"; }
node_tcti() { dc_tcti "$CLUSTER_DIR" "$1"; }
node_dir() { dc_ndir "$CLUSTER_DIR" "$1"; }
node_status() { dc_node_status "$CLUSTER_DIR" "$1"; }
node_reasons() { dc_node_reasons "$CLUSTER_DIR" "$1"; }
api() { dc_api "$CLUSTER_DIR" "$1"; }
events_of() {
	dc_curl "$CLUSTER_DIR" -fsS -m 10 -H "Authorization: Bearer $1" \
		"$(dc_url "$CLUSTER_DIR")/v1/events?after=0&follow=0" | sed -n 's/^data: //p'
}

wait_status() {
	dc_wait_status "$CLUSTER_DIR" "$1" "$2" "$3"
}

node_reboot() {
	e2e_log "rebooting $1 (swtpm restarted, boot step re-run)"
	dc_node_reboot "$CLUSTER_DIR" "$1" || e2e_fail "the emulated reboot of $1 failed"
}

agent_kill() {
	e2e_log "sending SIG$2 to $1's agent"
	dc_agent_kill "$CLUSTER_DIR" "$1" "$2"
}

agent_start() {
	e2e_log "starting $1's agent"
	dc_agent_start "$CLUSTER_DIR" "$1" || e2e_fail "$1's agent did not start"
}

verifier_kill() {
	e2e_log "sending SIG${1:-TERM} to the verifier"
	dc_verifier_kill "$CLUSTER_DIR" "${1:-TERM}"
}

verifier_start() {
	e2e_log "starting the verifier"
	dc_verifier_start "$CLUSTER_DIR" || e2e_fail "the verifier did not start again"
}

# Waits for every named node to become affirming within a generous bound
# (registration, credential activation and the first quotes).
wait_all_affirming() {
	local name
	for name in "$@"; do
		wait_status "$name" affirming $((10 * E2E_IV + 20)) || {
			node_reasons "$name" | sed 's/^/    reason: /'
			e2e_fail "$name did not become affirming"
		}
		e2e_log "$name affirming"
	done
}

# Extends PCR 7 of a node's TPM with a digest nobody measured.
pcr7_tamper() {
	TPM2TOOLS_TCTI=$(node_tcti "$1") tpm2_pcrextend \
		"7:sha256=$(printf 'tampered %s' "$1" | sha256sum | cut -c1-64)" ||
		e2e_fail "tpm2_pcrextend on $1 failed"
}

# ---- the API document is true (issue 13) -----------------------------------

openapi_check() {
	if [ ! -d "$e2e_top/tests/openapi/node_modules/ajv" ]; then
		echo "openapi_check: tests/openapi/node_modules is missing: run make deps" >&2
		return 1
	fi
	node "$e2e_top/tests/openapi/check.js" body "$e2e_top/docs/openapi.json" "$@" >&2
}

api_checked() {
	local method=$1 path=$2 want=$3 tok=${4:-} f meta status ctype
	[ -n "$tok" ] || tok=$(cat "$CLUSTER_DIR/verifier/operator.token")
	f=$(mktemp /tmp/vigil-e2e-body.XXXXXX)
	if ! meta=$(dc_curl "$CLUSTER_DIR" -sS -m 10 -X "$method" \
	    -H "Authorization: Bearer $tok" -o "$f" -w '%{http_code} %{content_type}' \
	    "$(dc_url "$CLUSTER_DIR")$path"); then
		echo "api_checked: $method $path: no answer" >&2
		rm -f "$f"
		return 1
	fi
	status=${meta%% *}
	ctype=${meta#* }
	if [ "$status" != "$want" ]; then
		echo "api_checked: $method $path answered $status, want $want: $(head -c 300 "$f")" >&2
		rm -f "$f"
		return 1
	fi
	if ! openapi_check "$method" "$path" "$status" "$ctype" "$f"; then
		rm -f "$f"
		return 1
	fi
	cat "$f"
	rm -f "$f"
}
