/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.h - --metrics FILE: the figures of the latest sample in the
 * Prometheus text exposition format, for node_exporter's textfile
 * collector (metrics.c; the names and labels are in leakattach(1),
 * METRICS).
 */
#ifndef LA_CLI_METRICS_H
#define LA_CLI_METRICS_H

#include <sys/types.h>

#include <leakattach.h>

/* Series of per-location metrics per process, at most. */
#define METRICS_LOCATIONS_MAX 20

/*
 * Replace the file at path (NULL: do nothing) with the figures of snap
 * and of the tracker t after it, atomically: a temporary file in the
 * same folder, renamed over path. target_dir is the target's folder in
 * the log folder (".../targets/PID-START"): its START labels every
 * series with pid and comm. Returns 0, or -errno after saying so in one
 * sentence on stderr (once until a write succeeds again): sampling goes
 * on without the file.
 */
int metrics_write(const char *path, pid_t pid, const char *comm,
		  const char *target_dir, const struct la_tracker *t,
		  const struct la_snapshot *snap);

#endif
