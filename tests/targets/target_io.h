/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * target_io.h - what every test target shares: output without stdio
 * (stdio would allocate and change the heap under test), dying with the
 * test that started it, and commands on stdin. Header-only, so that each target stays one
 * source file that also builds statically and against other glibcs.
 */
#ifndef LA_TARGET_IO_H
#define LA_TARGET_IO_H

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static inline void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		buf += n;
		len -= (size_t)n;
	}
}

static inline void
say(const char *s)
{
	write_all(1, s, strlen(s));
}

static inline void
say_err(const char *s)
{
	write_all(2, s, strlen(s));
}

/* Never outlive the test: SIGKILL when the parent dies, or is gone. */
static inline void
die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
}

/*
 * Commands on stdin, one a line (a trailing '\r' dropped). "quit" and end
 * of file end the target with status 0; every other line goes to the
 * target's command(), which answers "again" (its report once more), its
 * own commands, and "error unknown command" to the rest. A line longer
 * than the buffer is answered "error unknown command" once and dropped; a
 * last line without its newline is a command too.
 */
struct line_in {
	char buf[256];
	size_t len;
	int overlong; /* dropping the rest of a line too long */
};

static inline void
line_in_one(char *line, void (*command)(char *line))
{
	if (!strcmp(line, "quit"))
		exit(0);
	command(line);
}

/*
 * One read of stdin, and every complete line in the buffer handed on.
 * Returns 0, or 1 at end of file (after the last, unterminated line).
 * Exits 1 when stdin cannot be read.
 */
static inline int
line_in_read(struct line_in *in, void (*command)(char *line))
{
	ssize_t n;
	char *nl;

	do
		n = read(0, in->buf + in->len, sizeof(in->buf) - 1 - in->len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		say_err("read from stdin failed\n");
		exit(1);
	}
	if (n == 0) {
		if (in->len > 0 && !in->overlong) {
			in->buf[in->len] = '\0';
			line_in_one(in->buf, command);
		}
		in->len = 0;
		return 1;
	}
	in->len += (size_t)n;
	while ((nl = (char *)memchr(in->buf, '\n', in->len)) != NULL) {
		size_t used = (size_t)(nl - in->buf) + 1;

		*nl = '\0';
		if (nl > in->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		if (in->overlong)
			in->overlong = 0;
		else
			line_in_one(in->buf, command);
		memmove(in->buf, in->buf + used, in->len - used);
		in->len -= used;
	}
	if (in->len == sizeof(in->buf) - 1) {
		if (!in->overlong)
			say("error unknown command\n");
		in->overlong = 1;
		in->len = 0;
	}
	return 0;
}

/* Serve commands from stdin until quit or end of file, then exit 0. */
static inline void __attribute__((noreturn))
serve_commands(void (*command)(char *line))
{
	struct line_in in = {{0}, 0, 0};

	while (!line_in_read(&in, command))
		;
	exit(0);
}

#endif
