/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_html.c - the HTML report (report_html.h): for each process in
 * the log folder a section with its findings, each with the chart of its
 * bytes in use over the samples (the streak that made the verdict
 * hatched, its samples as squares, the slope as a dashed line) and of its
 * free bytes beside it, the types and callers of its latest report; then
 * the heap as a whole, the top size classes as a stacked area, and the
 * pause of each sample. Inline CSS and SVG only: the page fetches
 * nothing, runs nothing, and says everything in shapes and words as well
 * as in colours (it prints in black and white). Every string that comes
 * from the log folder is escaped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "jsonread.h"
#include "report.h"
#include "report_html.h"

/* Text into HTML (element content and quoted attribute values). */
static void
esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			/* control characters have no business in a page */
			if ((unsigned char)*s < 0x20 && *s != '\t')
				fputc(' ', f);
			else
				fputc(*s, f);
		}
	}
}

static const char css[] =
	"body{font:15px/1.45 sans-serif;color:#111;background:#fff;"
	"max-width:1240px;margin:1em auto;padding:0 1em}\n"
	"h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.6em;"
	"border-bottom:2px solid #111}h3{font-size:1.1em;margin:1.2em 0 .3em}\n"
	".meta{color:#333}.charts{display:flex;flex-wrap:wrap;gap:14px}\n"
	"figure{margin:0;flex:1 1 520px;max-width:760px}"
	"figcaption{font-size:.9em;color:#333}\n"
	"svg.chart{width:100%;height:auto;border:1px solid #999;background:#fff}\n"
	"svg text{font:12px sans-serif;fill:#111}\n"
	".axis{stroke:#111;stroke-width:1}.grid{stroke:#ddd;stroke-width:1}\n"
	".inuse{fill:none;stroke:#1f4e9c;stroke-width:2.5}\n"
	".free{fill:none;stroke:#a0461c;stroke-width:2;stroke-dasharray:7 4}\n"
	".rss{fill:none;stroke:#333;stroke-width:1.5;stroke-dasharray:2 3}\n"
	".slope{fill:none;stroke:#000;stroke-width:1.5;stroke-dasharray:10 4 2 4}\n"
	".mk{fill:#fff;stroke:#111;stroke-width:1.2}.mk.hot{fill:#111}\n"
	".band{fill:url(#la-hatch);stroke:#777;stroke-dasharray:3 3}\n"
	".bar{fill:#6b6b6b}.bar.slow{fill:#111}\n"
	".badge{display:inline-block;font-weight:bold;border:2px solid #111;"
	"padding:0 .4em;margin-right:.4em;letter-spacing:.05em}\n"
	".leak .badge{background:#111;color:#fff}"
	".retention .badge{border-style:dashed}"
	".growing .badge{border-style:dotted}\n"
	"section.finding{border-left:6px solid #111;padding-left:.8em;"
	"margin:1.2em 0}\n"
	"section.retention{border-left-style:dashed}"
	"section.growing,section.plateau{border-left-style:dotted}\n"
	"table{border-collapse:collapse;margin:.5em 0;font-size:.92em}"
	"th,td{border:1px solid #aaa;padding:2px 7px;text-align:left;"
	"vertical-align:top}th{background:#eee}td.n{text-align:right}\n"
	"code{font-family:monospace}ul.toc{padding-left:1.2em}\n"
	".legend span{margin-right:1.2em;white-space:nowrap}\n"
	"@media print{body{max-width:none;margin:0;font-size:10pt}"
	"section,figure,table{break-inside:avoid}h2{break-before:auto}"
	"figure{flex-basis:45%}svg.chart{border-color:#000}a{color:#000}}\n";

/* Patterns: the streak's hatch, and a fill per size class layer. */
static const char defs[] =
	"<svg width=\"0\" height=\"0\" style=\"position:absolute\" "
	"aria-hidden=\"true\"><defs>\n"
	"<pattern id=\"la-hatch\" width=\"8\" height=\"8\" "
	"patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
	"<rect width=\"8\" height=\"8\" fill=\"#fff3c4\"/>"
	"<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#b08a00\" "
	"stroke-width=\"2\"/></pattern>\n"
	"<pattern id=\"la-p0\" width=\"8\" height=\"8\" "
	"patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
	"<rect width=\"8\" height=\"8\" fill=\"#9ec1ef\"/><line x1=\"0\" "
	"y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#1f4e9c\" stroke-width=\"2\"/>"
	"</pattern>\n"
	"<pattern id=\"la-p1\" width=\"8\" height=\"8\" "
	"patternUnits=\"userSpaceOnUse\"><rect width=\"8\" height=\"8\" "
	"fill=\"#f5c9a8\"/><circle cx=\"4\" cy=\"4\" r=\"1.6\" "
	"fill=\"#7a3510\"/></pattern>\n"
	"<pattern id=\"la-p2\" width=\"8\" height=\"8\" "
	"patternUnits=\"userSpaceOnUse\"><rect width=\"8\" height=\"8\" "
	"fill=\"#c4e3b5\"/><line x1=\"0\" y1=\"4\" x2=\"8\" y2=\"4\" "
	"stroke=\"#2f6b1a\" stroke-width=\"1.5\"/></pattern>\n"
	"<pattern id=\"la-p3\" width=\"8\" height=\"8\" "
	"patternUnits=\"userSpaceOnUse\"><rect width=\"8\" height=\"8\" "
	"fill=\"#ddd0ee\"/><path d=\"M0 0L8 8M8 0L0 8\" stroke=\"#4b2d7f\" "
	"stroke-width=\"1\"/></pattern>\n"
	"<pattern id=\"la-p4\" width=\"8\" height=\"8\" "
	"patternUnits=\"userSpaceOnUse\"><rect width=\"8\" height=\"8\" "
	"fill=\"#eeeeee\"/><line x1=\"4\" y1=\"0\" x2=\"4\" y2=\"8\" "
	"stroke=\"#444\" stroke-width=\"1.5\"/></pattern>\n"
	"<pattern id=\"la-p5\" width=\"8\" height=\"8\" "
	"patternUnits=\"userSpaceOnUse\"><rect width=\"8\" height=\"8\" "
	"fill=\"#fbe7a1\"/></pattern>\n"
	"</defs></svg>\n";

#define LAYERS 6
/* Bars of the pause chart at most (each the longest of its samples). */
#define PAUSE_BARS 300

/* The plot of one chart: its box and its scales. */
struct chart {
	FILE *f;
	double w, h, l, r, t, b; /* size, margins */
	double x0, x1, y0, y1; /* ms since the first sample; value */
};

static double
px(const struct chart *c, double x)
{
	return c->l + (x - c->x0) / (c->x1 - c->x0) * (c->w - c->l - c->r);
}

static double
py(const struct chart *c, double y)
{
	return c->h - c->b -
	       (y - c->y0) / (c->y1 - c->y0) * (c->h - c->t - c->b);
}

/* A round step of about raw: 1, 2 or 5 times a power of ten. */
static double
nice_step(double raw)
{
	double e, m;

	if (!(raw > 0))
		return 1;
	e = pow(10, floor(log10(raw)));
	m = raw / e;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
}

static const char *
y_text(double v, int ms, char *buf, size_t len)
{
	if (ms)
		snprintf(buf, len, "%g ms", v);
	else
		human_bytes(v > 0 ? (uint64_t)v : 0, buf, len);
	return buf;
}

/*
 * Open a figure and its chart: the frame, the grid, the axes with
 * their ticks (time since the first sample; bytes or ms). name is the
 * data-chart attribute, points the samples drawn (data-points).
 */
static void
chart_begin(struct chart *c, FILE *f, const struct hist *h, const char *name,
	    const char *key, double ymax, int ms, unsigned points,
	    const char *title)
{
	double step;
	char b[48];

	*c = (struct chart){
		.f = f, .w = 560, .h = 240, .l = 78, .r = 16, .t = 16, .b = 40};
	c->x0 = 0;
	c->x1 = h->n > 1 ? (double)(h->t_ms[h->n - 1] - h->t_ms[0]) : 1000;
	if (c->x1 <= 0)
		c->x1 = 1000;
	if (!(ymax > 0))
		ymax = ms ? 1 : 1024; /* nothing: an axis of round figures */
	if (ms) {
		step = nice_step((ymax > 0 ? ymax : 1) / 4);
	} else {
		/* bytes: round in the unit the labels use (KiB, MiB, ...) */
		double unit = 1;

		while (ymax / 4 >= unit * 1024 && unit < 0x1p40)
			unit *= 1024;
		step = nice_step((ymax > 0 ? ymax : 1) / 4 / unit) * unit;
	}
	c->y0 = 0;
	c->y1 = ceil((ymax > 0 ? ymax * 1.05 : 1) / step) * step;
	fprintf(f,
		"<figure><svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" "
		"role=\"img\" data-chart=\"%s\" data-points=\"%u\"",
		c->w, c->h, name, points);
	if (key) {
		fputs(" data-location=\"", f);
		esc(f, key);
		fputc('"', f);
	}
	fputs("><title>", f);
	esc(f, title);
	fputs("</title>\n", f);
	for (double y = c->y0; y <= c->y1 + step / 2; y += step) {
		fprintf(f,
			"<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			c->l, c->w - c->r, py(c, y), py(c, y), c->l - 5,
			py(c, y) + 4, y_text(y, ms, b, sizeof(b)));
	}
	for (unsigned k = 0; k <= 4; k++) {
		double x = c->x0 + (c->x1 - c->x0) * k / 4;

		fprintf(f,
			"<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s%s</text>\n",
			px(c, x), px(c, x), c->h - c->b, c->h - c->b + 4,
			px(c, x), c->h - c->b + 17,
			k == 0	 ? "start"
			: k == 4 ? "end"
				 : "middle",
			k ? "+" : "", human_duration(x / 1000, b, sizeof(b)));
	}
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time since the first sample</text>\n"
		"<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
		"<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
		(c->l + c->w - c->r) / 2, c->h - 6, c->l, c->w - c->r,
		c->h - c->b, c->h - c->b, c->l, c->l, c->t, c->h - c->b);
}

static void
chart_end(struct chart *c, const char *caption)
{
	fputs("</svg><figcaption>", c->f);
	esc(c->f, caption);
	fputs("</figcaption></figure>\n", c->f);
}

static double
t_of(const struct hist *h, unsigned i)
{
	return (double)(h->t_ms[i] - h->t_ms[0]);
}

/* A line through the values of v that are known; their count. */
static unsigned
polyline(struct chart *c, const struct hist *h, const double *v,
	 const char *cls, const char *series)
{
	unsigned n = 0;

	for (unsigned i = 0; i < h->n; i++)
		n += !isnan(v[i]);
	fprintf(c->f, "<polyline class=\"%s\" data-series=\"%s\" points=\"",
		cls, series);
	for (unsigned i = 0, k = 0; i < h->n; i++)
		if (!isnan(v[i]))
			fprintf(c->f, "%s%.1f,%.1f", k++ ? " " : "",
				px(c, t_of(h, i)), py(c, v[i]));
	fputs("\"/>\n", c->f);
	return n;
}

enum shape { CIRCLE, SQUARE, TRIANGLE, DIAMOND };

static void
marker(FILE *f, enum shape s, double x, double y, int hot)
{
	const char *cls = hot ? "mk hot" : "mk";

	switch (s) {
	case CIRCLE:
		fprintf(f,
			"<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>",
			cls, x, y);
		break;
	case SQUARE:
		fprintf(f,
			"<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\"/>",
			cls, x - 3.5, y - 3.5);
		break;
	case TRIANGLE:
		fprintf(f, "<path class=\"%s\" d=\"M%.1f %.1fl4.5 8h-9z\"/>",
			cls, x, y - 5);
		break;
	case DIAMOND:
		fprintf(f,
			"<path class=\"%s\" d=\"M%.1f %.1fl4.5 4.5l-4.5 4.5l-4.5 -4.5z\"/>",
			cls, x, y - 4.5);
		break;
	}
}

/*
 * The markers of v (at most about 150: past that, every k-th), the
 * samples in [hot_from, hot_to] as squares filled black.
 */
static void
markers(struct chart *c, const struct hist *h, const double *v, enum shape s,
	int hot_from, int hot_to)
{
	unsigned every = h->n > 150 ? (h->n + 149) / 150 : 1;

	for (unsigned i = 0; i < h->n; i++) {
		int hot = (int)i >= hot_from && (int)i <= hot_to;

		if (isnan(v[i]) || (i % every && i + 1 != h->n))
			continue;
		marker(c->f, hot ? SQUARE : s, px(c, t_of(h, i)), py(c, v[i]),
		       hot);
	}
	fputc('\n', c->f);
}

static double
max_of(const double *v, unsigned n)
{
	double m = 0;

	for (unsigned i = 0; i < n; i++)
		if (!isnan(v[i]) && v[i] > m)
			m = v[i];
	return m;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The streak of series sr: the samples from its start to its last rise. */
static void
streak_of(const struct hist *h, const struct hist_series *sr, int *from,
	  int *to)
{
	*from = *to = -1;
	if (!sr->since_ms)
		return;
	for (unsigned i = 0; i < h->n; i++) {
		if (h->t_ms[i] < sr->since_ms)
			continue;
		if (*from < 0)
			*from = (int)i;
		if (sr->state[i] == HS_LEAK || sr->state[i] == HS_GROWING ||
		    sr->state[i] == HS_RETENTION)
			*to = (int)i;
	}
	if (*to < *from)
		*from = *to = -1;
}

static void
streak_band(struct chart *c, const struct hist *h, int from, int to,
	    const char *what)
{
	double x0, x1;

	if (from < 0)
		return;
	x0 = px(c, t_of(h, (unsigned)from));
	x1 = px(c, t_of(h, (unsigned)to));
	if (x1 - x0 < 6) {
		x0 -= 3;
		x1 += 3;
	}
	fprintf(c->f,
		"<rect class=\"band\" data-streak=\"%d-%d\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
		"<text x=\"%.1f\" y=\"%.1f\">%s: %d samples</text>\n",
		from, to, x0, c->t, x1 - x0, c->h - c->t - c->b,
		x0 + 4 < c->w - 190 ? x0 + 4 : c->w - 190, c->t + 13, what,
		to - from + 1);
}

/* The first sample in [from, to] where v is known (to when none). */
static int
first_known(const double *v, int from, int to)
{
	while (from < to && isnan(v[from]))
		from++;
	return from;
}

/*
 * The slope line: the finding's trend (Theil-Sen slope, its intercept
 * the median of the samples' offsets), else the streak's rate from its
 * first sample to its last. Says which in its label.
 */
static void
slope_line(struct chart *c, const struct hist *h, const struct hist_series *sr,
	   const double *v, int from, int to, int use_trend)
{
	double slope, icpt, xa, xb, ya, yb;
	char b[48], lbl[96];
	double *off;
	unsigned k = 0;

	if (use_trend && !isnan(sr->slope_per_hour)) {
		slope = sr->slope_per_hour / 3.6e6; /* per ms */
		off = malloc(h->n * sizeof(*off));
		if (!off)
			return;
		for (unsigned i = 0; i < h->n; i++)
			if (!isnan(v[i]))
				off[k++] = v[i] - slope * t_of(h, i);
		if (!k) {
			free(off);
			return;
		}
		qsort(off, k, sizeof(*off), cmp_double);
		icpt = k % 2 ? off[k / 2] : (off[k / 2 - 1] + off[k / 2]) / 2;
		free(off);
		xa = c->x0;
		xb = c->x1;
		snprintf(lbl, sizeof(lbl), "trend %s%s/h",
			 slope < 0 ? "-" : "+",
			 human_bytes((uint64_t)fabs(sr->slope_per_hour), b,
				     sizeof(b)));
	} else if (from >= 0 && to > from &&
		   (from = first_known(v, from, to)) < to && !isnan(v[to])) {
		xa = t_of(h, (unsigned)from);
		xb = t_of(h, (unsigned)to);
		slope = (v[to] - v[from]) / (xb - xa > 0 ? xb - xa : 1);
		icpt = v[from] - slope * xa;
		snprintf(lbl, sizeof(lbl), "streak %s%s/h",
			 slope < 0 ? "-" : "+",
			 human_bytes((uint64_t)fabs(slope * 3.6e6), b,
				     sizeof(b)));
	} else {
		return;
	}
	ya = icpt + slope * xa;
	yb = icpt + slope * xb;
	/* kept inside the plot */
	ya = ya < c->y0 ? c->y0 : ya > c->y1 ? c->y1 : ya;
	yb = yb < c->y0 ? c->y0 : yb > c->y1 ? c->y1 : yb;
	fprintf(c->f,
		"<line class=\"slope\" data-slope=\"1\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
		px(c, xa), py(c, ya), px(c, xb), py(c, yb), px(c, xb) - 4,
		py(c, yb) + (py(c, yb) < c->t + 30 ? 28 : -10), lbl);
}

static const char *
state_word(enum hist_state s)
{
	switch (s) {
	case HS_LEAK:
		return "leak";
	case HS_RETENTION:
		return "retention";
	case HS_GROWING:
		return "growing";
	case HS_PLATEAU:
		return "plateau";
	default:
		return "none";
	}
}

/* The finding of key in the report doc (not a type's or caller's entry). */
static const struct jv *
doc_finding(const struct jv *doc, const char *key)
{
	static const char *const lists[] = {"leaks", "retention", "growing",
					    "plateau", "leaks_this_run"};
	char full[256];

	for (unsigned l = 0; l < 5; l++) {
		const struct jv *a = jv_get(doc, lists[l]);

		for (const struct jv *e = a ? a->child : NULL; e; e = e->next) {
			const char *loc = jv_get_str(e, "location", "");
			const char *kind = jv_get_str(e, "kind", "");

			if (jv_get(e, "within"))
				continue;
			full[0] = '\0';
			if (!strcmp(kind, "outside_malloc"))
				snprintf(full, sizeof(full), "outside:%s", loc);
			else if (!strcmp(kind, "python_type"))
				snprintf(full, sizeof(full), "python:%s", loc);
			if (!strcmp(loc, key) || !strcmp(full, key))
				return e;
		}
	}
	return NULL;
}

static void
td_bytes(FILE *f, double v)
{
	char b[48];

	fprintf(f, "<td class=\"n\">%s</td>",
		human_bytes(v > 0 ? (uint64_t)v : 0, b, sizeof(b)));
}

static void
types_table(FILE *f, const struct jv *fd)
{
	const struct jv *types = jv_get(fd, "types");

	if (!types || !types->n)
		return;
	fputs("<table class=\"types\" data-table=\"types\"><caption>Types "
	      "(estimated from the sampled chunks)</caption><tr><th>type</th>"
	      "<th>found by</th><th>module</th><th>sampled chunks</th>"
	      "<th>estimated bytes</th></tr>\n",
	      f);
	for (const struct jv *t = types->child; t; t = t->next) {
		fputs("<tr><td><code>", f);
		esc(f, jv_get_str(t, "type", "?"));
		fputs("</code></td><td>", f);
		esc(f, jv_get_str(t, "source", ""));
		fputs("</td><td>", f);
		esc(f, jv_get_str(t, "module", ""));
		fprintf(f, "</td><td class=\"n\">%.0f</td>",
			jv_get_num(t, "sampled_chunks", 0));
		td_bytes(f, jv_get_num(t, "estimated_bytes", 0));
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void
frame_cell(FILE *f, const struct jv *fr)
{
	const char *fn = jv_get_str(fr, "function", "");
	const char *file = jv_get_str(fr, "file", "");
	const char *mod = jv_get_str(fr, "module", "");
	double line = jv_get_num(fr, "line", 0);

	fputs("<code>", f);
	esc(f, *fn ? fn : "??");
	fputs("</code> ", f);
	if (*file) {
		const char *base = strrchr(file, '/');

		fputs("(", f);
		esc(f, base ? base + 1 : file);
		if (line > 0)
			fprintf(f, ":%.0f", line);
		fputs(")", f);
	} else if (*mod) {
		const char *base = strrchr(mod, '/');

		fputs("(", f);
		esc(f, base ? base + 1 : mod);
		fprintf(f, "+0x%llx)",
			(unsigned long long)jv_get_num(fr, "module_offset", 0));
	}
}

static void
callers_table(FILE *f, const struct jv *fd)
{
	const struct jv *callers = jv_get(fd, "callers");
	unsigned k = 0;

	if (!callers || !callers->n)
		return;
	fputs("<table class=\"callers\" data-table=\"callers\"><caption>"
	      "Callers (sampled allocations still in use at the next sample; "
	      "estimates)</caption><tr><th>#</th><th>estimated bytes</th>"
	      "<th>share</th><th>surviving / kept chunks</th>"
	      "<th>stack (function, file:line)</th></tr>\n",
	      f);
	for (const struct jv *c = callers->child; c; c = c->next) {
		const struct jv *stack = jv_get(c, "stack");
		unsigned fr = 0;

		fprintf(f, "<tr><td class=\"n\">%u</td>", ++k);
		td_bytes(f, jv_get_num(c, "estimated_bytes", 0));
		fprintf(f,
			"<td class=\"n\">%.0f %%</td><td class=\"n\">%.0f / %.0f</td><td>",
			100 * jv_get_num(c, "share", 0),
			jv_get_num(c, "surviving_chunks", 0),
			jv_get_num(c, "kept_chunks", 0));
		for (const struct jv *e = stack ? stack->child : NULL;
		     e && fr < 8; e = e->next, fr++) {
			if (fr)
				fputs("<br>", f);
			frame_cell(f, e);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void
finding_section(FILE *f, const struct hist *h, const struct hist_series *sr,
		const struct jv *doc)
{
	enum hist_state st = sr->last_state == HS_ABSENT && sr->ever_leak
				     ? HS_LEAK
				     : sr->last_state;
	int retention = st == HS_RETENTION;
	const double *main_v = retention ? sr->free_b : sr->in_use;
	double now = NAN, first = NAN;
	int from, to;
	struct chart c;
	char b1[48], b2[48], b3[48], title[400];
	unsigned n;
	const struct jv *fd = doc_finding(doc, sr->key);

	streak_of(h, sr, &from, &to);
	for (unsigned i = 0; i < h->n; i++)
		if (!isnan(main_v[i])) {
			if (isnan(first))
				first = main_v[i];
			now = main_v[i];
		}
	fprintf(f,
		"<section class=\"finding %s\" data-verdict=\"%s\" "
		"data-location=\"",
		state_word(st), state_word(st));
	esc(f, sr->key);
	fprintf(f, "\"><h3><span class=\"badge\">%s</span>",
		hist_state_title(st));
	esc(f, sr->label);
	fputs("</h3>\n<p>", f);
	fprintf(f, "%s %s now (%s at the first sample)",
		human_bytes(isnan(now) ? 0 : (uint64_t)now, b1, sizeof(b1)),
		retention ? "free" : "in use",
		human_bytes(isnan(first) ? 0 : (uint64_t)first, b2,
			    sizeof(b2)));
	if (sr->consecutive)
		fprintf(f, "; %u growth%s in a row", sr->consecutive,
			sr->consecutive == 1 ? "" : "s");
	if (sr->evidence[0])
		fprintf(f, "; a leak by %s",
			!strcmp(sr->evidence, "trend")
				? "its trend over the whole history"
				: "growths in a row");
	if (!retention && !isnan(sr->slope_per_hour))
		fprintf(f, "; trend of the bytes in use %s%s per hour",
			sr->slope_per_hour < 0 ? "-" : "+",
			human_bytes((uint64_t)fabs(sr->slope_per_hour), b3,
				    sizeof(b3)));
	fputs(".</p>\n<div class=\"charts\">\n", f);

	snprintf(title, sizeof(title), "%s: bytes in use over time", sr->label);
	n = 0;
	for (unsigned i = 0; i < h->n; i++)
		n += !isnan(sr->in_use[i]);
	chart_begin(&c, f, h, "in-use", sr->key, max_of(sr->in_use, h->n), 0, n,
		    title);
	if (!retention)
		streak_band(&c, h, from, to,
			    st == HS_LEAK && strcmp(sr->evidence, "trend")
				    ? "the streak that made it a leak"
				    : "growths in a row");
	polyline(&c, h, sr->in_use, "inuse", "in_use");
	markers(&c, h, sr->in_use, CIRCLE, retention ? -1 : from,
		retention ? -1 : to);
	if (!retention)
		slope_line(&c, h, sr, sr->in_use, from, to, 1);
	chart_end(&c, retention ? "In use (solid line, circles)."
				: "In use (solid line, circles; filled "
				  "squares: the samples of the streak, "
				  "hatched; dash-dot: the slope).");

	snprintf(title, sizeof(title), "%s: free bytes over time (retention)",
		 sr->label);
	n = 0;
	for (unsigned i = 0; i < h->n; i++)
		n += !isnan(sr->free_b[i]);
	chart_begin(&c, f, h, "free", sr->key, max_of(sr->free_b, h->n), 0, n,
		    title);
	if (retention)
		streak_band(&c, h, from, to, "free bytes growing");
	polyline(&c, h, sr->free_b, "free", "free");
	markers(&c, h, sr->free_b, TRIANGLE, retention ? from : -1,
		retention ? to : -1);
	if (retention)
		slope_line(&c, h, sr, sr->free_b, from, to, 0);
	chart_end(&c, "Free bytes held in this location: the retention curve "
		      "(dashed line, triangles).");
	fputs("</div>\n", f);
	if (fd) {
		types_table(f, fd);
		callers_table(f, fd);
	}
	fputs("</section>\n", f);
}

/*
 * The top size classes of the latest sample, stacked (the largest at the
 * bottom), and the rest of the heap's bytes in use on top, so that the
 * stack is always the heap in use: a class that was not among a line's
 * top ones counts in the rest there.
 */
static void
size_classes_chart(FILE *f, const struct hist *h)
{
	const struct hist_series *lay[LAYERS];
	double *base, *top, last[LAYERS], rest = 0;
	unsigned n = 0;
	struct chart c;
	char b[48];

	for (unsigned s = 0; s < h->nser && n < LAYERS - 1; s++)
		if (!strcmp(h->ser[s].kind, "size_class") &&
		    h->ser[s].last_state != HS_ABSENT) {
			last[n] = h->ser[s].in_use[h->n - 1];
			lay[n++] = &h->ser[s];
		}
	if (!n)
		return;
	for (unsigned a = 0; a < n; a++)
		for (unsigned k = a + 1; k < n; k++)
			if (last[k] > last[a]) {
				const struct hist_series *t = lay[a];
				double tv = last[a];

				lay[a] = lay[k];
				last[a] = last[k];
				lay[k] = t;
				last[k] = tv;
			}
	base = calloc(h->n, sizeof(*base));
	top = calloc(h->n, sizeof(*top));
	if (!base || !top) {
		free(base);
		free(top);
		return;
	}
	fputs("<h3>Top size classes, stacked</h3>\n<div class=\"charts\">\n",
	      f);
	chart_begin(&c, f, h, "size-classes", NULL, max_of(h->in_use, h->n), 0,
		    h->n,
		    "the size classes with the most bytes in use, stacked, and "
		    "the rest of the heap");
	for (unsigned k = 0; k <= n; k++) {
		const char *label =
			k < n ? lay[k]->label : "the rest of the heap";

		for (unsigned i = 0; i < h->n; i++) {
			double v = k < n ? lay[k]->in_use[i] : h->in_use[i];

			top[i] =
				k < n ? base[i] + (isnan(v) ? 0 : v)
				      : (isnan(v) || v < base[i] ? base[i] : v);
		}
		fprintf(f,
			"<polygon class=\"layer\" data-layer=\"%u\" fill=\"url(#la-p%u)\" stroke=\"#111\" stroke-width=\"0.8\" data-location=\"",
			k, k < n ? k : LAYERS - 1);
		esc(f, k < n ? lay[k]->key : "rest");
		fputs("\" points=\"", f);
		for (unsigned i = 0; i < h->n; i++)
			fprintf(f, "%s%.1f,%.1f", i ? " " : "",
				px(&c, t_of(h, i)), py(&c, top[i]));
		if (h->n == 1)
			fprintf(f, " %.1f,%.1f %.1f,%.1f", px(&c, c.x1),
				py(&c, top[0]), px(&c, c.x1), py(&c, base[0]));
		for (unsigned i = h->n; i-- > 0;)
			fprintf(f, " %.1f,%.1f", px(&c, t_of(h, i)),
				py(&c, base[i]));
		fputs("\"><title>", f);
		esc(f, label);
		fputs("</title></polygon>\n", f);
		/* the layer's number at its right end, when it is thick enough */
		if (py(&c, base[h->n - 1]) - py(&c, top[h->n - 1]) > 14) {
			fprintf(f,
				"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
				"style=\"paint-order:stroke;stroke:#fff;stroke-width:3px\">%u: ",
				c.w - c.r - 4,
				(py(&c, base[h->n - 1]) +
				 py(&c, top[h->n - 1])) /
						2 +
					4,
				k + 1);
			esc(f, label);
			fputs("</text>\n", f);
		}
		if (k == n)
			rest = top[h->n - 1] - base[h->n - 1];
		memcpy(base, top, h->n * sizeof(*base));
	}
	chart_end(&c, "Bytes in use of the largest size classes at the latest "
		      "sample, each a layer with its own pattern, numbered as "
		      "in the legend; on top the rest of the heap in use.");
	fputs("</div>\n<p class=\"legend\">", f);
	for (unsigned k = 0; k <= n; k++) {
		fprintf(f,
			"<span><svg width=\"22\" height=\"14\" aria-hidden=\"true\">"
			"<rect width=\"22\" height=\"14\" fill=\"url(#la-p%u)\" "
			"stroke=\"#111\"/></svg> %u: ",
			k < n ? k : LAYERS - 1, k + 1);
		esc(f, k < n ? lay[k]->label : "the rest of the heap");
		fprintf(f, " (%s now)</span>",
			human_bytes(k < n ? (uint64_t)last[k]
					  : (uint64_t)fmax(rest, 0),
				    b, sizeof(b)));
	}
	fputs("</p>\n", f);
	free(base);
	free(top);
}

static void
heap_chart(FILE *f, const struct hist *h)
{
	struct chart c;
	double peak = max_of(h->in_use, h->n);

	peak = fmax(peak, max_of(h->free_b, h->n));
	peak = fmax(peak, max_of(h->rss, h->n));
	chart_begin(&c, f, h, "heap", NULL, peak, 0, h->n,
		    "the heap: bytes in use, free, and the resident set");
	polyline(&c, h, h->rss, "rss", "rss");
	markers(&c, h, h->rss, DIAMOND, -1, -1);
	polyline(&c, h, h->in_use, "inuse", "in_use");
	markers(&c, h, h->in_use, CIRCLE, -1, -1);
	polyline(&c, h, h->free_b, "free", "free");
	markers(&c, h, h->free_b, TRIANGLE, -1, -1);
	chart_end(&c, "The whole heap: in use (solid, circles), free (dashed, "
		      "triangles), resident set size (dotted, diamonds).");
}

static void
pause_chart(FILE *f, const struct hist *h)
{
	struct chart c;
	double peak = max_of(h->pause_ms, h->n), *sorted, med = 0;
	double bw;
	unsigned k = 0, per, bars;
	char cap[200];

	sorted = malloc(h->n * sizeof(*sorted));
	if (!sorted)
		return;
	for (unsigned i = 0; i < h->n; i++)
		if (!isnan(h->pause_ms[i]))
			sorted[k++] = h->pause_ms[i];
	if (k) {
		qsort(sorted, k, sizeof(*sorted), cmp_double);
		med = sorted[k / 2];
	}
	free(sorted);
	chart_begin(&c, f, h, "pause", NULL, peak, 1, k,
		    "the pause of each sample");
	per = h->n > PAUSE_BARS ? (h->n + PAUSE_BARS - 1) / PAUSE_BARS : 1;
	bars = (h->n + per - 1) / per;
	bw = (c.w - c.l - c.r) / (bars > 1 ? bars : 1) * 0.6;
	bw = bw < 1 ? 1 : bw > 14 ? 14 : bw;
	for (unsigned i = 0; i < h->n; i += per) {
		unsigned at = i; /* the longest of samples i..i+per-1 */
		int exact = 1;

		for (unsigned m = i; m < i + per && m < h->n; m++) {
			if (!isnan(h->pause_ms[m]) &&
			    (isnan(h->pause_ms[at]) ||
			     h->pause_ms[m] > h->pause_ms[at]))
				at = m;
			exact &= h->consistent[m];
		}
		if (isnan(h->pause_ms[at]))
			continue;
		fprintf(f,
			"<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>sample %u: %.1f ms%s</title></rect>",
			exact ? "" : " slow", px(&c, t_of(h, at)) - bw / 2,
			py(&c, h->pause_ms[at]), bw,
			c.h - c.b - py(&c, h->pause_ms[at]), at + 1,
			h->pause_ms[at],
			exact ? "" : " (an approximate sample among them)");
	}
	snprintf(cap, sizeof(cap),
		 "How long the process was stopped at each sample (bars): "
		 "median %.1f ms, longest %.1f ms.",
		 med, peak);
	chart_end(&c, cap);
}

static void
time_text(FILE *f, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char b[64];

	if (gmtime_r(&t, &tm) &&
	    strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S UTC", &tm))
		fputs(b, f);
}

/* The verdict of a history now: the worst state of its locations. */
static enum hist_state
hist_verdict(const struct hist *h)
{
	enum hist_state worst = HS_NONE;
	static const enum hist_state rank[] = {HS_LEAK, HS_RETENTION,
					       HS_GROWING, HS_PLATEAU};

	for (unsigned r = 0; r < 4 && worst == HS_NONE; r++)
		for (unsigned s = 0; s < h->nser; s++)
			if (h->ser[s].last_state == rank[r])
				worst = rank[r];
	return worst;
}

static void
target_section(FILE *f, const struct hist *h, const char *doc_text)
{
	struct jv *doc = doc_text ? jv_parse(doc_text, strlen(doc_text)) : NULL;
	static const enum hist_state order[] = {HS_LEAK, HS_RETENTION,
						HS_GROWING, HS_PLATEAU};
	unsigned shown = 0;
	char b1[48], b2[48], b3[48];
	enum hist_state v = hist_verdict(h);

	fprintf(f, "<h2 id=\"p-%d-%llu\">Process %d (", (int)h->pid, h->start,
		(int)h->pid);
	esc(f, h->comm[0] ? h->comm : jv_get_str(doc, "comm", "?"));
	fprintf(f, ")%s%s</h2>\n<p class=\"meta\">", v != HS_NONE ? ": " : "",
		v != HS_NONE ? hist_state_title(v) : "");
	fprintf(f, "%u sample%s from ", h->n, h->n == 1 ? "" : "s");
	time_text(f, h->t_ms[0]);
	fputs(" to ", f);
	time_text(f, h->t_ms[h->n - 1]);
	fprintf(f, " (%s); heap now %s in use, %s free",
		human_duration((double)(h->t_ms[h->n - 1] - h->t_ms[0]) / 1000,
			       b1, sizeof(b1)),
		human_bytes((uint64_t)(isnan(h->in_use[h->n - 1])
					       ? 0
					       : h->in_use[h->n - 1]),
			    b2, sizeof(b2)),
		human_bytes((uint64_t)(isnan(h->free_b[h->n - 1])
					       ? 0
					       : h->free_b[h->n - 1]),
			    b3, sizeof(b3)));
	if (h->bad_lines)
		fprintf(f, "; %u line%s of the history could not be read",
			h->bad_lines, h->bad_lines == 1 ? "" : "s");
	fputs(". History: <code>", f);
	esc(f, h->dir);
	fputs("</code></p>\n", f);
	for (unsigned r = 0; r < 4; r++)
		for (unsigned s = 0; s < h->nser; s++) {
			const struct hist_series *sr = &h->ser[s];
			enum hist_state st = sr->last_state;

			if (st == HS_ABSENT && sr->ever_leak)
				st = HS_LEAK;
			if (st != order[r])
				continue;
			finding_section(f, h, sr, doc);
			shown++;
		}
	if (!shown)
		fputs("<p><strong>No finding</strong>: no location grew in "
		      "samples in a row, nor rose over its history.</p>\n",
		      f);
	fputs("<h3>The heap</h3>\n<div class=\"charts\">\n", f);
	heap_chart(f, h);
	pause_chart(f, h);
	fputs("</div>\n", f);
	size_classes_chart(f, h);
	jv_free(doc);
}

static int
write_page(FILE *f, const char *log_dir, char *const *dirs, unsigned n,
	   const char *doc)
{
	struct hist *h = malloc(sizeof(*h));
	struct timespec now;
	unsigned done = 0;

	if (!h)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width\">"
	      "<meta name=\"generator\" content=\"leakattach " PACKAGE_VERSION
	      "\"><title>leakattach report</title>\n<style>\n",
	      f);
	fputs(css, f);
	fputs("</style></head>\n<body>\n", f);
	fputs(defs, f);
	fputs("<h1>leakattach report</h1>\n<p class=\"meta\">Log folder <code>",
	      f);
	esc(f, log_dir);
	fputs("</code>; made ", f);
	time_text(f, (int64_t)now.tv_sec * 1000);
	fputs(" by leakattach " PACKAGE_VERSION
	      ". Markers are the samples; a hatched band is the streak of "
	      "growths that made the verdict.</p>\n",
	      f);
	for (unsigned i = 0; i < n; i++) {
		char *kept = NULL;

		if (hist_load(dirs[i], h))
			continue;
		if (!(doc && i + 1 == n))
			kept = hist_latest_report(log_dir, dirs[i]);
		target_section(f, h, doc && i + 1 == n ? doc : kept);
		free(kept);
		hist_free(h);
		done++;
	}
	if (!done)
		fputs("<p>No history in this log folder.</p>\n", f);
	fputs("</body></html>\n", f);
	free(h);
	return done ? 0 : -ENOENT;
}

int
report_html_write(const char *file, const char *log_dir, char *const *dirs,
		  unsigned n, const char *doc)
{
	char tmp[4200];
	FILE *f;
	int err, fd;

	if (!strcmp(file, "-")) {
		err = write_page(stdout, log_dir, dirs, n, doc);
		if (fflush(stdout) || ferror(stdout))
			err = -EIO;
		if (err)
			fprintf(stderr,
				"leakattach: cannot write the report: %s\n",
				err == -ENOENT ? "no history in the log folder"
					       : strerror(-err));
		return err;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >=
	    sizeof(tmp)) {
		fprintf(stderr, "leakattach: %s: name too long\n", file);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "leakattach: cannot write %s: %s\n", file,
			strerror(-err));
		return err;
	}
	err = write_page(f, log_dir, dirs, n, doc);
	if (fflush(f) || ferror(f))
		err = err ? err : -EIO;
	/* as a file the user made: 0666 less the umask, like a shell's > */
	{
		mode_t mask = umask(0);

		umask(mask);
		if (fchmod(fileno(f), 0666 & ~mask) && !err)
			err = -errno;
	}
	if (fclose(f) && !err)
		err = -EIO;
	if (!err && rename(tmp, file))
		err = -errno;
	if (err) {
		unlink(tmp);
		fprintf(stderr, "leakattach: cannot write %s: %s\n", file,
			err == -ENOENT ? "no history in the log folder"
				       : strerror(-err));
	}
	return err;
}
