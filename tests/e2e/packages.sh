#!/usr/bin/env bash
# `make deb` builds vigil-verifier, vigil-agent and vigil-cli; installed
# with dpkg into a throwaway root they put every program, unit, config,
# man page and the OpenAPI document in place with the right modes, make
# the node's system users, carry hardened units that systemd-analyze
# verifies, and purge leaves nothing behind. No container: dpkg --root
# with --force-script-chrootless runs the maintainer scripts on this host
# with DPKG_ROOT set (the scripts touch only files under it).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
BUILD=${BUILD:-build}
fail() { echo "FAIL: $*"; exit 1; }
for t in dpkg dpkg-deb dpkg-shlibdeps systemd-analyze systemd-sysusers groff; do
	command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skipped: dpkg --root needs root"; exit 77; }
tmp=$(mktemp -d /tmp/vigil-packages.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
R=$tmp/root

make --no-print-directory -s deb BUILD="$BUILD" >"$tmp/make.log" 2>&1 ||
	{ tail -n 20 "$tmp/make.log"; fail "make deb failed"; }
case $BUILD in /*) out=$BUILD/deb ;; *) out=$top/$BUILD/deb ;; esac
debs=$(ls "$out"/*.deb)
[ "$(echo "$debs" | wc -l)" = 3 ] || fail "want 3 packages, got: $debs"
for p in vigil-verifier vigil-agent vigil-cli; do
	ls "$out/${p}_"*.deb >/dev/null 2>&1 || fail "no package $p"
done
# Test helpers and benchmarks stay out; every program is in one package.
progs=$(for d in $debs; do dpkg-deb -c "$d"; done | awk '{print $6}' |
	grep -E '^\./usr/s?bin/.' | sed 's|.*/||' | sort | tr '\n' ' ')
[ "$progs" = "vigil vigil-agent vigil-psed vigil-smm vigil-smmd vigil-verifier " ] ||
	fail "programs in the packages: $progs"
dpkg-deb -f "$out"/vigil-verifier_*.deb Depends | grep -q 'libmicrohttpd12' ||
	fail "vigil-verifier does not depend on libmicrohttpd12"
dpkg-deb -f "$out"/vigil-agent_*.deb Depends | grep -q 'libtss2-esys' ||
	fail "vigil-agent does not depend on libtss2-esys"

# Install into a fresh root.
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
dpkgr() { dpkg --root="$R" --force-script-chrootless --force-depends \
	--log=/dev/null "$@" >>"$tmp/dpkg.log" 2>&1; }
dpkgr -i $debs || { tail -n 20 "$tmp/dpkg.log"; fail "dpkg -i failed"; }
for p in vigil-verifier vigil-agent vigil-cli; do
	st=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' "$p")
	[ "$st" = "install ok installed" ] || fail "$p: status '$st'"
done

# Files and modes (mode owner:group path).
check_mode() {
	local want=$1 f=$2 got
	[ -e "$R$f" ] || fail "$f is not installed"
	got=$(stat -c '%a %U:%G' "$R$f")
	[ "$got" = "$want root:root" ] || fail "$f: $got, want $want root:root"
}
for f in /usr/sbin/vigil-verifier /usr/sbin/vigil-agent /usr/sbin/vigil-smmd \
    /usr/sbin/vigil-psed /usr/bin/vigil /usr/bin/vigil-smm; do
	check_mode 755 "$f"
done
for f in /etc/vigil/verifier.conf /etc/vigil/agent.conf /etc/vigil/smmd.conf \
    /usr/share/vigil/openapi.json /usr/lib/sysusers.d/vigil-agent.conf \
    /usr/share/doc/vigil/examples/cli.conf; do
	check_mode 644 "$f"
done
units="vigil-verifier vigil-agent vigil-smmd vigil-psed"
for u in $units; do check_mode 644 "/usr/lib/systemd/system/$u.service"; done
cmp -s "$R/usr/share/vigil/openapi.json" docs/openapi.json ||
	fail "/usr/share/vigil/openapi.json differs from docs/openapi.json"
"$R/usr/sbin/vigil-verifier" --version >/dev/null 2>&1 ||
	fail "the installed vigil-verifier does not run"
grep -qx /etc/vigil/verifier.conf "$R/var/lib/dpkg/info/vigil-verifier.conffiles" ||
	fail "verifier.conf is not a conffile"
grep -qx /etc/vigil/smmd.conf "$R/var/lib/dpkg/info/vigil-agent.conffiles" ||
	fail "smmd.conf is not a conffile"

# The node's system users, made by vigil-agent's postinst.
for u in vigil vigil-smm vigil-psed; do
	grep -q "^$u:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin\$" "$R/etc/passwd" ||
		fail "no system user $u: $(cat "$R/etc/passwd" 2>&1)"
done
grep -q '^tss:x:[0-9]*:\(.*,\)\?vigil\(,.*\)\?$' "$R/etc/group" || fail "vigil is not in group tss"

# A man page for every program and config file, rendering without a warning.
for m in man8/vigil-verifier.8 man8/vigil-agent.8 man8/vigil-smmd.8 \
    man8/vigil-psed.8 man1/vigil.1 man1/vigil-smm.1 \
    man5/vigil-verifier.conf.5 man5/vigil-agent.conf.5 \
    man5/vigil-smmd.conf.5 man5/vigil-cli.conf.5; do
	f=$R/usr/share/man/$m.gz
	check_mode 644 "/usr/share/man/$m.gz"
	warn=$(zcat "$f" | groff -k -man -Tutf8 -ww -z 2>&1)
	[ -z "$warn" ] || fail "$m: $warn"
	n=$(basename "$m"); n=${n%.*}
	zcat "$f" | groff -k -man -Tutf8 2>/dev/null | sed "s/.\x08//g" | grep -qE "^ *$n +- " ||
		fail "$m has no NAME line for $n"
done

# The units: ExecStart on the installed binaries, hardened, and valid for
# systemd. systemd-analyze verify checks the binaries exist, so it is run
# on copies whose paths point into the root (--root would need a whole
# systemd tree there).
mkdir -p "$tmp/units"
for u in $units; do
	f=$R/usr/lib/systemd/system/$u.service
	grep -q "/usr/sbin/$u run\|ExecStart=/usr/sbin/$u " "$f" ||
		fail "$u.service: ExecStart does not run /usr/sbin/$u"
	! grep "^ExecStart" "$f" | grep -q /usr/local || fail "$u.service: ExecStart still names /usr/local"
	for k in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
	    ProtectKernelModules=yes RestrictNamespaces= SystemCallFilter= \
	    CapabilityBoundingSet=; do
		grep -q "^$k" "$f" || fail "$u.service lacks $k"
	done
	sed "s|/usr/sbin/vigil-|$R/usr/sbin/vigil-|g" "$f" >"$tmp/units/$u.service"
done
grep -qx 'CapabilityBoundingSet=CAP_SETUID CAP_SETGID' \
    "$R/usr/lib/systemd/system/vigil-verifier.service" &&
grep -qx 'AmbientCapabilities=CAP_SETUID CAP_SETGID' \
    "$R/usr/lib/systemd/system/vigil-verifier.service" ||
	fail "vigil-verifier.service lost CAP_SETUID/CAP_SETGID (replay sandbox)"
v=$(systemd-analyze verify --man=no "$tmp"/units/*.service 2>&1) || fail "systemd-analyze verify: $v"
[ -z "$v" ] || fail "systemd-analyze verify warns: $v"
# Exposure (0 safe - 10 unsafe): every unit stays below "MEDIUM" (5).
for u in $units; do
	systemd-analyze security --offline=yes --threshold=40 \
	    "$tmp/units/$u.service" >"$tmp/sec.log" 2>&1 ||
		fail "$u.service: $(tail -n 1 "$tmp/sec.log")"
done

# Nothing enabled by the packages.
[ ! -e "$R/etc/systemd/system/multi-user.target.wants" ] ||
	fail "a package enabled a unit: $(ls "$R/etc/systemd/system/multi-user.target.wants")"

# Remove keeps the conffiles; purge removes them and the services' state.
mkdir -p "$R/var/lib/private/vigil-verifier" "$R/var/lib/vigil-agent" \
    "$R/var/lib/vigil-smmd" "$R/var/log/private/vigil-verifier" \
    "$R/etc/systemd/system/multi-user.target.wants"
: >"$R/var/lib/private/vigil-verifier/verifier.db"
: >"$R/var/lib/vigil-smmd/keys.sealed"
ln -s /usr/lib/systemd/system/vigil-agent.service "$R/etc/systemd/system/multi-user.target.wants/"
dpkgr -r vigil-verifier || fail "dpkg -r vigil-verifier failed"
[ -f "$R/etc/vigil/verifier.conf" ] || fail "remove (not purge) deleted verifier.conf"
[ ! -e "$R/usr/sbin/vigil-verifier" ] || fail "remove left /usr/sbin/vigil-verifier"
dpkgr --purge vigil-verifier vigil-agent vigil-cli || { tail -n 20 "$tmp/dpkg.log"; fail "purge failed"; }
left=$(cd "$R" && find . \( -path ./var/lib/dpkg -o -path ./etc/systemd \) -prune -o \
	! -type d -print | grep -vE '^\./etc/(passwd|group|shadow|gshadow|\.pwd\.lock)-?$')
[ -z "$left" ] || fail "purge left files: $left"
[ ! -e "$R/etc/systemd/system/multi-user.target.wants/vigil-agent.service" ] ||
	fail "purge left the agent's enablement link"
[ ! -e "$R/etc/vigil" ] || fail "purge left /etc/vigil"
[ ! -e "$R/var/lib/private/vigil-verifier" ] || fail "purge left the verifier's state"
echo "packages: 3 built, installed, verified and purged"
