/* Input side of the renderer subcommands (see cli_render.h). */
#include "cli/cli_render.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "model/pprof.h"

int cli_render_add_tag(const char *cmd, struct cli_render_args *a, char *arg)
{
	if (a->n_tags >= CLI_MAX_TAGS) {
		cli_error("%s: at most %d --tag filters", cmd, CLI_MAX_TAGS);
		return CLI_USAGE_ERROR;
	}
	if (sp_tag_filter_parse(arg, &a->tags[a->n_tags])) {
		cli_error("%s: --tag wants KEY=VALUE (e.g. span_id=00f067aa0ba902b7), got '%s'",
			  cmd, arg);
		return CLI_USAGE_ERROR;
	}
	a->n_tags++;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

int cli_render_load(char **files, size_t n, const struct cli_render_args *a,
		    struct cli_render *r)
{
	sp_profile *src = NULL;
	sp_error err = { { 0 } };
	const char *sample_type;
	size_t used = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	if (n > 1)
		snprintf(r->source, sizeof(r->source), "%s (+%zu more)", base_name(files[0]), n - 1);
	else
		snprintf(r->source, sizeof(r->source), "%s", base_name(files[0]));
	for (size_t i = 0; i < a->n_tags && used < sizeof(r->filter); i++)
		used += (size_t)snprintf(r->filter + used, sizeof(r->filter) - used, "%s%s=%s",
					 i ? ", " : "", a->tags[i].key, a->tags[i].value);

	for (size_t i = 0; i < n; i++) {
		ret = sp_pprof_read_file(files[i], &src, &err);
		if (ret) {
			/* reader messages already start with (or name) the path */
			if (strstr(err.msg, files[i]))
				cli_error("%s", err.msg);
			else
				cli_error("%s: %s", files[i], err.msg);
			goto fail;
		}
		if (!r->prof) {
			r->prof = src;
			src = NULL;
			continue;
		}
		ret = sp_profile_merge(r->prof, src, &err);
		sp_profile_free(src);
		src = NULL;
		if (ret) {
			cli_error("%s: cannot merge with %s: %s", files[i], files[0], err.msg);
			goto fail;
		}
	}
	sample_type = a->sample_type;
	if (!sample_type && a->prefer_count)
		for (size_t i = 0; i < r->prof->n_sample_types; i++)
			if (!strcmp(sp_profile_str(r->prof, r->prof->sample_types[i].unit), "count")) {
				sample_type = sp_profile_str(r->prof, r->prof->sample_types[i].type);
				break;
			}
	ret = sp_stacks_build(r->prof, sample_type, a->tags, a->n_tags, &r->tree, &err);
	if (ret) {
		cli_error("%s: %s", n > 1 ? r->source : files[0], err.msg);
		goto fail;
	}
	return CLI_OK;
fail:
	sp_profile_free(src);
	cli_render_free(r);
	return CLI_RUNTIME_ERROR;
}

void cli_render_free(struct cli_render *r)
{
	sp_stacks_free(r->tree);
	sp_profile_free(r->prof);
	r->tree = NULL;
	r->prof = NULL;
}
