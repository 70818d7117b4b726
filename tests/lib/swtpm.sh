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

# swtpm_setup (0.7) provisions no ECC P-256 EK: swtpm_provision_p256 DIR
# TCTI [CERT] creates one from the EK Credential Profile template L-2 at
# 0x81010002 (tpm2_createek -G ecc) and, unless CERT is "nocert", writes
# to NV 0x01c0000a a DER certificate for it issued by the local vendor CA
# that swtpm_provision made (its signkey.pem and issuercert.pem: test keys
# made by the tests). Once per TPM state: a marker in DIR remembers it.
swtpm_provision_p256() {
	local dir=$1 tcti=$2 cert=${3:-cert} ca size
	ca=$(swtpm_ca_dir "$dir")
	[ -f "$dir/p256.provisioned" ] && return 0
	TPM2TOOLS_TCTI=$tcti tpm2_readpublic -c 0x81010002 -f pem \
		-o "$dir/ek-p256.pem" >>"$dir/swtpm_setup.log" 2>&1 ||
		TPM2TOOLS_TCTI=$tcti tpm2_createek -G ecc -c 0x81010002 \
		-f pem -u "$dir/ek-p256.pem" >>"$dir/swtpm_setup.log" 2>&1 || {
		echo "tpm2_createek -G ecc failed for $dir" >&2
		return 1
	}
	if [ "$cert" != nocert ]; then
		swtpm_p256_cert "$dir" "$ca/signkey.pem" "$ca/issuercert.pem" \
			"$dir/ek-p256-cert.der" || return 1
		size=$(stat -c %s "$dir/ek-p256-cert.der")
		TPM2TOOLS_TCTI=$tcti tpm2_nvdefine 0x01c0000a -C o -s "$size" \
			-a "ownerwrite|ownerread|authread|no_da" \
			>>"$dir/swtpm_setup.log" 2>&1 || {
			echo "tpm2_nvdefine 0x01c0000a failed for $dir" >&2
			return 1
		}
		TPM2TOOLS_TCTI=$tcti tpm2_nvwrite 0x01c0000a -C o \
			-i "$dir/ek-p256-cert.der" >>"$dir/swtpm_setup.log" 2>&1 || {
			echo "tpm2_nvwrite 0x01c0000a failed for $dir" >&2
			return 1
		}
	fi
	touch "$dir/p256.provisioned"
}

# swtpm_p256_cert DIR CAKEY CACERT OUT: a DER EK certificate for
# DIR/ek-p256.pem signed by CAKEY/CACERT (a TCG-style EK certificate:
# empty subject, keyAgreement, the EK certificate extended key usage).
swtpm_p256_cert() {
	local dir=$1 cakey=$2 cacert=$3 out=$4 ext
	ext=$(mktemp "$dir/ekext.XXXXXX")
	cat >"$ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyAgreement
extendedKeyUsage = 2.23.133.8.1
subjectAltName = critical,dirName:ek_san
[ek_san]
m.2.23.133.2.1 = UTF8:id:00001014
v.2.23.133.2.2 = UTF8:swtpm
r.2.23.133.2.3 = UTF8:id:20191023
EXT
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout /dev/null -subj "/CN=unused" 2>/dev/null |
		openssl x509 -req -force_pubkey "$dir/ek-p256.pem" \
			-CA "$cacert" -CAkey "$cakey" -set_serial "0x$(openssl rand -hex 12)" \
			-days 3650 -extfile "$ext" -subj "/" -outform DER -out "$out" \
			>>"$dir/swtpm_setup.log" 2>&1
	local rc=$?
	rm -f "$ext"
	[ $rc -eq 0 ] || echo "making the P-256 EK certificate for $dir failed" >&2
	return $rc
}
