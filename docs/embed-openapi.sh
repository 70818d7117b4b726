#!/bin/sh
# Turns docs/openapi.json into a C string for the verifier, which serves it
# at GET /v1/openapi.json (verifier/openapi_doc.h):
#   const char vigil_openapi_json[]; const size_t vigil_openapi_json_len;
# Run by the Makefile; the output is not committed. The document must be
# UTF-8 JSON without NUL bytes (it is served as it is, byte for byte).
set -eu
[ $# -eq 1 ] || { echo "usage: embed-openapi.sh docs/openapi.json" >&2; exit 2; }
if [ "$(tr -d '\000' < "$1" | wc -c)" -ne "$(wc -c < "$1")" ]; then
	echo "embed-openapi.sh: $1 holds a NUL byte" >&2
	exit 1
fi
echo '/* Built from docs/openapi.json by docs/embed-openapi.sh. Do not edit. */'
echo '#include <stddef.h>'
echo '#include "verifier/openapi_doc.h"'
echo 'const char vigil_openapi_json[] ='
# Each line as a C string literal: escape \ " and ? (no trigraphs under
# -std=c11), keep CRs and newlines as they are in the file.
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/\r/\\r/g' \
    -e 's/^/\t"/' -e 's/$/\\n"/' "$1"
printf '\t"";\n'
# sed adds a newline after a last line that had none: the length is the
# file's own, so strip it again if so.
if [ -n "$(tail -c 1 "$1")" ]; then
	echo 'const size_t vigil_openapi_json_len = sizeof(vigil_openapi_json) - 2;'
else
	echo 'const size_t vigil_openapi_json_len = sizeof(vigil_openapi_json) - 1;'
fi
