#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every place that states pcram's version states the same one: the
# library header (the source, which the Makefile reads), the tool, the
# module, dkms.conf and the man page. PCRAM_SRCDIR is the source tree.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
want=$(sed -n 's/^#define PCRAM_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' \
	"$src/lib/include/pcram.h" | paste -sd.)
echo "TAP version 13"
echo "1..4"
n=0
rc=0
check() {
	n=$((n + 1))
	if [ "$2" = "$want" ]; then
		echo "ok $n versions.$1"
	else
		echo "# $1 says '$2', lib/include/pcram.h says '$want'"
		echo "not ok $n versions.$1"
		rc=1
	fi
}
check tool "$(pcram --version | sed -n 's/^pcram \([^ ]*\) .*/\1/p')"
check module "$(sed -n 's/^#define PCRAM_MODULE_VERSION "\(.*\)"/\1/p' "$src/kmod/pcram_internal.h")"
check dkms "$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$src/kmod/dkms.conf")"
check man_page "$(sed -n 's/^\.TH .*"pcram \([^"]*\)".*/\1/p' "$src/Documentation/pcram.8")"
exit $rc
