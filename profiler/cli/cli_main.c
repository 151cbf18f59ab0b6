/* `spanprof` entry point: dispatch to subcommands. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("spanprof: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		cli_error("%s: option '%s' needs a value; see 'spanprof %s --help'", cmd,
			  argv[optind - 1], cmd);
	else
		cli_error("%s: unknown option '%s'; see 'spanprof %s --help'", cmd,
			  argv[optind - 1], cmd);
	return CLI_USAGE_ERROR;
}

static const struct subcommand *subcommands(size_t *n)
{
	static struct subcommand table[8];

	table[0] = (struct subcommand){ "record", cli_record,
		"profile a command (LD_PRELOAD) and write a pprof file and a flame graph" };
	table[1] = (struct subcommand){ "agent", cli_agent,
		"profile every process on the host (per-CPU perf events), a profile per service" };
	table[2] = (struct subcommand){ "flamegraph", cli_flamegraph,
		"render profiles as an interactive SVG flame graph" };
	table[3] = (struct subcommand){ "folded", cli_folded,
		"print collapsed stacks (flamegraph.pl input)" };
	table[4] = (struct subcommand){ "top", cli_top,
		"print the heaviest functions, flat and cumulative" };
	table[5] = (struct subcommand){ "spans", cli_spans,
		"list spans by CPU, heaviest first" };
	table[6] = (struct subcommand){ "symbolize", cli_symbolize,
		"fill in function, file and line of an unsymbolized profile" };
	table[7] = (struct subcommand){ "consumer", cli_consumer,
		"(started by libspanprof.so) serve preloaded processes" };
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

static void usage(FILE *f)
{
	size_t n;
	const struct subcommand *t = subcommands(&n);

	fputs("usage: spanprof <command> [options] [args]\n\ncommands:\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-11s %s\n", t[i].name, t[i].summary);
	fputs("\nRun 'spanprof <command> --help' for a command's options.\n", f);
}

int main(int argc, char **argv)
{
	size_t n;
	const struct subcommand *t = subcommands(&n);

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("spanprof 0.1.0");
		return CLI_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], t[i].name))
			continue;
		if (!t[i].run) {
			cli_error("'%s' is not available in this build", t[i].name);
			return CLI_RUNTIME_ERROR;
		}
		return t[i].run(argc - 1, argv + 1);
	}
	cli_error("unknown command '%s'; run 'spanprof --help' for the list", argv[1]);
	return CLI_USAGE_ERROR;
}
