/* SPDX-License-Identifier: GPL-2.0-or-later */
/* config.c - placeholder. */
typedef int la_placeholder_config;
