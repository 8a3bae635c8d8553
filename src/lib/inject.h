/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LA_INJECT_H
#define LA_INJECT_H
#endif
