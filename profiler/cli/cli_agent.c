/* `spanprof agent`: host-wide profiling with per-CPU perf events, no
 * preload. Every sampled process gets its own aggregator (one unwinder over
 * its /proc/PID/maps, the shared symbolizer); at each interval end the
 * profiles of one service's processes are merged into one interval file,
 * each sample labelled with its pid. With --duration the run ends with one
 * merged profile and flame graph per service. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregate/aggregate.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/env.h"
#include "base/hashmap.h"
#include "cli/cli.h"
#include "cli/cli_merge.h"
#include "model/pprof.h"
#include "model/profile.h"
#include "base/log.h"
#include "sinks/output.h"
#include "pipeline/consumer.h"
#include "sinks/sinks.h"
#include "abi/link_proto.h"
#include "sources/perf_cpu.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/symbolizer.h"
#include "unwind/unwind.h"

static const char usage_text[] =
"usage: spanprof agent [options]\n"
"\n"
"Profile every process on this host (or those --pid and --comm select) with\n"
"per-CPU perf events: user stacks unwound from the kernel's copy of the stack\n"
"(no frame pointers needed), kernel frames from its callchain. One profile per\n"
"service (SPANPROF_SERVICE, PYROSCOPE_APPLICATION_NAME, OTEL_SERVICE_NAME from\n"
"the process's environment, else its executable's name) per interval, in\n"
"DIR/intervals/, samples labelled with their pid. With --duration it stops\n"
"after S seconds and writes DIR/<service>.pb.gz and DIR/<service>.svg; without,\n"
"it runs until SIGTERM or SIGINT and writes the last interval; SIGHUP writes\n"
"the current interval at once and creates DIR/intervals again if it is gone.\n"
"Needs CAP_PERFMON (or root) or kernel.perf_event_paranoid <= 0.\n"
"\n"
"options:\n"
"  -F, --freq HZ          samples per second per CPU, 1..10000 (default 99)\n"
"      --pid PID          only this process (repeatable)\n"
"      --comm PATTERN     only processes whose name or executable matches this\n"
"                         shell pattern (repeatable)\n"
"      --cgroup PATH      only processes in this cgroup or below it (a shell\n"
"                         pattern, matched against /proc/PID/cgroup; repeatable),\n"
"                         e.g. /system.slice/nginx.service, '*docker-*'\n"
"  -o, --output DIR       a directory, created (default ./spanprof-out)\n"
"      --duration S       stop after S seconds, then merge\n"
"      --interval S       interval length (default SPANPROF_UPLOAD_INTERVAL, 10 s)\n"
"      --stack-size BYTES user stack copied per sample (default 32K, < 64K)\n"
"      --no-kernel        no kernel frames\n"
"  -q, --quiet            no summary\n"
"  -h, --help             show this help\n";

#define MAX_FILTERS 64

static volatile sig_atomic_t stop_requested, hup_requested;

static void on_stop(int sig)
{
	if (sig == SIGHUP)
		hup_requested = 1;
	else
		stop_requested = 1;
}

/* One process image (an exec starts a new one). */
struct proc {
	int pid;
	bool matched;            /* passes --pid / --comm; else no aggregator */
	bool gone;               /* exited, or exec'd into a new image */
	bool maps_dirty;         /* an MMAP2 was seen since the last refresh */
	char comm[64];
	char service[128];       /* as in file names */
	sp_unwind_procfs *src;
	sp_aggregator *agg;
	uint64_t samples;        /* this interval */
	uint64_t trunc_mark;     /* sp_aggregator_truncated at the interval start */
	/* Each CPU's ring is in time order, the rings are not: a sample from
	 * before an exec or exit can be drained after its record. */
	uint64_t born_ns;        /* exec time of this image; 0: found by a sample */
	uint64_t first_ns;       /* its first sample */
	uint64_t exit_ns;        /* its exit (gone); 0: exec'd away or alive */
	struct proc *prev_image; /* the image this one exec'd from, until written */
	struct proc *next;       /* every image, live or gone */
};

struct service {
	char name[128];
	sp_sinks sinks;          /* the interval directory, and Pyroscope when configured */
	bool sinks_open;
	unsigned seq;
	uint64_t samples;        /* whole run */
	int procs;               /* distinct images seen */
};

struct agent {
	/* options */
	int pids[MAX_FILTERS], n_pids;
	const char *comms[MAX_FILTERS];
	int n_comms;
	const char *cgroups[MAX_FILTERS];
	int n_cgroups;
	int hz;
	bool quiet;
	char idir[PATH_MAX + 16];
	int64_t start_wall;
	/* state */
	sp_perf_cpu *pc;
	const char *engine;
	sp_kallsyms *ksyms;
	sp_symbolizer *sym;
	sp_hashmap live;         /* pid -> struct proc * of its current image */
	struct proc *procs;
	struct service *svcs;
	size_t n_svcs;
	/* Serves this user's processes that preload libspanprof.so: their own
	 * rings (with spans) replace the perf samples of them. NULL: another
	 * agent does, or it could not start. */
	sp_consumer *consumer;
	uint64_t skipped_registered;
	size_t registered_files;   /* interval files the registered processes wrote */
	uint64_t interval_lost, lost_total, samples_total, skipped_filter;
	int64_t iv_start_wall, iv_start_mono;
	bool dirty_any;
};

/* The cgroup paths of a process (/proc/PID/cgroup: one line per
 * hierarchy, "id:controllers:path"), NUL-separated, "" when unreadable. */
static void read_cgroups(int pid, char *out, size_t len)
{
	char path[64], line[4096];
	size_t used = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p++;
		p[strcspn(p, "\n")] = '\0';
		if (used + strlen(p) + 2 > len)
			break;
		memcpy(out + used, p, strlen(p) + 1);
		used += strlen(p) + 1;
	}
	out[used] = '\0';
	fclose(f);
}

/* A path in the cgroup list matches: as a shell pattern, or as a directory
 * it lies in (PATTERN itself or PATTERN/...). */
static bool cgroup_match(const char *pattern, const char *cgroups)
{
	size_t n = strlen(pattern);

	while (n > 1 && pattern[n - 1] == '/')
		n--;
	for (const char *c = cgroups; *c; c += strlen(c) + 1) {
		if (!fnmatch(pattern, c, 0) || (!strncmp(c, pattern, n) && (!c[n] || c[n] == '/')))
			return true;
	}
	return false;
}

/* The container runtime's id in a cgroup path (docker-<id>.scope,
 * cri-containerd-<id>.scope, libpod-<id>, /docker/<id>, kubepods/.../<id>):
 * the last run of 64 hex digits; "" when there is none. */
static void container_id_of(const char *cgroups, char *out, size_t len)
{
	out[0] = '\0';
	for (const char *c = cgroups; *c; c += strlen(c) + 1) {
		for (const char *p = c; *p; p++) {
			size_t k = strspn(p, "0123456789abcdef");

			if (k == 64 && (p == c || !isxdigit((unsigned char)p[-1])) && len > 64) {
				memcpy(out, p, 64);
				out[64] = '\0';
			}
			if (k)
				p += k - 1;
		}
	}
}

static bool filters_match(const struct agent *ag, int pid, const char *comm, const char *exe,
			  const char *cgroups)
{
	const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;

	if (!ag->n_pids && !ag->n_comms && !ag->n_cgroups)
		return true;
	for (int i = 0; i < ag->n_cgroups; i++)
		if (cgroup_match(ag->cgroups[i], cgroups))
			return true;
	for (int i = 0; i < ag->n_pids; i++)
		if (ag->pids[i] == pid)
			return true;
	for (int i = 0; i < ag->n_comms; i++)
		if ((comm[0] && !fnmatch(ag->comms[i], comm, 0)) ||
		    (base[0] && !fnmatch(ag->comms[i], base, 0)))
			return true;
	return false;
}

/* The process's environment, for the service name (readable with
 * PTRACE_MODE_READ: root, or the same user). */
struct environ_buf {
	char *data;
	size_t len;
};

static const char *environ_get(void *ctx, const char *name)
{
	struct environ_buf *e = ctx;

	return sp_env_block_get(e->data, e->len, name);
}

static void read_environ(int pid, struct environ_buf *e)
{
	char path[64];
	FILE *f;
	size_t cap = 0;

	e->data = NULL;
	e->len = 0;
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	if (!(f = fopen(path, "re")))
		return;
	for (;;) {
		if (e->len + 4096 + 1 > cap) {
			char *nd = realloc(e->data, cap = cap ? 2 * cap : 16384);
			if (!nd)
				break;
			e->data = nd;
		}
		size_t r = fread(e->data + e->len, 1, 4096, f);
		if (!r)
			break;
		e->len += r;
		if (e->len > (1u << 20))
			break; /* enough for any real environment */
	}
	if (e->data)
		e->data[e->len] = '\0';
	fclose(f);
}

static void read_comm(int pid, char *out, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if ((f = fopen(path, "re"))) {
		if (fgets(out, (int)len, f))
			out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
}

/* PF_KTHREAD in /proc/PID/stat's flags (the 9th field); a task that is
 * gone counts as one only when nothing says otherwise. */
static bool is_kernel_thread(int pid)
{
	char path[64], buf[1024];
	unsigned long flags = 0;
	FILE *f;
	size_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "re")))
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* ") S ppid pgrp session tty tpgid flags" */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return true;
	return (flags & 0x00200000ul) != 0; /* PF_KTHREAD */
}

static struct service *service_get(struct agent *ag, const char *name)
{
	struct service *ns;

	for (size_t i = 0; i < ag->n_svcs; i++)
		if (!strcmp(ag->svcs[i].name, name))
			return &ag->svcs[i];
	ns = realloc(ag->svcs, (ag->n_svcs + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	ag->svcs = ns;
	ns = &ag->svcs[ag->n_svcs++];
	memset(ns, 0, sizeof(*ns));
	snprintf(ns->name, sizeof(ns->name), "%s", name);
	return ns;
}

/* A new image of pid; comm from a COMM record, else /proc; no_user: found
 * through a sample without user registers. NULL on OOM. */
static struct proc *proc_new(struct agent *ag, int pid, const char *comm, bool no_user)
{
	struct proc *p = calloc(1, sizeof(*p));
	char exe[PATH_MAX] = "", path[64], svc[128], cgroups[8192], container[80];
	ssize_t n;

	if (!p)
		return NULL;
	p->pid = pid;
	if (comm)
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	else
		read_comm(pid, p->comm, sizeof(p->comm));
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	/* A sample without user registers, from a task with no executable
	 * that the kernel flags as its own (a zombie has no executable
	 * either, and is not). */
	bool kthread = no_user && n < 0 && is_kernel_thread(pid);
	/* Replaced or deleted on disk since it started: same program. */
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';
	read_cgroups(pid, cgroups, sizeof(cgroups));
	container_id_of(cgroups, container, sizeof(container));
	p->matched = filters_match(ag, pid, p->comm, exe, cgroups);
	if (p->matched) {
		struct environ_buf env;
		sp_error err = { "" };
		const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;

		/* Kernel threads (no executable, no environment) are one
		 * service, told apart by pid, not one per kworker. */
		if (kthread) {
			snprintf(svc, sizeof(svc), "kernel");
		} else {
			/* Another user's process without CAP_SYS_PTRACE: no
			 * exe link, no environment; its name is its comm. */
			read_environ(pid, &env);
			sp_service_name(environ_get, &env, NULL,
					base[0] ? base : (p->comm[0] ? p->comm : "unknown"), svc,
					sizeof(svc), NULL);
			free(env.data);
		}
		sp_config_sanitize_name(svc, p->service, sizeof(p->service));
		p->src = sp_unwind_procfs_new(pid, &err);
		sp_aggregator_config cfg = {
			.period_ns = sp_perf_cpu_period_ns(ag->pc),
			.symbolize = true,
			.span_name_label = true,
			.source = &sp_unwind_procfs_ops,
			.source_ctx = p->src,
			.pid = pid,
			.exe = exe,
			.symbolizer = ag->sym,
			.kallsyms = ag->ksyms,
			.pid_label = true,
			.container_id = container,
		};
		if (p->src)
			p->agg = sp_aggregator_new(&cfg, &err);
		if (!p->agg) {
			/* Counted as filtered out; the run goes on. */
			if (!ag->quiet)
				cli_error("agent: pid %d: %s", pid, err.msg);
			sp_unwind_procfs_free(p->src);
			p->src = NULL;
			p->matched = false;
		} else {
			uint64_t gen;
			struct service *s = service_get(ag, p->service);

			if (s)
				s->procs++;
			/* Read the maps now, while the process lives: a
			 * short-lived one may be gone when its samples are
			 * unwound and symbolized. */
			sp_unwind_procfs_ops.modules(p->src, &gen);
		}
	}
	p->next = ag->procs;
	ag->procs = p;
	sp_hashmap_ent *e = sp_hashmap_insert_u64(&ag->live, (uint64_t)pid, NULL);
	if (e)
		e->val.ptr = p;
	return p;
}

static struct proc *proc_find(struct agent *ag, int pid)
{
	sp_hashmap_ent *e = sp_hashmap_find_u64(&ag->live, (uint64_t)pid);

	return e ? e->val.ptr : NULL;
}

/* The image a sample of pid at time t belongs to; NULL: none known yet
 * (or the pid was reused after its exit). */
static struct proc *proc_at(struct agent *ag, int pid, uint64_t t)
{
	struct proc *p = proc_find(ag, pid);

	if (p && p->exit_ns && t > p->exit_ns)
		return NULL;
	while (p && p->born_ns && t < p->born_ns && p->prev_image)
		p = p->prev_image;
	return p;
}

static void on_exec(struct agent *ag, const sp_perf_event *ev)
{
	struct proc *old = proc_find(ag, ev->pid), *p;

	/* Already found through a sample taken after the exec: that is the
	 * new image (read from /proc after it). */
	if (old && !old->born_ns && old->first_ns > ev->time_ns) {
		old->born_ns = ev->time_ns;
		return;
	}
	if (ev->pid == getpid() || !(p = proc_new(ag, ev->pid, ev->comm, false)))
		return;
	p->born_ns = ev->time_ns;
	if (old) {
		old->gone = true;
		p->prev_image = old;
	}
}

static void on_exit_record(struct agent *ag, const sp_perf_event *ev)
{
	struct proc *p = proc_find(ag, ev->pid);

	/* Kept in the table until written: its last samples may still be in
	 * another CPU's ring. */
	if (p && !p->gone) {
		p->gone = true;
		p->exit_ns = ev->time_ns;
	}
}

static void on_event(void *ctx, const sp_perf_event *ev)
{
	struct agent *ag = ctx;
	struct proc *p;

	switch (ev->type) {
	case SP_PERF_SAMPLE:
		/* pid 0: the idle task (exclude_idle drops most); ours: the
		 * agent would profile its own unwinding. */
		if (ev->pid <= 0 || ev->pid == getpid())
			return;
		p = proc_at(ag, ev->pid, ev->time_ns);
		/* A CPU-wide event still samples a task after its EXIT record,
		 * in the kernel, finishing its exit: that is its own tail. */
		if (!p && !ev->sample.regs[SP_REG_RIP]) {
			struct proc *last = proc_find(ag, ev->pid);

			if (last && last->exit_ns && ev->time_ns - last->exit_ns < 1000000000ull)
				p = last;
		}
		if (!p && !(p = proc_new(ag, ev->pid, NULL, !ev->sample.regs[SP_REG_RIP])))
			return;
		if (!p->first_ns)
			p->first_ns = ev->time_ns;
		if (!p->matched) {
			ag->skipped_filter++;
			return;
		}
		if (ag->consumer && sp_consumer_serves(ag->consumer, ev->pid, (int64_t)ev->time_ns)) {
			ag->skipped_registered++;
			return;
		}
		if (p->maps_dirty) {
			sp_aggregator_modules_changed(p->agg);
			p->maps_dirty = false;
		}
		sp_aggregator_add_frames(p->agg, &ev->sample, NULL, ev->kernel_pcs, ev->n_kernel);
		p->samples++;
		ag->samples_total++;
		break;
	case SP_PERF_MMAP:
		if ((p = proc_find(ag, ev->pid)) && p->matched) {
			p->maps_dirty = true;
			ag->dirty_any = true;
		}
		break;
	case SP_PERF_COMM:
		/* exec: a new image from now on; the old one's samples are
		 * written with the interval. Matching is decided again (the
		 * new program may be what --comm selects). */
		if (ev->exec && ev->pid == ev->tid)
			on_exec(ag, ev);
		break;
	case SP_PERF_EXIT:
		if (ev->pid == ev->tid)
			on_exit_record(ag, ev);
		break;
	case SP_PERF_LOST:
		ag->interval_lost += ev->lost;
		ag->lost_total += ev->lost;
		break;
	case SP_PERF_FORK:
		break;
	}
}

/* After a drain: processes that mapped code re-read their maps now rather
 * than at their next sample, which may come after they exited. */
static void refresh_dirty(struct agent *ag)
{
	if (!ag->dirty_any)
		return;
	ag->dirty_any = false;
	for (struct proc *p = ag->procs; p; p = p->next) {
		uint64_t gen;

		if (!p->maps_dirty || p->gone || !p->agg)
			continue;
		sp_aggregator_modules_changed(p->agg);
		sp_unwind_procfs_ops.modules(p->src, &gen);
		p->maps_dirty = false;
	}
}

static void add_telemetry(struct agent *ag, sp_profile *m, uint64_t samples, uint64_t trunc,
			  int procs)
{
	char buf[512];

	/* Each process's own comments are replaced by the service's, in the
	 * aggregator's format (what `record` and the tests read). */
	m->n_comments = 0;
	snprintf(buf, sizeof(buf),
		 "spanprof: engine=%s samples=%" PRIu64 " lost=%" PRIu64 " truncated=%" PRIu64
		 " (%.2f%%) threads_sampled=0 threads_alive=0",
		 ag->engine, samples, ag->interval_lost, trunc,
		 samples ? 100.0 * (double)trunc / (double)samples : 0.0);
	sp_profile_add_comment(m, buf);
	snprintf(buf, sizeof(buf),
		 "spanprof: agent processes=%d; lost counts records dropped on the CPU rings "
		 "(every process on the host)", procs);
	sp_profile_add_comment(m, buf);
	snprintf(buf, sizeof(buf),
		 "spanprof: unwind aggregated=%" PRIu64 " complete=%" PRIu64
		 " cut_at_max_frames=0 frames_avg=0.0 distinct_stacks=0 stack_table_full=0",
		 samples, samples - trunc);
	sp_profile_add_comment(m, buf);
}

/* One interval file per service with samples; then forget what has gone. */
static void write_interval(struct agent *ag)
{
	int64_t now_wall = sp_wall_ns(), now_mono = sp_mono_ns();
	int64_t dur = now_mono - ag->iv_start_mono;
	sp_error err = { "" };

	for (size_t si = 0; si < ag->n_svcs; si++) {
		struct service *s = &ag->svcs[si];
		sp_profile *merged = NULL;
		uint64_t samples = 0, trunc = 0;
		int procs = 0;

		for (struct proc *p = ag->procs; p; p = p->next) {
			sp_profile *one;
			uint64_t t;

			if (!p->agg || !p->samples || strcmp(p->service, s->name))
				continue;
			/* After the profile: Go stacks that reach their root are
			 * counted complete while it is built. */
			one = sp_aggregator_take_profile(p->agg, ag->iv_start_wall, dur, NULL, &err);
			t = sp_aggregator_truncated(p->agg);
			samples += p->samples;
			trunc += t - p->trunc_mark;
			p->trunc_mark = t;
			p->samples = 0;
			procs++;
			if (!one) {
				cli_error("agent: pid %d: %s", p->pid, err.msg);
				continue;
			}
			if (!merged && !(merged = sp_profile_new())) {
				sp_profile_free(one);
				continue;
			}
			if (sp_profile_merge(merged, one, &err))
				cli_error("agent: pid %d: %s", p->pid, err.msg);
			sp_profile_free(one);
		}
		if (!merged)
			continue;
		s->samples += samples;
		add_telemetry(ag, merged, samples, trunc, procs);
		if (!s->sinks_open) {
			/* Pyroscope from the agent's own environment, one
			 * application per service. */
			sp_sinks_config kc = {
				.output_dir = ag->idir,
				.service = s->name,
				.pid = getpid(),
				.start_wall_ns = ag->start_wall,
				.retention_mb = 256,
				.retention_hours = 24,
				.getenv = sp_getenv_process,
			};
			sp_sinks_open(&s->sinks, &kc);
			s->sinks_open = true;
		}
		sp_sinks_write(&s->sinks, merged, SP_SINK_CPU, ++s->seq, ag->iv_start_wall, now_wall,
			       NULL, 0);
		sp_profile_free(merged);
	}
	ag->interval_lost = 0;
	ag->iv_start_wall = now_wall;
	ag->iv_start_mono = now_mono;
	/* Gone images are written: forget and free them. */
	for (struct proc *p = ag->procs; p; p = p->next)
		if (p->prev_image && p->prev_image->gone)
			p->prev_image = NULL;
	for (struct proc **pp = &ag->procs; *pp;) {
		struct proc *p = *pp;
		sp_hashmap_ent *e;

		if (!p->gone) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		e = sp_hashmap_find_u64(&ag->live, (uint64_t)p->pid);
		if (e && e->val.ptr == p)
			sp_hashmap_remove(&ag->live, e);
		sp_aggregator_free(p->agg);
		sp_unwind_procfs_free(p->src);
		free(p);
	}
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		cli_error("agent: %s wants a whole number in %ld..%ld, got '%s'", opt, lo, hi, s);
		return CLI_USAGE_ERROR;
	}
	*out = v;
	return 0;
}

/* The services of the registered processes (their sessions wrote interval
 * files of their own under their service names) that the perf samples did
 * not already bring: each merged the same way. */
static int collect_registered(struct agent *ag, const char *absdir,
			      const struct cli_name_set *before)
{
	struct cli_name_set now = { 0 }, done = { 0 };
	int ret = CLI_OK;

	cli_list_intervals(ag->idir, &now, false);
	for (size_t i = 0; i < now.n; i++) {
		char svc[256];
		pid_t pid;
		bool seen = false;

		for (size_t k = 0; before && k < before->n && !seen; k++)
			seen = !strcmp(before->v[k], now.v[i]);
		if (seen || !sp_output_interval_service(now.v[i], svc, sizeof(svc), &pid) ||
		    pid == getpid())
			continue;
		ag->registered_files++;
		for (size_t k = 0; k < ag->n_svcs && !seen; k++)
			seen = ag->svcs[k].samples && !strcmp(ag->svcs[k].name, svc);
		for (size_t k = 0; k < done.n && !seen; k++)
			seen = !strcmp(done.v[k], svc);
		if (seen)
			continue;
		char **nv = realloc(done.v, (done.n + 1) * sizeof(*nv));
		if (!nv || !(nv[done.n] = strdup(svc))) {
			free(nv ? nv : done.v);
			done.v = NULL;
			done.n = 0;
			break;
		}
		done.v = nv;
		done.n++;
		struct cli_collect cc = {
			.cmd = "agent", .dir = absdir, .idir = ag->idir, .before = before,
			.service = svc, .only_service = true, .quiet = ag->quiet,
		};
		if (!ag->quiet)
			fprintf(stderr, "spanprof: service %s: registered with the agent (its spans "
				"included)\n", svc);
		if (cli_collect(&cc))
			ret = CLI_RUNTIME_ERROR;
	}
	cli_free_set(&now);
	cli_free_set(&done);
	return ret;
}

/* One more --comm or --cgroup pattern. */
static int add_pattern(const char **list, int *n, const char *option, const char *value)
{
	if (*n == MAX_FILTERS) {
		cli_error("agent: at most %d %s", MAX_FILTERS, option);
		return CLI_USAGE_ERROR;
	}
	list[(*n)++] = value;
	return CLI_OK;
}

int cli_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "freq", required_argument, NULL, 'F' },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "stack-size", required_argument, NULL, 's' },
		{ "no-kernel", no_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent ag = { .hz = SP_PERF_CPU_DEFAULT_HZ };
	sp_perf_cpu_config pcfg = { .kernel = true };
	const char *dir = NULL, *env;
	long v, duration = 0;
	int64_t interval_s = 10, i64;
	char absdir[PATH_MAX], engine[160];
	struct cli_name_set before = { 0 };
	struct sigaction sa;
	sp_error err = { "" };
	bool kernel_dropped = false;
	int c, ret = CLI_OK;
	int64_t t0, deadline = 0, next_cut;

	opterr = 0;
	optind = 1;
	env = sp_getenv("SPANPROF_UPLOAD_INTERVAL");
	if (!env || !*env)
		env = sp_getenv("PYROSCOPE_UPLOAD_INTERVAL");
	if (env && *env && !sp_config_parse_duration_s(env, 1, 3600, &i64))
		interval_s = i64;
	while ((c = getopt_long(argc, argv, ":F:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if ((ret = parse_long("-F", optarg, 1, 10000, &v)))
				return ret;
			ag.hz = (int)v;
			break;
		case 'p':
			if ((ret = parse_long("--pid", optarg, 1, INT_MAX, &v)))
				return ret;
			if (ag.n_pids == MAX_FILTERS) {
				cli_error("agent: at most %d --pid", MAX_FILTERS);
				return CLI_USAGE_ERROR;
			}
			ag.pids[ag.n_pids++] = (int)v;
			break;
		case 'c':
			if ((ret = add_pattern(ag.comms, &ag.n_comms, "--comm", optarg)))
				return ret;
			break;
		case 'g':
			if ((ret = add_pattern(ag.cgroups, &ag.n_cgroups, "--cgroup", optarg)))
				return ret;
			break;
		case 'o': dir = optarg; break;
		case 'd':
			if ((ret = parse_long("--duration", optarg, 1, 86400 * 365, &duration)))
				return ret;
			break;
		case 'i':
			if (sp_config_parse_duration_s(optarg, 1, 3600, &interval_s)) {
				cli_error("agent: --interval wants 1 s to 1 h (10, 10s, 1m), got '%s'",
					  optarg);
				return CLI_USAGE_ERROR;
			}
			break;
		case 's':
			if (sp_config_parse_bytes(optarg, 8, 65520, &i64) || i64 % 8) {
				cli_error("agent: --stack-size wants a multiple of 8 below 64K "
					  "(the kernel's limit), got '%s'", optarg);
				return CLI_USAGE_ERROR;
			}
			pcfg.stack_bytes = (uint32_t)i64;
			break;
		case 'K': pcfg.kernel = false; break;
		case 'q': ag.quiet = true; break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("agent", c, argv);
		}
	}
	/* The sinks and the Pyroscope exporter say what goes wrong through the
	 * log: the agent's stderr. */
	sp_log_set_enabled(true);
	sp_log_set_quiet(ag.quiet);
	if (optind < argc) {
		cli_error("agent: unexpected argument '%s'; see 'spanprof agent --help'",
			  argv[optind]);
		return CLI_USAGE_ERROR;
	}
	pcfg.hz = ag.hz;
	if (!dir)
		dir = sp_getenv("SPANPROF_OUTPUT") && *sp_getenv("SPANPROF_OUTPUT") ?
			sp_getenv("SPANPROF_OUTPUT") : "./spanprof-out";
	if ((ret = sp_mkdir_p(dir, 0755)) || !realpath(dir, absdir)) {
		cli_error("agent: cannot create %s: %s", dir, strerror(ret ? -ret : errno));
		return CLI_RUNTIME_ERROR;
	}
	/* Stacks and environments of every user's processes: root's only. */
	snprintf(ag.idir, sizeof(ag.idir), "%s/intervals", absdir);
	if ((ret = sp_mkdir_p(ag.idir, 0700)) || chmod(ag.idir, 0700) < 0) {
		cli_error("agent: cannot create %s: %s", ag.idir, strerror(ret ? -ret : errno));
		return CLI_RUNTIME_ERROR;
	}
	umask(077);

	ag.pc = sp_perf_cpu_open(&pcfg, &kernel_dropped, &err);
	if (!ag.pc) {
		cli_error("agent: %s", err.msg);
		return CLI_RUNTIME_ERROR;
	}
	if (kernel_dropped && !ag.quiet)
		cli_error("agent: kernel frames are off: kernel sampling was refused (needs "
			  "CAP_PERFMON or kernel.perf_event_paranoid <= 1)");
	if (pcfg.kernel && !kernel_dropped) {
		ag.ksyms = sp_kallsyms_load(NULL, &err);
		if (!ag.ksyms && !ag.quiet)
			cli_error("agent: %s", err.msg);
	}
	ag.sym = sp_symbolizer_new(NULL, &err);
	if (!ag.sym) {
		cli_error("agent: %s", err.msg);
		sp_perf_cpu_close(ag.pc);
		sp_kallsyms_free(ag.ksyms);
		return CLI_RUNTIME_ERROR;
	}
	{
		char addr[64];
		sp_consumer_options co = { .address = addr, .output_dir = ag.idir };

		snprintf(addr, sizeof(addr), SP_AGENT_ADDRESS_FMT, (unsigned)geteuid());
		ag.consumer = sp_consumer_start(&co, &err);
		if (!ag.consumer && !ag.quiet)
			cli_error("agent: preloaded processes will not register here (%s): is "
				  "another agent running?", err.msg);
	}
	snprintf(engine, sizeof(engine), "perf_event cpu-clock per-CPU%s at %d Hz",
		 pcfg.kernel && !kernel_dropped ? "" : " (no kernel frames)", ag.hz);
	ag.engine = engine;
	cli_list_intervals(ag.idir, &before, false);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() returns at once with EINTR. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	ag.start_wall = ag.iv_start_wall = sp_wall_ns();
	t0 = ag.iv_start_mono = sp_mono_ns();
	if (duration)
		deadline = t0 + duration * 1000000000LL;
	next_cut = t0 + interval_s * 1000000000LL;
	if ((ret = sp_perf_cpu_enable(ag.pc))) {
		cli_error("agent: enabling the perf events: %s", strerror(-ret));
		ret = CLI_RUNTIME_ERROR;
		goto out;
	}
	if (!ag.quiet)
		fprintf(stderr, "spanprof: agent: sampling %s on %d CPUs at %d Hz (%zu KiB ring each)"
			"%s, writing %s\n",
			ag.n_pids || ag.n_comms ? "the selected processes" : "every process",
			sp_perf_cpu_count(ag.pc), ag.hz, sp_perf_cpu_ring_bytes(ag.pc) / 1024,
			duration ? "" : " until SIGTERM/SIGINT", ag.idir);
	while (!stop_requested) {
		int64_t now = sp_mono_ns();
		int64_t until = deadline && deadline < next_cut ? deadline : next_cut;
		int wait_ms = (int)((until - now) / 1000000);

		if (wait_ms > 100)
			wait_ms = 100; /* short-lived processes: maps read soon */
		if (wait_ms < 0)
			wait_ms = 0;
		sp_perf_cpu_wait(ag.pc, wait_ms);
		sp_perf_cpu_drain(ag.pc, on_event, &ag);
		refresh_dirty(&ag);
		now = sp_mono_ns();
		if (deadline && now >= deadline)
			break;
		if (hup_requested) {
			/* Nothing is held open between intervals: "reopen" is
			 * making the directory again (rotated or removed) and
			 * writing what the interval has so far. */
			hup_requested = 0;
			if ((ret = sp_mkdir_p(ag.idir, 0700)))
				cli_error("agent: SIGHUP: cannot create %s: %s", ag.idir,
					  strerror(-ret));
			ret = CLI_OK;
			write_interval(&ag);
			next_cut = now + interval_s * 1000000000LL;
			if (!ag.quiet)
				fprintf(stderr, "spanprof: agent: SIGHUP: interval written to %s\n",
					ag.idir);
		} else if (now >= next_cut) {
			write_interval(&ag);
			next_cut += interval_s * 1000000000LL;
		}
	}
	sp_perf_cpu_disable(ag.pc);
	sp_perf_cpu_drain(ag.pc, on_event, &ag);
	write_interval(&ag);
	/* The registered processes' last intervals, written by their sessions. */
	if (ag.consumer)
		sp_consumer_finish(ag.consumer);
	ag.consumer = NULL;

	if (!ag.quiet) {
		double secs = (double)(sp_mono_ns() - t0) / 1e9;

		fprintf(stderr, "spanprof: agent: %" PRIu64 " samples in %zu service%s over %.1f s, "
			"%" PRIu64 " records lost (CPU rings full)%s\n",
			ag.samples_total, ag.n_svcs, ag.n_svcs == 1 ? "" : "s", secs,
			ag.lost_total, sp_perf_cpu_bad(ag.pc) ? ", some records malformed" : "");
	}
	if (duration) {
		for (size_t i = 0; i < ag.n_svcs; i++) {
			struct cli_collect cc = {
				.cmd = "agent", .dir = absdir, .idir = ag.idir, .before = &before,
				.service = ag.svcs[i].name, .only_service = true, .quiet = ag.quiet,
				.host_lost = true,
			};

			if (!ag.svcs[i].samples)
				continue;
			if (!ag.quiet)
				fprintf(stderr, "spanprof: service %s: %d process%s\n", ag.svcs[i].name,
					ag.svcs[i].procs, ag.svcs[i].procs == 1 ? "" : "es");
			if (cli_collect(&cc))
				ret = CLI_RUNTIME_ERROR;
		}
		if (collect_registered(&ag, absdir, &before))
			ret = CLI_RUNTIME_ERROR;
		if (!ag.samples_total && !ag.registered_files && !ag.quiet)
			cli_error("agent: no samples%s", ag.n_pids || ag.n_comms ?
				  " from the selected processes (did they use CPU?)" : "");
	}
out:
	if (ag.consumer)
		sp_consumer_finish(ag.consumer);
	for (struct proc *p = ag.procs; p;) {
		struct proc *n = p->next;
		sp_aggregator_free(p->agg);
		sp_unwind_procfs_free(p->src);
		free(p);
		p = n;
	}
	sp_hashmap_free(&ag.live);
	for (size_t i = 0; i < ag.n_svcs; i++)
		if (ag.svcs[i].sinks_open)
			sp_sinks_close(&ag.svcs[i].sinks, 5000);
	free(ag.svcs);
	cli_free_set(&before);
	sp_perf_cpu_close(ag.pc);
	sp_symbolizer_free(ag.sym);
	sp_kallsyms_free(ag.ksyms);
	return ret;
}
