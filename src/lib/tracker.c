/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tracker.c - placeholder, being written. */
typedef int la_placeholder_tracker;
