/* `spanprof` subcommands: one file each (profiler/cli_<name>.c).
 * Each returns the process exit code: 0 ok, 1 runtime error, 2 usage error. */
#ifndef SPANPROF_CLI_H
#define SPANPROF_CLI_H

enum { CLI_OK = 0, CLI_RUNTIME_ERROR = 1, CLI_USAGE_ERROR = 2 };

/* Weak so a subcommand still under construction does not break the build;
 * cli_main.c reports a missing one as "not available in this build". */
int cli_flamegraph(int argc, char **argv) __attribute__((weak));
int cli_folded(int argc, char **argv) __attribute__((weak));
int cli_top(int argc, char **argv) __attribute__((weak));
int cli_symbolize(int argc, char **argv) __attribute__((weak));
int cli_record(int argc, char **argv) __attribute__((weak));
int cli_spans(int argc, char **argv) __attribute__((weak));
int cli_consumer(int argc, char **argv) __attribute__((weak));
int cli_agent(int argc, char **argv) __attribute__((weak));

/* getopt_long (optstring starting with ':') returned ':' or '?': print the
 * one-line usage error naming the option and return CLI_USAGE_ERROR. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Print "spanprof: <msg>" on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
