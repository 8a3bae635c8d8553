/* SPDX-License-Identifier: MIT */
/*
 * watch_server.c - a program that watches its own heap with la_watch_*
 * (leakattach.h): a small server whose requests are lines on stdin, and
 * which leaks when asked.
 *
 *   leak    start leaking (64 blocks of 4000 bytes every 100 ms, for ever)
 *   check   print the verdict now (la_watch_check())
 *   quit    stop watching and exit
 *
 * A leak that the watcher finds is printed by the callback as it is found.
 *
 *   $ cc watch_server.c $(pkg-config --cflags --libs leakattach) -pthread
 *   $ ./a.out -i 1
 *   ready: watched by process 12345, a sample every 1 s
 *   leak
 *   callback: leak at size:4000-4016 ...
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <leakattach.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static void *leaked; /* the newest block; each points at the one before */

/* stdout is shared with the callback's thread: one line at a time */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pthread_mutex_lock(&out_lock);
	vprintf(fmt, ap);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
	va_end(ap);
}

/* The callback: called from the library's thread, once per new leak. */
static void
on_leak(const struct la_watch_report *r, const struct la_watch_finding *f,
	void *user)
{
	(void)r;
	(void)user;
	say("callback: leak at %s, %llu bytes in use, %llu more\n", f->location,
	    (unsigned long long)f->in_use_bytes,
	    (unsigned long long)f->growth_bytes);
}

static void *
leak_forever(void *arg)
{
	(void)arg;
	for (;;) {
		for (int i = 0; i < 64; i++) {
			void **b = malloc(4000);

			if (!b)
				break;
			memset(b, 0x5a, 4000);
			*b = leaked;
			leaked = b;
		}
		nanosleep(&(struct timespec){0, 100000000}, NULL);
	}
	return NULL;
}

static int
check(void)
{
	static const char *const verdicts[] = {"no-leak", "leak", "undecided"};
	struct la_watch_report *r;
	struct la_watch_report_info info;
	struct la_watch_finding f;

	if (la_watch_check(&r)) {
		say("check: error: %s\n", la_errmsg());
		return -1;
	}
	la_watch_report_info(r, &info, sizeof(info));
	say("check: %s after %u samples, %u findings\n", verdicts[info.verdict],
	    info.samples, info.findings);
	for (unsigned i = 0; la_watch_finding(r, i, &f, sizeof(f)) == 0; i++)
		if (f.state == LA_VERDICT_LEAK)
			say("check: leak at %s, %llu bytes in use, %llu more\n",
			    f.location, (unsigned long long)f.in_use_bytes,
			    (unsigned long long)f.growth_bytes);
	la_watch_report_free(r);
	return 0;
}

int
main(int argc, char **argv)
{
	struct la_watch_opts o = {.sz = sizeof(o)};
	struct la_watch_report *r;
	struct la_watch_report_info info;
	char line[256];
	pthread_t t;
	int c, leaking = 0;

	while ((c = getopt(argc, argv, "i:d:m:")) != -1) {
		switch (c) {
		case 'i':
			o.interval_s = atof(optarg);
			break;
		case 'd':
			o.log_dir = optarg;
			break;
		case 'm':
			o.metrics_file = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-i INTERVAL] [-d LOG_DIR] [-m METRICS_FILE]\n",
				argv[0]);
			return 64;
		}
	}
	o.on_finding = on_leak;
	if (la_watch_start(&o)) {
		fprintf(stderr, "la_watch_start: %s\n", la_errmsg());
		return 2;
	}
	/* the first sample answers at once: it is not half an interval old */
	if (la_watch_check(&r)) {
		fprintf(stderr, "la_watch_check: %s\n", la_errmsg());
		la_watch_stop();
		return 2;
	}
	la_watch_report_info(r, &info, sizeof(info));
	la_watch_report_free(r);
	printf("ready: watched by process %d\n", (int)info.watcher);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "leak", 4) && !leaking) {
			if (pthread_create(&t, NULL, leak_forever, NULL) == 0)
				leaking = 1;
			say("leaking\n");
		} else if (!strncmp(line, "check", 5)) {
			check();
		} else if (!strncmp(line, "quit", 4)) {
			break;
		}
	}
	la_watch_stop();
	say("stopped\n");
	return 0;
}
