// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram demo: the loopback migration. The migration engine does not exist
 * yet, so this says so instead of pretending.
 */
#include <stdio.h>

#include "pcram.h"

int demo_main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return usage("demo", stderr);
	return fail("demo", "live migration is not built yet: the source side, "
		    "the wire protocol and the receiver come with the migration "
		    "work. Nothing was migrated. 'pcram probe' shows what this "
		    "host can do today.");
}
