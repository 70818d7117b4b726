#!/usr/bin/env bash
# A local Vigil cluster on loopback: one verifier and N emulated nodes, each
# with its own swtpm, measured-boot step, hypervisor process (fakehv, the
# test hypervisor, when built), vigil-smmd measuring it, and vigil-agent.
# DC_NO_SMM=1: no vigil-smmd, and a copy of sleep(1) as the hypervisor.
#
#   deploy/demo.sh start --dir DIR --nodes N [--interval-ms MS] [--ek rsa|ecc|p256|mixed]
#                      [--insecure-http]   plain HTTP instead of HTTPS with mTLS
#                                          (DC_INSECURE_HTTP=1 does the same)
#                      [--firmware-log FILE]  boot every node from a real
#                                          machine's firmware event log (its
#                                          digests extended in log order, each
#                                          bank; the agent reads FILE as its
#                                          event_log); Vigil's services still
#                                          write each node's runtime log
#   deploy/demo.sh stop --dir DIR
#   deploy/demo.sh run                 the narrated scenario (`make demo`);
#                                      ONCE=1: one pass, exit 0 only if all went as expected
#   deploy/demo.sh status --dir DIR    each node's status as the verifier sees it
#
# Helpers used by tests/e2e/lib.sh (one implementation for the demo and tests):
#   deploy/demo.sh node-reboot --dir DIR --node NAME
#   deploy/demo.sh agent-start|agent-kill --dir DIR --node NAME [--signal SIG]
#   deploy/demo.sh verifier-start|verifier-kill --dir DIR [--signal SIG]
#
# BUILD (default build) names the build directory whose bin/ is used.
# Layout of DIR: see docs/demo.md. This file can also be sourced (functions
# only, prefix dc_).

dc_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) dc_bin=$BUILD/bin ;;
*) dc_bin=$dc_top/$BUILD/bin ;;
esac
# shellcheck source=../tests/lib/swtpm.sh
. "$dc_top/tests/lib/swtpm.sh"
# shellcheck source=demo-pse.sh
. "$dc_top/deploy/demo-pse.sh"

DC_TENANTS=(acme globex)
dc_used_ports=" "

dc_say() { printf '%s\n' "$*"; }
dc_err() { printf 'demo: %s\n' "$*" >&2; }

# Prints the last lines of a log file, indented, to stderr.
dc_tail() {
	[ -f "$1" ] || return 0
	echo "---- last lines of $1:" >&2
	tail -n "${2:-15}" "$1" | sed 's/^/    /' >&2
}

dc_need_tools() {
	local t missing=
	for t in swtpm swtpm_setup tpm2_getcap tpm2_readpublic tpm2_pcrextend tpm2_shutdown \
		openssl curl jq sqlite3; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		dc_err "missing tools:$missing (run deploy/install-deps.sh)"
		return 1
	fi
}

dc_need_bins() {
	local b
	for b in vigil-verifier vigil-agent; do
		if [ ! -x "$dc_bin/$b" ]; then
			dc_err "$dc_bin/$b not found; build it with: make BUILD=$BUILD all"
			return 1
		fi
	done
}

# A free TCP port on 127.0.0.1 (and the one after it when $1 = pair), not
# handed out before by this shell, in dc_port. The ports come from below
# the kernel's ephemeral range (ip_local_port_range), so an outgoing
# connection cannot take one between this check and the bind.
dc_free_port() {
	local want=${1:-one} p i low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	[ "$low" -gt 12000 ] || low=32768
	for i in $(seq 200); do
		p=$((10000 + RANDOM % (low - 10002)))
		case $dc_used_ports in *" $p "* | *" $((p + 1)) "*) continue ;; esac
		dc_port_free "$p" || continue
		if [ "$want" = pair ]; then
			dc_port_free $((p + 1)) || continue
		fi
		dc_used_ports="$dc_used_ports$p $((p + 1)) "
		dc_port=$p
		return 0
	done
	dc_err "no free TCP port found on 127.0.0.1"
	return 1
}

dc_port_free() {
	if command -v ss >/dev/null; then
		[ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
	else
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 1
		fi
	fi
}

# dc_running PID: the process exists and is not a zombie (a dead child
# whose new parent has not reaped it yet still answers kill -0).
dc_running() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ "$st" != Z ]
}

# dc_alive PIDFILE PATTERN: the process named in PIDFILE runs and its command
# line contains PATTERN (so a recycled pid is never taken for ours).
dc_alive() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$pid" ] && dc_running "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# dc_kill PIDFILE PATTERN [SIGNAL]: with TERM (default) waits up to 5 s,
# then KILLs, and removes PIDFILE; with another signal only sends it
# (KILL: also waits for the process to go and removes PIDFILE).
dc_kill() {
	local file=$1 pat=$2 sig=${3:-TERM} pid
	if ! dc_alive "$file" "$pat"; then
		rm -f "$file"
		return 0
	fi
	pid=$(cat "$file")
	[ "$sig" = TERM ] && kill -CONT "$pid" 2>/dev/null
	kill -s "$sig" "$pid" 2>/dev/null || true
	case $sig in
	TERM | KILL) ;;
	*) return 0 ;;
	esac
	for _ in $(seq 50); do
		dc_running "$pid" || break
		sleep 0.1
	done
	if dc_running "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.1
	fi
	rm -f "$file"
}

# ---- verifier ----------------------------------------------------------

# The CA file that certifies the verifier's HTTPS certificate (curl
# --cacert, VIGIL_CACERT, [agent] verifier_ca).
dc_cacert() { echo "$1/pki/server-ca.pem"; }

# Succeeds if the cluster in DIR runs plain HTTP (start --insecure-http).
dc_insecure() { case $(dc_url "$1") in http://*) return 0 ;; *) return 1 ;; esac; }

# curl for the cluster in DIR: trusts its server CA.
dc_curl() {
	local dir=$1
	shift
	if dc_insecure "$dir"; then
		curl "$@"
	else
		curl --cacert "$(dc_cacert "$dir")" "$@"
	fi
}

dc_verifier_conf() {
	local dir=$1 port=$2 interval=$3 ca=$1/nodes/localca tls
	if dc_insecure "$dir"; then
		tls="insecure_http = yes"
	else
		tls="insecure_http = no
tls_cert = $dir/pki/verifier.pem
tls_key = $dir/pki/verifier.key
client_ca = $dir/pki/agent-ca.pem"
	fi
	cat >"$dir/verifier/verifier.conf" <<CONF
; Written by deploy/demo.sh for a local demo cluster. Not for production:
; a demo PKI made on the spot (deploy/pki), and reference values learnt
; from the first quote.
[server]
listen = 127.0.0.1
port = $port
$tls
threads = 4
[store]
path = $dir/verifier/verifier.db
[attestation]
interval_ms = $interval
stale_intervals = 3
nonce_ttl_ms = 60000
tpm_ca = $ca/issuercert.pem, $ca/swtpm-localca-rootca-cert.pem
$([ -f "$dir/pki/platform-ca.pem" ] && echo "platform_ca = $dir/pki/platform-ca.pem")
learn_reference_values = yes
smm_image_tofu = yes
[ca]
cert = $dir/pki/agent-ca.pem
key = $dir/pki/agent-ca.key
[results]
key_dir = $dir/verifier/keys
[log]
level = info
CONF
}

dc_url() { cat "$1/verifier/url"; }

dc_verifier_start() {
	local dir=$1 url
	url=$(dc_url "$dir")
	if dc_alive "$dir/verifier/verifier.pid" vigil-verifier; then
		return 0
	fi
	# The verifier's log names tokens' owners and nodes: its own, 0600.
	(umask 077 && : >>"$dir/logs/verifier.log")
	# DC_VERIFIER_UID=N runs it as deploy/systemd's unit does: as an
	# unprivileged uid owning its state and keys, with CAP_SETUID and
	# CAP_SETGID ambient for the replay sandbox's id maps and nothing else.
	local as=()
	if [ -n "${DC_VERIFIER_UID:-}" ]; then
		chown -R "$DC_VERIFIER_UID:$DC_VERIFIER_UID" "$dir/verifier" \
			"$dir/pki/agent-ca.key" "$dir/pki/verifier.key" "$dir/logs/verifier.log"
		as=(setpriv --reuid="$DC_VERIFIER_UID" --regid="$DC_VERIFIER_UID" --clear-groups
			--inh-caps=-all,+setuid,+setgid --ambient-caps=-all,+setuid,+setgid
			--bounding-set=-all,+setuid,+setgid)
	fi
	"${as[@]}" "$dc_bin/vigil-verifier" --config "$dir/verifier/verifier.conf" \
		>>"$dir/logs/verifier.log" 2>&1 </dev/null &
	echo $! >"$dir/verifier/verifier.pid"
	disown $! 2>/dev/null || true
	for _ in $(seq 100); do
		# dc_running, not dc_alive: until the forked shell has exec'd,
		# the command line is still the shell's.
		if ! dc_running "$(cat "$dir/verifier/verifier.pid")"; then
			dc_err "vigil-verifier exited at start; see $dir/logs/verifier.log"
			dc_tail "$dir/logs/verifier.log"
			rm -f "$dir/verifier/verifier.pid"
			return 1
		fi
		dc_curl "$dir" -fsS -m 2 "$url/healthz" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	dc_err "vigil-verifier does not answer $url/healthz after 20 s; see $dir/logs/verifier.log"
	dc_tail "$dir/logs/verifier.log"
	return 1
}

dc_verifier_kill() {
	dc_kill "$1/verifier/verifier.pid" vigil-verifier "${2:-TERM}"
}

# dc_token DIR ROLE [TENANT]: creates a token, prints it.
dc_token() {
	local dir=$1 role=$2 tenant=${3:-} args
	args=(token create --config "$dir/verifier/verifier.conf" --role "$role"
		--label "demo-$role${tenant:+-$tenant}")
	[ -n "$tenant" ] && args+=(--tenant "$tenant")
	"$dc_bin/vigil-verifier" "${args[@]}" 2>>"$dir/logs/verifier-token.log" |
		tail -n 1
}

# dc_api DIR PATH: GET with the operator token; prints the body, fails on an
# HTTP error or no answer.
dc_api() {
	dc_curl "$1" -fsS -m 5 -H "Authorization: Bearer $(cat "$1/verifier/operator.token")" \
		"$(dc_url "$1")$2"
}

# ---- nodes ---------------------------------------------------------------

dc_ndir() { echo "$1/nodes/$2"; }
dc_tcti() { echo "swtpm:host=127.0.0.1,port=$(cat "$(dc_ndir "$1" "$2")/tpm_port")"; }
dc_node_names() {
	local d
	for d in "$1"/nodes/node*; do
		[ -d "$d" ] && basename "$d"
	done | sort -V
}

# The boot inputs: identical on every node so that learnt reference values
# generalize (PCRs 0-7; the per-node keys and the AK hand-off are in the
# runtime log's PCR 23, which is recomputed, not learnt).
dc_boot_files() {
	local nd=$1
	mkdir -p "$nd/boot"
	printf 'Vigil emulated firmware 1.0 (CRTM)\n' >"$nd/boot/firmware.bin"
	printf 'platform: vigil-node\ncpus: 2\nsecure_boot: on\n' >"$nd/boot/platform.conf"
	printf 'secure_boot: enforcing\ndb: vigil-demo-signer\ndbx: empty\n' >"$nd/boot/boot-policy"
	# The "hypervisor": fakehv (SMM nodes: vigil-smmd measures its code
	# pages), else a copy of sleep(1); the measured image is the image
	# the process runs.
	if [ -f "$nd/smm.conf" ]; then
		cp "$dc_bin/fakehv" "$nd/boot/hypervisor"
		# The public key vigil-smmd takes signed reference sets with is
		# part of the platform configuration (PCR 1).
		printf 'smm_refs_key_sha256: %s\n' "$(openssl dgst -sha256 -r \
			"$(dirname "$(dirname "$nd")")/pki/smm-refs.pub" | cut -d' ' -f1)" \
			>>"$nd/boot/platform.conf"
	else
		cp "$(command -v sleep)" "$nd/boot/hypervisor"
	fi
	chmod 0755 "$nd/boot/hypervisor"
}

# ---- SMM (issue 3, docs/smm.md) -----------------------------------------

dc_smm_wanted() {
	[ -z "${DC_NO_SMM:-}" ] && [ -x "$dc_bin/vigil-smmd" ] && [ -x "$dc_bin/fakehv" ]
}

# The key vigil-smmd takes signed reference sets with: the verifier's
# reference-set key (smm-refs.pem in its [results] key_dir, separate from
# the rotating result-signing keys), made here before the verifier starts
# so that the nodes' boot configuration can name it.
dc_smm_refs_key() {
	local dir=$1
	[ -f "$dir/pki/smm-refs.pub" ] && return 0
	mkdir -p "$dir/verifier/keys" && chmod 700 "$dir/verifier/keys"
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$dir/verifier/keys/smm-refs.pem") 2>>"$dir/logs/pki.log" &&
		openssl pkey -in "$dir/verifier/keys/smm-refs.pem" -pubout \
			-out "$dir/pki/smm-refs.pub" 2>>"$dir/logs/pki.log"
}

# vigil-smmd's keys (once) and configuration. It drops to user nobody when
# started as root: the directories on the way to its state are made
# traversable (not listable) for it.
dc_smm_prepare() {
	local dir=$1 name=$2 tcti=$3 nd
	nd=$(dc_ndir "$dir" "$name")
	mkdir -p "$nd/smm"
	chmod 711 "$dir" "$dir/nodes" "$nd"
	chmod 644 "$dir/pki/smm-refs.pub"
	"$dc_bin/vigil-smmd" init --state "$nd/smm" >>"$dir/logs/$name-smmd.log" 2>&1 || {
		dc_err "vigil-smmd init of $name failed; see $dir/logs/$name-smmd.log"
		return 1
	}
	cat >"$nd/smm.conf" <<CONF
; Written by deploy/demo.sh for $name of a local demo cluster.
[smmd]
socket = $nd/smm.sock
state_dir = $nd/smm
tcti = $tcti
user = nobody
verifier_key = $dir/pki/smm-refs.pub
scan_interval = 2
pause_bound_ms = 5
; demo: the first measurement becomes the reference (the operator opts in)
baseline_on_first_boot = yes
log_level = info

[target:hv]
pid_file = $nd/hypervisor.pid
CONF
}

# After the boot step's extends: on the first boot, seals vigil-smmd's keys
# to PCRs 0-7 and 11 as they are now (this boot's values, before the cap:
# every later boot measures the same and gets them again).
dc_smm_seal() {
	local dir=$1 name=$2 nd tcti
	nd=$(dc_ndir "$dir" "$name")
	[ -f "$nd/smm/keys.pending" ] || return 0
	tcti=$(dc_tcti "$dir" "$name")
	TPM2TOOLS_TCTI=$tcti tpm2_pcrread sha256:0,1,2,3,4,5,6,7,11 2>/dev/null |
		awk -F'[: ]+' '/0x/ { sub(/^0x/, "", $3); print $2, tolower($3) }' \
		>"$nd/smm/predicted-pcrs"
	[ "$(wc -l <"$nd/smm/predicted-pcrs")" -eq 9 ] || {
		dc_err "reading $name's PCRs for sealing failed"
		return 1
	}
	"$dc_bin/vigil-smmd" seal --state "$nd/smm" --tcti "$tcti" \
		--pcrs "$nd/smm/predicted-pcrs" >>"$dir/logs/$name-smmd.log" 2>&1 || {
		dc_err "sealing $name's vigil-smmd keys failed; see $dir/logs/$name-smmd.log"
		return 1
	}
}

# vigil-smmd measured into the runtime log and started (it unseals its
# keys once), then the cap of PCR 11 (in the runtime log too): from here on
# nobody on the node can unseal them again.
dc_smm_start() {
	local dir=$1 name=$2 nd
	nd=$(dc_ndir "$dir" "$name")
	[ -f "$nd/smm.conf" ] || return 0
	dc_alive "$nd/smmd.pid" vigil-smmd && return 0
	# vigil-smmd's image and public keys into the runtime log (PCR 23).
	dc_measure "$dir" "$name" --smm-image "$dc_bin/vigil-smmd" \
		--smm-log-pub "$nd/smm/log-signing.pub.der" \
		--smm-wrap-pub "$nd/smm/key-wrapping.pub.der" || return 1
	rm -f "$nd/smm.sock"
	"$dc_bin/vigil-smmd" run --config "$nd/smm.conf" \
		>>"$dir/logs/$name-smmd.log" 2>&1 </dev/null &
	echo $! >"$nd/smmd.pid"
	disown $! 2>/dev/null || true
	# dc_running, not dc_alive: until the forked shell has exec'd
	# vigil-smmd its command line is still the shell's.
	for _ in $(seq 100); do
		[ -S "$nd/smm.sock" ] && break
		if ! dc_running "$(cat "$nd/smmd.pid")"; then
			dc_err "vigil-smmd of $name exited at start; see $dir/logs/$name-smmd.log"
			dc_tail "$dir/logs/$name-smmd.log"
			return 1
		fi
		sleep 0.1
	done
	[ -S "$nd/smm.sock" ] || { dc_err "vigil-smmd of $name does not listen"; return 1; }
	dc_measure "$dir" "$name" --cap
}

dc_smm_kill() {
	dc_kill "$(dc_ndir "$1" "$2")/smmd.pid" vigil-smmd "${3:-TERM}"
}

# Single-quotes a value for a shell file.
dc_q() {
	local q="'\\''"
	printf "'%s'" "${1//\'/$q}"
}

dc_node_prepare() {
	local dir=$1 name=$2 ek=$3 nd port url vca=
	nd=$(dc_ndir "$dir" "$name")
	url=$(dc_url "$dir")
	dc_insecure "$dir" || vca="verifier_ca = $(dc_cacert "$dir")"
	mkdir -p "$nd/agent"
	echo "$ek" >"$nd/ek"
	# The firmware log: the boot step's, or a real machine's (read as is).
	local fwlog=$nd/binary_bios_measurements
	if [ -n "${DC_FIRMWARE_LOG:-}" ]; then
		echo "$DC_FIRMWARE_LOG" >"$nd/firmware-log"
		fwlog=$DC_FIRMWARE_LOG
	fi
	dc_boot_files "$nd"
	swtpm_provision "$nd" >/dev/null || return 1
	dc_free_port pair || return 1
	port=$dc_port
	echo "$port" >"$nd/tpm_port"
	dc_pse_prepare "$dir" "$name" || return 1
	local smmconf=
	if dc_smm_wanted; then
		dc_smm_refs_key "$dir" &&
			dc_smm_prepare "$dir" "$name" "swtpm:host=127.0.0.1,port=$port" || return 1
		dc_boot_files "$nd"
		smmconf="smm_socket = $nd/smm.sock"
	fi
	# DC_HOSTNAME_node2=NAME: the host name node2 registers with (tests of
	# hostile host names); by default the node's name.
	local hvar=DC_HOSTNAME_$name
	cat >"$nd/agent.conf" <<CONF
; Written by deploy/demo.sh for $name of a local demo cluster.
[agent]
verifier_url = $url
$vca
tcti = swtpm:host=127.0.0.1,port=$port
ek = $ek
event_log = $fwlog
runtime_log = $nd/runtime-log.cel
state_dir = $nd/agent
socket = $nd/agent.sock
socket_allow_uids = $(id -u)
hostname = ${!hvar:-$name}
spool_max_items = 10000
$smmconf
[log]
level = info
CONF
	{
		echo "# Source this to run commands \"on\" $name."
		echo "export VIGIL_URL=$(dc_q "$url")"
		dc_insecure "$dir" || echo "export VIGIL_CACERT=$(dc_q "$(dc_cacert "$dir")")"
		echo "export VIGIL_AGENT_SOCKET=$(dc_q "$nd/agent.sock")"
		echo "export TPM2TOOLS_TCTI=$(dc_q "swtpm:host=127.0.0.1,port=$port")"
		echo "export VIGIL_NODE_DIR=$(dc_q "$nd")"
		dc_pse_env "$nd"
	} >"$nd/env.sh"
}

dc_swtpm_start() {
	local nd
	nd=$(dc_ndir "$1" "$2")
	swtpm_start "$nd" "$(cat "$nd/tpm_port")" "$1/logs/$2-swtpm.log"
}

# The measured-boot step, as firmware: extends PCRs 0-7 and writes the
# firmware log (or replays the real one the node boots from), and writes
# the "MSR" on PSE nodes. The runtime log starts empty, as /run does after a
# reboot; the services append to it as they start (dc_smm_start,
# dc_pse_start).
dc_node_boot() {
	local dir=$1 name=$2 nd msr=()
	nd=$(dc_ndir "$dir" "$name")
	{
		echo "== boot $(date -u +%FT%TZ)"
	} >>"$dir/logs/$name-boot.log"
	rm -f "$nd/runtime-log.cel"
	[ -d "$nd/pse" ] && msr=(--msr "$nd/msr")
	local inputs=(--event-log "$nd/binary_bios_measurements"
		--firmware "$nd/boot/firmware.bin"
		--platform-config "$nd/boot/platform.conf"
		--hypervisor "$nd/boot/hypervisor"
		--boot-policy "$nd/boot/boot-policy")
	[ -f "$nd/firmware-log" ] && inputs=(--firmware-log "$(cat "$nd/firmware-log")")
	if ! "$dc_bin/vigil-agent" boot --tcti "$(dc_tcti "$dir" "$name")" \
		--ek "$(cat "$nd/ek")" "${inputs[@]}" "${msr[@]}" \
		>>"$dir/logs/$name-boot.log" 2>&1 </dev/null; then
		dc_err "the boot step of $name failed; see $dir/logs/$name-boot.log"
		dc_tail "$dir/logs/$name-boot.log"
		return 1
	fi
	if [ -f "$nd/smm.conf" ]; then
		dc_smm_seal "$dir" "$name" || return 1
	fi
	dc_pse_seal "$dir" "$name" || return 1
}

# dc_measure DIR NAME WHAT...: `vigil-agent measure` into the node's
# runtime log (what vigil-smmd's and vigil-psed's units run on a real
# machine, docs/real-machines.md).
dc_measure() {
	local dir=$1 name=$2 nd
	shift 2
	nd=$(dc_ndir "$dir" "$name")
	"$dc_bin/vigil-agent" measure --tcti "$(dc_tcti "$dir" "$name")" \
		--runtime-log "$nd/runtime-log.cel" "$@" \
		>>"$dir/logs/$name-boot.log" 2>&1 </dev/null || {
		dc_err "vigil-agent measure $1 on $name failed; see $dir/logs/$name-boot.log"
		return 1
	}
}

# The agent id the verifier will use: lowercase hex SHA-256 of the marshaled
# EK TPMT_PUBLIC (tpm2_readpublic writes a TPM2B: skip its 2-byte size).
dc_node_local_id() {
	local dir=$1 name=$2 nd handle
	nd=$(dc_ndir "$dir" "$name")
	case $(cat "$nd/ek") in
	ecc) handle=0x81010016 ;;
	p256) handle=0x81010002 ;;
	*) handle=0x81010001 ;;
	esac
	TPM2TOOLS_TCTI=$(dc_tcti "$dir" "$name") tpm2_readpublic -c "$handle" \
		-f tss -o "$nd/ek.pub" >/dev/null 2>&1 || return 1
	tail -c +3 "$nd/ek.pub" | sha256sum | cut -c1-64
}

dc_hyp_start() {
	local dir=$1 name=$2 nd
	nd=$(dc_ndir "$dir" "$name")
	dc_alive "$nd/hypervisor.pid" "$nd/boot/hypervisor" && return 0
	if [ -f "$nd/smm.conf" ]; then
		"$nd/boot/hypervisor" >>"$dir/logs/$name-hypervisor.log" 2>&1 </dev/null &
	else
		"$nd/boot/hypervisor" infinity >>"$dir/logs/$name-hypervisor.log" 2>&1 </dev/null &
	fi
	echo $! >"$nd/hypervisor.pid"
	disown $! 2>/dev/null || true
}

dc_agent_start() {
	local dir=$1 name=$2 nd
	nd=$(dc_ndir "$dir" "$name")
	dc_alive "$nd/agent.pid" vigil-agent && return 0
	VIGIL_PSE_SOCKET=$nd/psed.sock VIGIL_VTPM_DIR=$nd/vtpm \
		"$dc_bin/vigil-agent" --config "$nd/agent.conf" \
		>>"$dir/logs/$name-agent.log" 2>&1 </dev/null &
	echo $! >"$nd/agent.pid"
	disown $! 2>/dev/null || true
	sleep 0.2
	if ! dc_running "$(cat "$nd/agent.pid")"; then
		dc_err "vigil-agent of $name exited at start; see $dir/logs/$name-agent.log"
		dc_tail "$dir/logs/$name-agent.log"
		return 1
	fi
}

dc_agent_kill() {
	dc_kill "$(dc_ndir "$1" "$2")/agent.pid" vigil-agent "${3:-TERM}"
}

dc_node_id() { cat "$(dc_ndir "$1" "$2")/id"; }

# dc_node_status DIR NAME: the node's status tier as the verifier reports it
# (affirming, warning, contraindicated, none), or "unknown".
dc_node_status() {
	local body
	body=$(dc_api "$1" "/v1/nodes/$(dc_node_id "$1" "$2")" 2>/dev/null) || {
		echo unknown
		return 0
	}
	jq -r '.status // "unknown"' <<<"$body" 2>/dev/null || echo unknown
}

# The reasons of the node's latest appraisal, one a line.
dc_node_reasons() {
	dc_api "$1" "/v1/nodes/$(dc_node_id "$1" "$2")" 2>/dev/null |
		jq -r '.appraisal.reasons[]? | if type == "string" then . else tojson end' 2>/dev/null
}

# dc_wait_status DIR NAME STATUS TIMEOUT_S
dc_wait_status() {
	local dir=$1 name=$2 want=$3 timeout=$4 end st
	end=$(($(date +%s) + timeout))
	while :; do
		st=$(dc_node_status "$dir" "$name")
		[ "$st" = "$want" ] && return 0
		if [ "$(date +%s)" -ge "$end" ]; then
			dc_err "$name is '$st', not '$want', after ${timeout}s"
			return 1
		fi
		sleep 0.5
	done
}

# Waits until the verifier knows the node (GET /v1/nodes/{id} answers).
dc_wait_registered() {
	local dir=$1 name=$2 timeout=$3 nd end id
	nd=$(dc_ndir "$dir" "$name")
	id=$(cat "$nd/id")
	end=$(($(date +%s) + timeout))
	until dc_api "$dir" "/v1/nodes/$id" >/dev/null 2>&1; do
		if ! dc_alive "$nd/agent.pid" vigil-agent; then
			dc_err "vigil-agent of $name exited; see $dir/logs/$name-agent.log"
			dc_tail "$dir/logs/$name-agent.log"
			return 1
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			dc_err "$name (id ${id:0:12}...) did not register within ${timeout}s; see $dir/logs/$name-agent.log and $dir/logs/verifier.log"
			dc_tail "$dir/logs/$name-agent.log"
			return 1
		fi
		sleep 0.3
	done
}

# An emulated reboot: the TPM loses power (swtpm stopped and started: PCRs
# reset, resetCount moves on), then the measured-boot step runs again. The
# agent is stopped before and started after, as on a real node, so it never
# quotes the half-booted PCRs in between (its spool and id survive). Like an
# OS going down in order, it first sends TPM2_Shutdown(CLEAR), so the TPM
# clock stays "safe"; DC_UNORDERLY=1 skips that (a power cut), which the
# verifier reports as an unorderly restart.
dc_node_reboot() {
	local dir=$1 name=$2 nd
	nd=$(dc_ndir "$dir" "$name")
	dc_agent_kill "$dir" "$name"
	dc_pse_kill "$dir" "$name"
	# SMM nodes: the service and the hypervisor go down with the node.
	if [ -f "$nd/smm.conf" ]; then
		dc_smm_kill "$dir" "$name"
		dc_kill "$nd/hypervisor.pid" "$nd/boot/hypervisor"
	fi
	if [ -z "${DC_UNORDERLY:-}" ]; then
		TPM2TOOLS_TCTI=$(dc_tcti "$dir" "$name") tpm2_shutdown -c \
			>>"$dir/logs/$name-boot.log" 2>&1 ||
			dc_err "TPM2_Shutdown on $name failed; rebooting anyway"
	fi
	swtpm_stop "$nd"
	dc_swtpm_start "$dir" "$name" || return 1
	dc_node_boot "$dir" "$name" || return 1
	dc_pse_start "$dir" "$name" || return 1
	if [ -f "$nd/smm.conf" ]; then
		dc_hyp_start "$dir" "$name" || return 1
		dc_smm_start "$dir" "$name" || return 1
		# A new hypervisor process: cluster.json names its pid.
		[ -f "$dir/cluster.json" ] && dc_write_cluster_json "$dir"
	fi
	dc_agent_start "$dir" "$name"
}

dc_write_cluster_json() {
	local dir=$1 name nd nodes='[]' tenants='{}' t
	for name in $(dc_node_names "$dir"); do
		nd=$(dc_ndir "$dir" "$name")
		nodes=$(jq -c --arg name "$name" --arg id "$(cat "$nd/id")" \
			--arg tcti "$(dc_tcti "$dir" "$name")" \
			--argjson hpid "$(cat "$nd/hypervisor.pid")" \
			--arg smm "$nd/smm.sock" --arg nd "$nd" --arg env "$nd/env.sh" \
			'. + [{name: $name, id: $id, tcti: $tcti, hypervisor_pid: $hpid,
			       smm_socket: $smm, dir: $nd, env: $env}]' <<<"$nodes")
	done
	for t in "${DC_TENANTS[@]}"; do
		tenants=$(jq -c --arg t "$t" --arg tok "$(cat "$dir/verifier/tenant-$t.token")" \
			'. + {($t): $tok}' <<<"$tenants")
	done
	jq -n --arg url "$(dc_url "$dir")" \
		--arg vca "$(dc_insecure "$dir" || dc_cacert "$dir")" \
		--arg op "$(cat "$dir/verifier/operator.token")" \
		--argjson tenants "$tenants" --argjson nodes "$nodes" \
		'{verifier_url: $url, operator_token: $op, tenants: $tenants,
		  nodes: $nodes} + (if $vca == "" then {} else {verifier_ca: $vca} end)' \
		>"$dir/cluster.json.tmp"
	mv "$dir/cluster.json.tmp" "$dir/cluster.json"
}

# dc_start DIR N INTERVAL_MS EKMODE [QUIET]: the whole cluster. On failure
# stops what it started and returns 1.
dc_start() {
	local dir=$1 n=$2 interval=$3 ekmode=$4 quiet=${5:-} k name ek port id tok t umask_old
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 64 ]; then
		dc_err "--nodes must be a number from 1 to 64"
		return 2
	fi
	if ! [[ $interval =~ ^[0-9]+$ ]] || [ "$interval" -lt 200 ]; then
		dc_err "--interval-ms must be a number >= 200"
		return 2
	fi
	case $ekmode in rsa | ecc | p256 | mixed) ;; *) dc_err "--ek must be rsa, ecc, p256 or mixed"; return 2 ;; esac
	dc_need_tools || return 1
	dc_need_bins || return 1
	if [ -d "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
		dc_err "$dir is not empty (an earlier cluster?); stop it with deploy/demo.sh stop --dir $dir, remove it, or pick a new directory"
		return 1
	fi
	mkdir -p "$dir/verifier" "$dir/nodes" "$dir/logs" "$dir/pki"
	dir=$(cd "$dir" && pwd)
	local say=dc_say
	[ -n "$quiet" ] && say=:

	$say "Creating the agent-client CA (deploy/pki/make-ca.sh)..."
	"$dc_top/deploy/pki/make-ca.sh" --out "$dir/pki" --kind agent >>"$dir/logs/pki.log" 2>&1 || {
		dc_err "creating the agent CA failed; see $dir/logs/pki.log"
		dc_stop "$dir"
		return 1
	}

	dc_free_port || { dc_stop "$dir"; return 1; }
	port=$dc_port
	if [ -n "${DC_INSECURE_HTTP:-}" ]; then
		echo "http://127.0.0.1:$port" >"$dir/verifier/url"
	else
		echo "https://127.0.0.1:$port" >"$dir/verifier/url"
		$say "Creating the demo server CA and the verifier's HTTPS certificate (deploy/pki/make-server-cert.sh)..."
		"$dc_top/deploy/pki/make-server-cert.sh" --out "$dir/pki" >>"$dir/logs/pki.log" 2>&1 || {
			dc_err "creating the server certificate failed; see $dir/logs/pki.log"
			dc_stop "$dir"
			return 1
		}
	fi

	# swtpm_provision creates the TPM vendor CA on the first node.
	for k in $(seq "$n"); do
		name=node$k
		case $ekmode in
		mixed) if [ $((k % 2)) -eq 1 ]; then ek=rsa; else ek=ecc; fi ;;
		*) ek=$ekmode ;;
		esac
		$say "Provisioning $name's TPM (swtpm, $ek EK certified by the local vendor CA)..."
		dc_node_prepare "$dir" "$name" "$ek" || { dc_err "preparing $name failed"; dc_stop "$dir"; return 1; }
	done

	dc_verifier_conf "$dir" "$port" "$interval"
	if dc_insecure "$dir"; then
		$say "Starting verifier on $(dc_url "$dir") (plain HTTP on loopback, interval ${interval} ms)..."
	else
		$say "Starting verifier on $(dc_url "$dir") (HTTPS; agents by mutual TLS; interval ${interval} ms)..."
	fi
	$say "  note: learn_reference_values = yes: the first node's quoted values become every node's reference (demo only)"
	$say "  note: smm_image_tofu = yes: each node's vigil-smmd image is trusted on first use, no smm_images listed (demo only)"
	dc_verifier_start "$dir" || { dc_stop "$dir"; return 1; }

	umask_old=$(umask)
	umask 077
	tok=$(dc_token "$dir" operator) || tok=
	if [ -z "$tok" ]; then
		umask "$umask_old"
		dc_err "vigil-verifier token create --role operator failed; see $dir/logs/verifier-token.log"
		dc_tail "$dir/logs/verifier-token.log"
		dc_stop "$dir"
		return 1
	fi
	echo "$tok" >"$dir/verifier/operator.token"
	for t in "${DC_TENANTS[@]}"; do
		tok=$(dc_token "$dir" tenant "$t") || tok=
		if [ -z "$tok" ]; then
			umask "$umask_old"
			dc_err "vigil-verifier token create --role tenant --tenant $t failed; see $dir/logs/verifier-token.log"
			dc_stop "$dir"
			return 1
		fi
		echo "$tok" >"$dir/verifier/tenant-$t.token"
	done
	umask "$umask_old"
	$say "Created tokens: one operator, tenants ${DC_TENANTS[*]}"

	for name in $(dc_node_names "$dir"); do
		local parts="swtpm, measured boot, test hypervisor"
		[ -f "$(dc_ndir "$dir" "$name")/smm.conf" ] && parts="$parts, vigil-smmd"
		[ -d "$(dc_ndir "$dir" "$name")/pse" ] && parts="$parts, vigil-psed"
		$say "Booting $name ($parts, agent)..."
		dc_swtpm_start "$dir" "$name" || { dc_err "swtpm of $name did not start"; dc_stop "$dir"; return 1; }
		# swtpm_setup makes no P-256 EK: the EK (template L-2) and its
		# certificate from the local vendor CA at NV 0x01c0000a.
		if [ "$(cat "$(dc_ndir "$dir" "$name")/ek")" = p256 ]; then
			swtpm_provision_p256 "$(dc_ndir "$dir" "$name")" "$(dc_tcti "$dir" "$name")" ||
				{ dc_err "provisioning $name's P-256 EK failed"; dc_stop "$dir"; return 1; }
		fi
		dc_node_boot "$dir" "$name" || { dc_stop "$dir"; return 1; }
		id=$(dc_node_local_id "$dir" "$name") || { dc_err "reading $name's EK failed"; dc_stop "$dir"; return 1; }
		echo "$id" >"$(dc_ndir "$dir" "$name")/id"
		dc_hyp_start "$dir" "$name" || { dc_stop "$dir"; return 1; }
		dc_pse_start "$dir" "$name" || { dc_stop "$dir"; return 1; }
		dc_smm_start "$dir" "$name" || { dc_stop "$dir"; return 1; }
		dc_agent_start "$dir" "$name" || { dc_stop "$dir"; return 1; }
	done
	for name in $(dc_node_names "$dir"); do
		dc_wait_registered "$dir" "$name" 60 || { dc_stop "$dir"; return 1; }
		$say "$name registered (id $(dc_node_id "$dir" "$name" | cut -c1-12)...)"
	done
	dc_write_cluster_json "$dir"
	$say "Cluster is up: $dir/cluster.json; logs in $dir/logs/"
}

# Stops everything under DIR; fine after a partial start, and idempotent.
dc_stop() {
	local dir=$1 nd
	[ -d "$dir" ] || return 0
	for nd in "$dir"/nodes/node*; do
		[ -d "$nd" ] || continue
		dc_kill "$nd/agent.pid" vigil-agent
	done
	dc_verifier_kill "$dir"
	for nd in "$dir"/nodes/node*; do
		[ -d "$nd" ] || continue
		dc_kill "$nd/smmd.pid" vigil-smmd
		dc_pse_kill "$dir" "$(basename "$nd")"
		dc_kill "$nd/hypervisor.pid" "$nd/boot/hypervisor"
		swtpm_stop "$nd"
	done
	rm -f "$dir/cluster.json"
}

# ---- the narrated scenario -----------------------------------------------

# The repeatable-computation step of the demo: tenant acme records a small
# deterministic program on node1 (every checkpoint quoted by node1's TPM),
# then has the verifier replay it in its sandbox.
dc_demo_computation() {
	local dir=$1 interval=$2 tok work id doc st n end
	tok=$(jq -r '.tenants.acme' "$dir/cluster.json")
	work=$dir/demo-computation
	mkdir -p "$work"
	echo "Recording a computation on node1 as tenant acme (vigil record): a program"
	echo "printing 40 numbered lines, with a checkpoint every 1000 bytes of output..."
	(
		# shellcheck disable=SC1091
		. "$(dc_ndir "$dir" node1)/env.sh"
		export VIGIL_TOKEN=$tok
		cd "$work" && "$dc_bin/vigil" record --name demo-lines \
			--checkpoint-every 1000 -- sh -c \
			'i=0; while [ $i -lt 40 ]; do printf "line %074d\n" $i; i=$((i+1)); done' \
			>"$work/out" 2>"$work/err"
	) || { tail -n 5 "$work/err" >&2; return 1; }
	id=$(tail -n 1 "$work/err")
	end=$(($(date +%s) + interval * 10 / 1000 + 20))
	while :; do
		doc=$(dc_api "$dir" "/v1/computations/$id") || return 1
		st=$(jq -r .status <<<"$doc")
		[ "$st" = complete ] && break
		[ "$st" = invalid ] && { echo "  the verifier found the record invalid: $doc" >&2; return 1; }
		[ "$(date +%s)" -lt "$end" ] || { echo "  still $st after waiting" >&2; return 1; }
		sleep 0.5
	done
	n=$(jq '.checkpoints | length' <<<"$doc")
	jq -e '[.checkpoints[].verdict] | length > 0 and all(. == "valid")' \
		<<<"$doc" >/dev/null || { echo "  not every checkpoint is valid: $doc" >&2; return 1; }
	echo "  computation ${id:0:12}...: $n checkpoints, each a quote by node1's TPM, all valid"
	echo "Verifying it by replay (vigil verify: the verifier re-runs it in a sandbox)..."
	(
		# shellcheck disable=SC1091
		. "$(dc_ndir "$dir" node1)/env.sh"
		export VIGIL_TOKEN=$tok
		"$dc_bin/vigil" verify "$id" --wait --timeout 120
	) | sed 's/^/  /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || return 1
}

# Where the dashboard is and how to sign in (docs/dashboard.md).
dc_demo_dashboard() {
	local dir=$1
	echo
	echo "Dashboard: $(dc_url "$dir")/ui/  - sign in with the operator token:"
	echo "  $(cat "$dir/verifier/operator.token")"
	echo "  (tenants' tokens: .tenants in $dir/cluster.json)"
	dc_insecure "$dir" ||
		echo "  The HTTPS certificate is from the demo's own CA, $(dc_cacert "$dir"): import it, or accept the browser's warning."
}

dc_run() {
	local dir once=${ONCE:-} interval=${DEMO_INTERVAL_MS:-2000} name st t0
	local -A last=()
	if [ -n "${DEMO_DIR:-}" ]; then
		dir=$DEMO_DIR
	else
		dir=$(mktemp -d /tmp/vigil-demo.XXXXXX)
	fi
	dc_run_dir=$dir
	# shellcheck disable=SC2317
	dc_run_cleanup() {
		trap - EXIT INT TERM
		echo
		echo "Stopping the cluster..."
		dc_stop "$dc_run_dir"
		echo "Stopped. Logs are kept in $dc_run_dir/logs/"
	}
	trap dc_run_cleanup EXIT
	trap 'exit 130' INT TERM

	fail() {
		echo "FAILED at step: $*" >&2
		exit 1
	}

	echo "Vigil demo: a verifier and 3 emulated nodes on loopback, in $dir"
	dc_start "$dir" 3 "$interval" mixed || fail "starting the cluster"

	local wait_s=$((interval * 10 / 1000 + 20))
	for name in node1 node2 node3; do
		dc_wait_status "$dir" "$name" affirming "$wait_s" ||
			{ dc_node_reasons "$dir" "$name" | sed 's/^/    reason: /' >&2; fail "$name becoming affirming"; }
		echo "$name affirming"
	done

	dc_demo_dashboard "$dir"

	echo
	dc_demo_computation "$dir" "$interval" || fail "recording a computation and verifying it by replay"

	if [ -d "$(dc_ndir "$dir" node1)/pse" ]; then
		echo
		dc_demo_vm "$dir" "$interval" || fail "a VM attested and migrated"
	fi

	echo
	echo "Simulating a tampered boot policy on node2: extending its PCR 7 behind the boot step's back..."
	TPM2TOOLS_TCTI=$(dc_tcti "$dir" node2) tpm2_pcrextend \
		"7:sha256=$(printf 'tampered boot policy' | sha256sum | cut -c1-64)" ||
		fail "tpm2_pcrextend on node2"
	t0=$(date +%s)
	dc_wait_status "$dir" node2 contraindicated $((interval * 4 / 1000 + 10)) ||
		fail "node2 becoming contraindicated"
	echo "node2 contraindicated after $(($(date +%s) - t0))s; the verifier says:"
	dc_node_reasons "$dir" node2 | sed 's/^/    /'
	for name in node1 node3; do
		st=$(dc_node_status "$dir" "$name")
		[ "$st" = affirming ] || fail "$name staying affirming (it is '$st')"
		echo "$name still affirming"
	done

	if [ -f "$(dc_ndir "$dir" node3)/smm.conf" ]; then
		echo
		echo "Tampering with node3's hypervisor at run time: it rewrites a few bytes of its"
		echo "own code (the boot measurements stay the same; only vigil-smmd, measuring the"
		echo "running hypervisor's code pages from below, can see it)..."
		kill -USR1 "$(cat "$(dc_ndir "$dir" node3)/hypervisor.pid")" ||
			fail "signalling node3's hypervisor"
		t0=$(date +%s)
		dc_wait_status "$dir" node3 contraindicated $((interval * 4 / 1000 + 10)) ||
			fail "node3 becoming contraindicated after its hypervisor was tampered with"
		echo "caught: node3 contraindicated after $(($(date +%s) - t0))s; the verifier says:"
		dc_node_reasons "$dir" node3 | grep -E 'changed in hypervisor|SMM' | sed 's/^/    /'
		dc_node_reasons "$dir" node3 | grep -q 'changed in hypervisor' ||
			fail "the verifier naming the changed page of node3's hypervisor"
		st=$(dc_node_status "$dir" node1)
		[ "$st" = affirming ] || fail "node1 staying affirming (it is '$st')"
		echo "node1 still affirming"
	fi

	if [ -n "$once" ]; then
		echo
		echo "All steps came out as expected."
		# Nothing to look into: remove the temporary cluster (DEMO_DIR or
		# KEEP=1 keep it).
		if [ -z "${DEMO_DIR:-}" ] && [ -z "${KEEP:-}" ]; then
			trap - EXIT
			dc_stop "$dir"
			rm -rf "$dir"
			echo "Stopped the cluster and removed $dir."
		fi
		exit 0
	fi

	echo
	echo "The cluster keeps running: $dir/cluster.json (source a node's env.sh to use tpm2-tools on it)."
	echo "Dashboard: $(dc_url "$dir")/ui/ (operator token in $dir/verifier/operator.token)"
	echo "Printing status changes; press Ctrl-C to stop."
	for name in $(dc_node_names "$dir"); do
		last[$name]=$(dc_node_status "$dir" "$name")
	done
	while :; do
		sleep "$(((interval + 999) / 1000))"
		for name in $(dc_node_names "$dir"); do
			st=$(dc_node_status "$dir" "$name")
			if [ "$st" != "${last[$name]}" ]; then
				echo "$(date -u +%T) $name: ${last[$name]} -> $st"
				dc_node_reasons "$dir" "$name" | sed 's/^/    /'
				last[$name]=$st
			fi
		done
	done
}

dc_usage() {
	sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

dc_main() {
	local cmd=${1:-} dir='' nodes=3 interval=10000 ek=mixed node='' sig=''
	[ $# -gt 0 ] && shift
	while [ $# -gt 0 ]; do
		case $1 in
		--dir) dir=${2:?}; shift ;;
		--nodes) nodes=${2:?}; shift ;;
		--interval-ms) interval=${2:?}; shift ;;
		--ek) ek=${2:?}; shift ;;
		--node) node=${2:?}; shift ;;
		--signal) sig=${2:?}; shift ;;
		--insecure-http) export DC_INSECURE_HTTP=1 ;;
		--firmware-log)
			[ -f "${2:?}" ] || { dc_err "--firmware-log: no file $2"; exit 2; }
			DC_FIRMWARE_LOG=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
			export DC_FIRMWARE_LOG
			shift ;;
		-h | --help) dc_usage ;;
		*) dc_err "unknown option $1"; dc_usage ;;
		esac
		shift
	done
	case $cmd in
	run) dc_run; return ;;
	start | stop | status | node-reboot | agent-start | agent-kill | verifier-start | verifier-kill) ;;
	*) dc_usage ;;
	esac
	[ -n "$dir" ] || { dc_err "$cmd needs --dir DIR"; exit 2; }
	case $cmd in
	start)
		trap 'dc_err "interrupted; stopping what was started"; dc_stop "$dir"; exit 130' INT TERM
		dc_start "$dir" "$nodes" "$interval" "$ek"
		trap - INT TERM ;;
	stop) dc_stop "$dir"; echo "stopped the cluster in $dir" ;;
	status)
		local name
		for name in $(dc_node_names "$dir"); do
			printf '%-8s %-16s %s\n' "$name" "$(dc_node_status "$dir" "$name")" \
				"$(cut -c1-16 "$(dc_ndir "$dir" "$name")/id" 2>/dev/null)"
		done ;;
	verifier-start) dc_verifier_start "$dir" ;;
	verifier-kill) dc_verifier_kill "$dir" "${sig:-TERM}" ;;
	*)
		[ -n "$node" ] || { dc_err "$cmd needs --node NAME"; exit 2; }
		[ -d "$(dc_ndir "$dir" "$node")" ] || { dc_err "no node $node in $dir"; exit 1; }
		case $cmd in
		node-reboot) dc_node_reboot "$dir" "$node" ;;
		agent-start) dc_agent_start "$dir" "$node" ;;
		agent-kill) dc_agent_kill "$dir" "$node" "${sig:-TERM}" ;;
		esac ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	dc_main "$@"
fi
