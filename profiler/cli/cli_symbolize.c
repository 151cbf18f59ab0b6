/* `spanprof symbolize IN -o OUT`: fill function, file and line into an
 * unsymbolized pprof profile from the binaries (and debug files) named by
 * its mappings. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/pprof.h"
#include "model/profile.h"
#include "symbolizer/symbolizer.h"

static void usage(FILE *f)
{
	fputs("usage: spanprof symbolize IN.pb.gz -o OUT.pb.gz [--debug-dir DIR]...\n"
	      "\n"
	      "Resolve every address of IN that has no function yet, from the files named by\n"
	      "its mappings (checked against their build-ids), and write OUT.\n"
	      "\n"
	      "  -o, --output FILE    where to write the symbolized profile (required)\n"
	      "  -d, --debug-dir DIR  also look for debug files here: DIR/.build-id/xx/rest.debug\n"
	      "                       and .gnu_debuglink names; repeatable. /usr/lib/debug and\n"
	      "                       the binary's own directory are always searched.\n"
	      "                       Network debuginfod is never used.\n"
	      "      --pid PID        the profiled process is still running: read deleted or\n"
	      "                       replaced files through /proc/PID/map_files\n"
	      "      --no-demangle    keep C++ names mangled\n"
	      "  -h, --help           this help\n"
	      "\n"
	      "Prints one line: addresses looked up, resolved, with file:line, missing modules.\n",
	      f);
}

int cli_symbolize(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "debug-dir", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "no-demangle", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	sp_symbolizer_options opt = { .demangle = true };
	const char *out_path = NULL;
	char *debug_path = NULL;
	sp_symbolizer *s = NULL;
	sp_profile *p = NULL;
	sp_symbolize_stats st;
	sp_error err = { "" };
	int c, pid = -1, ret = CLI_RUNTIME_ERROR;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case 'd': {
			char *joined;

			if (asprintf(&joined, "%s%s%s", debug_path ? debug_path : "",
				     debug_path ? ":" : "", optarg) < 0)
				goto oom;
			free(debug_path);
			debug_path = joined;
			break;
		}
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || v > 0x7fffffff) {
				cli_error("symbolize: --pid wants a process id, got '%s'", optarg);
				ret = CLI_USAGE_ERROR;
				goto out;
			}
			pid = (int)v;
			break;
		}
		case 'N':
			opt.demangle = false;
			break;
		case 'h':
			usage(stdout);
			ret = CLI_OK;
			goto out;
		default:
			cli_error("symbolize: unknown or incomplete option '%s'; see "
				  "'spanprof symbolize --help'", argv[optind - 1]);
			ret = CLI_USAGE_ERROR;
			goto out;
		}
	}
	if (optind != argc - 1 || !out_path) {
		cli_error("symbolize: %s; usage: spanprof symbolize IN.pb.gz -o OUT.pb.gz",
			  optind >= argc ? "no input profile given" :
			  optind < argc - 1 ? "only one input profile is allowed" :
					      "no output given (-o OUT.pb.gz)");
		ret = CLI_USAGE_ERROR;
		goto out;
	}

	if (sp_pprof_read_file(argv[optind], &p, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	opt.debuginfo_path = debug_path;
	s = sp_symbolizer_new(&opt, &err);
	if (!s) {
		cli_error("%s", err.msg);
		goto out;
	}
	/* Without --pid nothing is live: only the files on disk, and the vDSO
	 * of this kernel (the same image in every process). */
	if (sp_symbolize_profile(s, p, pid, &st, &err) < 0 ||
	    sp_pprof_write_file(p, out_path, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	printf("symbolized %s: %zu addresses, %zu resolved, %zu with lines, "
	       "%zu modules missing -> %s\n",
	       argv[optind], st.addresses, st.resolved, st.with_lines, st.modules_missing,
	       out_path);
	ret = CLI_OK;
	goto out;
oom:
	cli_error("symbolize: out of memory");
out:
	sp_symbolizer_free(s);
	sp_profile_free(p);
	free(debug_path);
	return ret;
}
