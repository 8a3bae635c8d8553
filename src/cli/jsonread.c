/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jsonread.c - parse JSON text into a tree of struct jv (jsonread.h). A
 * recursive descent over the text; any syntax error, or nesting deeper
 * than JV_DEPTH_MAX, fails the whole parse.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonread.h"

struct parser {
	const char *p, *end;
};

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int
literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return -EINVAL;
	ps->p += n;
	return 0;
}

static int
hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at ps->p (on its quote): decoded, malloc'ed, into *out. */
static int
string(struct parser *ps, char **out)
{
	const char *start;
	char *buf, *o;

	if (ps->p >= ps->end || *ps->p != '"')
		return -EINVAL;
	start = ++ps->p;
	/* the decoded text is never longer than the escaped one */
	while (ps->p < ps->end && *ps->p != '"') {
		if (*ps->p == '\\')
			ps->p++;
		ps->p++;
	}
	if (ps->p >= ps->end)
		return -EINVAL;
	buf = malloc((size_t)(ps->p - start) + 1);
	if (!buf)
		return -ENOMEM;
	o = buf;
	for (ps->p = start; *ps->p != '"';) {
		unsigned char c = (unsigned char)*ps->p++;
		unsigned cp, lo;

		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		switch (*ps->p++) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '/':
			*o++ = '/';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			if (hex4(ps, &cp))
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				/* a surrogate pair: six characters each */
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' ||
				    ps->p[1] != 'u')
					goto bad;
				ps->p += 2;
				if (hex4(ps, &lo) || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto bad;
			}
			/* "\uXXXX" is 6 bytes, its UTF-8 at most 4 */
			o += utf8_put(o, cp);
			break;
		default:
			goto bad;
		}
	}
	ps->p++;
	*o = '\0';
	*out = buf;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

static int
number(struct parser *ps, double *out)
{
	const char *s = ps->p;
	char tmp[64], *end;
	size_t n;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return -EINVAL;
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return -EINVAL;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return -EINVAL;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	n = (size_t)(ps->p - s);
	if (n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	/* the C locale's decimal point: main() sets LC_CTYPE only */
	*out = strtod(tmp, &end);
	return *end ? -EINVAL : 0;
}

static int value(struct parser *ps, struct jv *v, unsigned depth);

/* The elements of an array or the members of an object, up to close. */
static int
elements(struct parser *ps, struct jv *v, unsigned depth)
{
	char close = v->type == JV_ARRAY ? ']' : '}';
	struct jv **tail = &v->child;
	int err;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct jv *e = calloc(1, sizeof(*e));

		if (!e)
			return -ENOMEM;
		*tail = e;
		tail = &e->next;
		v->n++;
		skip_ws(ps);
		if (v->type == JV_OBJECT) {
			err = string(ps, &e->key);
			if (err)
				return err;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return -EINVAL;
			ps->p++;
		}
		err = value(ps, e, depth + 1);
		if (err)
			return err;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return -EINVAL;
		if (*ps->p == close) {
			ps->p++;
			return 0;
		}
		if (*ps->p != ',')
			return -EINVAL;
		ps->p++;
	}
}

static int
value(struct parser *ps, struct jv *v, unsigned depth)
{
	if (depth > JV_DEPTH_MAX)
		return -EINVAL;
	skip_ws(ps);
	if (ps->p >= ps->end)
		return -EINVAL;
	switch (*ps->p) {
	case '{':
		v->type = JV_OBJECT;
		return elements(ps, v, depth);
	case '[':
		v->type = JV_ARRAY;
		return elements(ps, v, depth);
	case '"':
		v->type = JV_STRING;
		return string(ps, &v->str);
	case 't':
		v->type = JV_BOOL;
		v->num = 1;
		return literal(ps, "true");
	case 'f':
		v->type = JV_BOOL;
		return literal(ps, "false");
	case 'n':
		v->type = JV_NULL;
		return literal(ps, "null");
	default:
		v->type = JV_NUMBER;
		return number(ps, &v->num);
	}
}

void
jv_free(struct jv *v)
{
	while (v) {
		struct jv *next = v->next;

		jv_free(v->child);
		free(v->key);
		free(v->str);
		free(v);
		v = next;
	}
}

struct jv *
jv_parse(const char *text, size_t len)
{
	struct parser ps = {.p = text, .end = text + len};
	struct jv *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (value(&ps, v, 0)) {
		jv_free(v);
		return NULL;
	}
	skip_ws(&ps);
	if (ps.p != ps.end) {
		jv_free(v);
		return NULL;
	}
	return v;
}

const struct jv *
jv_get(const struct jv *o, const char *key)
{
	if (!o || o->type != JV_OBJECT)
		return NULL;
	for (const struct jv *e = o->child; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

const struct jv *
jv_at(const struct jv *a, unsigned i)
{
	const struct jv *e;

	if (!a || a->type != JV_ARRAY)
		return NULL;
	for (e = a->child; e && i; e = e->next)
		i--;
	return e;
}

double
jv_num(const struct jv *v, double def)
{
	return v && (v->type == JV_NUMBER || v->type == JV_BOOL) ? v->num : def;
}

const char *
jv_str(const struct jv *v, const char *def)
{
	return v && v->type == JV_STRING ? v->str : def;
}

double
jv_get_num(const struct jv *o, const char *key, double def)
{
	return jv_num(jv_get(o, key), def);
}

const char *
jv_get_str(const struct jv *o, const char *key, const char *def)
{
	return jv_str(jv_get(o, key), def);
}
