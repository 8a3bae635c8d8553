/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * static_main.c - what makes leakattach-static one file that runs on any
 * x86-64 Linux box: the same program as leakattach (the CLI's objects and
 * the core library, linked with -static, Makefile.am "the static tool"),
 * plus the few calls of theirs that a static glibc could only serve with
 * shared objects of the build's own glibc version, which the box does not
 * have. The linker redirects them here (-Wl,--wrap=NAME: a call of NAME
 * becomes __wrap_NAME, and __real_NAME is the original):
 *
 *   main      the file is also la-int3-tracer, the int3 backend's tracer
 *             (src/tracer/la-int3-tracer.c does the same as a program of
 *             its own): int3.c executes it with argv[0] "la-int3-tracer".
 *   execv     int3.c executes PKGLIBEXECDIR/la-int3-tracer, absent on the
 *             box: this file executes itself (/proc/self/exe) instead,
 *             unless $LEAKATTACH_INT3_TRACER names a tracer.
 *   getpwuid  glibc's goes through NSS (dlopen of libnss_*.so.2): here
 *             /etc/passwd alone is read (a user only a directory service
 *             knows is printed by number, as when none is found).
 *   dlopen, dlsym, dlerror
 *             modules.c loads libstdc++.so.6 for __cxa_demangle: here it
 *             is libstdc++'s own, linked in (libstdc++.a); no other
 *             shared object is ever loaded.
 *
 * Not here: leakattach-leaker, the child of `leakattach simulate`, is not
 * in the file (simulate says where it looked); the CLI itself is
 * unchanged.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sampling/int3_proto.h"

/* argv[0] of the tracer, as int3.c's exec_tracer() sets it */
#define TRACER_NAME "la-int3-tracer"

int __real_main(int argc, char **argv);
int __real_execv(const char *path, char *const argv[]);
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

int __wrap_main(int argc, char **argv);
int __wrap_execv(const char *path, char *const argv[]);
struct passwd *__wrap_getpwuid(uid_t uid);
void *__wrap_dlopen(const char *file, int mode);
void *__wrap_dlsym(void *handle, const char *name);
char *__wrap_dlerror(void);

int
__wrap_main(int argc, char **argv)
{
	/* no atexit work: the same exit as la-int3-tracer's */
	if (argc > 0 && !strcmp(argv[0], TRACER_NAME))
		_exit(int3_tracer_argv(argc, argv));
	return __real_main(argc, argv);
}

int
__wrap_execv(const char *path, char *const argv[])
{
	const char *env = secure_getenv("LEAKATTACH_INT3_TRACER");

	if (argv && argv[0] && !strcmp(argv[0], TRACER_NAME) && !(env && *env))
		path = "/proc/self/exe";
	return __real_execv(path, argv);
}

struct passwd *
__wrap_getpwuid(uid_t uid)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;

	if (!f)
		return NULL;
	/* fgetpwent() parses the file itself, no NSS; bounded by the file */
	while ((pw = fgetpwent(f)) && pw->pw_uid != uid)
		;
	fclose(f);
	return pw;
}

/* ---- dlopen: libstdc++'s demangler, linked in ---------------------------- */

static char libstdcxx; /* the one handle __wrap_dlopen() gives */
static const char *dl_err;

void *
__wrap_dlopen(const char *file, int mode)
{
	(void)mode;
	if (file && !strcmp(file, "libstdc++.so.6"))
		return &libstdcxx;
	dl_err = "leakattach-static loads no shared object";
	return NULL;
}

void *
__wrap_dlsym(void *handle, const char *name)
{
	if (handle == &libstdcxx && name && !strcmp(name, "__cxa_demangle"))
		return (void *)__cxa_demangle;
	dl_err = "symbol not in leakattach-static";
	return NULL;
}

char *
__wrap_dlerror(void)
{
	const char *e = dl_err;

	dl_err = NULL;
	return (char *)e;
}
