#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# pcram.ko's sources pass checkpatch.pl --strict and sparse (C=2) with no
# finding. Host only: it needs the kernel headers and the linux-source
# files. PCRAM_SRCDIR is the source tree.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
echo "TAP version 13"
if ! release=$("$src/scripts/kernel-release" 2>/dev/null) ||
   [ ! -d "/lib/modules/$release/build" ]; then
	echo "1..0 # SKIP no kernel headers to build pcram.ko against ('make deps')"
	exit 4
fi
echo "1..2"
rc=0
log=$(mktemp)
check() {
	n=$1 name=$2
	shift 2
	if "$@" >"$log" 2>&1; then
		echo "ok $n $name"
	else
		sed 's/^/# /' "$log"
		echo "not ok $n $name"
		rc=1
	fi
}
check 1 kmod.checkpatch_strict_clean make -s -C "$src/kmod" checkpatch
check 2 kmod.sparse_clean make -s -C "$src/kmod" sparse
rm -f "$log"
exit $rc
