/* `spanprof top PROFILE... [-n N]`: heaviest functions, flat and cumulative,
 * formatted like `go tool pprof -top`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cli_render.h"
#include "render/top.h"

static const char usage_text[] =
"usage: spanprof top PROFILE... [options]\n"
"\n"
"Print functions by flat value (samples whose leaf is the function) with the\n"
"cumulative value (samples with the function anywhere on the stack), like\n"
"'go tool pprof -top'. Several profiles are merged.\n"
"\n"
"options:\n"
"  -n N                   print the first N rows only (default: all)\n"
"      --tag KEY=VALUE    keep samples whose label KEY equals VALUE; repeat to AND\n"
"  -s, --sample-type NAME value to rank by (default: the profile's default type)\n"
"  -h, --help             show this help\n"
"\n"
"exit status: 0 ok, 1 unreadable/empty profile or no sample matched, 2 usage\n";

int cli_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tag", required_argument, NULL, 'T' },
		{ "sample-type", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_render_args a = { 0 };
	struct cli_render r = { 0 };
	sp_top_opts o = { 0 };
	sp_error err = { { 0 } };
	char *end;
	long long n;
	int c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":n:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			n = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1) {
				cli_error("top: -n wants a positive number of rows, got '%s'", optarg);
				return CLI_USAGE_ERROR;
			}
			o.max_rows = (size_t)n;
			break;
		case 's': a.sample_type = optarg; break;
		case 'T':
			if ((ret = cli_render_add_tag("top", &a, optarg)))
				return ret;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("top", c, argv);
		}
	}
	if (optind >= argc) {
		cli_error("top: no input profile; usage: spanprof top PROFILE [-n N] [--tag KEY=VALUE]");
		return CLI_USAGE_ERROR;
	}
	ret = cli_render_load(argv + optind, (size_t)(argc - optind), &a, &r);
	if (ret)
		return ret;
	o.source = r.source;
	o.filter = r.filter;
	o.time_nanos = r.prof->time_nanos;
	o.duration_nanos = r.prof->duration_nanos;
	ret = CLI_OK;
	if (sp_top_write(r.tree, &o, stdout, &err)) {
		cli_error("stdout: %s", err.msg);
		ret = CLI_RUNTIME_ERROR;
	}
	cli_render_free(&r);
	return ret;
}
