#include "sinks/sinks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "model/pprof.h"

void sp_sinks_open(sp_sinks *k, const sp_sinks_config *c)
{
	sp_error err = { "" };

	memset(k, 0, sizeof(*k));
	snprintf(k->service, sizeof(k->service), "%s", c->service ? c->service : "");
	k->pid = c->pid;
	if (c->output_dir && c->output_dir[0]) {
		if (sp_output_init(&k->out, c->output_dir, k->service, c->pid, c->start_wall_ns,
				   c->retention_mb, c->retention_hours, &err) == 0)
			k->out_ok = true;
		else
			sp_log("pid %d: %s", (int)c->pid, err.msg);
	}
	if (!c->getenv)
		return;
	err.msg[0] = '\0';
	k->pyro = sp_pyroscope_from_getenv(k->service, c->getenv, c->getenv_ctx, &err);
	if (!k->pyro && err.msg[0])
		sp_log("pid %d: %s; profiles stay in local files only", (int)c->pid, err.msg);
}

static bool has_span_labels(const sp_profile *p)
{
	for (size_t i = 0; i < p->n_samples; i++)
		if (sp_profile_sample_label(p, &p->samples[i], "span_id"))
			return true;
	return false;
}

static void log_once(sp_sinks *k, const sp_error *err)
{
	if (!k->logged_write_error)
		sp_log("pid %d: %s", (int)k->pid, err->msg);
	k->logged_write_error = true;
}

/* The profile file, and the links file of a CPU profile with spans. */
static void write_files(sp_sinks *k, const sp_profile *p, enum sp_sink_kind kind, unsigned seq,
			int64_t from, int64_t until, const sp_links_span_time *times,
			size_t n_times)
{
	char path[4700], links[4700];
	sp_error err = { "" };
	int r;

	if (kind == SP_SINK_MEMORY)
		sp_output_heap_path(&k->out, seq, path, sizeof(path));
	else
		sp_output_profile_path(&k->out, seq, path, sizeof(path));
	r = sp_pprof_write_file(p, path, &err);
	/* The consumer may not write there (it runs as a user who cannot):
	 * its own private directory instead, said once. */
	if ((r == -EACCES || r == -EPERM || r == -EROFS) && !k->out.fell_back) {
		char was[sizeof(k->out.dir)];

		memcpy(was, k->out.dir, sizeof(was));
		if (sp_output_fallback(&k->out, NULL) == 0) {
			k->out.fell_back = true;
			sp_log("%s is not writable by uid %u; profiles go to %s", was,
			       (unsigned)geteuid(), k->out.dir);
			if (kind == SP_SINK_MEMORY)
				sp_output_heap_path(&k->out, seq, path, sizeof(path));
			else
				sp_output_profile_path(&k->out, seq, path, sizeof(path));
			r = sp_pprof_write_file(p, path, &err);
		}
	}
	if (r) {
		log_once(k, &err);
	} else if (kind == SP_SINK_CPU && has_span_labels(p)) {
		sp_links_context lc = {
			.service = k->service,
			.profile_path = path,
			.pyroscope_url = k->pyro ? sp_pyroscope_server(k->pyro) : NULL,
			.pyroscope_app = k->pyro ? sp_pyroscope_app_name(k->pyro) : NULL,
			.from_ns = from,
			.until_ns = until,
			.span_times = times,
			.n_span_times = n_times,
		};
		sp_output_links_path(&k->out, seq, links, sizeof(links));
		if (sp_links_write(p, &lc, links, &err))
			log_once(k, &err);
	}
	sp_output_retention(&k->out, path, until);
}

void sp_sinks_write(sp_sinks *k, const sp_profile *p, enum sp_sink_kind kind, unsigned seq,
		    int64_t from_ns, int64_t until_ns, const sp_links_span_time *times,
		    size_t n_times)
{
	if (k->out_ok)
		write_files(k, p, kind, seq, from_ns, until_ns, times, n_times);
	if (k->pyro)
		sp_pyroscope_enqueue(k->pyro, p, kind == SP_SINK_MEMORY ? "memory" : "cpu", from_ns,
				     until_ns);
}

void sp_sinks_close(sp_sinks *k, int timeout_ms)
{
	if (k->pyro)
		sp_pyroscope_shutdown(k->pyro, timeout_ms > 0 ? timeout_ms : 0);
	k->pyro = NULL;
}
