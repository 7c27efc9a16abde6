#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# pcram.ko builds through DKMS from kmod/dkms.conf against the installed
# headers ('make -C kmod dkms': a private DKMS tree, nothing installed),
# and the module it makes carries the parameters the UAPI documents.
# Host only. PCRAM_SRCDIR is the source tree.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
echo "TAP version 13"
if ! command -v dkms >/dev/null 2>&1; then
	echo "1..0 # SKIP no dkms ('apt-get install dkms')"
	exit 4
fi
if ! release=$("$src/scripts/kernel-release" 2>/dev/null) ||
   [ ! -d "/lib/modules/$release/build" ]; then
	echo "1..0 # SKIP no kernel headers to build pcram.ko against ('make deps')"
	exit 4
fi
echo "1..2"
dir=$(mktemp -d)
log=$dir/log
rc=0
if make -s -C "$src/kmod" dkms DKMS_DIR="$dir/dkms" >"$log" 2>&1; then
	echo "ok 1 kmod.dkms_build"
else
	sed 's/^/# /' "$log"
	echo "not ok 1 kmod.dkms_build"
	rc=1
fi
ko=$(find "$dir/dkms/tree" -name 'pcram.ko*' -path "*/$release/*" 2>/dev/null | head -n 1)
params=$( [ -n "$ko" ] && modinfo -F parm "$ko" | cut -d: -f1 | sort | paste -sd' ')
if [ "$params" = "event_interval_ms maxactive probe" ]; then
	echo "ok 2 kmod.dkms_module_parameters"
else
	echo "# parameters of ${ko:-no module}: '$params'"
	echo "not ok 2 kmod.dkms_module_parameters"
	rc=1
fi
rm -rf "$dir"
exit $rc
