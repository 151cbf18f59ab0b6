/* SVG flame graph writer (see flamegraph.h). Two passes: lay out the frames
 * that will be drawn (depth-first, narrow children merged), then write them
 * with the page chrome and the inline script. */
#include "render/flamegraph.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/units.h"

#define PAD 10.0       /* left/right margin */
#define FRAME_H 16     /* row height; rects are one pixel shorter */
#define FONT_SIZE 12
#define CHAR_W 0.59    /* average glyph width / font size (Verdana-ish) */
#define TOP_H 56       /* title, subtitle, buttons */
#define BOTTOM_H 30    /* details line */

struct item {
	uint32_t node;     /* tree node; for a merged block, unused */
	uint32_t depth;
	uint32_t n_merged; /* > 1: a "…" block of this many sibling subtrees */
	uint32_t top[3];   /* heaviest merged siblings, for the tooltip */
	uint8_t expand;    /* lay out children */
	int64_t off;       /* left edge, in value units from the root's edge */
	int64_t value;
};

struct layout {
	struct item *items; /* drawn frames in depth-first order */
	size_t n, cap;
	struct item *stack;
	size_t n_stack, cap_stack;
	struct item *tmp;
	size_t cap_tmp;
	uint32_t depth;
	size_t merged_frames, merged_blocks;
};

static int reserve(void **a, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 256;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*a, n * elem);
	if (!p)
		return -ENOMEM;
	*a = p;
	*cap = n;
	return 0;
}

static void bucket_add(struct item *b, const sp_stack_tree *t, uint32_t id)
{
	int64_t v = t->nodes[id].total;

	if (b->n_merged < 3) {
		b->top[b->n_merged] = id;
	} else {
		int min = 0;

		for (int i = 1; i < 3; i++)
			if (t->nodes[b->top[i]].total < t->nodes[b->top[min]].total)
				min = i;
		if (v > t->nodes[b->top[min]].total)
			b->top[min] = id;
	}
	b->n_merged++;
	b->value += v;
}

/* Depth-first with an explicit stack: profiles can be thousands deep. */
static int lay_out(const sp_stack_tree *t, double scale, double min_width,
		   struct layout *L)
{
	struct item root = { .node = 0, .expand = t->nodes[0].n_children > 0,
			     .value = t->nodes[0].total };

	if (reserve((void **)&L->stack, &L->cap_stack, 1, sizeof(*L->stack)))
		return -ENOMEM;
	L->stack[L->n_stack++] = root;
	while (L->n_stack) {
		struct item it = L->stack[--L->n_stack];
		const sp_stack_node *n = &t->nodes[it.node];
		struct item bucket = { .depth = it.depth + 1 };
		size_t n_tmp = 0;
		int64_t cur = it.off;

		if (reserve((void **)&L->items, &L->cap, L->n + 1, sizeof(*L->items)))
			return -ENOMEM;
		L->items[L->n++] = it;
		if (it.depth > L->depth)
			L->depth = it.depth;
		if (!it.expand)
			continue;
		if (reserve((void **)&L->tmp, &L->cap_tmp, n->n_children + 1, sizeof(*L->tmp)))
			return -ENOMEM;
		for (uint32_t i = 0; i < n->n_children; i++) {
			uint32_t id = t->children[n->first_child + i];
			const sp_stack_node *c = &t->nodes[id];

			if ((double)c->total * scale < min_width) {
				bucket_add(&bucket, t, id);
				continue;
			}
			L->tmp[n_tmp++] = (struct item){ .node = id, .depth = it.depth + 1,
				.expand = c->n_children > 0, .off = cur, .value = c->total };
			cur += c->total;
		}
		if (bucket.n_merged == 1) {
			/* One narrow child: draw it by name, without its callees. */
			L->tmp[n_tmp++] = (struct item){ .node = bucket.top[0],
				.depth = it.depth + 1, .off = cur, .value = bucket.value };
		} else if (bucket.n_merged > 1) {
			bucket.off = cur;
			L->tmp[n_tmp++] = bucket;
			L->merged_blocks++;
			L->merged_frames += bucket.n_merged;
		}
		if (reserve((void **)&L->stack, &L->cap_stack, L->n_stack + n_tmp,
			    sizeof(*L->stack)))
			return -ENOMEM;
		while (n_tmp)
			L->stack[L->n_stack++] = L->tmp[--n_tmp];
	}
	return 0;
}

/* ---- output helpers ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s, or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	while (*s) {
		size_t k = utf8_seq((const unsigned char *)s);

		s += k ? k : 1;
		n++;
	}
	return n;
}

/* Write at most max_chars characters of s, XML-escaped; bytes that are not
 * valid UTF-8 and control characters (not allowed in XML 1.0) become '?'.
 * ';' and newlines never reach here unescaped from names: newlines would
 * split the tooltip's name/info lines, so they become spaces. */
static void put_xml(FILE *f, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t n = 0; *p && n < max_chars; n++) {
		size_t k = utf8_seq(p);

		if (!k) {
			putc_unlocked('?', f);
			p++;
			continue;
		}
		if (k > 1) {
			fwrite(p, 1, k, f);
			p += k;
			continue;
		}
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '\n': case '\r': case '\t': putc_unlocked(' ', f); break;
		default:
			putc_unlocked(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
		}
		p++;
	}
}

/* Colour stable per name: warm (red-orange-yellow) for functions, a
 * blue-green tint for inlined frames, greys for unknown/truncated/merged. */
static void frame_color(const char *name, uint8_t kind, bool merged, char out[8])
{
	uint64_t h = sp_hash_str(name); /* mixed: similar names, unrelated colours */
	double a = (h & 0xff) / 255.0, b = ((h >> 8) & 0xff) / 255.0;
	double c = ((h >> 16) & 0xff) / 255.0;
	int r, g, bl;

	if (merged) {
		r = 214, g = 206, bl = 196; /* warm grey: present but quiet */
	} else if (kind == SP_FRAME_TRUNCATED) {
		r = 168, g = 160, bl = 160;
	} else if (kind == SP_FRAME_UNKNOWN) {
		r = g = bl = 170 + (int)(56 * a); /* wide spread: siblings stay apart */
	} else if (kind == SP_FRAME_INLINED) {
		r = 120 + (int)(50 * a);
		g = 196 + (int)(40 * b);
		bl = 200 + (int)(40 * c);
	} else if (kind == SP_FRAME_ROOT) {
		r = 232, g = 178, bl = 112;
	} else {
		r = 225 + (int)(30 * a);
		g = 110 + (int)(125 * b);
		bl = 40 + (int)(55 * c);
	}
	snprintf(out, 8, "#%02x%02x%02x", r, g, bl);
}

static void value_label(const sp_stack_tree *t, int64_t v, char *buf, size_t len)
{
	char num[48];

	if (sp_units_kind(t->unit) != SP_UNIT_COUNT) {
		sp_units_label(v, t->unit, buf, len);
		return;
	}
	sp_units_grouped(v, num, sizeof(num));
	snprintf(buf, len, "%s %s", num, !strcmp(t->sample_type, "samples") ||
		 !*t->sample_type ? "samples" : t->sample_type);
}

static void pct_label(int64_t v, int64_t total, char *buf, size_t len)
{
	double p = total ? 100.0 * (double)v / (double)total : 0;

	if (p > 0 && p < 0.01)
		snprintf(buf, len, "<0.01%%");
	else
		snprintf(buf, len, "%.2f%%", p);
}

static void default_title(const sp_stack_tree *t, char *buf, size_t len)
{
	const char *ty = t->sample_type;

	if (!strcmp(ty, "cpu") || !strcmp(ty, "samples"))
		snprintf(buf, len, "CPU flame graph");
	else if (sp_units_kind(t->unit) == SP_UNIT_BYTES || strstr(ty, "alloc") ||
		 strstr(ty, "inuse"))
		snprintf(buf, len, "Memory flame graph (%s)", ty);
	else
		snprintf(buf, len, "Flame graph (%s)", *ty ? ty : "value");
}

static void default_subtitle(const sp_stack_tree *t, const sp_flamegraph_opts *o,
			     char *buf, size_t len)
{
	char v[64], d[64];
	size_t n;

	value_label(t, t->total, v, sizeof(v));
	n = (size_t)snprintf(buf, len, "%s: %s total", *t->sample_type ? t->sample_type : "value", v);
	if (o->time_nanos > 0 && n < len) {
		time_t s = (time_t)(o->time_nanos / 1000000000);
		struct tm tm;
		char when[64];

		if (gmtime_r(&s, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
			n += (size_t)snprintf(buf + n, len - n, "  \xc2\xb7  %s", when);
	}
	if (o->duration_nanos > 0 && n < len) {
		sp_units_label(o->duration_nanos, "nanoseconds", d, sizeof(d));
		n += (size_t)snprintf(buf + n, len - n, "%s%s", o->time_nanos > 0 ? " for " :
				      "  \xc2\xb7  duration ", d);
	}
	if (o->filter && *o->filter && n < len)
		n += (size_t)snprintf(buf + n, len - n, "  \xc2\xb7  %s", o->filter);
	if (o->source && *o->source && n < len)
		snprintf(buf + n, len - n, "  \xc2\xb7  %s", o->source);
}

/* The page script: zoom, search, tooltips in the details line, URL state
 * (?x=<frame index>&s=<regex>). Frames are read back from the DOM: depth
 * from y, exact value from data-v, so offsets are recomputed exactly. */
static const char script[] =
"'use strict';\n"
"var NS = 'http://www.w3.org/2000/svg';\n"
"var F = [], W, PAD, FH, FS, details, matchedT, unzoomB, searchB, icB;\n"
"var zoomIdx = 0, searchRe = null, ignoreCase = false;\n"
"function el(id) { return document.getElementById(id); }\n"
"function init() {\n"
"  var svg = document.documentElement;\n"
"  W = +svg.getAttribute('data-w'); PAD = +svg.getAttribute('data-pad');\n"
"  FH = +svg.getAttribute('data-fh'); FS = +svg.getAttribute('data-fs');\n"
"  details = el('details'); matchedT = el('matched'); unzoomB = el('unzoom');\n"
"  searchB = el('search'); icB = el('ic');\n"
"  var fr = el('frames'), gs = fr.children, stack = [], rootY = 0;\n"
"  for (var i = 0; i < gs.length; i++) {\n"
"    var g = gs[i], r = g.getElementsByTagName('rect')[0];\n"
"    var tt = g.getElementsByTagName('title')[0].textContent, nl = tt.indexOf('\\n');\n"
"    var y = +r.getAttribute('y');\n"
"    if (i === 0) rootY = y;\n"
"    var d = Math.round((rootY - y) / FH);\n"
"    while (stack.length > d) F[stack.pop()].end = i;\n"
"    var f = { g: g, r: r, t: g.getElementsByTagName('text')[0] || null, y: y,\n"
"      v: +g.getAttribute('data-v'), off: 0, next: 0, end: gs.length, parent: -1,\n"
"      name: nl < 0 ? tt : tt.slice(0, nl), info: nl < 0 ? '' : tt.slice(nl + 1),\n"
"      fill: r.getAttribute('fill'), m: g.classList.contains('m') };\n"
"    if (stack.length) {\n"
"      var p = F[stack[stack.length - 1]];\n"
"      f.parent = stack[stack.length - 1]; f.off = p.next; p.next += f.v;\n"
"    }\n"
"    f.next = f.off; g.fgIndex = i;\n"
"    stack.push(i); F.push(f);\n"
"  }\n"
"  function idx(e) {\n"
"    for (var n = e.target; n && n !== fr; n = n.parentNode)\n"
"      if (n.fgIndex !== undefined) return n.fgIndex;\n"
"    return -1;\n"
"  }\n"
"  fr.addEventListener('click', function (e) { var i = idx(e); if (i >= 0) zoom(i); });\n"
"  fr.addEventListener('mouseover', function (e) {\n"
"    var i = idx(e); if (i >= 0) details.textContent = F[i].name + '  \\u2014  ' + F[i].info;\n"
"  });\n"
"  var hint = details.textContent;\n"
"  fr.addEventListener('mouseout', function () { details.textContent = hint; });\n"
"  unzoomB.addEventListener('click', function () { zoom(0); });\n"
"  searchB.addEventListener('click', function () { if (searchRe) resetSearch(); else askSearch(); });\n"
"  icB.addEventListener('click', toggleIc);\n"
"  window.addEventListener('keydown', function (e) {\n"
"    var k = e.key;\n"
"    if ((e.ctrlKey && (k === 'f' || k === 'F')) || k === 'F3') { e.preventDefault(); askSearch(); }\n"
"    else if (e.ctrlKey && (k === 'i' || k === 'I')) { e.preventDefault(); toggleIc(); }\n"
"    else if (k === 'Escape') { resetSearch(); zoom(0); }\n"
"  });\n"
"  var q = new URLSearchParams(location.search);\n"
"  if (q.get('x')) { var x = parseInt(q.get('x'), 10); if (x > 0 && x < F.length) zoom(x); }\n"
"  if (q.get('s')) { try { doSearch(new RegExp(q.get('s'))); } catch (e) {} }\n"
"}\n"
"function label(f, x, w) {\n"
"  var n = Math.floor((w - 6) / (FS * " "0.59" ")), s = '';\n"
"  if (f.name.length <= n) s = f.name; else if (n >= 5) s = f.name.slice(0, n - 2) + '..';\n"
"  if (!f.t) {\n"
"    if (!s) return;\n"
"    f.t = document.createElementNS(NS, 'text');\n"
"    f.t.setAttribute('y', (f.y + FH - 5).toFixed(1));\n"
"    f.g.appendChild(f.t);\n"
"  }\n"
"  f.t.setAttribute('x', (x + 3).toFixed(2));\n"
"  f.t.textContent = s;\n"
"}\n"
"function place(f, x, w, par) {\n"
"  f.g.style.display = '';\n"
"  f.g.classList.toggle('parent', par);\n"
"  f.r.setAttribute('x', x.toFixed(2));\n"
"  f.r.setAttribute('width', w.toFixed(2));\n"
"  label(f, x, w);\n"
"}\n"
"function zoom(i) {\n"
"  var z = F[i], sc = (W - 2 * PAD) / z.v, anc = {}, a, k;\n"
"  for (a = z.parent; a >= 0; a = F[a].parent) anc[a] = 1;\n"
"  for (k = 0; k < F.length; k++) {\n"
"    var f = F[k];\n"
"    if (k >= i && k < z.end) place(f, PAD + (f.off - z.off) * sc, f.v * sc, false);\n"
"    else if (anc[k]) place(f, PAD, W - 2 * PAD, true);\n"
"    else f.g.style.display = 'none';\n"
"  }\n"
"  zoomIdx = i;\n"
"  unzoomB.classList.toggle('hide', i === 0);\n"
"  if (searchRe) doSearch(searchRe);\n"
"  saveState();\n"
"}\n"
"function pct(x) {\n"
"  if (x > 0 && x < 0.001) return '<0.1%';\n"
"  return (100 * x).toFixed(1) + '%';\n"
"}\n"
"function askSearch() {\n"
"  var t = prompt('Search (regular expression):', searchRe ? searchRe.source : '');\n"
"  if (t === null) return;\n"
"  if (t === '') { resetSearch(); return; }\n"
"  var re;\n"
"  try { re = new RegExp(t, ignoreCase ? 'i' : ''); }\n"
"  catch (e) { alert('Invalid regular expression: ' + e.message); return; }\n"
"  doSearch(re);\n"
"}\n"
"function doSearch(re) {\n"
"  var hit = new Uint8Array(F.length), sum = 0, k, z = F[zoomIdx];\n"
"  searchRe = re;\n"
"  for (k = 0; k < F.length; k++) {\n"
"    hit[k] = !F[k].m && re.test(F[k].name) ? 1 : 0;\n"
"    F[k].r.setAttribute('fill', hit[k] ? 'rgb(230,0,230)' : F[k].fill);\n"
"  }\n"
"  /* count a matching frame once, not again for matches above it */\n"
"  for (k = zoomIdx; k < z.end; ) {\n"
"    if (hit[k]) { sum += F[k].v; k = F[k].end; } else k++;\n"
"  }\n"
"  matchedT.textContent = 'Matched: ' + pct(sum / z.v);\n"
"  searchB.textContent = 'Reset Search';\n"
"  saveState();\n"
"}\n"
"function resetSearch() {\n"
"  for (var k = 0; k < F.length; k++) F[k].r.setAttribute('fill', F[k].fill);\n"
"  searchRe = null;\n"
"  matchedT.textContent = ' ';\n"
"  searchB.textContent = 'Search';\n"
"  saveState();\n"
"}\n"
"function toggleIc() {\n"
"  ignoreCase = !ignoreCase;\n"
"  icB.classList.toggle('on', ignoreCase);\n"
"  if (searchRe) doSearch(new RegExp(searchRe.source, ignoreCase ? 'i' : ''));\n"
"}\n"
"function saveState() {\n"
"  var q = [];\n"
"  if (zoomIdx) q.push('x=' + zoomIdx);\n"
"  if (searchRe) q.push('s=' + encodeURIComponent(searchRe.source));\n"
"  try { history.replaceState(null, '', location.pathname + (q.length ? '?' + q.join('&') : '')); }\n"
"  catch (e) {}\n"
"}\n";

static const char style[] =
"text { font-family: Verdana, 'DejaVu Sans', sans-serif; font-size: 12px; fill: #222; }\n"
"#title { font-size: 17px; text-anchor: middle; fill: #000; }\n"
"#subtitle { text-anchor: middle; fill: #555; }\n"
"#search, #ic, #matched { text-anchor: end; }\n"
"#details { fill: #444; }\n"
".btn { cursor: pointer; fill: #333; }\n"
".btn:hover { fill: #b00; }\n"
"#ic { fill: #aaa; } #ic.on { fill: #000; font-weight: bold; }\n"
".hide { display: none; }\n"
"#frames > g { cursor: pointer; }\n"
"#frames text { pointer-events: none; fill: #000; }\n"
"#frames > g:hover > rect { stroke: #000; stroke-width: 0.8; }\n"

".parent { opacity: 0.5; }\n";

static void write_item(FILE *f, const sp_stack_tree *t, const struct item *it,
		       double scale, double base_y, uint32_t depth)
{
	const sp_stack_node *n = &t->nodes[it->node];
	const char *name = it->n_merged > 1 ? "\xe2\x80\xa6" : sp_stacks_name(t, n);
	double x = PAD + (double)it->off * scale, w = (double)it->value * scale;
	double y = base_y + (double)(depth - it->depth) * FRAME_H;
	char color[8], val[64], pct[16], merged_name[48], info[192];
	size_t fit, chars;

	frame_color(name, it->depth ? n->kind : SP_FRAME_ROOT, it->n_merged > 1, color);
	value_label(t, it->value, val, sizeof(val));
	pct_label(it->value, t->total, pct, sizeof(pct));

	fprintf(f, "<g data-v=\"%" PRId64 "\"%s><title>", it->value,
		it->n_merged > 1 ? " class=\"m\"" : "");
	/* "name\ninfo": the script splits at the newline. Everything goes
	 * through put_xml: names and "<0.01%" alike need escaping. */
	if (it->n_merged > 1) {
		snprintf(merged_name, sizeof(merged_name), "\xe2\x80\xa6 %" PRIu32 " narrow frames",
			 it->n_merged);
		name = merged_name;
		snprintf(info, sizeof(info), "%s, %s; merged, largest: ", val, pct);
		put_xml(f, name, SIZE_MAX);
		putc_unlocked('\n', f);
		put_xml(f, info, SIZE_MAX);
		for (uint32_t i = 0; i < it->n_merged && i < 3; i++) {
			if (i)
				fputs(", ", f);
			put_xml(f, sp_stacks_name(t, &t->nodes[it->top[i]]), 100);
		}
	} else {
		size_t k = (size_t)snprintf(info, sizeof(info), "%s, %s", val, pct);

		if (it->depth && n->self > 0 && n->self != n->total && k < sizeof(info)) {
			value_label(t, n->self, val, sizeof(val));
			pct_label(n->self, t->total, pct, sizeof(pct));
			k += (size_t)snprintf(info + k, sizeof(info) - k, "; self %s, %s", val, pct);
		}
		if (n->kind == SP_FRAME_INLINED && k < sizeof(info))
			k += (size_t)snprintf(info + k, sizeof(info) - k, "; inlined");
		if (!it->expand && n->n_children && k < sizeof(info))
			snprintf(info + k, sizeof(info) - k, "; callees too narrow to draw");
		put_xml(f, name, SIZE_MAX);
		putc_unlocked('\n', f);
		put_xml(f, info, SIZE_MAX);
	}
	/* rounded corners only where they show: saves bytes on slivers */
	fprintf(f, "</title><rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\"%s "
		"fill=\"%s\"/>", x, y, w, FRAME_H - 1, w >= 4 ? " rx=\"2\"" : "", color);

	/* Label: as many characters as fit, cut with "..". Same rule as label()
	 * in the script, which redoes it after a zoom. */
	fit = w > 6 ? (size_t)((w - 6) / (FONT_SIZE * CHAR_W)) : 0;
	chars = fit ? utf8_chars(name) : 0;
	/* whole name when it fits, else at least 3 characters and ".." */
	if (fit && (chars <= fit || fit >= 5)) {
		fprintf(f, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + FRAME_H - 5);
		if (chars <= fit) {
			put_xml(f, name, SIZE_MAX);
		} else {
			put_xml(f, name, fit - 2);
			fputs("..", f);
		}
		fputs("</text>", f);
	}
	fputs("</g>\n", f);
}

void sp_flamegraph_opts_init(sp_flamegraph_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->width = SP_FLAMEGRAPH_WIDTH;
	o->min_width = SP_FLAMEGRAPH_MIN_WIDTH;
}

int sp_flamegraph_write(const sp_stack_tree *t, const sp_flamegraph_opts *o,
			FILE *out, sp_flamegraph_stats *st, sp_error *err)
{
	struct layout L = { 0 };
	double width = o->width >= 200 ? o->width : SP_FLAMEGRAPH_WIDTH;
	double scale, height, base_y;
	char title[256], subtitle[1024];
	int ret;

	if (!t->total)
		return sp_error_set(err, -EINVAL, "nothing to draw: the total is zero");
	scale = (width - 2 * PAD) / (double)t->total;
	ret = lay_out(t, scale, o->min_width > 0 ? o->min_width : 0, &L);
	if (ret) {
		sp_error_set(err, ret, "out of memory laying out the flame graph");
		goto out;
	}
	height = TOP_H + (double)(L.depth + 1) * FRAME_H + BOTTOM_H;
	base_y = TOP_H;
	if (o->title)
		snprintf(title, sizeof(title), "%s", o->title);
	else
		default_title(t, title, sizeof(title));
	if (o->subtitle)
		snprintf(subtitle, sizeof(subtitle), "%s", o->subtitle);
	else
		default_subtitle(t, o, subtitle, sizeof(subtitle));

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" data-w=\"%.0f\" data-pad=\"%.0f\" "
		"data-fh=\"%d\" data-fs=\"%d\" onload=\"init()\">\n",
		width, height, width, height, width, PAD, FRAME_H, FONT_SIZE);
	fputs("<!-- spanprof flame graph. Click a frame to zoom, Ctrl-F to search. -->\n"
	      "<defs><linearGradient id=\"bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
	      "<stop offset=\"5%\" stop-color=\"#fbfbf9\"/><stop offset=\"95%\" "
	      "stop-color=\"#f1ede4\"/></linearGradient></defs>\n<style type=\"text/css\">\n", out);
	fputs(style, out);
	fputs("</style>\n<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"url(#bg)\"/>\n",
	      out);
	fprintf(out, "<text id=\"title\" x=\"%.0f\" y=\"24\">", width / 2);
	put_xml(out, title, SIZE_MAX);
	fprintf(out, "</text>\n<text id=\"subtitle\" x=\"%.0f\" y=\"42\">", width / 2);
	put_xml(out, subtitle, SIZE_MAX);
	fprintf(out, "</text>\n<text id=\"unzoom\" class=\"btn hide\" x=\"%.0f\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" class=\"btn\" x=\"%.0f\" y=\"24\">Search</text>\n"
		"<text id=\"ic\" class=\"btn\" x=\"%.0f\" y=\"24\">ic</text>\n"
		"<text id=\"details\" x=\"%.0f\" y=\"%.0f\">Hover for details \xc2\xb7 click to zoom "
		"\xc2\xb7 Ctrl-F to search \xc2\xb7 Esc to reset</text>\n"
		"<text id=\"matched\" x=\"%.0f\" y=\"%.0f\"> </text>\n<g id=\"frames\">\n",
		PAD, width - PAD - 28, width - PAD, PAD, height - 10, width - PAD, height - 10);
	for (size_t i = 0; i < L.n; i++)
		write_item(out, t, &L.items[i], scale, base_y, L.depth);
	fputs("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n", out);
	fputs(script, out);
	fputs("]]></script>\n</svg>\n", out);

	if (fflush(out) || ferror(out)) {
		ret = sp_error_set(err, -EIO, "write failed: %s", strerror(errno ? errno : EIO));
		goto out;
	}
	if (st) {
		st->frames = L.n;
		st->merged_blocks = L.merged_blocks;
		st->merged_frames = L.merged_frames;
		st->depth = L.depth;
	}
out:
	free(L.items);
	free(L.stack);
	free(L.tmp);
	return ret;
}
