#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every symbol libpcram exports has a section-3 man page, and the pages say
# what the header says: each prototype in a SYNOPSIS is the header's
# declaration (whitespace aside), redirects lead to a page that names the
# call, the overview lists every call, every page has the sections of a
# library page, renders without a groff warning and carries the library's
# version. PCRAM_SRCDIR is the source tree.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
man3=$src/Documentation/man3
header=$src/lib/include/pcram.h
want=$(sed -n 's/^#define PCRAM_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' "$header" |
	paste -sd.)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The exported symbols: every "name;" of the version script, not "local: *;".
sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' \
	"$src/lib/libpcram.map" >"$tmp/symbols"

# A page is a redirect when its first line is ".so man3/TARGET.3".
so_target() {
	sed -n '1s|^\.so man3/\(.*\)$|\1|p' "$1"
}

# Declarations, one a line as "name<TAB>declaration", whitespace collapsed
# and none after "(" or before ")".
normalise='{
	gsub(/[ \t]+/, " "); sub(/^ /, ""); sub(/ $/, "")
	gsub(/\( /, "("); gsub(/ \)/, ")"); gsub(/ ;/, ";")
	if (match($0, /pcram_[a-z0-9_]+\(/))
		print substr($0, RSTART, RLENGTH - 1) "\t" $0
}'

# From the header: lines that start a prototype at column 0, to their ";".
header_decls() {
	awk '/^[a-z].*pcram_[a-z0-9_]+\(/ { decl = ""; on = 1 }
	     on { decl = decl " " $0; if ($0 ~ /;/) { print decl; on = 0 } }' \
		"$header" | awk "$normalise"
}

# From a page's SYNOPSIS: the text of its .B/.BI/... lines, with the roff
# quoting undone (.B joins its arguments with spaces, the alternating
# macros without), joined and cut at each ";".
page_decls() {
	awk '
	function args(s, sep,    i, c, n, cur, inq, started, out) {
		n = 0; cur = ""; inq = 0; started = 0; out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (inq) {
				if (c == "\"") inq = 0; else cur = cur c
			} else if (c == " " || c == "\t") {
				if (started) {
					out = out (n++ ? sep : "") cur
					cur = ""; started = 0
				}
			} else if (c == "\"") {
				inq = 1; started = 1
			} else {
				cur = cur c; started = 1
			}
		}
		if (started)
			out = out (n++ ? sep : "") cur
		return out
	}
	/^\.SH/ { in_syn = ($0 ~ /^\.SH +"?SYNOPSIS/); next }
	!in_syn { next }
	/^\.(B|I) / { t = args(substr($0, 4), " ") }
	/^\.(BI|IB|BR|RB|IR|RI) / { t = args(substr($0, 5), "") }
	/^\./ && !/^\.(B|I|BI|IB|BR|RB|IR|RI) / { next }
	!/^\./ { t = $0 }
	{
		gsub(/\\-/, "-", t); gsub(/\\~/, " ", t); gsub(/\\&/, "", t)
		if (t !~ /^#/)
			text = text " " t
	}
	END {
		n = split(text, part, ";")
		for (i = 1; i < n; i++)
			print part[i] ";"
	}' "$1" | awk "$normalise"
}

# The text of a page's NAME section.
page_names() {
	awk '/^\.SH/ { on = ($0 ~ /^\.SH +"?NAME/); next } on' "$1"
}

echo "TAP version 13"
echo "1..8"
rc=0
n=0
result() {
	n=$((n + 1))
	if [ -s "$tmp/fail" ]; then
		sed 's/^/# /' "$tmp/fail"
		echo "not ok $n manpages.$1"
		rc=1
	else
		echo "ok $n manpages.$1"
	fi
	: >"$tmp/fail"
}
: >"$tmp/fail"

header_decls >"$tmp/header"
for page in "$man3"/*.3; do
	[ -n "$(so_target "$page")" ] || echo "$page"
done >"$tmp/real_pages"

# 1. A page (or a redirect) under the name of every exported symbol.
while read -r sym; do
	[ -f "$man3/$sym.3" ] || echo "$sym has no page Documentation/man3/$sym.3"
done <"$tmp/symbols" >>"$tmp/fail"
result every_symbol_has_a_page

# 2. Each redirect is that one line, to a real page whose NAME lists it.
for page in "$man3"/*.3; do
	target=$(so_target "$page")
	[ -n "$target" ] || continue
	name=$(basename "$page" .3)
	if [ "$(wc -l <"$page")" -ne 1 ]; then
		echo "$name.3: a redirect is one line, '.so man3/PAGE.3'"
	elif [ ! -f "$man3/$target" ]; then
		echo "$name.3: redirects to man3/$target, which does not exist"
	elif [ -n "$(so_target "$man3/$target")" ]; then
		echo "$name.3: redirects to man3/$target, itself a redirect"
	elif ! page_names "$man3/$target" | grep -qw "$name"; then
		echo "$name.3: man3/$target does not name $name in its NAME"
	fi
done >>"$tmp/fail"
result redirects_resolve

# 3. Every prototype in a SYNOPSIS is the header's, and every symbol's page
# declares it.
while read -r page; do
	page_decls "$page" >"$tmp/decls"
	while IFS="$(printf '\t')" read -r fn decl; do
		hdecl=$(awk -F '\t' -v fn="$fn" '$1 == fn { print $2 }' "$tmp/header")
		if [ -z "$hdecl" ]; then
			echo "$(basename "$page"): $fn is not declared in pcram.h"
		elif [ "$decl" != "$hdecl" ]; then
			echo "$(basename "$page"): SYNOPSIS says: $decl"
			echo "$(basename "$page"): pcram.h says:  $hdecl"
		fi
	done <"$tmp/decls"
done <"$tmp/real_pages" >>"$tmp/fail"
while read -r sym; do
	page=$man3/$sym.3
	[ -f "$page" ] || continue
	target=$(so_target "$page")
	[ -z "$target" ] || page=$man3/$target
	[ -f "$page" ] || continue
	page_decls "$page" | cut -f1 | grep -qx "$sym" ||
		echo "$(basename "$page"): SYNOPSIS does not declare $sym"
done <"$tmp/symbols" >>"$tmp/fail"
result synopsis_matches_header

# 4. NAME lists every call the SYNOPSIS declares (whatis and apropos read it).
while read -r page; do
	for fn in $(page_decls "$page" | cut -f1); do
		page_names "$page" | grep -qw "$fn" ||
			echo "$(basename "$page"): $fn is in SYNOPSIS but not in NAME"
	done
done <"$tmp/real_pages" >>"$tmp/fail"
result name_lists_every_call

# 5. The overview pcram(3) names every call.
while read -r sym; do
	grep -qw "$sym" "$man3/pcram.3" || echo "pcram.3 does not list $sym"
done <"$tmp/symbols" >>"$tmp/fail"
result overview_lists_every_call

# 6. The sections of a library function's page, in man-pages' order.
sections="NAME|LIBRARY|SYNOPSIS|DESCRIPTION|RETURN VALUE|ERRORS|NOTES|SEE ALSO"
while read -r page; do
	have=$(sed -n 's/^\.SH "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$page" |
		grep -xE "$sections" | paste -sd'|')
	[ "$have" = "$sections" ] ||
		echo "$(basename "$page"): sections are '$have', want '$sections'"
done <"$tmp/real_pages" >>"$tmp/fail"
result sections_in_order

# 7. The version in each .TH is the library's.
while read -r page; do
	grep -q "^\.TH .* \"pcram $want\"" "$page" ||
		echo "$(basename "$page"): .TH does not say \"pcram $want\" (pcram.h)"
done <"$tmp/real_pages" >>"$tmp/fail"
result version_matches_header

# 8. Every page, redirects through their target, formats without a warning
# of any kind (-ww), as man(1) formats it for a terminal.
if command -v groff >/dev/null; then
	for page in "$man3"/*.3; do
		(cd "$src/Documentation" &&
		 groff -man -Tutf8 -ww -z "man3/$(basename "$page")") 2>&1 |
			sed "s|^|$(basename "$page"): |"
	done >>"$tmp/fail"
	result render_without_warnings
else
	n=$((n + 1))
	echo "ok $n manpages.render_without_warnings # SKIP groff is not installed ('make deps')"
fi
exit $rc
