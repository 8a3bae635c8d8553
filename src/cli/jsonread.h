/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jsonread.h - a small JSON reader for what leakattach itself writes
 * (history.jsonl lines, leakattach.check/1 reports): the whole text
 * parsed into a tree of values. Strict RFC 8259 syntax; strings are
 * decoded to UTF-8 (\u escapes included, a NUL cut off); nesting is
 * limited to JV_DEPTH_MAX. Numbers are doubles.
 */
#ifndef LA_CLI_JSONREAD_H
#define LA_CLI_JSONREAD_H

#include <stddef.h>

#define JV_DEPTH_MAX 64

enum jv_type { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jv {
	enum jv_type type;
	char *key; /* a member of an object: its name; else NULL */
	double num; /* JV_NUMBER; JV_BOOL 0 or 1 */
	char *str; /* JV_STRING */
	struct jv *child; /* JV_ARRAY, JV_OBJECT: the first element */
	struct jv *next; /* the next element of the parent */
	unsigned n; /* JV_ARRAY, JV_OBJECT: elements */
};

/* Parse len bytes (one value, whitespace around it): the tree, or NULL. */
struct jv *jv_parse(const char *text, size_t len);
void jv_free(struct jv *v); /* accepts NULL */
/* The member key of object o, or NULL (also when o is NULL or no object). */
const struct jv *jv_get(const struct jv *o, const char *key);
/* Element i of array a, or NULL. */
const struct jv *jv_at(const struct jv *a, unsigned i);
/* The number (or bool) v, or def when v is NULL or not one. */
double jv_num(const struct jv *v, double def);
/* The string v, or def. */
const char *jv_str(const struct jv *v, const char *def);
/* Shorthands for a member: jv_num(jv_get(o, key), def) and the like. */
double jv_get_num(const struct jv *o, const char *key, double def);
const char *jv_get_str(const struct jv *o, const char *key, const char *def);

#endif
