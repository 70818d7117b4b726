#!/usr/bin/env bash
# Runs Vigil's tests and ends with one line: "N passed, N failed, N skipped".
#   tests/run.sh            unit tests, then end-to-end tests
#   tests/run.sh --unit     unit tests only
#   tests/run.sh --e2e      end-to-end tests only
#   tests/run.sh --only PATTERN   tests whose file name matches PATTERN
# Unit tests that need a TPM get a fresh swtpm through VIGIL_TEST_TCTI and
# its vendor CA in VIGIL_TEST_CA_DIR. Logs of failing tests go to
# $BUILD/test-logs/.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
mode=all
only=
while [ $# -gt 0 ]; do
	case $1 in
	--unit) mode=unit ;;
	--e2e) mode=e2e ;;
	--only) only=$2; shift ;;
	*) echo "usage: tests/run.sh [--unit|--e2e] [--only PATTERN]" >&2; exit 2 ;;
	esac
	shift
done

logs=$BUILD/test-logs
rm -rf "$logs"
mkdir -p "$logs"
passed=0 failed=0 skipped=0
failures=()

tmp=$(mktemp -d /tmp/vigil-test.XXXXXX)
. tests/lib/swtpm.sh
cleanup() {
	swtpm_stop "$tmp/tpm" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A free TCP port pair on loopback for the unit tests' swtpm.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below the kernel's ephemeral range: no outgoing connection can take it.
for _ in $(seq 100); do
	port=$((10000 + RANDOM % 22000))
	port_free "$port" && port_free $((port + 1)) && break
done
if [ "$mode" != e2e ] && command -v swtpm >/dev/null &&
	swtpm_provision "$tmp/tpm" >/dev/null && swtpm_start "$tmp/tpm" "$port"; then
	export VIGIL_TEST_TCTI="swtpm:host=127.0.0.1,port=$port"
	export VIGIL_TEST_CA_DIR="$tmp/localca"
fi
export VIGIL_CORPUS_DIR=${VIGIL_CORPUS_DIR:-$top/../shared/corpus}

run_unit() {
	local bin=$1 name out rc ok fail skip
	name=$(basename "$bin")
	out=$logs/$name.log
	# Unit tests get 5 minutes each; a hang is a failure, not a stuck CI.
	timeout 300 "$bin" >"$out" 2>&1
	rc=$?
	ok=$(grep -c '^\[       OK \]' "$out")
	skip=$(grep -c '^\[  SKIPPED \]' "$out")
	fail=$(grep -E '^\[  (FAILED|ERROR)   ?\]' "$out" | grep -v 'test(s)' |
		sort -u | wc -l)
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
	fi
	passed=$((passed + ok))
	failed=$((failed + fail))
	skipped=$((skipped + skip))
	if [ "$fail" -gt 0 ]; then
		failures+=("$name (see $out)")
		echo "FAIL $name: $fail failed, $ok passed"
		grep -E '^\[  (FAILED|ERROR)' "$out" | grep -v 'test(s)' | sed 's/^/    /'
	else
		echo "ok   $name: $ok passed${skip:+, $skip skipped}"
	fi
}

run_e2e() {
	local t=$1 name out rc start
	name=$(basename "$t" .sh)
	out=$logs/e2e-$name.log
	start=$(date +%s)
	BUILD=$BUILD timeout 600 bash "$t" >"$out" 2>&1
	rc=$?
	case $rc in
	0) passed=$((passed + 1)); echo "ok   e2e/$name ($(( $(date +%s) - start ))s)" ;;
	77) skipped=$((skipped + 1)); echo "skip e2e/$name: $(tail -n 1 "$out")" ;;
	*) failed=$((failed + 1)); failures+=("e2e/$name (see $out)")
	   echo "FAIL e2e/$name (exit $rc, $(( $(date +%s) - start ))s); last lines:"
	   tail -n 15 "$out" | sed 's/^/    /' ;;
	esac
}

if [ "$mode" != e2e ]; then
	for bin in "$BUILD"/tests/test_*; do
		[ -x "$bin" ] || continue
		[ -n "$only" ] && [[ $(basename "$bin") != *$only* ]] && continue
		run_unit "$bin"
	done
fi
if [ "$mode" != unit ]; then
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		[ "$(basename "$t")" = lib.sh ] && continue
		[ -n "$only" ] && [[ $(basename "$t") != *$only* ]] && continue
		run_e2e "$t"
	done
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "Failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
