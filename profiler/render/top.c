/* `top` table (see top.h): per function name, flat = self value summed over
 * its tree nodes, cum = total of its outermost occurrences on each path, so
 * a recursive function is not counted twice. Formatting follows pprof's
 * report.printText and measurement package. */
#include "render/top.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hashmap.h"
#include "base/units.h"

static int cmp_rows(const void *a, const void *b)
{
	const sp_top_row *x = a, *y = b;
	int64_t fx = x->flat < 0 ? -x->flat : x->flat, fy = y->flat < 0 ? -y->flat : y->flat;
	int c;

	if (fx != fy)
		return fx > fy ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	return 0;
}

/* Row name of an unsymbolized frame, grouped per module the way pprof's
 * function granularity does: "[libc.so.6+0x3fbfb]" -> "[libc.so.6]", a bare
 * "0x..." -> "<unknown>". One row per address would be noise in a table.
 * Writes into buf and returns it, or returns the name unchanged. */
static const char *row_name(const char *name, uint8_t kind, char *buf, size_t len)
{
	const char *plus = strstr(name, "+0x");

	if (kind != SP_FRAME_UNKNOWN)
		return name;
	if (!strncmp(name, "0x", 2))
		return "<unknown>";
	if (name[0] == '[' && plus) {
		snprintf(buf, len, "%.*s]", (int)(plus - name), name);
		return buf;
	}
	return name;
}

/* Rows with their names packed after them: one allocation, one free(). */
static sp_top_row *pack_rows(const sp_top_row *rows, size_t n)
{
	size_t bytes = n * sizeof(*rows);
	sp_top_row *out;
	char *p;

	for (size_t i = 0; i < n; i++)
		bytes += strlen(rows[i].name) + 1;
	out = malloc(bytes ? bytes : 1);
	if (!out)
		return NULL;
	p = (char *)(out + n);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(rows[i].name) + 1;

		out[i] = rows[i];
		memcpy(p, rows[i].name, l);
		out[i].name = p;
		p += l;
	}
	return out;
}

int sp_top_rows(const sp_stack_tree *t, sp_top_row **rows_out, size_t *n_out, sp_error *err)
{
	size_t names = t->n_names ? t->n_names : 1, n_groups = 0, n_rows = 0;
	sp_top_row *rows = NULL;
	char **group_name = NULL;
	uint32_t *row_of = NULL, *on_path = NULL;
	sp_hashmap groups = { 0 }; /* row name (group_name[i]) -> i */
	uint8_t *kind_of = NULL, *seen_inl = NULL, *seen_phys = NULL;
	uint64_t *stack = NULL;
	size_t n_stack = 0;
	char buf[512];
	int ret = -ENOMEM;

	*rows_out = NULL;
	*n_out = 0;
	rows = calloc(names, sizeof(*rows));
	group_name = calloc(names, sizeof(*group_name));
	row_of = calloc(names, sizeof(*row_of));
	on_path = calloc(names, sizeof(*on_path));
	kind_of = calloc(names, 1);
	seen_inl = calloc(names, 1);
	seen_phys = calloc(names, 1);
	stack = malloc(2 * (t->n_nodes ? t->n_nodes : 1) * sizeof(*stack));
	if (!rows || !group_name || !row_of || !on_path || !kind_of || !seen_inl ||
	    !seen_phys || !stack || sp_hashmap_reserve(&groups, names))
		goto out;

	/* Map frame names to rows. Only unknown frames are renamed; a name has
	 * one kind in practice (a function literally named "0x.." would not). */
	for (size_t i = 1; i < t->n_nodes; i++)
		kind_of[t->nodes[i].name] = t->nodes[i].kind;
	for (size_t i = 0; i < t->n_names; i++) {
		const char *name = i ? row_name(t->names[i], kind_of[i], buf, sizeof(buf)) : "";
		bool added;
		sp_hashmap_ent *e = sp_hashmap_insert_str(&groups, name, &added);

		if (!e)
			goto out;
		if (added) {
			group_name[n_groups] = strdup(name);
			if (!group_name[n_groups])
				goto out;
			/* The entry borrowed name (maybe buf): key it by the copy. */
			e->key = (uint64_t)(uintptr_t)group_name[n_groups];
			e->val.num = n_groups++;
		}
		row_of[i] = (uint32_t)e->val.num;
	}

	/* Enter/exit walk: entries are node << 1, exits node << 1 | 1. A row is
	 * "on the path" while any of its frames is, so recursion (also through
	 * several addresses of one module) counts once in cum. */
	for (uint32_t i = 0; i < t->nodes[0].n_children; i++)
		stack[n_stack++] = (uint64_t)t->children[t->nodes[0].first_child + i] << 1;
	while (n_stack) {
		uint64_t e = stack[--n_stack];
		const sp_stack_node *n = &t->nodes[e >> 1];
		uint32_t r = row_of[n->name];

		if (e & 1) {
			on_path[r]--;
			continue;
		}
		rows[r].flat += n->self;
		if (!on_path[r])
			rows[r].cum += n->total;
		if (n->kind == SP_FRAME_INLINED)
			seen_inl[r] = 1;
		else
			seen_phys[r] = 1;
		on_path[r]++;
		stack[n_stack++] = e | 1;
		for (uint32_t i = 0; i < n->n_children; i++)
			stack[n_stack++] = (uint64_t)t->children[n->first_child + i] << 1;
	}
	/* Compact the rows that occur; row 0 is the root's "". */
	for (size_t r = 1; r < n_groups; r++) {
		if (!seen_inl[r] && !seen_phys[r])
			continue;
		rows[n_rows] = rows[r];
		rows[n_rows].name = group_name[r];
		rows[n_rows].inlined = seen_inl[r] ? (seen_phys[r] ? 2 : 1) : 0;
		n_rows++;
	}
	qsort(rows, n_rows, sizeof(*rows), cmp_rows);
	*rows_out = pack_rows(rows, n_rows);
	if (!*rows_out)
		goto out;
	*n_out = n_rows;
	ret = 0;
out:
	if (ret)
		sp_error_set(err, ret, "out of memory computing the top table");
	for (size_t i = 0; i < n_groups; i++)
		free(group_name[i]);
	free(group_name);
	free(rows);
	free(row_of);
	sp_hashmap_free(&groups);
	free(on_path);
	free(kind_of);
	free(seen_inl);
	free(seen_phys);
	free(stack);
	return ret;
}

int sp_top_write(const sp_stack_tree *t, const sp_top_opts *o, FILE *out, sp_error *err)
{
	sp_top_row *rows = NULL;
	size_t n_rows = 0, shown;
	int64_t min_value = 0, shown_flat = 0, sum = 0;
	const char *ounit;
	char a[64], b[64], c[16], d[16], e[16];
	int ret;

	ret = sp_top_rows(t, &rows, &n_rows, err);
	if (ret)
		return ret;
	shown = o->max_rows && o->max_rows < n_rows ? o->max_rows : n_rows;
	for (size_t i = 0; i < shown; i++) {
		int64_t v = rows[i].flat ? rows[i].flat : rows[i].cum;

		if (v < 0)
			v = -v;
		if (v > 0 && (min_value == 0 || v < min_value))
			min_value = v;
		shown_flat += rows[i].flat;
	}
	ounit = sp_units_pick(min_value, t->total, t->unit);

	if (o->source && *o->source)
		fprintf(out, "File: %s\n", o->source);
	fprintf(out, "Type: %s\n", t->sample_type);
	if (o->time_nanos > 0) {
		time_t s = (time_t)(o->time_nanos / 1000000000);
		struct tm tm;
		char when[64];

		if (gmtime_r(&s, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
			fprintf(out, "Time: %s\n", when);
	}
	if (o->filter && *o->filter)
		fprintf(out, "Tags: %s\n", o->filter);
	sp_units_label_in(t->total, t->unit, ounit, a, sizeof(a));
	if (o->duration_nanos > 0) {
		sp_units_label(o->duration_nanos, "nanoseconds", b, sizeof(b));
		if (sp_units_kind(t->unit) == SP_UNIT_TIME) {
			sp_units_percent(t->total, o->duration_nanos, c, sizeof(c));
			fprintf(out, "Duration: %s, Total samples = %s (%s)\n", b, a,
				c + strspn(c, " "));
		} else {
			fprintf(out, "Duration: %s\n", b);
		}
	}
	sp_units_label_in(shown_flat, t->unit, ounit, b, sizeof(b));
	sp_units_percent(shown_flat, t->total, c, sizeof(c));
	fprintf(out, "Showing nodes accounting for %s, %s of %s total\n", b,
		c + strspn(c, " "), a);
	if (shown < n_rows)
		fprintf(out, "Showing top %zu nodes out of %zu\n", shown, n_rows);
	fprintf(out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
	for (size_t i = 0; i < shown; i++) {
		const sp_top_row *r = &rows[i];

		sum += r->flat;
		sp_units_label_in(r->flat, t->unit, ounit, a, sizeof(a));
		sp_units_label_in(r->cum, t->unit, ounit, b, sizeof(b));
		sp_units_percent(r->flat, t->total, c, sizeof(c));
		sp_units_percent(sum, t->total, d, sizeof(d));
		sp_units_percent(r->cum, t->total, e, sizeof(e));
		fprintf(out, "%10s %s %s %10s %s  ", a, c, d, b, e);
		for (const char *s = r->name; *s; s++)
			putc_unlocked((unsigned char)*s < 0x20 ? ' ' : *s, out);
		fputs(r->inlined == 1 ? " (inline)\n" : r->inlined == 2 ? " (partial-inline)\n" : "\n",
		      out);
	}
	if (fflush(out) || ferror(out))
		ret = sp_error_set(err, -EIO, "write failed: %s", strerror(errno ? errno : EIO));
	free(rows);
	return ret;
}
