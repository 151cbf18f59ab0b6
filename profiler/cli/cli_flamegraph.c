/* `spanprof flamegraph PROFILE... [-o out.svg]`: render profiles (merged) as
 * an interactive SVG flame graph. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "cli/cli.h"
#include "cli/cli_render.h"
#include "render/flamegraph.h"

static const char usage_text[] =
"usage: spanprof flamegraph PROFILE... [options]\n"
"\n"
"Render one or more pprof profiles (merged) as an interactive SVG flame graph:\n"
"click a frame to zoom, Ctrl-F to search (regex), hover for values.\n"
"\n"
"options:\n"
"  -o, --output FILE      write here ('-' for stdout); default: the first\n"
"                         input's name with .svg (cpu.pb.gz -> cpu.svg)\n"
"  -t, --title TEXT       title (default from the sample type)\n"
"      --subtitle TEXT    subtitle (default: type, total, time, tags, input)\n"
"      --tag KEY=VALUE    keep samples whose label KEY equals VALUE, e.g.\n"
"                         span_id=00f067aa0ba902b7; repeat to AND several\n"
"  -s, --sample-type NAME value to draw (cpu, samples, alloc_space, ...;\n"
"                         default: the profile's default type)\n"
"      --min-width PX     merge frames narrower than PX pixels into one\n"
"                         block per parent (default 0.1; 0 keeps all)\n"
"      --width PX         image width (default 1200)\n"
"  -h, --help             show this help\n"
"\n"
"exit status: 0 ok, 1 unreadable/empty profile or no sample matched, 2 usage\n";

/* cpu.pb.gz -> cpu.svg, in the input's directory. */
static void default_output(const char *in, char *out, size_t len)
{
	static const char *const sfx[] = { ".pb.gz", ".pprof.gz", ".prof.gz", ".pb",
					   ".pprof", ".prof", ".gz" };
	size_t n = strlen(in);

	if (!strcmp(in, "-") || !strncmp(in, "/dev/", 5)) {
		snprintf(out, len, "flamegraph.svg");
		return;
	}
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t k = strlen(sfx[i]);

		if (n > k && !strcmp(in + n - k, sfx[i]) && in[n - k - 1] != '/') {
			n -= k;
			break;
		}
	}
	snprintf(out, len, "%.*s.svg", (int)n, in);
}

static int parse_px(const char *opt, const char *s, double lo, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo) || v > 100000) {
		cli_error("flamegraph: %s wants a number of pixels >= %g, got '%s'", opt, lo, s);
		return CLI_USAGE_ERROR;
	}
	*out = v;
	return 0;
}

int cli_flamegraph(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "title", required_argument, NULL, 't' },
		{ "subtitle", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ "sample-type", required_argument, NULL, 's' },
		{ "min-width", required_argument, NULL, 'm' },
		{ "width", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_render_args a = { 0 };
	struct cli_render r = { 0 };
	sp_flamegraph_opts o;
	sp_flamegraph_stats st = { 0 };
	sp_error err = { { 0 } };
	const char *output = NULL;
	char outbuf[PATH_MAX];
	sp_atomic_file af;
	int c, ret;

	sp_flamegraph_opts_init(&o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:t:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 't': o.title = optarg; break;
		case 'S': o.subtitle = optarg; break;
		case 's': a.sample_type = optarg; break;
		case 'T':
			if ((ret = cli_render_add_tag("flamegraph", &a, optarg)))
				return ret;
			break;
		case 'm':
			if ((ret = parse_px("--min-width", optarg, 0, &o.min_width)))
				return ret;
			break;
		case 'w':
			if ((ret = parse_px("--width", optarg, 200, &o.width)))
				return ret;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("flamegraph", c, argv);
		}
	}
	if (optind >= argc) {
		cli_error("flamegraph: no input profile; usage: spanprof flamegraph PROFILE... [-o out.svg]");
		return CLI_USAGE_ERROR;
	}
	if (!output) {
		default_output(argv[optind], outbuf, sizeof(outbuf));
		output = outbuf;
	}

	ret = cli_render_load(argv + optind, (size_t)(argc - optind), &a, &r);
	if (ret)
		return ret;
	o.source = r.source;
	o.filter = r.filter;
	o.time_nanos = r.prof->time_nanos;
	o.duration_nanos = r.prof->duration_nanos;

	if (!strcmp(output, "-")) {
		ret = sp_flamegraph_write(r.tree, &o, stdout, &st, &err);
		if (ret) {
			cli_error("stdout: %s", err.msg);
			ret = CLI_RUNTIME_ERROR;
		}
		goto out;
	}
	/* Next to the target, then renamed: a reader never sees half a file. */
	ret = sp_atomic_file_open(&af, output, 0666);
	if (ret) {
		cli_error("%s: cannot create: %s", output, strerror(-ret));
		ret = CLI_RUNTIME_ERROR;
		goto out;
	}
	setvbuf(af.f, NULL, _IOFBF, 1 << 16);
	ret = sp_flamegraph_write(r.tree, &o, af.f, &st, &err);
	if (ret) {
		sp_atomic_file_abort(&af);
	} else {
		ret = sp_atomic_file_commit(&af);
		if (ret)
			sp_error_set(&err, ret, "write failed: %s", strerror(-ret));
	}
	if (ret) {
		cli_error("%s: %s", output, err.msg);
		ret = CLI_RUNTIME_ERROR;
		goto out;
	}
	printf("wrote %s (%zu frames, %zu narrow frames merged)\n", output, st.frames,
	       st.merged_frames);
	ret = CLI_OK;
out:
	cli_render_free(&r);
	return ret;
}
