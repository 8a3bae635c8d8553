/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LA_TRACKER_H
#define LA_TRACKER_H
#endif
