/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_cli.c - leakattach(1) as users and scripts see it: the JSON
 * document (schema leakattach.snapshot/1, checked by python3's json
 * module) carries glibc's mallinfo2 numbers; the text report; --top;
 * --no-debuginfo; --help and the man page list the same options. A
 * program without CPython has no python section (test_monitor_python.c
 * has the one with).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target.h"

static void
run_tool(struct target *t, const char *extra1, const char *extra2,
	 struct run_result *r)
{
	char pidbuf[32];
	const char *argv[] = { leakattach_path(), "snapshot", "-p", pidbuf, extra1,
			       extra2, NULL };

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)t->pid);
	cr_assert_eq(run_capture(argv, NULL, 60000, r), 0);
	cr_assert_eq(r->status, 0, "status %d: %s", r->status, r->err);
}

/*
 * Validate a JSON document with python3: the schema's required keys, the
 * mallinfo fields against glibc's, and that the size classes add up to
 * the totals.
 */
static void
check_json(const char *doc, const uint64_t mi[MI_NFIELDS], const char *source,
	   int nclasses)
{
	static const char script[] =
		"import json, sys\n"
		"d = json.load(open(sys.argv[1]))\n"
		"want = dict(zip('arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost'.split(), map(int, sys.argv[2].split())))\n"
		"assert d['schema'] == 'leakattach.snapshot/1', d['schema']\n"
		"for k in ('pid', 'consistent', 'pause_ms', 'layout', 'mallinfo', 'totals', 'arenas', 'size_classes', 'process'):\n"
		"    assert k in d, k\n"
		"assert d['consistent'] is True\n"
		"assert d['layout']['source'] == sys.argv[3], d['layout']\n"
		"assert d['layout']['glibc_version'], d['layout']\n"
		"assert d['mallinfo'] == want, (d['mallinfo'], want)\n"
		"t = d['totals']\n"
		"if int(sys.argv[4]) < 0:\n"
		"    for f in ('in_use_chunks', 'in_use_bytes', 'tcache_bytes', 'bin_bytes', 'fastbin_bytes'):\n"
		"        assert sum(c[f] for c in d['size_classes']) == t[f], f\n"
		"else:\n"
		"    assert len(d['size_classes']) == int(sys.argv[4])\n"
		"for c in d['size_classes']:\n"
		"    for k in ('chunk_size_min', 'chunk_size_max', 'in_use_chunks', 'in_use_bytes', 'free_chunks', 'free_bytes'):\n"
		"        assert k in c, k\n"
		"assert sum(a['system_mem'] for a in d['arenas']) == want['arena']\n"
		"assert d['process']['rss_bytes'] > 0 and d['process']['hwm_bytes'] >= d['process']['rss_bytes']\n"
		"assert 'python' not in d, d['python']\n"
		"assert all(o['kind'] != 'python_arenas' for o in d['memory'].get('outside_malloc', [])), d['memory']\n"
		"h = d['memory']['headroom']\n"
		"total = int(open('/proc/meminfo').read().split('MemTotal:')[1].split()[0]) * 1024\n"
		"assert h['limit'] in ('cgroup', 'MemAvailable'), h\n"
		"assert 0 < h['headroom_bytes'] <= total, (h, total)\n"
		"assert h['limit'] != 'MemAvailable' or h['headroom_bytes'] == h['mem_available_bytes'], h\n"
		"assert h['limit'] != 'cgroup' or h['cgroup_used_bytes'] + h['headroom_bytes'] == h['cgroup_limit_bytes'], h\n";
	char path[64], want[512], n[16];
	const char *argv[] = { "/usr/bin/python3", "-c", script, path, want,
			       source, n, NULL };
	struct run_result r;
	FILE *f;
	int len = 0;

	snprintf(path, sizeof(path), "/tmp/la-json-%d.json", (int)getpid());
	f = fopen(path, "w");
	cr_assert(f);
	fputs(doc, f);
	fclose(f);
	for (int i = 0; i < MI_NFIELDS; i++)
		len += snprintf(want + len, sizeof(want) - (size_t)len, "%llu ",
				(unsigned long long)mi[i]);
	snprintf(n, sizeof(n), "%d", nclasses);
	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 0, "JSON check failed: %s", r.err);
	run_result_free(&r);
	remove(path);
}

Test(cli, json_snapshot_matches_mallinfo2, .timeout = 60)
{
	struct target t;
	struct run_result r;
	uint64_t mi[MI_NFIELDS];
	const char *argv[] = { "threads", NULL };

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, mi), 0);
	run_tool(&t, "--json", NULL, &r);
	check_json(r.out, mi, "dwarf", -1);
	run_result_free(&r);
	run_tool(&t, "--json", "--no-debuginfo", &r);
	check_json(r.out, mi, "signature", -1);
	run_result_free(&r);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(cli, json_top_limits_size_classes, .timeout = 60)
{
	struct target t;
	struct run_result r;
	uint64_t mi[MI_NFIELDS];
	const char *argv[] = { "single", NULL };
	char *a, *b;

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, mi), 0);
	run_tool(&t, "--json", "--top=3", &r);
	check_json(r.out, mi, "dwarf", 3);
	run_result_free(&r);

	/* The text report: totals, arenas, 4 size-class rows, mallinfo. */
	run_tool(&t, "--top", "4", &r);
	cr_expect(strstr(r.out, "in use"), "%s", r.out);
	cr_expect(strstr(r.out, "main "), "%s", r.out);
	/* no CPython in the target: no python section, no Python arenas */
	cr_expect(!strstr(r.out, "python") && !strstr(r.out, "Python"), "%s",
		  r.out);
	a = strstr(r.out, "top size classes");
	b = strstr(r.out, "\nmallinfo2:");
	cr_assert(a && b, "%s", r.out);
	{
		int rows = -2; /* the heading lines */

		for (char *p = a; p < b; p++)
			rows += *p == '\n';
		cr_expect_eq(rows, 4, "%s", r.out);
	}
	{
		char want[512];

		snprintf(want, sizeof(want),
			 "mallinfo2: arena=%llu ordblks=%llu",
			 (unsigned long long)mi[MI_ARENA],
			 (unsigned long long)mi[MI_ORDBLKS]);
		cr_expect(strstr(r.out, want), "%s", r.out);
	}
	run_result_free(&r);
	target_stop(&t);
}

/* Collect "--name" tokens (after turning troff's "\-" into "-"). */
static int
options_in(const char *text, char names[][32], int max)
{
	int n = 0;

	for (const char *p = text; *p && n < max; p++) {
		if (p[0] != '-' || p[1] != '-' || !islower((unsigned char)p[2]) ||
		    (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-')))
			continue;
		int len = 0;
		char name[32];

		while (len < 31 && (islower((unsigned char)p[2 + len]) ||
				    p[2 + len] == '-'))
			name[len] = p[2 + len], len++;
		name[len] = '\0';
		while (len && name[len - 1] == '-')
			name[--len] = '\0';
		int dup = 0;

		for (int i = 0; i < n; i++)
			dup |= !strcmp(names[i], name);
		if (!dup)
			snprintf(names[n++], 32, "%s", name);
	}
	return n;
}

static char *
slurp_man(void)
{
	const char *path = getenv("LA_MANPAGE");
	FILE *f = fopen(path ? path : "doc/leakattach.1", "r");
	char *buf, *o;
	long len;

	cr_assert(f, "cannot open the man page");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	/* "\-" -> "-" */
	o = buf;
	for (char *p = buf; *p; p++) {
		if (p[0] == '\\' && p[1] == '-')
			continue;
		*o++ = *p;
	}
	*o = '\0';
	return buf;
}

Test(cli, help_and_man_page_list_the_same_options, .timeout = 30)
{
	const char *argv[] = { leakattach_path(), "--help", NULL };
	struct run_result r;
	char help[64][32], man[64][32];
	char *text = slurp_man();
	int nh, nm;

	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_assert_eq(r.status, 0);
	nh = options_in(r.out, help, 64);
	nm = options_in(text, man, 64);
	cr_assert_gt(nh, 5, "too few options in --help");
	for (int i = 0; i < nh; i++) {
		int found = 0;

		for (int j = 0; j < nm; j++)
			found |= !strcmp(help[i], man[j]);
		cr_expect(found, "--%s is in --help but not in the man page",
			  help[i]);
	}
	for (int j = 0; j < nm; j++) {
		int found = 0;

		for (int i = 0; i < nh; i++)
			found |= !strcmp(help[i], man[j]);
		cr_expect(found, "--%s is in the man page but not in --help",
			  man[j]);
	}
	run_result_free(&r);
	free(text);
}

Test(cli, version, .timeout = 30)
{
	const char *argv[] = { leakattach_path(), "--version", NULL };
	struct run_result r;

	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 0);
	cr_expect(!strncmp(r.out, "leakattach ", 11), "%s", r.out);
	run_result_free(&r);
}

/* ---- the words a person reads (issue 14, section 5) ---------------------- */

/* A folder of our own under /tmp, and its removal. */
static void
make_dir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/la-cli-XXXXXX");
	cr_assert(mkdtemp(buf), "mkdtemp");
}

static void
remove_dir(const char *dir)
{
	const char *argv[] = { "/bin/rm", "-rf", dir, NULL };
	struct run_result r;

	run_capture(argv, NULL, 30000, &r);
	run_result_free(&r);
}

/* Write text into dir/name; the path in path. */
static void
write_in(const char *dir, const char *name, const char *text, char *path,
	 size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* Run python3 -c script with up to four arguments; expect it to pass. */
static void
py_check(const char *what, const char *script, const char *a1, const char *a2,
	 const char *a3, const char *a4)
{
	const char *argv[] = { "/usr/bin/python3", "-c", script, a1, a2, a3, a4,
			       NULL };
	struct run_result r;

	cr_assert_eq(run_capture(argv, NULL, 60000, &r), 0);
	cr_expect_eq(r.status, 0, "%s: %s%s", what, r.out, r.err);
	run_result_free(&r);
}

/* leakattach with up to 14 arguments (NULL-terminated); status in r. */
static void
la(struct run_result *r, const char *a0, ...)
{
	const char *argv[16] = { leakattach_path(), a0 };
	va_list ap;
	int n = 2;

	va_start(ap, a0);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	cr_assert_eq(run_capture(argv, NULL, 120000, r), 0, "%s", a0);
}

/* The text between start and end in s, into buf. */
static int
text_between(const char *s, const char *start, const char *end, char *buf,
	     size_t len)
{
	const char *a = strstr(s, start), *b;

	if (!a)
		return -1;
	a += strlen(start);
	b = strstr(a, end);
	if (!b || (size_t)(b - a) >= len)
		return -1;
	memcpy(buf, a, (size_t)(b - a));
	buf[b - a] = '\0';
	return 0;
}

/* A process ID that no process has. */
static pid_t
free_pid(void)
{
	pid_t pid = 4194000;

	while (kill(pid, 0) == 0 || errno != ESRCH)
		pid--;
	return pid;
}

/*
 * One definition of "held from the system" (arena + hblkhd of glibc's
 * own mallinfo2 = in use + free + metadata), the same figure in
 * snapshot's text and JSON and in check's text and JSON, for a heap with
 * mmapped chunks (where in use counts them and the arenas alone held
 * less than in use), and never less than in use.
 */
Test(cli, snapshot_and_check_agree_on_held_from_the_system, .timeout = 120)
{
	const char *targv[] = { "mmapped", NULL };
	struct target t;
	struct run_result r;
	uint64_t mi[MI_NFIELDS];
	char pid[32], dir[64], snap_json[256], check_json[256], want[64];
	char snap_held[64], check_held[64];

	cr_assert_eq(target_start(&t, "heapgen", targv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, mi), 0);
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	make_dir(dir, sizeof(dir));

	la(&r, "snapshot", "-p", pid, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect_eq(text_between(r.out, "\nheap: ", " held from the system: ",
				  snap_held, sizeof(snap_held)),
		     0, "%s", r.out);
	run_result_free(&r);
	la(&r, "snapshot", "-p", pid, "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	write_in(dir, "snapshot.json", r.out, snap_json, sizeof(snap_json));
	run_result_free(&r);
	la(&r, "check", "-p", pid, "--log-dir", dir, "--callers=off", NULL);
	cr_assert(r.status == 0 || r.status == 3, "%d: %s", r.status, r.err);
	cr_expect_eq(text_between(r.out, " free, ", " held from the system;",
				  check_held, sizeof(check_held)),
		     0, "%s", r.out);
	run_result_free(&r);
	la(&r, "check", "-p", pid, "--log-dir", dir, "--callers=off", "--json",
	   NULL);
	cr_assert(r.status == 0 || r.status == 3, "%d: %s", r.status, r.err);
	write_in(dir, "check.json", r.out, check_json, sizeof(check_json));
	run_result_free(&r);

	cr_expect_str_eq(snap_held, check_held);
	snprintf(want, sizeof(want), "%llu",
		 (unsigned long long)(mi[MI_ARENA] + mi[MI_HBLKHD]));
	py_check("held from the system",
		 "import json, sys\n"
		 "s = json.load(open(sys.argv[1]))['totals']\n"
		 "c = json.load(open(sys.argv[2]))['totals']\n"
		 "held = int(sys.argv[3])\n"
		 "assert s['mmapped_bytes'] > 0, s\n"
		 "assert s['system_bytes'] == c['system_bytes'] == held, (s, c, held)\n"
		 "assert s['system_bytes'] == s['in_use_bytes'] + s['free_bytes'] + s['meta_bytes'], s\n"
		 "assert s['system_bytes'] >= s['in_use_bytes'] and c['system_bytes'] >= c['in_use_bytes'], (s, c)\n"
		 "assert c['in_use_bytes'] == s['in_use_bytes'], (s, c)\n",
		 snap_json, check_json, want, NULL);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
	remove_dir(dir);
}

/*
 * Every key of the JSON documents leakattach prints (a snapshot, a
 * monitor that found a leak, a trim, an error) is named in bold in the
 * man page's JSON OUTPUT section.
 */
Test(cli, json_keys_are_in_the_man_page, .timeout = 180)
{
	const char *hargv[] = { "threads", NULL };
	const char *largv[] = { "sizeclass", NULL };
	struct target h, l;
	struct run_result r;
	char hpid[32], lpid[32], nopid[32], dir[64], docs[4][256];
	const char *man = getenv("LA_MANPAGE");

	cr_assert(man, "LA_MANPAGE is not set (run through make check)");
	make_dir(dir, sizeof(dir));
	cr_assert_eq(target_start(&h, "heapgen", hargv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&h, (uint64_t[MI_NFIELDS]){ 0 }), 0);
	snprintf(hpid, sizeof(hpid), "%d", (int)h.pid);
	la(&r, "snapshot", "-p", hpid, "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	write_in(dir, "snapshot.json", r.out, docs[0], sizeof(docs[0]));
	run_result_free(&r);
	la(&r, "trim", "-p", hpid, "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	write_in(dir, "trim.json", r.out, docs[1], sizeof(docs[1]));
	run_result_free(&r);
	target_stop(&h);

	/* a leak: 20 blocks of 1160 bytes every 100 ms */
	cr_assert_eq(target_start(&l, "leaky", largv, NULL), 0);
	cr_assert_eq(target_read_line(&l, 20000), 0);
	cr_assert_eq(target_send(&l, "timer 100 20"), 0);
	cr_assert_eq(target_read_line(&l, 20000), 0);
	cr_assert_str_eq(l.line, "timer on");
	snprintf(lpid, sizeof(lpid), "%d", (int)l.pid);
	la(&r, "monitor", "-p", lpid, "--json", "--interval", "0.3",
	   "--duration", "2.5", "--min-size", "16K", "--log-dir", dir, NULL);
	cr_expect_eq(r.status, 1, "%d: %s", r.status, r.err);
	write_in(dir, "monitor.json", r.out, docs[2], sizeof(docs[2]));
	run_result_free(&r);
	target_stop(&l);

	snprintf(nopid, sizeof(nopid), "%d", (int)free_pid());
	la(&r, "snapshot", "-p", nopid, "--json", NULL);
	cr_expect_eq(r.status, 2);
	write_in(dir, "error.json", r.out, docs[3], sizeof(docs[3]));
	run_result_free(&r);

	py_check("JSON keys in the man page",
		 "import json, re, sys\n"
		 "man = open(sys.argv[1]).read().replace('\\\\-', '-')\n"
		 "sec = man[man.index('.SH JSON OUTPUT'):man.index('.SH EXIT STATUS')]\n"
		 "bold = set()\n"
		 "for m in re.finditer(r'\\\\fB(.*?)\\\\f[RPI]', sec):\n"
		 "    bold.update(re.findall(r'[a-z_0-9]+', m.group(1)))\n"
		 "for line in sec.splitlines():\n"
		 "    if line.startswith(('.B ', '.BR ', '.RB ')):\n"
		 "        bold.update(re.findall(r'[a-z_0-9]+', line[3:]))\n"
		 "def keys(v, out):\n"
		 "    if isinstance(v, dict):\n"
		 "        for k, x in v.items():\n"
		 "            out.add(k)\n"
		 "            keys(x, out)\n"
		 "    elif isinstance(v, list):\n"
		 "        for x in v:\n"
		 "            keys(x, out)\n"
		 "    return out\n"
		 "seen = set()\n"
		 "for path in sys.argv[2:]:\n"
		 "    seen |= keys(json.loads(open(path).read()), set())\n"
		 "for k in ('leaks_this_run', 'leaks', 'system_bytes', 'returned'):\n"
		 "    assert k in seen, 'no %s in the documents' % k\n"
		 "missing = sorted(seen - bold)\n"
		 "assert not missing, 'not in the man page: %s' % missing\n",
		 man, docs[0], docs[1], docs[2]);
	py_check("the error document's keys in the man page",
		 "import json, re, sys\n"
		 "man = open(sys.argv[1]).read()\n"
		 "sec = man[man.index('.SS Errors'):man.index('.SH EXIT STATUS')]\n"
		 "d = json.loads(open(sys.argv[2]).read())\n"
		 "for k in list(d) + list(d['error']):\n"
		 "    assert '\\\\fB%s\\\\fR' % k in sec or '.B %s\\n' % k in sec, k\n",
		 man, docs[3], NULL, NULL);
	remove_dir(dir);
}

/*
 * With --json an error is a leakattach.error/1 document on stdout (code:
 * the exit status; message: the sentence on stderr), for each command
 * that takes --json and for usage errors after --json; without --json
 * stdout stays empty.
 */
Test(cli, an_error_with_json_is_a_json_document_too, .timeout = 120)
{
	char nopid[32], dir[64], out[256];
	struct {
		const char *args[8];
		int status;
	} cases[] = {
		{ { "snapshot", "-p", nopid, "--json" }, 2 },
		{ { "check", "-p", nopid, "--json" }, 2 },
		{ { "monitor", "-p", nopid, "--json", "--duration", "1" }, 2 },
		{ { "trim", "-p", nopid, "--json" }, 2 },
		{ { "check", "--json", "--interval", "0.1", "--", "false" }, 2 },
		{ { "check", "-p", nopid, "--json", "--min-size", "1X" }, 64 },
		{ { "--json", "13537" }, 64 },
		{ { "snapshot", "--json", "--top", "-3", "-p", nopid }, 64 },
		{ { "simulate", "--json", "--size", "0" }, 64 },
	};

	snprintf(nopid, sizeof(nopid), "%d", (int)free_pid());
	make_dir(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[12] = { leakattach_path() };
		struct run_result r;
		char status[16];
		int n = 1;

		for (int j = 0; cases[i].args[j]; j++)
			argv[n++] = cases[i].args[j];
		argv[n] = NULL;
		cr_assert_eq(run_capture(argv, NULL, 60000, &r), 0);
		cr_expect_eq(r.status, cases[i].status, "case %zu: %d: %s", i,
			     r.status, r.err);
		snprintf(status, sizeof(status), "%d", cases[i].status);
		write_in(dir, "out", r.out, out, sizeof(out));
		{
			char err[256];

			write_in(dir, "err", r.err, err, sizeof(err));
			py_check(cases[i].args[0],
				 "import json, sys\n"
				 "text = open(sys.argv[1]).read()\n"
				 "assert text.count('\\n') == 1, text\n"
				 "d = json.loads(text)\n"
				 "assert d['schema'] == 'leakattach.error/1', d\n"
				 "assert d['error']['code'] == int(sys.argv[3]), d\n"
				 "last = open(sys.argv[2]).read().splitlines()[-1]\n"
				 "assert last == 'leakattach: ' + d['error']['message'], (last, d)\n",
				 out, err, status, NULL);
		}
		/* the same without --json: stdout stays empty */
		n = 1;
		for (int j = 0; cases[i].args[j]; j++)
			if (strcmp(cases[i].args[j], "--json"))
				argv[n++] = cases[i].args[j];
		argv[n] = NULL;
		run_result_free(&r);
		cr_assert_eq(run_capture(argv, NULL, 60000, &r), 0);
		cr_expect_eq(r.status, cases[i].status, "case %zu", i);
		cr_expect_str_eq(r.out, "", "case %zu without --json", i);
		run_result_free(&r);
	}
	remove_dir(dir);
}

/* The lines "DATE TIME sample N: heap in use ..." in out. */
static unsigned
sample_lines(const char *out, unsigned *with_growth)
{
	unsigned n = 0;

	*with_growth = 0;
	for (const char *p = out; (p = strstr(p, " sample ")); p++) {
		const char *eol = strchr(p, '\n');
		char line[512];

		if (!eol || (size_t)(eol - p) >= sizeof(line))
			continue;
		memcpy(line, p, (size_t)(eol - p));
		line[eol - p] = '\0';
		if (!strstr(line, ": heap in use "))
			continue;
		n++;
		*with_growth += strstr(line, "since the previous sample, ") &&
				strstr(line, "since the first)");
	}
	return n;
}

/*
 * monitor with stdout not a terminal (a pipe here) prints a line per
 * sample, one for each sample the summary counts, the growth from the
 * second on; --quiet, in a configuration file too, and --json have none.
 */
Test(cli, monitor_prints_a_line_per_sample_off_a_terminal, .timeout = 120)
{
	const char *largv[] = { "sizeclass", NULL };
	struct target l;
	struct run_result r;
	char pid[32], dir[64], conf[256], env0[300];
	const char *env[] = { env0, NULL };
	unsigned n, growth, samples = 0;
	const char *s;

	cr_assert_eq(target_start(&l, "leaky", largv, NULL), 0);
	cr_assert_eq(target_read_line(&l, 20000), 0);
	cr_assert_eq(target_send(&l, "timer 100 5"), 0);
	cr_assert_eq(target_read_line(&l, 20000), 0);
	snprintf(pid, sizeof(pid), "%d", (int)l.pid);
	make_dir(dir, sizeof(dir));

	la(&r, "monitor", "-p", pid, "--interval", "0.2", "--duration", "1",
	   "--callers=off", "--log-dir", dir, NULL);
	cr_expect(r.status == 0 || r.status == 1 || r.status == 3, "%d: %s",
		  r.status, r.err);
	n = sample_lines(r.out, &growth);
	s = strstr(r.out, "(leaky): ");
	cr_assert(s && sscanf(s, "(leaky): %u samples", &samples) == 1, "%s",
		  r.out);
	cr_expect_gt(samples, 1, "%s", r.out);
	cr_expect_eq(n, samples, "%u lines for %u samples: %s", n, samples,
		     r.out);
	cr_expect_eq(growth, n - 1, "%s", r.out);
	cr_expect(strstr(r.out, " sample 1: heap in use "), "%s", r.out);
	run_result_free(&r);

	la(&r, "monitor", "-p", pid, "--interval", "0.2", "--duration", "0.5",
	   "--callers=off", "--log-dir", dir, "--quiet", NULL);
	cr_expect_eq(sample_lines(r.out, &growth), 0, "%s", r.out);
	cr_expect(strstr(r.out, "leakattach monitor: process"), "%s", r.out);
	run_result_free(&r);

	/* quiet = yes in a configuration file */
	write_in(dir, "config", "[monitor]\nquiet = yes\n", conf, sizeof(conf));
	snprintf(env0, sizeof(env0), "LEAKATTACH_CONFIG=%s", conf);
	{
		const char *argv[] = { leakattach_path(), "monitor", "-p", pid,
				       "--interval", "0.2", "--duration", "0.5",
				       "--callers=off", "--log-dir", dir, NULL };

		cr_assert_eq(run_capture(argv, env, 60000, &r), 0);
		cr_expect_eq(sample_lines(r.out, &growth), 0, "%s", r.out);
		cr_expect(strstr(r.out, "leakattach monitor: process"), "%s",
			  r.out);
		run_result_free(&r);
	}

	la(&r, "monitor", "-p", pid, "--interval", "0.2", "--duration", "0.5",
	   "--callers=off", "--log-dir", dir, "--json", NULL);
	cr_expect_eq(sample_lines(r.out, &growth), 0, "%s", r.out);
	cr_expect_eq(r.out[0], '{', "%s", r.out);
	run_result_free(&r);

	cr_expect_eq(target_check_unharmed(&l, 0, NULL), 0, "%s", l.line);
	target_stop(&l);
	remove_dir(dir);
}

/* The --help's quickest answer. */
Test(cli, help_shows_the_quickest_answer, .timeout = 30)
{
	const char *argv[] = { leakattach_path(), "--help", NULL };
	struct run_result r;

	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect(strstr(r.out, "leakattach check -p PID --repeat 4\n"), "%s",
		  r.out);
	run_result_free(&r);
}
