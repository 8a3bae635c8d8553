/* SPDX-License-Identifier: GPL-2.0-or-later */
/* json.c - see json.h. */
#include <math.h>

#include "json.h"

static int stdout_begun;

int
json_stdout_begun(void)
{
	return stdout_begun;
}

void
json_begin(struct json *j, FILE *f)
{
	if (f == stdout)
		stdout_begun = 1;
	j->f = f;
	j->depth = 0;
	j->need_comma[0] = 0;
}

static void
str(struct json *j, const char *s)
{
	fputc('"', j->f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(j->f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(j->f, "\\u%04x", *p);
		else
			fputc(*p, j->f);
	}
	fputc('"', j->f);
}

static void
prefix(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = 1;
	if (key) {
		str(j, key);
		fputc(':', j->f);
	}
}

static void
open_(struct json *j, const char *key, char c)
{
	prefix(j, key);
	fputc(c, j->f);
	if (j->depth < 31)
		j->depth++;
	j->need_comma[j->depth] = 0;
}

void
json_object(struct json *j, const char *key)
{
	open_(j, key, '{');
}

void
json_array(struct json *j, const char *key)
{
	open_(j, key, '[');
}

void
json_end_object(struct json *j)
{
	j->depth--;
	fputc('}', j->f);
}

void
json_end_array(struct json *j)
{
	j->depth--;
	fputc(']', j->f);
}

void
json_u64(struct json *j, const char *key, uint64_t v)
{
	prefix(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void
json_i64(struct json *j, const char *key, int64_t v)
{
	prefix(j, key);
	fprintf(j->f, "%lld", (long long)v);
}

void
json_double(struct json *j, const char *key, double v)
{
	prefix(j, key);
	/* JSON has no infinity or NaN */
	if (isfinite(v))
		fprintf(j->f, "%.3f", v);
	else
		fputs("null", j->f);
}

/* A probability or any small number: 3 significant digits ("6.12e-06"). */
void
json_double_g(struct json *j, const char *key, double v)
{
	prefix(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.3g", v);
	else
		fputs("null", j->f);
}

void
json_bool(struct json *j, const char *key, int v)
{
	prefix(j, key);
	fputs(v ? "true" : "false", j->f);
}

void
json_string(struct json *j, const char *key, const char *s)
{
	prefix(j, key);
	str(j, s);
}

void
json_finish(struct json *j)
{
	fputc('\n', j->f);
}
