#!/bin/sh
# Turns db/migrations/NNNN_name.sql files into a C array for the verifier:
#   const struct migration vigil_migrations[]; const size_t vigil_migrations_n;
# (see verifier/migrations.h). Run by the Makefile; the output is not committed.
# The files must be given in order (the Makefile sorts them); the store
# refuses to start if the numbers do not increase.
set -eu
echo '/* Built from db/migrations by db/embed.sh. Do not edit. */'
echo '#include <stddef.h>'
echo '#include "verifier/migrations.h"'
echo 'const struct migration vigil_migrations[] = {'
for f in "$@"; do
	base=$(basename "$f" .sql)
	if ! echo "$base" | grep -Eq '^[0-9]{4}_[A-Za-z0-9_]+$'; then
		echo "embed.sh: $f: migration files are named NNNN_name.sql" >&2
		exit 1
	fi
	num=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
	printf '\t{ %s, "%s",\n' "$num" "$base"
	# Each SQL line as a C string literal: escape \ " and ? (no trigraphs),
	# drop a CR, keep newlines.
	sed -e 's/\r$//' -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' \
	    -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo 'const size_t vigil_migrations_n = sizeof(vigil_migrations) / sizeof(vigil_migrations[0]);'
