#!/usr/bin/env bash
# The demo cluster runs HTTPS with mutual TLS: agents push over mTLS with the
# client certificate issued at activation; a client without a certificate,
# with one from another CA or with another agent's certificate cannot push;
# the verifier's certificate verifies against the demo server CA and plain
# HTTP is not served; an agent whose certificate is refused gets a new one. Tokens: `token list` never shows a token, `token
# revoke` takes effect at the next request (and is audited). /metrics counts
# the pushes.
. "$(dirname "$0")/lib.sh"

cluster_start 2 mixed
wait_all_affirming node1 node2
cj=$CLUSTER_DIR/cluster.json
url=$(jq -r .verifier_url "$cj")
ca=$(jq -r .verifier_ca "$cj")
case $url in https://*) ;; *) e2e_fail "verifier_url is $url, expected https://" ;; esac
[ -s "$ca" ] || e2e_fail "cluster.json has no verifier_ca file"
id1=$(node_id node1)
n2=$(node_dir node2)

# Agents push over mTLS: their certificates exist and name their ids.
for name in node1 node2; do
	crt=$(node_dir "$name")/agent/agent.crt
	[ -s "$crt" ] || e2e_fail "$name has no client certificate ($crt)"
	cn=$(openssl x509 -in "$crt" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
	[ "$cn" = "$(node_id "$name")" ] || e2e_fail "$name's certificate names '$cn'"
	openssl verify -CAfile "$CLUSTER_DIR/pki/agent-ca.pem" "$crt" >/dev/null ||
		e2e_fail "$name's certificate does not verify to the agent CA"
done
e2e_log "agents hold client certificates from the agent CA; both affirming over mTLS"

code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" "$@"; }

c=$(code -X POST "$url/v1/agents/$id1/evidence" --data-binary x)
[ "$c" = 401 ] || e2e_fail "evidence without a client certificate answered $c, expected 401"
c=$(code -X POST "$url/v1/agents/$id1/nonce")
[ "$c" = 401 ] || e2e_fail "nonce without a client certificate answered $c, expected 401"

foreign=$CLUSTER_DIR/foreign
mkdir -p "$foreign"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$foreign/f.key" -out "$foreign/f.pem" -days 1 -subj "/CN=$id1" \
	-addext extendedKeyUsage=clientAuth 2>/dev/null || e2e_fail "openssl could not make a foreign certificate"
c=$(code -X POST --cert "$foreign/f.pem" --key "$foreign/f.key" "$url/v1/agents/$id1/evidence" --data-binary x)
[ "$c" = 401 ] || e2e_fail "evidence with a foreign CA's certificate answered $c, expected 401"

c=$(code -X POST --cert "$n2/agent/agent.crt" --key "$n2/agent/agent.key" "$url/v1/agents/$id1/evidence" --data-binary x)
[ "$c" = 403 ] || e2e_fail "evidence for node1 with node2's certificate answered $c, expected 403"
e2e_log "refused: no certificate (401), foreign CA (401), another agent's certificate (403)"

# The server certificate does not verify without the demo server CA, and
# plain HTTP is not served on the HTTPS port.
if curl -s -o /dev/null --cacert "$foreign/f.pem" "$url/healthz"; then
	e2e_fail "the verifier's certificate verified against a foreign CA"
fi
c=$(curl -s -o /dev/null -w '%{http_code}' "http://${url#https://}/healthz")
[ "$c" = 200 ] && e2e_fail "plain HTTP answered 200 on the HTTPS port"

# An agent whose certificate the verifier refuses (here: replaced by the
# foreign one; the same happens when it expires or the agent CA rotates)
# registers again, gets a new certificate and keeps pushing.
agent_kill node1 TERM
cp "$foreign/f.pem" "$(node_dir node1)/agent/agent.crt"
cp "$foreign/f.key" "$(node_dir node1)/agent/agent.key"
agent_start node1
end=$(($(date +%s) + 10 * E2E_IV + 20))
until grep -q 'refused our client certificate' "$CLUSTER_DIR/logs/node1-agent.log" &&
	openssl verify -CAfile "$CLUSTER_DIR/pki/agent-ca.pem" "$(node_dir node1)/agent/agent.crt" >/dev/null 2>&1; do
	[ "$(date +%s)" -lt "$end" ] || e2e_fail "node1 did not get a new certificate after its own was refused"
	sleep 0.5
done
wait_all_affirming node1
e2e_log "node1's refused certificate was renewed by registering again; node1 affirming"

# Tokens: list shows no token; revoke is effective at the next request.
conf=$CLUSTER_DIR/verifier/verifier.conf
tok=$("$dc_bin/vigil-verifier" token create --config "$conf" --role operator --label e2e-revoke 2>/dev/null | tail -n 1)
[ -n "$tok" ] || e2e_fail "token create failed"
list=$("$dc_bin/vigil-verifier" token list --config "$conf" 2>&1) || e2e_fail "token list failed: $list"
grep -q 'e2e-revoke' <<<"$list" || e2e_fail "token list lacks the label e2e-revoke"
grep -q "$tok" <<<"$list" && e2e_fail "token list shows a token"
c=$(code -H "Authorization: Bearer $tok" "$url/v1/nodes")
[ "$c" = 200 ] || e2e_fail "the new operator token answered $c before revocation"
"$dc_bin/vigil-verifier" token revoke --config "$conf" e2e-revoke >/dev/null 2>&1 ||
	e2e_fail "token revoke e2e-revoke failed"
c=$(code -H "Authorization: Bearer $tok" "$url/v1/nodes")
[ "$c" = 401 ] || e2e_fail "the revoked token answered $c, expected 401"
api "/v1/audit?limit=5" | jq -e '.items | any(.action == "token.revoke")' >/dev/null ||
	e2e_fail "GET /v1/audit does not list the revocation"
e2e_log "token list shows labels only; a revoked token is refused at once (audited)"

n=$(curl -fsS --cacert "$ca" "$url/metrics" |
	sed -n 's|^vigil_http_requests_total{method="POST",route="/v1/agents/{id}/evidence",status="200"} ||p')
[ -n "$n" ] && [ "$n" -gt 0 ] || e2e_fail "/metrics counts no evidence pushes (got '$n')"
e2e_log "/metrics: $n evidence pushes answered 200"
echo "PASS"
