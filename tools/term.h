/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A full-screen terminal with nothing but VT100/xterm sequences every
 * terminal emulator (and ssh) passes through: the alternate screen, raw
 * keys, its size. Whatever ends the program, the terminal is restored.
 */
#ifndef PCRAM_TOOLS_TERM_H
#define PCRAM_TOOLS_TERM_H

#include <stdbool.h>

enum term_key {
	KEY_NONE = 0,
	KEY_UP = 0x100,
	KEY_DOWN,
	KEY_PGUP,
	KEY_PGDN,
	KEY_HOME,
	KEY_END,
	KEY_CTRL_C = 3,
	KEY_ESC = 27,
};

/*
 * Enter full-screen mode on the terminal on standard input and output:
 * 0, or -errno when they are not one. Keys are read raw, Ctrl-C included
 * (as KEY_CTRL_C, not a signal).
 */
int term_open(void);
/* Leave it: the screen and the modes as they were. Safe to call twice. */
void term_close(void);

/* The size now: the terminal's, else $COLUMNS and $LINES, else 80x24. */
void term_size(int *cols, int *rows);

/*
 * Wait up to @ms for a key: a character, an enum term_key, KEY_NONE on
 * timeout, or -1 when interrupted by a signal (check your flags).
 */
int term_key(int ms);

/* Whether to draw with UTF-8 block characters (the locale says UTF-8). */
bool term_utf8(void);

#endif /* PCRAM_TOOLS_TERM_H */
