/* `top` table (see top.h): per function name, flat = self value summed over
 * its tree nodes, cum = total of its outermost occurrences on each path, so
 * a recursive function is not counted twice. Formatting follows pprof's
 * report.printText and measurement package. */
#include "top.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "units.h"

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

int sp_top_rows(const sp_stack_tree *t, sp_top_row **rows_out, size_t *n_out, sp_error *err)
{
	sp_top_row *rows = NULL;
	uint32_t *on_path = NULL;
	uint8_t *seen_inl = NULL, *seen_phys = NULL;
	uint64_t *stack = NULL;
	size_t n_stack = 0, n_rows = 0;
	int ret = -ENOMEM;

	*rows_out = NULL;
	*n_out = 0;
	rows = calloc(t->n_names ? t->n_names : 1, sizeof(*rows));
	on_path = calloc(t->n_names ? t->n_names : 1, sizeof(*on_path));
	seen_inl = calloc(t->n_names ? t->n_names : 1, 1);
	seen_phys = calloc(t->n_names ? t->n_names : 1, 1);
	stack = malloc(2 * t->n_nodes * sizeof(*stack));
	if (!rows || !on_path || !seen_inl || !seen_phys || !stack)
		goto out;

	/* Enter/exit walk: entries are node << 1, exits node << 1 | 1. */
	for (uint32_t i = 0; i < t->nodes[0].n_children; i++)
		stack[n_stack++] = (uint64_t)t->children[t->nodes[0].first_child + i] << 1;
	while (n_stack) {
		uint64_t e = stack[--n_stack];
		const sp_stack_node *n = &t->nodes[e >> 1];

		if (e & 1) {
			on_path[n->name]--;
			continue;
		}
		rows[n->name].flat += n->self;
		if (!on_path[n->name])
			rows[n->name].cum += n->total;
		if (n->kind == SP_FRAME_INLINED)
			seen_inl[n->name] = 1;
		else
			seen_phys[n->name] = 1;
		on_path[n->name]++;
		stack[n_stack++] = e | 1;
		for (uint32_t i = 0; i < n->n_children; i++)
			stack[n_stack++] = (uint64_t)t->children[n->first_child + i] << 1;
	}
	/* Compact: keep names that occur (not the root's "all"). */
	for (size_t i = 1; i < t->n_names; i++) {
		if (!seen_inl[i] && !seen_phys[i])
			continue;
		rows[n_rows] = rows[i];
		rows[n_rows].name = t->names[i];
		rows[n_rows].inlined = seen_inl[i] ? (seen_phys[i] ? 2 : 1) : 0;
		n_rows++;
	}
	qsort(rows, n_rows, sizeof(*rows), cmp_rows);
	*rows_out = rows;
	*n_out = n_rows;
	rows = NULL;
	ret = 0;
out:
	if (ret)
		sp_error_set(err, ret, "out of memory computing the top table");
	free(rows);
	free(on_path);
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
