#!/bin/sh
# Builds Vigil's Debian packages from an installed tree (the Makefile's
# `make deb` runs `make install PREFIX=/usr DESTDIR=ROOT` first):
#   build-debs.sh ROOT OUTDIR
# Three packages, split by where they run:
#   vigil-verifier  the central verifier: its daemon, unit, config, man
#                   pages and /usr/share/vigil/openapi.json
#   vigil-agent     everything that runs on a node: vigil-agent and the
#                   node's own services vigil-smmd and vigil-psed (the boot
#                   step ties the three to one TPM; none is useful without
#                   the others), the vigil-smm tool, their units and users
#   vigil-cli       the `vigil` command for operators, tenants and CI
# Depends come from dpkg-shlibdeps (the libraries the binaries link).
# Maintainer scripts: deploy/debian/*.{postinst,prerm,postrm}. Nothing is
# enabled or started: every service needs keys and a config first.
set -eu
[ $# -eq 2 ] || { echo "usage: build-debs.sh ROOT OUTDIR" >&2; exit 2; }
root=$(cd "$1" && pwd) out=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^#define VIGIL_VERSION "\(.*\)"$/\1/p' "$src/verifier/main.c")
[ -n "$version" ] || { echo "build-debs.sh: no VIGIL_VERSION in verifier/main.c" >&2; exit 1; }
arch=$(dpkg --print-architecture)

# The files of each package, relative to ROOT.
files_vigil_verifier="usr/sbin/vigil-verifier
usr/lib/systemd/system/vigil-verifier.service
etc/vigil/verifier.conf
usr/share/vigil/openapi.json
usr/share/man/man8/vigil-verifier.8.gz
usr/share/man/man5/vigil-verifier.conf.5.gz"
files_vigil_agent="usr/sbin/vigil-agent
usr/sbin/vigil-smmd
usr/sbin/vigil-psed
usr/bin/vigil-smm
usr/lib/systemd/system/vigil-agent.service
usr/lib/systemd/system/vigil-smmd.service
usr/lib/systemd/system/vigil-psed.service
usr/lib/sysusers.d/vigil-agent.conf
etc/vigil/agent.conf
etc/vigil/smmd.conf
usr/share/man/man8/vigil-agent.8.gz
usr/share/man/man8/vigil-smmd.8.gz
usr/share/man/man8/vigil-psed.8.gz
usr/share/man/man1/vigil-smm.1.gz
usr/share/man/man5/vigil-agent.conf.5.gz
usr/share/man/man5/vigil-smmd.conf.5.gz"
files_vigil_cli="usr/bin/vigil
usr/share/man/man1/vigil.1.gz
usr/share/man/man5/vigil-cli.conf.5.gz
usr/share/doc/vigil/examples/cli.conf"

desc_vigil_verifier="Vigil attestation verifier
 The central verifier of Vigil: registers nodes' TPMs, appraises the
 evidence their agents push (TPM quotes, event logs, the SMM service's
 log, VM and computation evidence) and serves the results over a REST API
 (/usr/share/vigil/openapi.json)."
desc_vigil_agent="Vigil node agent, SMM service and platform service enclave
 The programs of an attested node: vigil-agent (TPM evidence, pushed to
 the verifier), vigil-smmd (the SMM measurement and key service,
 emulated), vigil-psed (the platform service and migration enclaves,
 emulated) and vigil-smm."
desc_vigil_cli="Vigil command line
 vigil: the command line of Vigil for operators, tenants and CI (nodes,
 reference values, recorded computations and their replays, results)."
extra_vigil_agent="Recommends: tpm-udev"

for pkg in vigil-verifier vigil-agent vigil-cli; do
	v=$(echo "$pkg" | tr - _)
	eval "files=\$files_$v desc=\$desc_$v extra=\${extra_$v:-}"
	d="$out/$pkg"
	rm -rf "$d"
	mkdir -p "$d/DEBIAN"
	for f in $files; do
		[ -e "$root/$f" ] || { echo "build-debs.sh: $pkg: $root/$f is missing" >&2; exit 1; }
		mkdir -p "$d/$(dirname "$f")"
		cp -p "$root/$f" "$d/$f"
	done
	mkdir -p "$d/usr/share/doc/$pkg"
	install -m 0644 "$here/copyright" "$d/usr/share/doc/$pkg/copyright"
	# Depends: the shared libraries of its ELF files, as dpkg-shlibdeps
	# finds them (it wants a debian/control to read).
	elves=$(for f in $files; do case $f in usr/bin/*|usr/sbin/*) echo "$d/$f";; esac; done)
	tmp=$(mktemp -d)
	mkdir -p "$tmp/debian"
	printf 'Source: vigil\n\nPackage: %s\nArchitecture: any\n' "$pkg" > "$tmp/debian/control"
	deps=$(cd "$tmp" && dpkg-shlibdeps -O $elves 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
	rm -rf "$tmp"
	[ -n "$deps" ] || { echo "build-debs.sh: $pkg: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
	case $pkg in
	# systemd-sysusers in postinst; a TCTI for tctildr to load.
	vigil-agent) deps="$deps, systemd, libtss2-tcti-device0 | libtss2-tcti-swtpm0" ;;
	esac
	size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
	{
		echo "Package: $pkg"
		echo "Version: $version"
		echo "Architecture: $arch"
		echo "Maintainer: Vigil developers <vigil@localhost>"
		echo "Installed-Size: $size"
		echo "Depends: $deps"
		[ -z "$extra" ] || echo "$extra"
		echo "Section: admin"
		echo "Priority: optional"
		echo "Description: $desc"
	} > "$d/DEBIAN/control"
	(cd "$d" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort) > "$d/DEBIAN/conffiles"
	[ -s "$d/DEBIAN/conffiles" ] || rm -f "$d/DEBIAN/conffiles"
	for s in postinst prerm postrm; do
		if [ -f "$here/$pkg.$s" ]; then
			install -m 0755 "$here/$pkg.$s" "$d/DEBIAN/$s"
		fi
	done
	(cd "$d" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' |
	    LC_ALL=C sort | xargs md5sum) > "$d/DEBIAN/md5sums"
	dpkg-deb --root-owner-group -Zxz --build "$d" "$out/${pkg}_${version}_${arch}.deb" >/dev/null
	echo "  DEB     $out/${pkg}_${version}_${arch}.deb"
done
