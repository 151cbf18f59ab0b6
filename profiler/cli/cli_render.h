/* Shared by the renderer subcommands (flamegraph, folded, top): read and
 * merge the input profiles, apply --sample-type and --tag, build the tree. */
#ifndef SPANPROF_CLI_RENDER_H
#define SPANPROF_CLI_RENDER_H

#include <stddef.h>

#include "model/profile.h"
#include "render/stacks.h"

#define CLI_MAX_TAGS 16

struct cli_render {
	sp_profile *prof;
	sp_stack_tree *tree;
	char source[256]; /* "cpu.pb.gz" or "cpu.pb.gz (+2 more)" */
	char filter[512]; /* "span_id=ab12, thread_name=worker" or "" */
};

struct cli_render_args {
	const char *sample_type;          /* NULL: the profile's default */
	int prefer_count; /* with sample_type NULL: the first type whose unit is
			   * "count" (sample counts, as collapsed-stack tools expect) */
	sp_tag_filter tags[CLI_MAX_TAGS]; /* borrowed from argv */
	size_t n_tags;
};

/* Parse one --tag argument into a (modified in place). Prints a usage error
 * and returns CLI_USAGE_ERROR, or 0. */
int cli_render_add_tag(const char *cmd, struct cli_render_args *a, char *arg);

/* Read files[0..n) (merged when several), build the tree. On failure prints
 * one error line naming the file and returns CLI_RUNTIME_ERROR. */
int cli_render_load(char **files, size_t n, const struct cli_render_args *a,
		    struct cli_render *r);

void cli_render_free(struct cli_render *r);

#endif
