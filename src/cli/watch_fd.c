/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * watch_fd.c - `monitor --watch-fd N`, the channel of la_watch_start()
 * (src/lib/watch/watch.c, doc/design/watch.md). The program that watches
 * itself forks and executes `leakattach monitor -p ITSELF --watch-fd 3`
 * with one end of a socket pair as descriptor 3. Each byte it writes asks
 * for a verdict now; after every sample this writes one line:
 *
 *   sample REQ SAMPLES VERDICT IN_USE TIME_NS N[\tFINDING]...\n
 *
 * REQ: the bytes read so far (a request is answered by the first line
 * whose REQ reaches it); SAMPLES: this run's samples; VERDICT: leak,
 * no-leak or undecided, as check's exit status; IN_USE: the heap's in-use
 * bytes at the latest sample; TIME_NS: its time (Unix, ns); N findings,
 * each "KIND:STATE:NEW:IN_USE:GROWTH:BYTES_PER_HOUR:KEY" with the
 * numbers of enum la_location_kind and enum la_verdict and the location's
 * key last (tabs and newlines in it made spaces). A read of end-of-file:
 * the program is gone, and monitor ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <leakattach.h>

#include "commands.h"
#include "report.h"

/* At most this many findings per line (leaks come first). */
#define WATCH_FINDINGS 32

static unsigned long requests;

int
watch_fd_read(int fd)
{
	char b[64];
	ssize_t n;

	do
		n = read(fd, b, sizeof(b));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		requests += (unsigned long)n;
		return 1;
	}
	return n < 0 && errno == EAGAIN;
}

void
watch_fd_emit(int fd, const struct check_doc *d)
{
	unsigned n = d->tracker ? la_tracker_finding_count(d->tracker) : 0;
	struct la_tracker_info ti;
	char *buf = NULL;
	size_t len = 0, off = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *verdict = report_is_leak(d)		 ? "leak"
			      : report_samples_needed(d) ? "undecided"
							 : "no-leak";

	if (!f)
		return;
	memset(&ti, 0, sizeof(ti));
	if (d->tracker)
		la_tracker_info(d->tracker, &ti, sizeof(ti));
	if (n > WATCH_FINDINGS)
		n = WATCH_FINDINGS;
	fprintf(f, "sample %lu %u %s %llu %lld %u", requests,
		d->samples_this_run, verdict,
		(unsigned long long)d->heap_last_in_use,
		(long long)ti.last_time_unix_ns, n);
	for (unsigned i = 0; i < n; i++) {
		struct la_finding x;

		if (la_tracker_finding(d->tracker, i, &x, sizeof(x)))
			break;
		for (char *k = x.loc.key; *k; k++)
			if (*k == '\t' || *k == '\n')
				*k = ' ';
		fprintf(f, "\t%d:%d:%d:%llu:%llu:%.0f:%s", (int)x.loc.kind,
			(int)x.verdict, x.is_new,
			(unsigned long long)x.in_use_bytes,
			(unsigned long long)x.growth_bytes, x.bytes_per_hour,
			x.loc.key);
	}
	fputc('\n', f);
	if (fclose(f)) {
		free(buf);
		return;
	}
	/* MSG_NOSIGNAL: a program gone is seen at the next read, not here */
	while (off < len) {
		ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(buf);
}
