/* `spanprof spans PROFILE... [-n N] [--json]`: spans by CPU, heaviest first. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/json_escape.h"
#include "model/pprof.h"
#include "model/span_table.h"

#define DEFAULT_LIMIT 20

static void usage(FILE *f)
{
	fputs("usage: spanprof spans PROFILE... [-n N] [--json]\n"
	      "\n"
	      "List the trace spans in CPU profiles (samples labelled span_id), heaviest\n"
	      "first: span id, trace id, span name, samples, CPU time and share of all CPU\n"
	      "in the profiles. A span found in several files is summed.\n"
	      "\n"
	      "  -n, --limit N   show the N heaviest spans (default 20; 0 = all)\n"
	      "      --json      one JSON object per span per line instead of a table\n"
	      "  -h, --help      this help\n"
	      "\n"
	      "Then: spanprof flamegraph PROFILE... --tag span_id=ID -o span.svg\n", f);
}

/* "1.234s", "56.7ms", "890us": three significant digits are plenty here. */
static void fmt_ns(int64_t ns, char *out, size_t n)
{
	double v = (double)ns;

	if (ns >= 1000000000)
		snprintf(out, n, "%.2fs", v / 1e9);
	else if (ns >= 1000000)
		snprintf(out, n, "%.1fms", v / 1e6);
	else if (ns >= 1000)
		snprintf(out, n, "%.0fus", v / 1e3);
	else
		snprintf(out, n, "%" PRId64 "ns", ns);
}

static double share(int64_t v, int64_t total)
{
	return total > 0 ? 100.0 * (double)v / (double)total : 0.0;
}

static void print_json(const sp_span_table *t, sp_span_entry **e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs("{\"span_id\":", stdout);
		sp_json_escape(stdout, e[i]->span_id);
		fputs(",\"trace_id\":", stdout);
		sp_json_escape(stdout, e[i]->trace_id);
		fputs(",\"span_name\":", stdout);
		sp_json_escape(stdout, e[i]->span_name);
		printf(",\"samples\":%" PRId64 ",\"cpu_ns\":%" PRId64 ",\"share\":%.6f"
		       ",\"conflicting_samples\":%" PRId64 "}\n",
		       e[i]->samples, e[i]->value, share(e[i]->value, t->total_value) / 100.0,
		       e[i]->conflicts);
	}
}

/* A span name as a table cell: control characters would break the row. */
static const char *cell(const char *s, char *buf, size_t n)
{
	size_t i;

	if (!s[0])
		return "-";
	for (i = 0; s[i] && i + 1 < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void print_table(const sp_span_table *t, sp_span_entry **e, size_t n)
{
	char cpu[32], name[128];
	int64_t in_spans = t->total_value - t->unlabelled_value;

	printf("%-16s  %-32s  %-24s %8s %10s %7s\n", "SPAN_ID", "TRACE_ID", "SPAN_NAME",
	       "SAMPLES", "CPU", "SHARE");
	for (size_t i = 0; i < n; i++) {
		fmt_ns(e[i]->value, cpu, sizeof(cpu));
		printf("%-16s  %-32s  %-24s %8" PRId64 " %10s %6.2f%%\n", e[i]->span_id,
		       e[i]->trace_id[0] ? e[i]->trace_id : "-",
		       cell(e[i]->span_name, name, sizeof(name)), e[i]->samples, cpu,
		       share(e[i]->value, t->total_value));
	}
	fmt_ns(t->total_value, cpu, sizeof(cpu));
	printf("%zu span%s", t->n, t->n == 1 ? "" : "s");
	if (n < t->n)
		printf(" (%zu shown)", n);
	printf("; %.1f%% of %s CPU in spans, %.1f%% outside any span\n",
	       share(in_spans, t->total_value), cpu, share(t->unlabelled_value, t->total_value));
}

/* A span id whose samples disagree on trace id or name means reused span ids
 * or a profiler bug (a torn read of the span slot): say so, once. */
static void warn_conflicts(sp_span_entry **e, size_t n)
{
	size_t spans = 0;
	int64_t samples = 0;
	const char *example = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!e[i]->conflicts)
			continue;
		spans++;
		samples += e[i]->conflicts;
		if (!example)
			example = e[i]->span_id;
	}
	if (spans)
		cli_error("spans: warning: %zu span id(s) (e.g. %s) have %" PRId64
			  " samples with another trace id or span name; span ids reused?",
			  spans, example, samples);
}

int cli_spans(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	sp_span_table tab;
	sp_span_entry **order = NULL;
	long limit = DEFAULT_LIMIT;
	int json = 0, c, ret = CLI_OK;
	size_t shown;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'n':
			errno = 0;
			limit = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || limit < 0) {
				cli_error("spans: -n wants a count >= 0, not '%s'", optarg);
				return CLI_USAGE_ERROR;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_bad_option("spans", c, argv);
		}
	}
	if (optind >= argc) {
		cli_error("spans: no profile given; usage: spanprof spans PROFILE... [-n N] [--json]");
		return CLI_USAGE_ERROR;
	}

	sp_span_table_init(&tab);
	for (int i = optind; i < argc; i++) {
		sp_profile *p = NULL;
		sp_error err = { "" };

		if (sp_pprof_read_file(argv[i], &p, &err) ||
		    sp_span_table_add_profile(&tab, p, "cpu", &err)) {
			if (p)
				sp_error_prefix(&err, argv[i]);
			cli_error("spans: %s", err.msg);
			sp_profile_free(p);
			ret = CLI_RUNTIME_ERROR;
			goto out;
		}
		sp_profile_free(p);
	}
	order = calloc(tab.n ? tab.n : 1, sizeof(*order));
	if (!order) {
		cli_error("spans: out of memory");
		ret = CLI_RUNTIME_ERROR;
		goto out;
	}
	sp_span_table_entries(&tab, order);
	qsort(order, tab.n, sizeof(*order), sp_span_entry_cmp_value_desc);
	warn_conflicts(order, tab.n);
	shown = limit == 0 || (size_t)limit > tab.n ? tab.n : (size_t)limit;
	if (json)
		print_json(&tab, order, shown);
	else
		print_table(&tab, order, shown);
	if (fflush(stdout)) {
		cli_error("spans: cannot write the output: %s", strerror(errno));
		ret = CLI_RUNTIME_ERROR;
	}
out:
	free(order);
	sp_span_table_free(&tab);
	return ret;
}
