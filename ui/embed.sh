#!/bin/sh
# Turns the dashboard's static files (ui/*.html, *.js, *.css, *.svg) into C
# arrays for the verifier:
#   const struct ui_file ui_files[]; const size_t ui_files_n;
# (see verifier/routes_ui.h). Run by the Makefile; the output is not
# committed. Each file is served at /ui/NAME; NAME must be one path segment
# the router accepts ([a-z0-9._-]), and its type is known by its suffix.
set -eu
echo '/* Built from ui/ by ui/embed.sh. Do not edit. */'
echo '#include <stddef.h>'
echo '#include "verifier/routes_ui.h"'
i=0
for f in "$@"; do
	base=$(basename "$f")
	if ! echo "$base" | grep -Eq '^[a-z0-9][a-z0-9._-]*\.(html|js|css|svg)$'; then
		echo "ui/embed.sh: $f: dashboard files are named [a-z0-9._-].{html,js,css,svg}" >&2
		exit 1
	fi
	if [ ! -s "$f" ]; then
		echo "ui/embed.sh: $f is empty" >&2
		exit 1
	fi
	echo "static const unsigned char ui_f$i[] = {"
	od -An -v -tx1 "$f" | sed -e 's/  */ /g' -e 's/^ //' -e '/^$/d' \
	    -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
	echo "};"
	i=$((i + 1))
done
echo 'const struct ui_file ui_files[] = {'
i=0
for f in "$@"; do
	base=$(basename "$f")
	tag=$(sha256sum "$f" | cut -c1-32)
	printf '\t{ "%s", ui_f%d, sizeof(ui_f%d), "\\"%s\\"" },\n' "$base" "$i" "$i" "$tag"
	i=$((i + 1))
done
echo '};'
echo 'const size_t ui_files_n = sizeof(ui_files) / sizeof(ui_files[0]);'
