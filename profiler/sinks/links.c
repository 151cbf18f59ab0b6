/* Trace -> profile links file: one JSON object per line per span_id label
 * found in an interval profile. See links.h for the fields. */
#include "sinks/links.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "base/json_escape.h"
#include "model/span_table.h"

/* Grafana's "traces to profiles" widens the span by a minute each side
 * (pyroscope-api.md 5.3); a continuous profile's interval can start well
 * before the span, so the same margin is applied to the sample times. */
#define LINKS_QUERY_MARGIN_NS (60LL * 1000000000LL)

/* The Pyroscope service name is the application name without its tag set:
 * "checkout{env=prod}" is stored as service_name="checkout". */
static void service_name_of(const char *app, char *out, size_t outsz)
{
	size_t n = strcspn(app, "{");

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, app, n);
	out[n] = '\0';
}

static void write_line(FILE *f, const sp_span_entry *e, const sp_links_context *ctx,
		       int64_t first_ns, int64_t last_ns, bool exact)
{
	fputs("{\"service\":", f);
	sp_json_escape(f, ctx->service);
	fputs(",\"trace_id\":", f);
	sp_json_escape(f, e->trace_id);
	fputs(",\"span_id\":", f);
	sp_json_escape(f, e->span_id);
	fputs(",\"span_name\":", f);
	sp_json_escape(f, e->span_name);
	/* time_source says whether the times are the span's own samples' or
	 * only the interval's bounds (no per-span times from the caller). */
	fprintf(f, ",\"first_sample_ns\":%lld,\"last_sample_ns\":%lld,\"time_source\":\"%s\"",
		(long long)first_ns, (long long)last_ns, exact ? "samples" : "interval");
	fprintf(f, ",\"cpu_ns\":%lld,\"samples\":%lld", (long long)e->value,
		(long long)e->samples);
	fputs(",\"profile\":", f);
	sp_json_escape(f, ctx->profile_path);
	if (ctx->pyroscope_url && ctx->pyroscope_url[0]) {
		char svc[256], sel[300];
		int64_t from_ms = (first_ns - LINKS_QUERY_MARGIN_NS) / 1000000;
		int64_t until_ms = (last_ns + LINKS_QUERY_MARGIN_NS + 999999) / 1000000;

		service_name_of(ctx->pyroscope_app && ctx->pyroscope_app[0] ?
				ctx->pyroscope_app : (ctx->service ? ctx->service : ""),
				svc, sizeof(svc));
		/* Service names are sanitised to [A-Za-z0-9_./-] by the exporter,
		 * so no quoting is needed inside the selector. */
		snprintf(sel, sizeof(sel), "{service_name=\"%s\"}", svc);
		fputs(",\"pyroscope\":{\"server\":", f);
		sp_json_escape(f, ctx->pyroscope_url);
		fputs(",\"profile_type\":\"" SP_LINKS_PROFILE_TYPE_CPU "\",\"service_name\":", f);
		sp_json_escape(f, svc);
		fprintf(f, ",\"from\":%lld,\"until\":%lld,\"query\":", (long long)from_ms,
			(long long)until_ms);
		sp_json_escape(f, sel);
		fputs(",\"span_selector\":[", f);
		sp_json_escape(f, e->span_id);
		fputs("]}", f);
	}
	fputs("}\n", f);
}

static int cmp_span_time(const void *a, const void *b)
{
	return strncmp(((const sp_links_span_time *)a)->span_id,
		       ((const sp_links_span_time *)b)->span_id, sizeof(((sp_links_span_time *)0)->span_id));
}

/* Exact first/last sample times from the caller's table (sorted copy), else
 * the interval bounds. Returns true when the times are the samples'. */
static bool span_times(const sp_links_context *ctx, const sp_links_span_time *sorted,
		       const char *span_id, int64_t *first_ns, int64_t *last_ns)
{
	sp_links_span_time key;
	const sp_links_span_time *t = NULL;

	*first_ns = ctx->from_ns;
	*last_ns = ctx->until_ns;
	if (sorted && strlen(span_id) < sizeof(key.span_id)) {
		memset(&key, 0, sizeof(key));
		strcpy(key.span_id, span_id);
		t = bsearch(&key, sorted, ctx->n_span_times, sizeof(*sorted), cmp_span_time);
	}
	if (!t)
		return false;
	*first_ns = t->first_ns;
	*last_ns = t->last_ns;
	return true;
}

int sp_links_write(const sp_profile *p, const sp_links_context *ctx, const char *path,
		   sp_error *err)
{
	sp_span_table tab;
	sp_span_entry **order = NULL;
	sp_links_span_time *times = NULL;
	sp_atomic_file af = { 0 };
	int ret;

	sp_span_table_init(&tab);
	if (!p || !ctx || !path)
		return sp_error_set(err, -EINVAL, "links: missing profile, context or path");
	ret = sp_span_table_add_profile(&tab, p, "cpu", err);
	if (ret) {
		sp_error_prefix(err, path);
		goto out;
	}
	order = calloc(tab.n ? tab.n : 1, sizeof(*order));
	if (ctx->span_times && ctx->n_span_times) {
		times = malloc(ctx->n_span_times * sizeof(*times));
		if (times) {
			memcpy(times, ctx->span_times, ctx->n_span_times * sizeof(*times));
			qsort(times, ctx->n_span_times, sizeof(*times), cmp_span_time);
		}
	}
	if (!order || (ctx->n_span_times && !times)) {
		ret = sp_error_set(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	sp_span_table_entries(&tab, order);
	qsort(order, tab.n, sizeof(*order), sp_span_entry_cmp_value_desc);

	/* 0666 & ~umask: as readable as the profile it belongs to. */
	ret = sp_atomic_file_open(&af, path, 0666);
	if (ret) {
		sp_error_set(err, ret, "%s: cannot create a temporary file beside it: %s", path,
			     strerror(-ret));
		goto out;
	}
	for (size_t i = 0; i < tab.n; i++) {
		int64_t first, last;
		bool exact = span_times(ctx, times, order[i]->span_id, &first, &last);

		write_line(af.f, order[i], ctx, first, last, exact);
	}
	ret = sp_atomic_file_commit(&af);
	if (ret)
		sp_error_set(err, ret, "%s: write failed: %s", path, strerror(-ret));
out:
	if (af.f)
		sp_atomic_file_abort(&af);
	free(times);
	free(order);
	sp_span_table_free(&tab);
	return ret;
}
