/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cxxleak.cc - test target for naming leaked types: a C++ program that
 * leaks objects of a polymorphic class, Widget, while it keeps a steady
 * pool of another class of the same size, Gadget, that it churns
 * (replaces and allocates temporaries of) at every step. Both derive from
 * Base, so the first word of each object points into its class's vtable:
 * leakattach must name Widget as the leak, not Gadget.
 *
 * Usage: cxxleak
 *
 * Protocol on stdout, one line each: "ready cxxleak chunk=N gadgets=G"
 * once set up (N: the chunk size of both classes; G live Gadgets), then
 * an answer per command. Commands on stdin, one per line:
 *   again      print glibc's mallinfo2(), as heapgen does
 *   step [N]   leak N Widgets (default 1), replace every Gadget of the
 *              pool and allocate and free N Gadgets more; then "stepped
 *              widgets=W gadgets=G"
 *   list       "w ADDR" for every live Widget, "g ADDR" for every live
 *              Gadget (the pointers new returned), then "end widgets=W
 *              gadgets=G"
 *   quit       exit(0); so does end of file
 * Anything else is answered with "error ...". No stdio and no iostream
 * (they allocate): output is write(2) of snprintf'ed stack buffers. Dies
 * with its parent. Never sanitized.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only: no FILE is ever touched */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TARGET_NAME "cxxleak"
#include "target_report.h"

#define GADGETS 256
#define WIDGETS_MAX 200000

class Base
{
      public:
	explicit Base(int id) : id_(id)
	{
	}
	virtual ~Base()
	{
	}
	virtual int kind() const = 0;
	virtual int id() const
	{
		return id_;
	}

      protected:
	int id_;
};

class Widget : public Base
{
      public:
	explicit Widget(int id) : Base(id)
	{
		memset(name_, 'w', sizeof(name_));
	}
	int kind() const override
	{
		return 1;
	}

      private:
	char name_[480];
};

class Gadget : public Base
{
      public:
	explicit Gadget(int id) : Base(id)
	{
		memset(label_, 'g', sizeof(label_));
	}
	int kind() const override
	{
		return 2;
	}

      private:
	char label_[480];
};

static_assert(sizeof(Widget) == sizeof(Gadget), "one size class for both");

static Base *widgets[WIDGETS_MAX];
static size_t nwidgets;
static Base *gadgets[GADGETS];
static int next_id;

/* The same work a real program does: both kinds through Base. */
static int checksum;

static void
use(const Base *b)
{
	checksum += b->kind() + b->id();
}

static void
step(long n)
{
	for (long i = 0; i < n && nwidgets < WIDGETS_MAX; i++) {
		Base *w = new Widget(next_id++);

		use(w);
		widgets[nwidgets++] = w; /* never deleted: the leak */
	}
	/* churn: temporaries, and every Gadget of the pool replaced */
	for (long i = 0; i < n; i++) {
		Base *tmp = new Gadget(next_id++);

		use(tmp);
		delete tmp;
	}
	for (size_t i = 0; i < GADGETS; i++) {
		delete gadgets[i];
		gadgets[i] = new Gadget(next_id++);
		use(gadgets[i]);
	}
}

static void
list(void)
{
	for (size_t i = 0; i < nwidgets; i++)
		sayf("w %#lx\n", (unsigned long)(uintptr_t)widgets[i]);
	for (size_t i = 0; i < GADGETS; i++)
		sayf("g %#lx\n", (unsigned long)(uintptr_t)gadgets[i]);
	sayf("end widgets=%zu gadgets=%d\n", nwidgets, GADGETS);
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
		sayf("stepped widgets=%zu gadgets=%d\n", nwidgets, GADGETS);
	} else if (!strcmp(line, "list")) {
		list();
	} else {
		sayf("error unknown command\n");
	}
}

int
main(void)
{
	die_with_parent();
	for (size_t i = 0; i < GADGETS; i++)
		gadgets[i] = new Gadget(next_id++);
	sayf("ready cxxleak chunk=%zu gadgets=%d\n",
	     (sizeof(Widget) + 8 + 15) & ~(size_t)15, GADGETS);
	serve_commands(command);
}
