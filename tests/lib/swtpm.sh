# shellcheck shell=bash
# Sourced by tests and deploy/demo.sh: start and stop swtpm instances that
# look like a provisioned TPM 2.0 (RSA-2048 and ECC P-384 EKs persisted at
# 0x81010001 / 0x81010016 with certificates in NV from a local CA).
#
#   swtpm_provision DIR           # state in DIR/state, CA in DIR/../localca
#   swtpm_start DIR PORT [LOG]    # TPM on PORT, control channel on PORT+1;
#                                 # log to LOG (default DIR/swtpm.log)
#   swtpm_stop DIR
#   swtpm_ca_dir DIR              # where the vendor CA certificates are

swtpm_ca_dir() {
	echo "${SWTPM_CA_DIR:-$(dirname "$1")/localca}"
}

swtpm_provision() {
	local dir=$1 ca
	ca=$(swtpm_ca_dir "$dir")
	mkdir -p "$dir/state" "$ca"
	[ -f "$dir/state/tpm2-00.permall" ] && return 0
	cat >"$ca/swtpm-localca.conf" <<CONF
statedir = $ca
signingkey = $ca/signkey.pem
issuercert = $ca/issuercert.pem
certserial = $ca/certserial
CONF
	cat >"$ca/swtpm-localca.options" <<CONF
--platform-manufacturer Vigil
--platform-version 2.1
--platform-model VigilNode
CONF
	cat >"$dir/swtpm_setup.conf" <<CONF
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $ca/swtpm-localca.conf
create_certs_tool_options = $ca/swtpm-localca.options
CONF
	# swtpm_localca serializes on a lock in its statedir; several nodes
	# may be provisioned at once.
	swtpm_setup --tpm2 --tpmstate "$dir/state" --config "$dir/swtpm_setup.conf" \
		--createek --create-ek-cert --create-platform-cert --lock-nvram \
		--pcr-banks sha256 --overwrite >"$dir/swtpm_setup.log" 2>&1 || {
		echo "swtpm_setup failed for $dir; see $dir/swtpm_setup.log" >&2
		cat "$dir/swtpm_setup.log" >&2
		return 1
	}
}

swtpm_start() {
	local dir=$1 port=$2 log=${3:-$1/swtpm.log} i
	swtpm socket --tpm2 --tpmstate dir="$dir/state" \
		--server type=tcp,port="$port",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
		--flags not-need-init,startup-clear \
		--pid file="$dir/swtpm.pid" --log file="$log" \
		--daemon || return 1
	for i in $(seq 50); do
		TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port" \
			tpm2_getcap properties-fixed >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "swtpm on port $port did not answer; see $log" >&2
	return 1
}

swtpm_stop() {
	local dir=$1 pid i
	[ -f "$dir/swtpm.pid" ] || return 0
	pid=$(cat "$dir/swtpm.pid")
	kill "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		# A zombie waiting for its new parent to reap it is gone too.
		[ "$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" = Z ] && break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$dir/swtpm.pid"
}
