#!/usr/bin/env bash
# docs/openapi.json is a valid OpenAPI 3 document (swagger-parser), every
# error answer in it is problem+json with the Problem schema, and the body
# checker refuses a body with a field the document does not list.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
command -v node >/dev/null || { echo "skipped: node is not installed"; exit 77; }
[ -d tests/openapi/node_modules/ajv ] || fail "tests/openapi/node_modules is missing: run make deps"
out=$(node tests/openapi/check.js doc docs/openapi.json) || fail "$out"
echo "$out"
tmp=$(mktemp -d /tmp/vigil-openapi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
id=$(printf '3f%.0s' {1..32})
printf '{"items":[{"id":"%s","hostname":"n","status":"affirming","last_appraisal_at":null,"last_seen_at":"2026-01-05T10:00:03Z"}],"next_cursor":null}' "$id" >"$tmp/ok.json"
node tests/openapi/check.js body docs/openapi.json GET /v1/nodes 200 application/json "$tmp/ok.json" ||
	fail "a GET /v1/nodes body as the verifier sends it was refused"
sed 's/"hostname"/"extra":1,"hostname"/' "$tmp/ok.json" >"$tmp/extra.json"
out=$(node tests/openapi/check.js body docs/openapi.json GET /v1/nodes 200 application/json "$tmp/extra.json") &&
	fail "a field the document does not list was accepted"
grep -q 'must NOT have additional properties: "extra"' <<<"$out" || fail "unexpected refusal: $out"
printf '{"type":"urn:vigil:problem:not-found","title":"No such node","status":404}' >"$tmp/p.json"
out=$(node tests/openapi/check.js body docs/openapi.json GET "/v1/nodes/$id" 404 application/problem+json "$tmp/p.json") &&
	fail "a problem without detail was accepted"
grep -q "must have required property 'detail'" <<<"$out" || fail "unexpected refusal: $out"
out=$(node tests/openapi/check.js body docs/openapi.json GET "/v1/nodes/$id" 418 application/json "$tmp/p.json") &&
	fail "an undocumented status was accepted"
grep -q 'does not document status 418' <<<"$out" || fail "unexpected refusal: $out"
echo "PASS: the document validates, and the body check refuses what it does not describe"
