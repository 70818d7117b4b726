#!/usr/bin/env bash
# The vigil CLI's config file: used when flags and environment say
# nothing, refused when it holds a token others may read or an unknown key,
# and flags and environment win over it.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD/bin ;; *) bin=$top/$BUILD/bin ;; esac
tmp=$(mktemp -d /tmp/vigil-cli-config.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset VIGIL_URL VIGIL_TOKEN VIGIL_CACERT

# Port 1 on loopback: nothing listens, so the error names the URL used.
printf '[vigil]\nurl = http://127.0.0.1:1\ntoken = %s\n' "$(printf 'a%.0s' {1..64})" >"$tmp/cli.conf"
chmod 600 "$tmp/cli.conf"
out=$(VIGIL_CONFIG=$tmp/cli.conf "$bin/vigil" nodes 2>&1); rc=$?
[ "$rc" = 2 ] || fail "exit $rc, want 2: $out"
grep -q 'cannot reach the verifier at http://127.0.0.1:1' <<<"$out" || fail "config url not used: $out"

out=$(VIGIL_CONFIG=$tmp/cli.conf VIGIL_URL=http://127.0.0.1:2 "$bin/vigil" nodes 2>&1)
grep -q 'at http://127.0.0.1:2' <<<"$out" || fail "VIGIL_URL does not win over the file: $out"
out=$(VIGIL_CONFIG=$tmp/cli.conf VIGIL_URL=http://127.0.0.1:2 "$bin/vigil" --url http://127.0.0.1:3 nodes 2>&1)
grep -q 'at http://127.0.0.1:3' <<<"$out" || fail "--url does not win: $out"

chmod 644 "$tmp/cli.conf"
out=$(VIGIL_CONFIG=$tmp/cli.conf "$bin/vigil" nodes 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q 'others may read it; run: chmod 600' <<<"$out" ||
	fail "a readable token file was accepted (exit $rc): $out"

printf '[vigil]\nurll = http://x\n' >"$tmp/bad.conf"
out=$(VIGIL_CONFIG=$tmp/bad.conf "$bin/vigil" nodes 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q 'unknown or too long key \[vigil\] urll' <<<"$out" ||
	fail "an unknown key was accepted (exit $rc): $out"

out=$(VIGIL_CONFIG=$tmp/missing.conf "$bin/vigil" nodes 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q 'cannot read the config file' <<<"$out" ||
	fail "a missing VIGIL_CONFIG file was not reported (exit $rc): $out"
echo "cli config: file, precedence and refusals as documented"
