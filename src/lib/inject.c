/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* inject.c - placeholder, being written. */
typedef int la_placeholder_inject;
