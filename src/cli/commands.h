/* SPDX-License-Identifier: GPL-2.0-or-later */
/* commands.h - one function per command; each returns an exit status. */
#ifndef LA_CLI_COMMANDS_H
#define LA_CLI_COMMANDS_H

#include "options.h"

int cmd_snapshot(const struct options *o);

#endif
