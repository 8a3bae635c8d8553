/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor_python.c - a real program: python3 leaking strings through a
 * list (in malloc's size classes, and in pymalloc's arenas: a leak of the
 * heap), and churning a bounded dict (no leak).
 * See test_monitor.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_monitor.h"

/* ---- a real program: python3 ---------------------------------------------- */

/*
 * python3 -c SCRIPT list SIZE N: append N strings of SIZE characters to
 * a list every 0.1 s; dict SIZE KEYS N: replace N of KEYS values with
 * fresh strings of SIZE/2-3*SIZE/2 characters every 10 ms. "again" is
 * answered "alive"; quit or end of file ends it at once.
 */
static const char py_target[] =
	"import os, random, sys, threading, time\n"
	"def serve():\n"
	"    for line in sys.stdin:\n"
	"        if line.strip() == 'again':\n"
	"            print('alive', flush=True)\n"
	"        elif line.strip() == 'quit':\n"
	"            break\n"
	"    os._exit(0)\n"
	"threading.Thread(target=serve, daemon=True).start()\n"
	"mode, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[-1])\n"
	"rng = random.Random(1)\n"
	"i = 0\n"
	"if mode == 'list':\n"
	"    kept = []\n"
	"    print('ready', flush=True)\n"
	"    while True:\n"
	"        for _ in range(n):\n"
	"            kept.append(('%d ' % i).ljust(size, 'x'))\n"
	"            i += 1\n"
	"        time.sleep(0.1)\n"
	"keys = int(sys.argv[3])\n"
	"cache = {k: 'x' * rng.randint(size // 2, size * 3 // 2) for k in range(keys)}\n"
	"print('ready', flush=True)\n"
	"while True:\n"
	"    for _ in range(n):\n"
	"        cache[rng.randrange(keys)] = ('%d ' % i).ljust(rng.randint(size // 2, size * 3 // 2), 'y')\n"
	"        i += 1\n"
	"    time.sleep(0.01)\n";

static void
python_start(struct target *t, const char *const args[])
{
	const char *argv[8] = {"-c", py_target};
	int n = 2, err;

	for (int i = 0; args[i] && n < 7; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	err = target_start(t, "/usr/bin/python3", argv, NULL);
	cr_assert_eq(err, 0, "python3: %s", strerror(-err));
	cr_assert_eq(target_read_line(t, 20000), 0, "python3 did not start");
	cr_assert_str_eq(t->line, "ready");
}

/*
 * Strings of 1000 characters are malloc()ed (pymalloc takes only 512
 * bytes and less), 500 of them every 0.1 s: the leak is named by its
 * size class in the main arena.
 */
Test(python, appending_large_strings_to_a_list_is_a_leak, .timeout = 60)
{
	const char *args[] = {"list", "1000", "500", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	python_start(&t, args);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "5",
			    "--interval", "0.3", "--json", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect_doc(
		r.out,
		"assert d['comm'].startswith('python3'), d['comm']\n"
		"assert where(d['leaks'], 'arena_size_class', 'main', 1072), d['leaks']\n"
		"assert where(d['leaks'], 'heap'), d['leaks']\n",
		NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * 20000 strings of 100 characters every 0.1 s: the strings live in
 * pymalloc's arenas, which python mmaps itself, outside malloc's heap;
 * what malloc sees grow is the list's array. Still a leak, of the heap.
 */
Test(python, appending_small_strings_to_a_list_is_a_leak, .timeout = 60)
{
	const char *args[] = {"list", "100", "20000", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	python_start(&t, args);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "5",
			    "--interval", "0.3", "--json", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect_doc(r.out, "assert where(d['leaks'], 'heap'), d['leaks']\n",
		  NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/* A dict of 5000 keys whose values are replaced all the time: no leak. */
Test(python, churning_a_bounded_dict_is_no_leak, .timeout = 60)
{
	const char *args[] = {"dict", "1000", "5000", "200", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	python_start(&t, args);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "8",
			    "--interval", "0.25", "--json", NULL),
		     0, "%s%s", r.out, r.err);
	py_expect_doc(
		r.out,
		"assert d['samples'] == 8 and d['leaks'] == [], d['leaks']\n"
		"assert d['totals']['in_use_bytes'] > 4 * 2**20, d['totals']\n",
		NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}
