# vigil-psed on the nodes of a local demo cluster (docs/pse.md), sourced by
# deploy/demo.sh. Per node, in boot order (DESIGN.md "Sealed keys and the
# cap"):
#   dc_pse_prepare  vigil-psed init: platform and transport keys, the
#                   platform key certified by the demo's platform vendor CA
#   dc_pse_seal     after the boot step: keys sealed to PCRs 0-7, 11
#   dc_pse_start    measures vigil-psed's image and keys and the AK hand-off
#                   (the "MSR" the boot step wrote) into the runtime log
#                   (PCR 23), then vigil-psed unseals once and serves its
#                   socket; without
#                   vigil-smmd on the node it then caps PCR 11 itself
#                   (with it, dc_smm_start caps after both are up)
# Set DC_NO_PSE=1 for nodes without it.
# shellcheck shell=bash

dc_pse_wanted() {
	[ -z "${DC_NO_PSE:-}" ] && [ -x "$dc_bin/vigil-psed" ]
}

# The platform vendor CA of the demo PKI (deploy/pki/make-ca.sh).
dc_pse_ca() {
	local dir=$1
	[ -f "$dir/pki/platform-ca.pem" ] && return 0
	"$dc_top/deploy/pki/make-ca.sh" --out "$dir/pki" --kind platform \
		>>"$dir/logs/pki.log" 2>&1 || {
		dc_err "creating the platform vendor CA failed; see $dir/logs/pki.log"
		return 1
	}
}

dc_pse_prepare() {
	local dir=$1 name=$2 nd
	nd=$(dc_ndir "$dir" "$name")
	dc_pse_wanted || return 0
	dc_pse_ca "$dir" || return 1
	mkdir -p "$nd/vtpm"
	[ -d "$nd/pse" ] && return 0
	"$dc_bin/vigil-psed" init --dir "$nd/pse" \
		--vendor-ca-cert "$dir/pki/platform-ca.pem" \
		--vendor-ca-key "$dir/pki/platform-ca.key" \
		>>"$dir/logs/$name-psed.log" 2>&1 || {
		dc_err "vigil-psed init of $name failed; see $dir/logs/$name-psed.log"
		return 1
	}
}

# Lines for the node's env.sh: what `vigil-agent vm ...` needs.
dc_pse_env() {
	local nd=$1
	[ -d "$nd/pse" ] || return 0
	echo "export VIGIL_PSE_SOCKET=$(dc_q "$nd/psed.sock")"
	echo "export VIGIL_VTPM_DIR=$(dc_q "$nd/vtpm")"
	echo "export VIGIL_AGENT_CONFIG=$(dc_q "$nd/agent.conf")"
}

# On the first boot: seals the pending keys to this boot's PCRs (every
# later boot measures the same and unseals them again).
dc_pse_seal() {
	local dir=$1 name=$2 nd
	nd=$(dc_ndir "$dir" "$name")
	[ -f "$nd/pse/keys.pending" ] || return 0
	"$dc_bin/vigil-psed" seal --dir "$nd/pse" --tcti "$(dc_tcti "$dir" "$name")" \
		--current >>"$dir/logs/$name-psed.log" 2>&1 || {
		dc_err "sealing $name's vigil-psed keys failed; see $dir/logs/$name-psed.log"
		return 1
	}
}

dc_pse_start() {
	local dir=$1 name=$2 nd user=()
	nd=$(dc_ndir "$dir" "$name")
	[ -d "$nd/pse" ] || return 0
	dc_alive "$nd/psed.pid" vigil-psed && return 0
	dc_measure "$dir" "$name" --pse-image "$dc_bin/vigil-psed" \
		--pse-pubkey "$nd/pse/platform.pub.der" \
		--pse-cert "$nd/pse/platform-cert.der" \
		--pse-transport-pubkey "$nd/pse/transport.pub.der" &&
		dc_measure "$dir" "$name" --handoff "$nd/msr" || return 1
	[ "$(id -u)" = 0 ] && user=(--user nobody)
	rm -f "$nd/psed.sock"
	"$dc_bin/vigil-psed" run --dir "$nd/pse" --tcti "$(dc_tcti "$dir" "$name")" \
		--socket "$nd/psed.sock" --msr "$nd/msr" "${user[@]}" \
		>>"$dir/logs/$name-psed.log" 2>&1 </dev/null &
	echo $! >"$nd/psed.pid"
	disown $! 2>/dev/null || true
	for _ in $(seq 100); do
		[ -S "$nd/psed.sock" ] && break
		if ! dc_running "$(cat "$nd/psed.pid")"; then
			dc_err "vigil-psed of $name exited at start; see $dir/logs/$name-psed.log"
			dc_tail "$dir/logs/$name-psed.log"
			return 1
		fi
		sleep 0.1
	done
	[ -S "$nd/psed.sock" ] || { dc_err "vigil-psed of $name does not listen"; return 1; }
	# With vigil-smmd, dc_smm_start caps once both unsealed.
	[ -f "$nd/smm.conf" ] && return 0
	dc_measure "$dir" "$name" --cap
}

# vigil-psed and the node's running vTPMs go down with the node.
dc_pse_kill() {
	local dir=$1 name=$2 nd f
	nd=$(dc_ndir "$dir" "$name")
	dc_kill "$nd/psed.pid" vigil-psed "${3:-TERM}"
	for f in "$nd"/vtpm/*/swtpm.pid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
}

# The VM step of the demo: tenant acme declares a VM, starts it on node1
# (its vTPM's EK certified by node1's PSE, its AK enrolled), attests it,
# migrates it to node2 (its state sealed to node2's MigE, relayed by the
# verifier) and attests it again there.
dc_demo_vm() {
	local dir=$1 interval=$2 tok url work vm out n1 n2 refs
	[ -d "$(dc_ndir "$dir" node1)/pse" ] && [ -d "$(dc_ndir "$dir" node2)/pse" ] || return 0
	tok=$(jq -r '.tenants.acme' "$dir/cluster.json")
	url=$(dc_url "$dir")
	n1=$(dc_node_id "$dir" node1)
	n2=$(dc_node_id "$dir" node2)
	work=$dir/demo-vm
	mkdir -p "$work"
	echo "guest firmware 1.0" >"$work/firmware"
	echo "guest kernel 6.1" >"$work/kernel"
	dc_vigil() {
		(
			dc_insecure "$dir" || export VIGIL_CACERT
			dc_insecure "$dir" || VIGIL_CACERT=$(dc_cacert "$dir")
			VIGIL_URL=$url VIGIL_TOKEN=$tok "$dc_bin/vigil" "$@"
		)
	}
	# dc_on NODE CMD...: a command run "on" a node (its env.sh).
	dc_on() {
		local node=$1
		shift
		(
			# shellcheck disable=SC1090
			. "$(dc_ndir "$dir" "$node")/env.sh"
			"$@"
		)
	}
	echo "Tenant acme declares a VM and starts it on node1 (vigil vm create; vigil-agent vm start):"
	echo "its vTPM's EK certificate comes from node1's platform service enclave (vigil-psed)..."
	vm=$(dc_vigil vm create demo-vm 2>>"$work/err") || return 1
	dc_on node1 "$dc_bin/vigil-agent" vm start "$vm" --firmware "$work/firmware" \
		--kernel "$work/kernel" >"$work/start.out" 2>>"$work/err" || { tail -n 5 "$work/err" >&2; return 1; }
	grep -q enrolled "$work/start.out" || return 1
	# The guest reference values: this known-good guest's vTPM PCRs 0 and 4.
	refs=$(TPM2TOOLS_TCTI=$(cat "$(dc_ndir "$dir" node1)/vtpm/$vm/tcti") tpm2_pcrread sha256:0,4 |
		awk '/0x/ { v = $3; sub(/^0x/, "", v); printf "%s\"%s\": [\"%s\"]", (n++ ? ", " : ""), $1, tolower(v) }')
	echo "{\"pcrs\": {$refs}}" >"$work/guest-refs.json"
	dc_vigil vm reference-values put "$work/guest-refs.json" >/dev/null 2>>"$work/err" || return 1
	out=$(dc_vigil --json vm attest "$vm" --wait $((interval * 6 / 1000 + 10)) 2>>"$work/err")
	[ "$(jq -r '.status + " " + .result.host.node' <<<"$out")" = "affirming $n1" ] ||
		{ echo "  attestation on node1: $out" >&2; return 1; }
	echo "  VM ${vm:0:12}... attested affirming: its vTPM quote, node1's certified AK and"
	echo "  node1's quote vouching for that vTPM all check out, and node1 is affirming"
	echo "Migrating it to node2 (vigil-agent vm migrate): its vTPM state is sealed to node2's"
	echo "migration enclave and handed over through the verifier, which never sees it in clear..."
	dc_on node1 "$dc_bin/vigil-agent" vm migrate "$vm" --to node2 >/dev/null 2>>"$work/err" ||
		{ tail -n 5 "$work/err" >&2; return 1; }
	[ -e "$(dc_ndir "$dir" node1)/vtpm/$vm" ] && { echo "  node1 still holds a copy" >&2; return 1; }
	out=$(dc_vigil --json vm attest "$vm" --wait $((interval * 6 / 1000 + 10)) 2>>"$work/err")
	[ "$(jq -r '.status + " " + .result.host.node' <<<"$out")" = "affirming $n2" ] ||
		{ echo "  attestation on node2: $out" >&2; return 1; }
	out=$(dc_api "$dir" "/v1/vms/$vm") || return 1
	[ "$(jq -r '[.placements[].node] | join(" ")' <<<"$out")" = "$n1 $n2" ] || return 1
	echo "  a VM attested and migrated: affirming again, now on node2; placement history"
	echo "  node1 -> node2, and node1 deleted its copy of the vTPM state"
}
