#!/bin/sh
# Turns a commented example config (deploy/examples/*.conf: INI, comments
# start with ";") into a section 5 man page on standard output.
#   conf2man.sh NAME "one-line description" FILE.conf PATH "SEE ALSO"
# The comment before the first [section] is the DESCRIPTION; each key
# (key = value, or ;key = value for one shown commented out) is an entry
# with the comment above it; a comment followed by a blank line is a
# paragraph of its section. PATH is where the file is read from. Run by
# the Makefile (man pages are built, not committed).
set -eu
[ $# -eq 5 ] || { echo "usage: conf2man.sh NAME DESC FILE PATH SEEALSO" >&2; exit 2; }
name=$1 desc=$2 file=$3 path=$4 seealso=$5
[ -r "$file" ] || { echo "conf2man.sh: cannot read $file" >&2; exit 1; }
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$file")}" +%Y-%m-%d)
exec awk -v name="$name" -v desc="$desc" -v path="$path" -v seealso="$seealso" \
    -v date="$date" -v src="$file" '
function lit(s, from, to,    out, i) {
	out = ""
	while ((i = index(s, from)) > 0) {
		out = out substr(s, 1, i - 1) to
		s = substr(s, i + length(from))
	}
	return out s
}
function esc(s) { s = lit(s, "\\", "\\e"); return lit(s, "-", "\\-") }
function emit(s) { if (s ~ /^[.\047]/) s = "\\&" s; print s }
# The comment lines gathered so far, as text; lines indented past "; "
# keep their own lines.
function flush(    k, t) {
	for (k = 1; k <= nc; k++) {
		t = com[k]
		if (t ~ /^  /) { print ".br"; sub(/^ +/, "", t); emit("\\ \\ " esc(t)) }
		else emit(esc(t))
	}
	nc = 0
}
BEGIN {
	printf ".TH \"%s\" \"5\" \"%s\" \"Vigil\" \"Vigil manual\"\n", toupper(name), date
	print ".SH NAME"
	print name " \\- " esc(desc)
	print ".SH SYNOPSIS"
	print esc(path)
	print ".SH DESCRIPTION"
	nc = 0; insec = 0
}
{
	sub(/\r$/, "")
	if ($0 ~ /^[ \t]*$/) {
		if (nc > 0) { print ".PP"; flush() }
		next
	}
	if ($0 ~ /^;[A-Za-z_][A-Za-z0-9_]* *=/ || $0 ~ /^[A-Za-z_][A-Za-z0-9_]* *=/) {
		commented = ($0 ~ /^;/)
		t = $0; sub(/^;/, "", t)
		k = t; sub(/ *=.*/, "", k)
		v = t; sub(/^[^=]*= */, "", v)
		print ".TP"
		emit("\\fB" esc(k) "\\fR = " (v == "" ? "\\fI(empty)\\fR" : esc(v)) \
		    (commented ? " (shown commented out)" : ""))
		flush()
		next
	}
	if ($0 ~ /^;?\[[^]]+\][ \t]*$/) {
		if (nc > 0) { print ".PP"; flush() }
		if (!insec) { print ".SH OPTIONS"; insec = 1 }
		t = $0; sub(/^;/, "", t)
		print ".SS \"" esc(t) "\""
		next
	}
	if ($0 ~ /^;/) {
		t = $0; sub(/^; ?/, "", t)
		com[++nc] = t
		next
	}
	printf "conf2man.sh: %s:%d: neither a comment, a section nor a key\n", src, NR > "/dev/stderr"
	bad = 1
	exit 1
}
END {
	if (bad) exit 1
	if (nc > 0) { print ".PP"; flush() }
	print ".SH FILES"
	print esc(path)
	print ".SH SEE ALSO"
	print esc(seealso)
}' "$file"
