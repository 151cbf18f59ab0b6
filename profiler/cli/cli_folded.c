/* `spanprof folded PROFILE...`: collapsed stacks on stdout (flamegraph.pl,
 * speedscope and inferno input). */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_render.h"
#include "render/folded.h"

static const char usage_text[] =
"usage: spanprof folded PROFILE... [options]\n"
"\n"
"Print collapsed stacks, one line per distinct stack: 'root;...;leaf VALUE'\n"
"(flamegraph.pl input). VALUE is a sample count by default, as in perf's and\n"
"async-profiler's collapsed output. Several profiles are merged. ';' in names\n"
"becomes '_'.\n"
"\n"
"options:\n"
"      --tag KEY=VALUE    keep samples whose label KEY equals VALUE; repeat to AND\n"
"  -s, --sample-type NAME value to print, e.g. cpu for nanoseconds\n"
"                         (default: samples, the profile's count type)\n"
"  -h, --help             show this help\n"
"\n"
"exit status: 0 ok, 1 unreadable/empty profile or no sample matched, 2 usage\n";

int cli_folded(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tag", required_argument, NULL, 'T' },
		{ "sample-type", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_render_args a = { .prefer_count = 1 };
	struct cli_render r = { 0 };
	sp_error err = { { 0 } };
	int c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': a.sample_type = optarg; break;
		case 'T':
			if ((ret = cli_render_add_tag("folded", &a, optarg)))
				return ret;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("folded", c, argv);
		}
	}
	if (optind >= argc) {
		cli_error("folded: no input profile; usage: spanprof folded PROFILE [--tag KEY=VALUE]");
		return CLI_USAGE_ERROR;
	}
	ret = cli_render_load(argv + optind, (size_t)(argc - optind), &a, &r);
	if (ret)
		return ret;
	ret = CLI_OK;
	if (sp_folded_write(r.tree, stdout, &err)) {
		cli_error("stdout: %s", err.msg);
		ret = CLI_RUNTIME_ERROR;
	}
	cli_render_free(&r);
	return ret;
}
