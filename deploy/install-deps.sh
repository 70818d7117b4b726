#!/usr/bin/env bash
# Installs the Debian packages Vigil builds, tests and runs with.
#   deploy/install-deps.sh             install (idempotent)
#   deploy/install-deps.sh --if-missing  install only when something is missing
#   deploy/install-deps.sh --check     say what is missing, install nothing
set -eu

PACKAGES=(
	build-essential pkg-config
	libssl-dev openssl			# OpenSSL 3 (EVP)
	libtss2-dev				# tpm2-tss: ESAPI, MU, RC, TCTI loader, swtpm TCTI
	libmicrohttpd-dev libgnutls28-dev	# HTTP server (TLS through GnuTLS)
	libcurl4-openssl-dev			# HTTP client of agents and the CLI
	libsqlite3-dev sqlite3			# store and spool
	libprotobuf-c-dev protobuf-c-compiler	# wire format
	libjansson-dev libjose-dev jose		# JSON, signed results
	libinih-dev				# config files
	libseccomp-dev				# replay sandbox
	libcmocka-dev				# unit tests
	swtpm swtpm-tools tpm2-tools		# TPMs of tests and the demo
	curl jq bc iproute2 procps		# scripts, end-to-end tests, benchmarks
	chromium nodejs				# the dashboard's browser test (tests/e2e/dashboard.sh)
	dpkg-dev systemd groff-base		# make deb (dpkg-shlibdeps), unit checks, man pages
)

missing() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || echo "$p"
	done
}

mode=${1:-install}
todo=$(missing)
case $mode in
--check)
	if [ -n "$todo" ]; then
		echo "missing packages:" $todo
		exit 1
	fi
	echo "all dependencies are installed"
	exit 0 ;;
--if-missing)
	[ -z "$todo" ] && exit 0 ;;
install) ;;
*) echo "usage: $0 [--if-missing|--check]" >&2; exit 2 ;;
esac

if [ -z "$todo" ]; then
	echo "install-deps: all dependencies are already installed"
	exit 0
fi
echo "install-deps: installing" $todo
sudo=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		sudo=sudo
	else
		echo "install-deps: not root and no sudo; run as root: apt-get install" $todo >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $todo
echo "install-deps: done"
