#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The bash completion offers every command 'pcram help' lists, every
# option each command's usage names, the values of the options that take
# a fixed set, and 'make install' installs it. PCRAM_SRCDIR is the source
# tree; pcram is on PATH.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../../tools/pcram.bash-completion
. "$src/tools/pcram.bash-completion"

# The words completing the last of "$@" would offer, one a line.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_pcram
	printf '%s\n' "${COMPREPLY[@]}"
}

echo "TAP version 13"
echo "1..4"
n=0
rc=0
result() {
	n=$((n + 1))
	if [ -s "$tmp/fail" ]; then
		sed 's/^/# /' "$tmp/fail"
		echo "not ok $n completion.$1"
		rc=1
	else
		echo "ok $n completion.$1"
	fi
	: >"$tmp/fail"
}
: >"$tmp/fail"

# 1. Every command of the table, as 'pcram help' lists them.
pcram help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' >"$tmp/commands"
[ -s "$tmp/commands" ] || echo "'pcram help' lists no commands" >>"$tmp/fail"
complete_words pcram "" >"$tmp/offered"
while read -r c; do
	grep -qx -- "$c" "$tmp/offered" || echo "pcram <TAB> does not offer '$c'"
done <"$tmp/commands" >>"$tmp/fail"
result every_command

# The benchmarks, from the usage lines of 'pcram help bench'.
benchmarks() {
	pcram help bench | grep -oE 'pcram bench [a-z]+' | cut -d' ' -f3 | sort | paste -sd' '
}

# 2. Every option of each command's usage (bench and module: with their
# first word, whose options these are).
while read -r c; do
	pcram help "$c" | sed -n '/^options:/,$p' | grep -E '^  -' |
		grep -oE '(^|[ ,])--?[a-z][a-z0-9-]*' | tr -d ' ,' | sort -u >"$tmp/want"
	case $c in
	bench) prefixes=$(benchmarks) ;;
	module) prefixes="load status" ;;
	vm) prefixes="add list" ;;
	*) prefixes="-" ;;
	esac
	: >"$tmp/got"
	for p in $prefixes; do
		if [ "$p" = - ]; then
			complete_words pcram "$c" -
		else
			complete_words pcram "$c" "$p" -
		fi
	done >>"$tmp/got"
	while read -r o; do
		grep -qx -- "$o" "$tmp/got" || echo "pcram $c -<TAB> does not offer $o"
	done <"$tmp/want"
done <"$tmp/commands" >>"$tmp/fail"
result every_option

# 3. The values of options that take a fixed set.
check_values() {
	want=$1
	shift
	got=$(complete_words "$@" | sort | paste -sd' ')
	[ "$got" = "$want" ] || echo "$* <TAB> offers '$got', not '$want'"
}
{
	check_values "id p99 rate" pcram top -s ""
	check_values "id p99 rate" pcram top --sort ""
	check_values "2m 4k" pcram demo --page-size ""
	check_values "--help load status unload" pcram module ""
	check_values "--help add del list" pcram vm ""
	check_values "--json --name --pid" pcram vm add --
	check_values "$(benchmarks)" pcram bench ""
	check_values "batch fault migrate netfault" pcram bench ""
	check_values "stat" pcram help st
	check_values "--prometheus" pcram stat --pr
} >>"$tmp/fail"
result option_values

# 4. 'make install' puts it where bash-completion looks.
# (the recipe's lines, each with its continuations joined)
make -s -C "$src" -n install DESTDIR=/nonexistent PREFIX=/usr 2>&1 |
	sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' >"$tmp/install"
grep -q 'tools/pcram.bash-completion .*/nonexistent/usr/share/bash-completion/completions/pcram' \
	"$tmp/install" || {
	echo "make install does not install tools/pcram.bash-completion as"
	echo "\$(PREFIX)/share/bash-completion/completions/pcram:"
	cat "$tmp/install"
} >>"$tmp/fail"
result installed
exit $rc
