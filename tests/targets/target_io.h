/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * target_io.h - what every test target shares: output without stdio
 * (stdio would allocate and change the heap under test) and dying with
 * the test that started it. Header-only, so that each target stays one
 * source file that also builds statically and against other glibcs.
 */
#ifndef LA_TARGET_IO_H
#define LA_TARGET_IO_H

#include <errno.h>
#include <signal.h>
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

/* Never outlive the test: SIGKILL when the parent dies, or is gone. */
static inline void
die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
}

#endif
