#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test_html_report.sh - the HTML report in a real browser: a real leaking
# run (check -- leaky sizeclass, the program under a name full of HTML)
# writes its page with --html, `leakattach report` writes the log folder's;
# headless Chromium, with the network disabled, renders each to a DOM and
# to a PNG. The page must fetch nothing, hold every chart with data
# (in use, free, heap, pause, size classes), label the leak, escape the
# program's name, and the PNG must not be blank. Also the text summary's
# sparklines in UTF-8 and in ASCII. Skipped (77) without Chromium.
set -u

LEAKATTACH=${LEAKATTACH:-./leakattach}
LA_TARGETS_DIR=${LA_TARGETS_DIR:-tests/targets}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/chromium.sh"

if [ ! -x "$CHROMIUM" ] || [ ! -x "$PY" ]; then
	echo "SKIP: no $CHROMIUM or $PY"
	exit 77
fi

T=$(mktemp -d /tmp/la-html.XXXXXX)
cleanup() {
	chromium_kill
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*"
	exit 1
}

# a name the page must escape (comm keeps its first 15 bytes)
prog="$T/<i>lk&\"x'"
cp "$LA_TARGETS_DIR/leaky" "$prog" || fail "cannot copy leaky"

# 1. a real leak: 1000 blocks of 1160 bytes every 100 ms
"$LEAKATTACH" check --log-dir "$T/log" --interval 0.5 --repeat 6 \
	--html "$T/check.html" -- "$prog" sizeclass 100 1000 >"$T/check.txt" 2>&1
rc=$?
cat "$T/check.txt"
[ $rc -eq 1 ] || fail "check exited $rc, not 1 (a leak)"
[ -s "$T/check.html" ] || fail "check --html wrote nothing"

# the history the pictures come from: bounded locations, the leak's
# series, the process's name
"$PY" - "$T"/log/targets/*/history.jsonl <<'PYEOF' || fail "history.jsonl"
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert len(h) == 6, len(h)
keys = {'key', 'kind', 'label', 'state', 'in_use_bytes', 'free_bytes'}
for s in h:
    assert s['comm'] == '<i>lk&"x\'', s['comm']
    assert 1 <= len(s['locations']) <= 16, s['locations']
    for l in s['locations']:
        assert keys <= set(l), l
        assert l['state'] in ('leak', 'retention', 'growing', 'plateau', 'none'), l
leak = [l for l in h[-1]['locations'] if l['key'] == 'size:1040-1264@arena:main']
assert leak and leak[0]['state'] == 'leak', h[-1]['locations']
assert leak[0]['consecutive'] >= 3 and leak[0]['since_unix_ms'] > 0, leak
series = [l['in_use_bytes'] for s in h for l in s['locations']
          if l['key'] == 'size:1040-1264@arena:main']
assert all(y > x for x, y in zip(series, series[1:])), series
assert any(l['kind'] == 'size_class' and l['state'] == 'none'
           for l in h[-1]['locations']), 'no top size class'
PYEOF

# 2. the log folder's report, and its text summary
"$LEAKATTACH" report --log-dir "$T/log" --html "$T/report.html" ||
	fail "report --html failed"
LC_ALL=C.UTF-8 "$LEAKATTACH" report --log-dir "$T/log" >"$T/utf8.txt" ||
	fail "report failed"
LC_ALL=C "$LEAKATTACH" report --log-dir "$T/log" >"$T/ascii.txt" ||
	fail "report failed in the C locale"
cat "$T/utf8.txt" "$T/ascii.txt"
grep -q '^  LEAK .*▁.*█' "$T/utf8.txt" || fail "no UTF-8 sparkline for the leak"
grep -q "^  LEAK .*_.*\\^" "$T/ascii.txt" || fail "no ASCII sparkline for the leak"
LC_ALL=C "$PY" -c 'import sys; sys.exit(any(b > 127 for b in open(sys.argv[1], "rb").read()))' \
	"$T/ascii.txt" || fail "non-ASCII bytes in the C locale"
# the sparkline in check's own text report
grep -q '^    history: ' "$T/check.txt" || fail "no sparkline in check's report"
"$LEAKATTACH" report --log-dir "$T/log" -p 1 >/dev/null 2>&1 &&
	fail "report of a process without history succeeded"

for page in check report; do
	html="$T/$page.html"
	# 3. self-contained: nothing to fetch, no script
	if grep -Eiq '(src|href|action)[[:space:]]*=[[:space:]]*["'\'']?[[:space:]]*(https?:|//)|<script|@import|url\([[:space:]]*["'\'']?(https?:|//)|<link' "$html"; then
		fail "$page.html refers to something outside itself"
	fi
	# 4. rendered by Chromium, the network disabled
	chromium_run "$T/c-$page-dom" --dump-dom "file://$html" ||
		fail "chromium --dump-dom failed on $page.html: $(tail -3 "$T/c-$page-dom/stderr")"
	cp "$T/c-$page-dom/stdout" "$T/$page.dom"
	chromium_run "$T/c-$page-png" --window-size=1200,1400 \
		--screenshot="$T/$page.png" "file://$html" ||
		fail "chromium --screenshot failed on $page.html"
	# 5. the DOM and the picture
	"$PY" - "$T/$page.dom" "$T/$page.png" "$page" <<'PYEOF' || fail "$page: the checks above"
import struct, sys, zlib
from html.parser import HTMLParser

dom_path, png_path, page = sys.argv[1:4]
errors = []

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts = []          # [attrs, polylines points, shapes]
        self.stack = []
        self.findings = []        # data-verdict, data-location
        self.badges = []
        self.in_badge = False
        self.h2 = []
        self.in_h2 = False
        self.tables = {}
        self.text = []
        self.bad_tags = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ('i', 'script', 'iframe', 'img', 'link'):
            self.bad_tags.append(tag)
        if tag == 'svg' and 'data-chart' in a:
            self.charts.append([a, [], 0])
        if self.charts and tag in ('polyline', 'polygon'):
            self.charts[-1][1].append(len(a.get('points', '').split()))
        if self.charts and tag in ('circle', 'rect', 'path'):
            self.charts[-1][2] += 1
        if tag == 'section' and 'data-verdict' in a:
            self.findings.append(a)
        if tag == 'span' and a.get('class') == 'badge':
            self.in_badge = True
        if tag == 'h2':
            self.in_h2 = True
        if tag == 'table' and 'data-table' in a:
            self.tables[a['data-table']] = []
            self.table = a['data-table']

    def handle_endtag(self, tag):
        if tag == 'span':
            self.in_badge = False
        if tag == 'h2':
            self.in_h2 = False
        if tag == 'table':
            self.table = None

    def handle_data(self, data):
        if self.in_badge:
            self.badges.append(data)
        if self.in_h2:
            self.h2.append(data)
        if getattr(self, 'table', None):
            self.tables[self.table].append(data)
        self.text.append(data)

p = Page()
p.feed(open(dom_path, encoding='utf-8').read())
kinds = {}
for attrs, lines, shapes in p.charts:
    kinds.setdefault(attrs['data-chart'], []).append((attrs, lines, shapes))
for need in ('in-use', 'free', 'heap', 'pause', 'size-classes'):
    if need not in kinds:
        errors.append('no %s chart' % need)
for kind, charts in kinds.items():
    for attrs, lines, shapes in charts:
        if int(attrs.get('data-points', 0)) < 2:
            errors.append('%s chart has %s points' % (kind, attrs.get('data-points')))
        if kind == 'pause':
            if shapes < 2:
                errors.append('pause chart: %d bars' % shapes)
        elif not lines or max(lines) < 2:
            errors.append('%s chart: no line of 2 points or more (%s)' % (kind, lines))
leaks = [f for f in p.findings if f.get('data-verdict') == 'leak']
if not leaks:
    errors.append('no finding labelled a leak')
if 'LEAK' not in p.badges:
    errors.append('no LEAK badge: %s' % p.badges)
if not any(c[0].get('data-location') == leaks[0].get('data-location')
           and c[0]['data-chart'] == 'in-use' for c in p.charts) if leaks else True:
    errors.append('the leak has no in-use chart')
if 'size:1040-1264' not in ''.join(f.get('data-location', '') for f in leaks):
    errors.append('the leak is not the size class 1040-1264: %s' % leaks)
h2 = ''.join(p.h2)
if '<i>lk&"x\'' not in h2:
    errors.append('the program name is not shown as text: %r' % h2)
if p.bad_tags:
    errors.append('tags that must not be there: %s' % p.bad_tags)
if 'callers' in p.tables and 'leaky.c:' not in ''.join(p.tables['callers']):
    errors.append('callers table without leaky.c:LINE')

# the PNG: a real picture of the page's size, not a blank one
data = open(png_path, 'rb').read()
if data[:8] != b'\x89PNG\r\n\x1a\n' or data[12:16] != b'IHDR':
    errors.append('not a PNG')
else:
    w, h, depth, ctype = struct.unpack('>IIBB', data[16:26])
    if w < 1000 or h < 1000:
        errors.append('PNG is %dx%d' % (w, h))
    raw, pos = b'', 8
    while pos < len(data):
        n, typ = struct.unpack('>I4s', data[pos:pos + 8])
        if typ == b'IDAT':
            raw += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    pix = zlib.decompress(raw)
    stride = len(pix) // h
    # rows that are not all one byte value (filters aside): drawn rows
    drawn = sum(1 for r in range(h) if len(set(pix[r * stride + 1:(r + 1) * stride])) > 2)
    if drawn < h // 10:
        errors.append('PNG nearly blank: %d of %d rows drawn' % (drawn, h))
    print('%s: PNG %dx%d, %d rows drawn, %d bytes; charts %s' %
          (page, w, h, drawn, len(data), sorted(kinds)))
for e in errors:
    print('%s: %s' % (page, e))
sys.exit(1 if errors else 0)
PYEOF
done
echo "PASS"
