/* Interval files merged into one profile and one flame graph, shared by
 * `spanprof record` (when its command ends) and `spanprof agent` (at the
 * end of a capture). */
#ifndef SPANPROF_CLI_MERGE_H
#define SPANPROF_CLI_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cli_name_set {
	char **v;
	size_t n;
};

/* Interval profile names in dir (the memory ones with heap, else CPU). */
int cli_list_intervals(const char *dir, struct cli_name_set *s, bool heap);
void cli_free_set(struct cli_name_set *s);

struct cli_collect {
	const char *cmd;                  /* "record": prefix of messages */
	const char *dir;                  /* where the merged files go */
	const char *idir;                 /* the interval files */
	const struct cli_name_set *before; /* names to skip (there before); NULL: none */
	/* record: the name its command should have resolved, refined from the
	 * files; with only_service, exactly the files of this service. */
	const char *service;
	bool only_service;
	pid_t pid;                        /* in the merged name, <svc>-<pid>; 0: <svc> */
	const char *svg;                  /* NULL: DIR/<name>.svg */
	bool quiet, heap;
	bool host_lost;                   /* lost records are the caller's to report */
	char *out;                        /* the merged profile's path, "" if none */
	size_t out_len;
};

/* Merge the matching interval files; write DIR/<name>.pb.gz (.heap.pb.gz),
 * a links file when samples carry spans, the SVG, and (unless quiet) a
 * summary. CLI_OK, or CLI_RUNTIME_ERROR when the merged file could not be
 * written. */
int cli_collect(const struct cli_collect *c);

#endif
