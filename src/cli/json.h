/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * json.h - a small streaming JSON writer: objects, arrays, keys, numbers,
 * strings (escaped), booleans. Commas and nesting are tracked for the
 * caller; output is compact, one document per call sequence.
 */
#ifndef LA_CLI_JSON_H
#define LA_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *f;
	int depth;
	int need_comma[32];
};

void json_begin(struct json *j, FILE *f);
void json_object(struct json *j, const char *key); /* key NULL in arrays */
void json_array(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_end_array(struct json *j);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_double(struct json *j, const char *key, double v);
void json_double_g(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, int v);
void json_string(struct json *j, const char *key, const char *s);
void json_finish(struct json *j); /* newline */
/* Whether a document was begun on stdout (one document per run there). */
int json_stdout_begun(void);

#endif
