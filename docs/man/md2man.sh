#!/bin/sh
# Turns one of docs/*.md (written like a man page: "# name(N)", "## NAME",
# "## SYNOPSIS", ...) into a roff man page on standard output.
#   md2man.sh NAME SECTION "one-line description" FILE.md [HEADING]
# With HEADING (e.g. "## vigil-smm(1)"), only that section of FILE is
# converted, up to the next heading of the same level or above. When the
# text has no "## NAME" section, one is made from NAME and the description.
# It knows the Markdown these docs use: headings, paragraphs, indented and
# fenced code, "-"/"*"/"1." lists, pipe tables, `code`, **bold**, *em*,
# [links](target). Run by the Makefile (man pages are built, not committed).
set -eu
[ $# -ge 4 ] || { echo "usage: md2man.sh NAME SECTION DESC FILE [HEADING]" >&2; exit 2; }
name=$1 sect=$2 desc=$3 file=$4 heading=${5:-}
[ -r "$file" ] || { echo "md2man.sh: cannot read $file" >&2; exit 1; }
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$file")}" +%Y-%m-%d)
exec awk -v name="$name" -v sect="$sect" -v desc="$desc" -v heading="$heading" \
    -v date="$date" -v src="$file" '
# Literal replacement (no regex, no & in the replacement).
function lit(s, from, to,    out, i) {
	out = ""
	while ((i = index(s, from)) > 0) {
		out = out substr(s, 1, i - 1) to
		s = substr(s, i + length(from))
	}
	return out s
}
function esc(s) { return lit(s, "\\", "\\e") }
# Prose outside code spans: links, bold, emphasis.
function prose(s,    out, pre, t) {
	out = ""
	while (match(s, /\[[^]]*\]\([^)]*\)/)) {
		pre = substr(s, 1, RSTART - 1)
		t = substr(s, RSTART + 1, RLENGTH - 2)
		t = substr(t, 1, index(t, "](") - 1)
		out = out pre t
		s = substr(s, RSTART + RLENGTH)
	}
	s = out s
	out = ""
	while (match(s, /\*\*[^*]+\*\*/)) {
		out = out substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR"
		s = substr(s, RSTART + RLENGTH)
	}
	s = out s
	out = ""
	while (match(s, /(^|[ (])\*[^* ][^*]*\*/)) {
		pre = substr(s, 1, RSTART - 1)
		t = substr(s, RSTART, RLENGTH)
		if (substr(t, 1, 1) != "*") { pre = pre substr(t, 1, 1); t = substr(t, 2) }
		out = out pre "\\fI" substr(t, 2, length(t) - 2) "\\fR"
		s = substr(s, RSTART + RLENGTH)
	}
	return out s
}
function inline(s,    out, st, ln) {
	s = esc(s)
	out = ""
	while (match(s, /`[^`]+`/)) {
		st = RSTART; ln = RLENGTH	# prose() calls match() too
		out = out prose(substr(s, 1, st - 1)) "\\fB" \
		    lit(substr(s, st + 1, ln - 2), "-", "\\-") "\\fR"
		s = substr(s, st + ln)
	}
	return out prose(s)
}
# A line of text as roff input: no leading dot or quote, no leading blank.
function emit(s) {
	sub(/^[ \t]+/, "", s)
	if (s ~ /^[.\047]/)
		s = "\\&" s
	print s
}
function codeline(s) {
	s = lit(esc(s), "-", "\\-")
	if (s ~ /^[.\047]/)
		s = "\\&" s
	print s
}
function endcode() { if (incode) { print ".fi"; print ".RE"; incode = 0 } }
function para() { endcode(); if (needpp) { print ".PP"; needpp = 0 } }
function level(s) { match(s, /^#+/); return RLENGTH }
function cells(s, arr,    n) {
	sub(/^[ \t]*\|/, "", s); sub(/\|[ \t]*$/, "", s)
	n = split(s, arr, "|")
	return n
}
BEGIN { on = (heading == ""); started = 0; hasname = 0 }
{
	sub(/\r$/, "")
	if (!on) {
		if ($0 == heading) { on = 1; hlevel = level($0); first = 1 }
		next
	}
	if (heading != "" && !first && !fenced && $0 ~ /^#+ / && level($0) <= hlevel)
		exit
	first = 0
	lines[++n] = $0
	if ($0 ~ /^## NAME[ \t]*$/) hasname = 1
}
END {
	if (n == 0) { print "md2man.sh: " src ": nothing to convert" > "/dev/stderr"; exit 1 }
	printf ".TH \"%s\" \"%s\" \"%s\" \"Vigil\" \"Vigil manual\"\n", toupper(name), sect, date
	if (!hasname) {
		print ".SH NAME"
		print name " \\- " esc(desc)
	}
	if (heading != "")
		print ".SH DESCRIPTION"
	for (k = 1; k <= n; k++) {
		l = lines[k]
		if (fenced) {
			if (l ~ /^[ \t]*```/) { endcode(); fenced = 0; needpp = 1 }
			else codeline(l)
			continue
		}
		if (l ~ /^[ \t]*```/) { para(); print ".RS 4"; print ".nf"; incode = 1; fenced = 1; continue }
		if (l ~ /^#+ /) {
			endcode(); inlist = 0; needpp = 0
			lv = level(l); t = l; sub(/^#+ +/, "", t)
			if (k == 1 && lv == 1) continue	# the title: .TH above
			cursec = (lv <= 2) ? toupper(t) : cursec
			if (lv <= 2) print ".SH \"" toupper(inline(t)) "\""
			else print ".SS \"" inline(t) "\""
			continue
		}
		if (l ~ /^[ \t]*$/) {
			if (incode) { blankcode++; continue }
			needpp = 1; inlist = 0; intable = 0
			continue
		}
		if (incode && l ~ /^(    |\t)/) {
			for (; blankcode > 0; blankcode--) print ""
			t = l; sub(/^(    |\t)/, "", t); codeline(t); continue
		}
		blankcode = 0
		if (l ~ /^(    |\t)/ && needpp && !inlist) {
			para(); print ".RS 4"; print ".nf"; incode = 1
			t = l; sub(/^(    |\t)/, "", t); codeline(t); continue
		}
		if (incode) { endcode(); needpp = 1 }
		if (l ~ /^[ \t]*\|/) {
			m = cells(l, c)
			if (l ~ /^[ \t]*\|[ \t:|-]*$/) continue	# the rule under the header
			needpp = 0
			print ".TP"
			t = c[1]; gsub(/^[ \t]+|[ \t]+$/, "", t)
			emit("\\fB" inline(t) "\\fR")
			rest = ""
			for (j = 2; j <= m; j++) {
				t = c[j]; gsub(/^[ \t]+|[ \t]+$/, "", t)
				rest = rest (j > 2 ? " \\(em " : "") inline(t)
			}
			if (rest != "") emit(rest)
			intable = 1
			continue
		}
		if (l ~ /^[ \t]*[-*] /) {
			endcode(); needpp = 0
			t = l; sub(/^[ \t]*[-*] +/, "", t)
			print ".IP \\(bu 2"; emit(inline(t)); inlist = 1
			continue
		}
		if (l ~ /^[ \t]*[0-9]+\. /) {
			endcode(); needpp = 0
			t = l; match(t, /[0-9]+\./); num = substr(t, RSTART, RLENGTH)
			sub(/^[ \t]*[0-9]+\. +/, "", t)
			print ".IP " num " 4"; emit(inline(t)); inlist = 1
			continue
		}
		if (inlist && needpp) { needpp = 0; print ".IP \"\" 4" }
		para()
		t = inline(l)
		# NAME: "name \- description", as whatis and lexgrog read it.
		if (cursec == "NAME" && !named) {
			named = 1
			if (index(t, " - ") > 0) t = substr(t, 1, index(t, " - ") - 1) " \\- " substr(t, index(t, " - ") + 3)
			else if (index(t, " \342\200\224 ") > 0) t = substr(t, 1, index(t, " \342\200\224 ") - 1) " \\- " substr(t, index(t, " \342\200\224 ") + 5)
		}
		emit(t)
	}
	endcode()
}' "$file"
