/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_html.h - the HTML report: one self-contained page (inline CSS
 * and SVG, no script, nothing fetched) of the history of one or more
 * processes in the log folder (report_html.c).
 */
#ifndef LA_CLI_REPORT_HTML_H
#define LA_CLI_REPORT_HTML_H

/*
 * Write the page to file ("-": stdout), atomically (a temporary file in
 * the same folder, renamed): a section per target folder dirs[0..n),
 * with the latest report of each from log_dir/reports, or doc (a
 * leakattach.check/1 document, the run's own) for the last one when doc
 * is not NULL. Returns 0, or prints why not and returns -errno.
 */
int report_html_write(const char *file, const char *log_dir, char *const *dirs,
		      unsigned n, const char *doc);

#endif
