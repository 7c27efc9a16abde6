#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# libpcram's ABI: the built library against the last release's, kept in
# lib/abi/ (scripts/abi check: abidiff), the changed calls' old symbol
# versions still there; and the check itself, on copies of the library
# broken on purpose, which it must refuse, and one grown the allowed way,
# which it must pass. PCRAM_SRCDIR is the source tree.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
lib=$src/build/lib/libpcram.so.0
echo "TAP version 13"
if ! command -v abidiff >/dev/null; then
	echo "1..0 # SKIP abidiff not installed (Debian abigail-tools, 'make deps')"
	exit 4
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..7"
n=0
rc=0
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n abi.$2"
	else
		echo "not ok $n abi.$2"
		rc=1
	fi
}

# The check, its report as diagnostics; $? as scripts/abi's.
check() {
	"$src/scripts/abi" check "$@" >"$tmp/report" 2>&1
	s=$?
	sed 's/^/# /' "$tmp/report"
	return $s
}

check "$lib"
result $? matches_the_last_release

# The calls that took a size in 0.2.0 kept their 0.1 entry points.
bad=0
readelf --dyn-syms -W "$lib" >"$tmp/syms"
for f in probe dst_stats dst_kernel_stats dst_thread_stats dst_block_stats \
	 src_stats in_stats; do
	for v in "@PCRAM_0.1" "@@PCRAM_0.3"; do
		grep -q " pcram_$f$v\$" "$tmp/syms" || {
			echo "# pcram_$f$v is not in $lib"
			bad=1
		}
	done
done
result $bad sized_calls_have_both_versions

# A copy of the library built from lib/ with pcram.h and the sources
# edited by sed expression $2 (none: as they are) and linked with the map
# edited by $3.
mutant() {
	d=$tmp/$1
	mkdir -p "$d/include"
	cp "$src"/lib/*.c "$src"/lib/*.h "$d/"
	[ -z "${2:-}" ] || sed -i "$2" "$d"/*.c
	sed "${2:-}" "$src/lib/include/pcram.h" >"$d/include/pcram.h"
	sed "${3:-}" "$src/lib/libpcram.map" >"$d/libpcram.map"
	if [ -n "${2:-}" ] && cmp -s "$src/lib/include/pcram.h" "$d/include/pcram.h"; then
		echo "# $1: the edit '$2' no longer matches lib/include/pcram.h"
		return 1
	fi
	if [ -n "${3:-}" ] && cmp -s "$src/lib/libpcram.map" "$d/libpcram.map"; then
		echo "# $1: the edit '$3' no longer matches lib/libpcram.map"
		return 1
	fi
	for c in "$d"/*.c; do
		${CC:-cc} -std=gnu11 -D_GNU_SOURCE -isystem "$src/kmod/include/uapi" \
			-I"$d/include" $(pkg-config --cflags libnl-genl-3.0) \
			-O2 -g -fPIC -fvisibility=hidden -c "$c" \
			-o "${c%.c}.o" 2>"$tmp/cc.log" || {
			sed 's/^/# /' "$tmp/cc.log"
			return 1
		}
	done
	${CC:-cc} -shared -Wl,-soname,libpcram.so.0 -Wl,--version-script="$d/libpcram.map" \
		-Wl,-z,defs "$d"/*.o -o "$d/libpcram.so.0" $(pkg-config --libs libnl-genl-3.0) \
		-lpthread 2>"$tmp/cc.log" || {
		sed 's/^/# /' "$tmp/cc.log"
		return 1
	}
}

# Each must build, then fail the check (exit 1), or for the last pass it.
expect() {
	want=$1
	name=$2
	shift 2
	if ! mutant "$name" "$@"; then
		result 1 "$name"
		return
	fi
	check "$tmp/$name/libpcram.so.0" "$src/lib/abi/libpcram.so.0.abi" \
		"$tmp/$name/include"
	got=$?
	[ $got = "$want" ] || echo "# scripts/abi check exited $got, want $want"
	result $((got != want)) "$name"
}

# A released symbol gone from the map.
expect 1 check_fails_on_a_removed_symbol "" '/^\t\tpcram_hist_quantile;$/d'
# A field inserted before others: every later one moves. (Not in a
# struct of a call with two versions: libabigail 2.2 compares none of
# those, see Documentation/lib.rst.)
expect 1 check_fails_on_a_moved_field '/^struct pcram_block {$/a\	uint64_t inserted;'
# A released call takes one more argument.
expect 1 check_fails_on_a_changed_parameter \
	's/^\(int pcram_dst_set_vcpu(.*, int vcpu\))/\1, int more)/'
# The same in a struct of a call with two versions, which abidiff does not
# compare: the layout check of scripts/abi catches it.
expect 1 check_fails_on_a_moved_field_of_a_sized_struct \
	'/^\tuint64_t faults;\t\/\* page fault messages read \*\/$/i\	uint64_t inserted;'
# A field appended to a struct the library fills to the caller's size.
expect 0 check_passes_a_field_appended_to_a_sized_struct \
	'/^\tstruct pcram_hist fault_to_placed;$/a\	uint64_t appended;'
exit $rc
