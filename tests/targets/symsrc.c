/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * symsrc.c - test target for the symbol sources (issue 14 §5): functions
 * that only a .symtab names (static), one that .dynsym names too
 * (exported with -rdynamic, sized), and one written in assembly without
 * .size (a function symbol of unknown extent). The tests build it, strip
 * copies of it (tests/helpers/add-minidebug.sh) and compare the names of
 * the copies with the truth of the unstripped build. Announces
 *
 *   ready local_a=ADDR local_b=ADDR exported=ADDR sizeless=ADDR
 *
 * (runtime addresses) and waits for the end of stdin. No stdio.
 */
#include <stdint.h>
#include <stdio.h> /* snprintf() only */

#include "target_io.h"

#define NOINLINE __attribute__((noinline))

int symsrc_exported(int x);
void symsrc_sizeless(void);

/* exported, sized: first in .text of this file, before the static ones */
NOINLINE int
symsrc_exported(int x)
{
	return x * 3 + 1;
}

static NOINLINE int
local_a(int x)
{
	return symsrc_exported(x) + 2;
}

static NOINLINE int
local_b(int x)
{
	return local_a(x) * 5;
}

/* Global, a function, no .size: 64 bytes of nops, then ret. */
__asm__(".pushsection .text.symsrc_sizeless,\"ax\",@progbits\n"
	".globl symsrc_sizeless\n"
	".type symsrc_sizeless,@function\n"
	"symsrc_sizeless:\n"
	".fill 64,1,0x90\n"
	"ret\n"
	".popsection\n");

static void
command(char *line)
{
	(void)line;
	say("error unknown command\n");
}

int
main(void)
{
	char buf[256];

	die_with_parent();
	snprintf(
		buf, sizeof(buf),
		"ready local_a=%#lx local_b=%#lx exported=%#lx sizeless=%#lx %d\n",
		(unsigned long)(uintptr_t)local_a,
		(unsigned long)(uintptr_t)local_b,
		(unsigned long)(uintptr_t)symsrc_exported,
		(unsigned long)(uintptr_t)symsrc_sizeless, local_b(1));
	say(buf);
	serve_commands(command);
}
