// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "term.h"

static struct termios saved;
static bool active;

/* Alternate screen, cursor hidden, and back. */
#define ENTER "\033[?1049h\033[?25l\033[H\033[2J"
#define LEAVE "\033[m\033[?25h\033[?1049l"

static void put(const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(STDOUT_FILENO, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

void term_close(void)
{
	if (!active)
		return;
	active = false;
	put(LEAVE);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
}

int term_open(void)
{
	struct termios raw;
	static bool registered;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return -ENOTTY;
	if (tcgetattr(STDIN_FILENO, &saved))
		return -errno;
	raw = saved;
	/* No echo, no line editing, no signals from keys: a key is a byte. */
	raw.c_lflag &= ~(ECHO | ICANON | ISIG | IEXTEN);
	raw.c_iflag &= ~(IXON | ICRNL | INLCR | IGNCR);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw))
		return -errno;
	active = true;
	if (!registered) {
		atexit(term_close);
		registered = true;
	}
	put(ENTER);
	return 0;
}

void term_size(int *cols, int *rows)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS"), *r = getenv("LINES");

	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
		return;
	}
	*cols = c && atoi(c) > 0 ? atoi(c) : 80;
	*rows = r && atoi(r) > 0 ? atoi(r) : 24;
}

static int read_byte(int ms)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	unsigned char c;
	int n = poll(&p, 1, ms);

	if (n < 0)
		return errno == EINTR ? -1 : KEY_NONE;
	if (!n)
		return KEY_NONE;
	if (read(STDIN_FILENO, &c, 1) != 1)
		return -1;
	return c;
}

/* ESC [ A, ESC O A, ESC [ 5 ~ ...: an escape sequence that follows at once. */
static int escape(void)
{
	int c = read_byte(30), d;

	if (c != '[' && c != 'O')
		return KEY_ESC;
	d = read_byte(30);
	switch (d) {
	case 'A':
		return KEY_UP;
	case 'B':
		return KEY_DOWN;
	case 'H':
		return KEY_HOME;
	case 'F':
		return KEY_END;
	case '1': case '4': case '5': case '6': case '7': case '8':
		if (read_byte(30) != '~')
			return KEY_NONE;
		return d == '5' ? KEY_PGUP : d == '6' ? KEY_PGDN :
		       d == '1' || d == '7' ? KEY_HOME : KEY_END;
	default:
		return KEY_NONE;
	}
}

int term_key(int ms)
{
	int c = read_byte(ms);

	return c == KEY_ESC ? escape() : c;
}

bool term_utf8(void)
{
	const char *set;

	setlocale(LC_CTYPE, "");
	set = nl_langinfo(CODESET);
	return set && (!strcmp(set, "UTF-8") || !strcmp(set, "utf8"));
}
