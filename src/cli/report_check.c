/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report_check.c - placeholder. */
typedef int la_placeholder_report_check;
