#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The installed example, as a library user builds it: 'make install' into
# a staging root, lazy_restore compiled against the installed header and
# library through pkg-config, then run on a RAM image. Its report must be
# exact on every run: every page restored, none missing, the placed count
# the page count. All on one CPU, where a woken thread most often runs
# before the thread that placed its page (a count taken after the wake
# then shows a page still missing). PCRAM_SRCDIR is the source tree.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"
echo "1..3"

if ! make -s -C "$src" install DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/install.log" 2>&1; then
	sed 's/^/# /' "$tmp/install.log"
	echo "not ok 1 example.builds_against_the_installed_library"
	echo "ok 2 example.report_is_exact # SKIP not installed"
	echo "ok 3 example.queue_report_is_exact # SKIP not installed"
	exit 1
fi
# The installed libpcram.pc first; the system's own .pc files after it,
# for the libraries it requires (libnl-genl-3.0).
system_pc=$(pkg-config --variable pc_path pkg-config)
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_LIBDIR="$tmp/root/usr/lib/pkgconfig:$system_pc"
# shellcheck disable=SC2046 # pkg-config's words are separate arguments
if cc -o "$tmp/lazy_restore" "$src/Documentation/examples/lazy_restore.c" \
	$(pkg-config --cflags --libs libpcram) -lpthread 2>"$tmp/cc.log"; then
	echo "ok 1 example.builds_against_the_installed_library"
else
	sed 's/^/# /' "$tmp/cc.log"
	echo "not ok 1 example.builds_against_the_installed_library"
	exit 1
fi

# 32 MiB: 8192 pages of 4 KiB, none of them zero.
head -c 33554432 /dev/urandom >"$tmp/ram.img"
pin=
command -v taskset >/dev/null && pin="taskset -c 0"
rc=0
n=1
for mode in "" --queue; do
	n=$((n + 1))
	bad=0
	for run in 1 2 3 4 5 6 7 8; do
		# shellcheck disable=SC2086 # $pin and $mode: zero or more words
		out=$(LD_LIBRARY_PATH="$tmp/root/usr/lib" $pin "$tmp/lazy_restore" $mode \
			"$tmp/ram.img" 2>&1)
		if ! echo "$out" | grep -q "^8192 pages restored .*; 0 missing, 0 bytes differ$" ||
		   ! echo "$out" | grep -q "placed 8192 "; then
			echo "$out" | sed "s/^/# run $run: /"
			bad=$((bad + 1))
		fi
	done
	name=report_is_exact
	[ -n "$mode" ] && name=queue_report_is_exact
	if [ $bad = 0 ]; then
		echo "ok $n example.$name"
	else
		echo "# $bad of 8 runs reported wrong counts"
		echo "not ok $n example.$name"
		rc=1
	fi
done
exit $rc
