/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * opsleak.c - test target for naming leaked C structs by what their first
 * field points at: "struct widget" starts with a pointer to the static
 * const ops table widget_ops (the kernel's file_operations idiom), and
 * leaks; "struct gadget", the same size with gadget_ops, is churned.
 *
 * Usage: opsleak
 *
 * Protocol on stdout, one line each: "ready opsleak chunk=N" once set up
 * (N: the chunk size of both structs), then an answer per command.
 * Commands on stdin, one per line:
 *   again      print glibc's mallinfo2(), as heapgen does
 *   step [N]   leak N widgets (default 1), allocate and free N gadgets;
 *              then "stepped widgets=W"
 *   quit       exit(0); so does end of file
 * Anything else is answered with "error ...". No stdio (it allocates):
 * output is write(2) of snprintf'ed stack buffers. Dies with its parent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only: no FILE is ever touched */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TARGET_NAME "opsleak"
#include "target_report.h"

#define WIDGETS_MAX 200000

struct widget;

struct widget_ops {
	int (*open)(struct widget *w);
	void (*close)(struct widget *w);
};

struct widget {
	const struct widget_ops *ops; /* first: what names the type */
	int id;
	char data[740];
};

static int
widget_open(struct widget *w)
{
	return w->id;
}

static void
widget_close(struct widget *w)
{
	w->id = -1;
}

/* In .data.rel.ro of a PIE (relocated pointers), .rodata otherwise. */
static const struct widget_ops widget_ops = {
	.open = widget_open,
	.close = widget_close,
};
static const struct widget_ops gadget_ops = {
	.open = widget_open,
	.close = widget_close,
};

static struct widget *widgets[WIDGETS_MAX];
static size_t nwidgets;
static int checksum;

static struct widget *
widget_new(const struct widget_ops *ops, int id)
{
	struct widget *w = malloc(sizeof(*w));

	if (!w)
		die("malloc failed");
	memset(w->data, 0x5a, sizeof(w->data));
	w->ops = ops;
	w->id = id;
	checksum += w->ops->open(w);
	return w;
}

static void
step(long n)
{
	for (long i = 0; i < n && nwidgets < WIDGETS_MAX; i++)
		widgets[nwidgets++] = widget_new(&widget_ops, (int)i);
	for (long i = 0; i < n; i++) {
		struct widget *g = widget_new(&gadget_ops, (int)i);

		g->ops->close(g);
		free(g);
	}
}

static void
command(char *line)
{
	char *arg = strchr(line, ' ');
	long n = 1;

	if (arg) {
		char *end;

		*arg++ = '\0';
		n = strtol(arg, &end, 10);
		if (*end || n < 0 || n > WIDGETS_MAX)
			n = -1;
	}
	if (!strcmp(line, "again")) {
		report_mallinfo();
	} else if (!strcmp(line, "step") && n >= 0) {
		step(n);
		sayf("stepped widgets=%zu\n", nwidgets);
	} else {
		sayf("error unknown command\n");
	}
}

int
main(void)
{
	die_with_parent();
	sayf("ready opsleak chunk=%zu\n",
	     (sizeof(struct widget) + 8 + 15) & ~(size_t)15);
	serve_commands(command);
}
