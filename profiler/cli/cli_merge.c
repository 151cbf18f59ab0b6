/* Merging interval files into one profile and one flame graph: what
 * `spanprof record` does when its command ends and `spanprof agent` at the
 * end of a capture. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic_file.h"
#include "base/config.h"
#include "abi/link_proto.h"
#include "cli/cli.h"
#include "cli/cli_merge.h"
#include "model/pprof.h"
#include "model/profile.h"
#include "render/flamegraph.h"
#include "render/stacks.h"
#include "sinks/links.h"
#include "sinks/output.h"

/* heap: the memory profiles (*.heap.pb.gz), else the CPU ones. */
int cli_list_intervals(const char *dir, struct cli_name_set *s, bool heap)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	s->v = NULL;
	s->n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char **nv;

		bool is_heap = len > strlen(SP_HEAP_SUFFIX) &&
			       !strcmp(de->d_name + len - strlen(SP_HEAP_SUFFIX), SP_HEAP_SUFFIX);

		if (len < 7 || strcmp(de->d_name + len - 6, ".pb.gz") || is_heap != heap ||
		    !sp_output_is_interval_name(de->d_name))
			continue;
		nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
		if (!nv)
			break;
		s->v = nv;
		s->v[s->n] = strdup(de->d_name);
		if (s->v[s->n])
			s->n++;
	}
	closedir(d);
	return 0;
}

static bool in_set(const struct cli_name_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return true;
	return false;
}

void cli_free_set(struct cli_name_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct totals {
	uint64_t samples, lost, truncated, aggregated, files;
	char engine[320]; /* "<engine> at <hz> Hz[, because <why>]" */
	char heap_note[256]; /* why some allocations are not seen */
};

/* Sum the self-telemetry comments of one interval profile. */
static void add_telemetry(const sp_profile *p, struct totals *t)
{
	for (size_t i = 0; i < p->n_comments; i++) {
		const char *c = sp_profile_str(p, p->comments[i]);
		const char *e;
		uint64_t a, b, d;

		if ((e = strstr(c, "engine="))) {
			const char *end = strstr(e, " samples=");
			size_t n = end ? (size_t)(end - e - 7) : 0;

			if (n && n < sizeof(t->engine) && !t->engine[0])
				snprintf(t->engine, sizeof(t->engine), "%.*s", (int)n, e + 7);
			if (end && sscanf(end, " samples=%" SCNu64 " lost=%" SCNu64
				   " truncated=%" SCNu64, &a, &b, &d) == 3) {
				t->samples += a;
				t->lost += b;
				t->truncated += d;
			}
		}
		if ((e = strstr(c, "heap untracked=")) && (e = strstr(e, "; ")) && !t->heap_note[0])
			snprintf(t->heap_note, sizeof(t->heap_note), "%s", e + 2);
		if ((e = strstr(c, "unwind aggregated=")) &&
		    sscanf(e, "unwind aggregated=%" SCNu64, &a) == 1)
			t->aggregated += a;
	}
}

static int write_svg(const sp_profile *p, const char *sample_type, const char *path,
		     const char *title, sp_error *err)
{
	sp_stack_tree *tree = NULL;
	sp_flamegraph_opts o;
	sp_atomic_file af;
	int r;

	r = sp_stacks_build(p, sample_type, NULL, 0, &tree, err);
	if (r)
		return r;
	sp_flamegraph_opts_init(&o);
	o.source = title;
	o.time_nanos = p->time_nanos;
	o.duration_nanos = p->duration_nanos;
	r = sp_atomic_file_open(&af, path, 0666);
	if (r) {
		sp_error_set(err, r, "%s: cannot create: %s", path, strerror(-r));
		goto out;
	}
	r = sp_flamegraph_write(tree, &o, af.f, NULL, err);
	if (r) {
		sp_atomic_file_abort(&af);
	} else {
		r = sp_atomic_file_commit(&af);
		if (r)
			sp_error_set(err, r, "%s: write failed: %s", path, strerror(-r));
	}
out:
	sp_stacks_free(tree);
	return r;
}

/* "<service>-<pid>-<time>" of an interval file name: one process image. */
static size_t image_stem_len(const char *name)
{
	const char *seq = strrchr(name, '-');

	return seq ? (size_t)(seq - name) : strlen(name);
}

/* A memory interval's inuse values are a snapshot: only each image's last
 * one counts in the merge (alloc values add up over all). */
static void keep_alloc_only(sp_profile *p)
{
	int io = sp_profile_sample_index(p, "inuse_objects");
	int is = sp_profile_sample_index(p, "inuse_space");

	for (size_t i = 0; i < p->n_samples; i++) {
		if (io >= 0)
			p->samples[i].values[io] = 0;
		if (is >= 0)
			p->samples[i].values[is] = 0;
	}
}

int cli_collect(const struct cli_collect *c)
{
	const char *dir = c->dir, *idir = c->idir, *svc = c->service, *svg_opt = c->svg;
	const char *cmd = c->cmd;
	const struct cli_name_set *before = c->before;
	pid_t pid = c->pid;
	bool quiet = c->quiet, heap = c->heap;
	struct cli_name_set now;
	struct totals t = { 0 };
	sp_profile *merged = sp_profile_new(), *src;
	sp_error err = { "" };
	char path[2 * PATH_MAX], out[2 * PATH_MAX], svg[2 * PATH_MAX], links[2 * PATH_MAX] = "";
	int r = CLI_OK;
	size_t used = 0;

	char name[128], file_svc[128], shared[128] = "", stem[160];
	bool named = false, shared_ok = true;

	if (!merged)
		return CLI_RUNTIME_ERROR;
	/* The command's files carry the service name it resolved itself (after
	 * any exec: `sh -c ./work` gives work's); the merge takes the same. */
	snprintf(name, sizeof(name), "%s", svc);
	cli_list_intervals(idir, &now, heap);
	if (now.n)
		qsort(now.v, now.n, sizeof(*now.v), cmp_str);
	for (size_t i = 0; i < now.n; i++) {
		pid_t file_pid;

		if (before && in_set(before, now.v[i]))
			continue;
		if (c->only_service &&
		    (!sp_output_interval_service(now.v[i], file_svc, sizeof(file_svc), &file_pid) ||
		     strcmp(file_svc, c->service)))
			continue;
		/* The command's own pid first; else the one name all the new
		 * files share (a shell that forked its child). */
		if (!named && !c->only_service && sp_output_interval_service(now.v[i], file_svc, sizeof(file_svc),
							 &file_pid)) {
			if (file_pid == pid) {
				snprintf(name, sizeof(name), "%s", file_svc);
				named = true;
			} else if (!shared[0]) {
				snprintf(shared, sizeof(shared), "%s", file_svc);
			} else if (strcmp(shared, file_svc)) {
				shared_ok = false;
			}
		}
		snprintf(path, sizeof(path), "%s/%s", idir, now.v[i]);
		src = NULL;
		if (sp_pprof_read_file(path, &src, &err)) {
			cli_error("%s: skipping %s", cmd, err.msg);
			continue;
		}
		add_telemetry(src, &t);
		if (heap && i + 1 < now.n && image_stem_len(now.v[i]) == image_stem_len(now.v[i + 1]) &&
		    !strncmp(now.v[i], now.v[i + 1], image_stem_len(now.v[i])))
			keep_alloc_only(src);
		if (sp_profile_merge(merged, src, &err))
			cli_error("%s: cannot merge %s: %s", cmd, path, err.msg);
		else
			used++;
		sp_profile_free(src);
	}
	cli_free_set(&now);
	if (!named && shared[0] && shared_ok)
		snprintf(name, sizeof(name), "%s", shared);

	if (c->out && c->out_len)
		c->out[0] = '\0';
	if (!used || !merged->n_samples) {
		if (!quiet && heap)
			cli_error("%s: no allocation samples were written to %s (the command "
				  "allocated too little, or not through malloc)", cmd, idir);
		else if (!quiet)
			cli_error("%s: no samples were written to %s (the command used "
				  "too little CPU to be sampled)", cmd, idir);
		goto out;
	}
	svc = name;
	sp_config_sanitize_name(svc, file_svc, sizeof(file_svc));
	if (pid > 0)
		snprintf(stem, sizeof(stem), "%s-%d", file_svc, (int)pid);
	else
		snprintf(stem, sizeof(stem), "%s", file_svc);
	snprintf(out, sizeof(out), "%s/%s%s", dir, stem, heap ? SP_HEAP_SUFFIX : ".pb.gz");
	if (sp_pprof_write_file(merged, out, &err)) {
		cli_error("%s: %s", cmd, err.msg);
		r = CLI_RUNTIME_ERROR;
		goto out;
	}
	if (c->out && c->out_len)
		snprintf(c->out, c->out_len, "%s", out);
	/* Spans in the merged profile: a links file beside it as well. */
	for (size_t i = 0; i < merged->n_samples && !heap; i++) {
		if (!sp_profile_sample_label(merged, &merged->samples[i], "span_id"))
			continue;
		sp_links_context lc = {
			.service = svc,
			.profile_path = out,
			.from_ns = merged->time_nanos,
			.until_ns = merged->time_nanos + merged->duration_nanos,
		};
		snprintf(links, sizeof(links), "%s/%s.links.jsonl", dir, stem);
		if (sp_links_write(merged, &lc, links, &err)) {
			cli_error("%s: span links not written: %s", cmd, err.msg);
			links[0] = '\0';
		}
		break;
	}
	if (svg_opt && !heap)
		snprintf(svg, sizeof(svg), "%s", svg_opt);
	else
		snprintf(svg, sizeof(svg), "%s/%s%s", dir, stem, heap ? ".heap.svg" : ".svg");
	if (write_svg(merged, heap ? "alloc_space" : NULL, svg, svc, &err)) {
		cli_error("%s: flame graph not written: %s", cmd, err.msg);
		svg[0] = '\0';
	}
	if (!quiet && heap) {
		int as = sp_profile_sample_index(merged, "alloc_space");
		int is = sp_profile_sample_index(merged, "inuse_space");

		fprintf(stderr, "spanprof: heap: %" PRIu64 " allocation samples, %.1f MiB allocated, "
			"%.1f MiB still live at exit (estimates)\n", t.samples,
			as >= 0 ? (double)sp_profile_total(merged, as) / 1048576.0 : 0,
			is >= 0 ? (double)sp_profile_total(merged, is) / 1048576.0 : 0);
		if (t.heap_note[0])
			fprintf(stderr, "spanprof: heap: %s\n", t.heap_note);
		fprintf(stderr, "spanprof: memory profile %s\n", out);
		if (svg[0])
			fprintf(stderr, "spanprof: memory flame graph %s\n", svg);
	} else if (!quiet) {
		int ci = sp_profile_sample_index(merged, "cpu");
		double cpu_s = ci >= 0 ? (double)sp_profile_total(merged, ci) / 1e9 : 0;
		double trunc = t.aggregated ? 100.0 * (double)t.truncated / (double)t.aggregated : 0;

		fprintf(stderr, "spanprof: %" PRIu64 " samples (%.2f s CPU) from %zu interval file%s, "
			"engine %s\n", t.samples, cpu_s, used, used == 1 ? "" : "s",
			t.engine[0] ? t.engine : "unknown");
		if (strstr(t.engine, "user time only"))
			fprintf(stderr, "spanprof: %s\n", SP_PERF_USER_ONLY_HINT);
		if (c->host_lost)
			fprintf(stderr, "spanprof: truncated stacks %.2f%%\n", trunc);
		else
			fprintf(stderr, "spanprof: lost %" PRIu64 " (ring full), truncated stacks %.2f%%\n",
				t.lost, trunc);
		if (t.heap_note[0])
			fprintf(stderr, "spanprof: heap: %s\n", t.heap_note);
		fprintf(stderr, "spanprof: profile     %s\n", out);
		if (svg[0])
			fprintf(stderr, "spanprof: flame graph %s\n", svg);
		if (links[0])
			fprintf(stderr, "spanprof: span links %s\n", links);
	}
out:
	sp_profile_free(merged);
	return r;
}
