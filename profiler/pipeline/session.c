/* One profiled process image in the consumer; see session.h. */
#include "pipeline/session.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "aggregate/aggregate.h"
#include "pipeline/capture_debug.h"
#include "base/config.h"
#include "base/log.h"
#include "sinks/sinks.h"
#include "model/pprof.h"
#include "symbolizer/procmaps.h"
#include "model/profile.h"
#include "abi/ring.h"
#include "sinks/span_times.h"

/* Re-read /proc/PID/maps at most this often while the process lives (for
 * objects loaded behind the library's back, e.g. glibc's own dlopens). */
#define MAPS_REFRESH_NS 1000000000LL
#define IDLE_NS 250000000LL

struct slot_view {
	int32_t tid;
	char name[16];
	unsigned name_epoch;
	uint64_t taken, lost;   /* the ring's counters at the last look */
	uint32_t seen_state;
	/* stall check: CPU used without a sample means the event is gone */
	int64_t check_ns;
	uint64_t check_taken, check_cpu;
};

/* Stall checks: at most this many /proc reads per second per process. */
#define STALL_CHECKS_PER_S 64
#define STALL_CHECK_NS 1000000000LL

struct sp_session {
	sp_shm_header *h;
	size_t len;
	pid_t pid;
	sp_config cfg;
	struct slot_view *slots;
	uint32_t n_slots;
	size_t ring_fp;

	/* process model */
	sp_module_list mods;
	uint64_t mods_gen;
	uint32_t mods_seen;      /* n_modules at the last build */
	int64_t maps_read_ns;
	struct { uint64_t lo, hi; } *anon;
	size_t n_anon;
	int64_t miss_read_ns;    /* the last re-read a miss asked for */
	bool maps_wanted;        /* a pc no mapping covers: re-read before the next sample */
	bool gone;               /* the process (or this image) ended: no /proc reads */
	char exe[4096];

	sp_aggregator *agg;        /* CPU samples; NULL with SPANPROF_CPU=0 */
	sp_aggregator *heap_agg;   /* allocation samples (SPANPROF_HEAP=1) */
	uint64_t iv_heap_samples;
	bool heap_noted;           /* the host's heap note was logged */
	bool agg_failed;
	sp_symbolizer *sym;
	sp_span_times *span_times;
	sp_sinks sinks;          /* files, links, Pyroscope */
	int64_t iv_start_wall, iv_start_mono;
	unsigned seq;
	uint64_t iv_samples;
	uint64_t taken, lost;    /* totals over all slots and reuses */
	uint64_t last_taken, last_lost, last_trunc;
	int64_t last_drain;
	int64_t stall_window_ns;
	unsigned stall_checks;
	bool finished;
	bool debug;
	sp_debug_counts *dbg;
};

pid_t sp_session_pid(const sp_session *s)
{
	return s->pid;
}

unsigned sp_session_files(const sp_session *s)
{
	return s->seq;
}

void sp_session_set_files(sp_session *s, unsigned seq)
{
	s->seq = seq;
}

bool sp_session_stopped(const sp_session *s)
{
	return atomic_load(&s->h->state) == SP_SHM_STOPPED;
}

/* ---- process model -------------------------------------------------------- */

static bool overlaps(const sp_module_list *l, size_t n, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < n; i++)
		if (l->mods[i].start < hi && lo < l->mods[i].end)
			return true;
	return false;
}

/* JIT code: the anonymous executable mappings of the list just read. */
static void note_anon_exec(sp_session *s, const sp_module_list *l)
{
	s->n_anon = 0;
	for (size_t i = 0; i < l->n; i++) {
		void *v;

		if (!sp_module_is_anon(&l->mods[i]))
			continue;
		v = realloc(s->anon, (s->n_anon + 1) * sizeof(*s->anon));
		if (!v)
			break;
		s->anon = v;
		s->anon[s->n_anon].lo = l->mods[i].start;
		s->anon[s->n_anon].hi = l->mods[i].end;
		s->n_anon++;
	}
}

static bool same_modules(const sp_module_list *a, const sp_module_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const sp_module *x = &a->mods[i], *y = &b->mods[i];
		if (x->start != y->start || x->end != y->end || x->offset != y->offset ||
		    strcmp(x->path ? x->path : "", y->path ? y->path : "") ||
		    strcmp(x->build_id, y->build_id))
			return false;
	}
	return true;
}

/* The mappings: what /proc/PID/maps shows while the process lives, plus
 * every module the library published that no live mapping overlaps (a
 * module dlclosed since, or the whole table once the process is gone). */
static void rebuild_modules(sp_session *s, int64_t now)
{
	sp_shm_header *h = s->h;
	uint32_t n = atomic_load_explicit(&h->n_modules, memory_order_acquire);
	sp_shm_module *sm = sp_shm_modules(h);
	sp_module_list l = { NULL, 0 };
	sp_error err;

	if (n > h->modules_cap)
		n = h->modules_cap;
	if (!s->gone && sp_procmaps_read(s->pid, &l, &err) == 0) {
		note_anon_exec(s, &l);
		s->maps_read_ns = now;
	} else {
		l.mods = NULL;
		l.n = 0;
	}
	{
		void *v = realloc(l.mods, (l.n + n) * sizeof(*l.mods));
		if (!v)
			goto done;
		l.mods = v;
	}
	/* Newest first: a later module at the same address wins. */
	for (uint32_t k = n; k-- > 0;) {
		const sp_shm_module *m = &sm[k];
		sp_module *o;
		uint32_t used = atomic_load(&h->strings_used);

		if (m->start >= m->end || m->path_off >= used || m->path_len > used - m->path_off ||
		    overlaps(&l, l.n, m->start, m->end))
			continue;
		o = &l.mods[l.n];
		memset(o, 0, sizeof(*o));
		o->start = m->start;
		o->end = m->end;
		o->offset = m->offset;
		o->path = strndup(sp_shm_strings(h) + m->path_off, m->path_len);
		if (!o->path)
			continue;
		o->vdso = (m->flags & SP_MOD_VDSO) != 0;
		if (m->build_id_len && m->build_id_len <= sizeof(m->build_id))
			sp_build_id_to_hex(m->build_id, m->build_id_len, o->build_id, sizeof(o->build_id));
		l.n++;
	}
	sp_module_list_sort(&l);
done:
	s->mods_seen = n;
	if (same_modules(&s->mods, &l)) {
		/* Nothing changed: the unwinder keeps its tables and cache. */
		sp_procmaps_free(&l);
		return;
	}
	sp_procmaps_free(&s->mods);
	s->mods = l;
	s->mods_gen++;
	if (s->agg)
		sp_aggregator_modules_changed(s->agg);
	if (s->heap_agg)
		sp_aggregator_modules_changed(s->heap_agg);
}

static const sp_module_list *src_modules(void *ctx, uint64_t *gen)
{
	sp_session *s = ctx;

	*gen = s->mods_gen;
	return &s->mods;
}

/* On a miss, /proc/PID/maps again before the next sample (at most every
 * 200 ms): JIT code and objects dlopened behind the library's back appear
 * while the process runs. Not now: the unwinder is walking the list. */
static bool src_in_anon_exec(void *ctx, uint64_t ip)
{
	sp_session *s = ctx;

	for (size_t i = 0; i < s->n_anon; i++)
		if (ip >= s->anon[i].lo && ip < s->anon[i].hi)
			return true;
	/* The first miss at once (a dlopen just happened), then at most every
	 * 200 ms (JIT code misses all the time). */
	if (!s->gone && !s->maps_wanted && sp_mono_ns() - s->miss_read_ns >= 200000000) {
		s->maps_wanted = true;
		s->miss_read_ns = sp_mono_ns();
	}
	return false;
}

static const sp_unwind_source_ops session_source = {
	.modules = src_modules,
	.in_anon_exec = src_in_anon_exec,
};

static void check_modules(sp_session *s, int64_t now)
{
	uint32_t n = atomic_load_explicit(&s->h->n_modules, memory_order_acquire);

	if (n != s->mods_seen || (!s->gone && now - s->maps_read_ns > MAPS_REFRESH_NS))
		rebuild_modules(s, now);
}

/* ---- setup ----------------------------------------------------------------- */

static const char *arena_getenv(void *ctx, const char *name)
{
	return sp_shm_getenv(ctx, name);
}

/* The host's config, bounded: it comes from another process. */
static void load_config(sp_session *s)
{
	sp_config *c = &s->cfg;

	memcpy(c, sp_shm_cfg(s->h), sizeof(*c));
	c->output_dir[sizeof(c->output_dir) - 1] = '\0';
	c->service[sizeof(c->service) - 1] = '\0';
	c->debug_counts[sizeof(c->debug_counts) - 1] = '\0';
	if (c->heap_rate < 1 || c->heap_rate > ((int64_t)1 << 30))
		c->heap_rate = 512 * 1024;
	if (c->hz < 1 || c->hz > 10000)
		c->hz = 100;
	if (c->upload_interval_s < 1 || c->upload_interval_s > 3600)
		c->upload_interval_s = 10;
	if (!c->output_dir[0])
		snprintf(c->output_dir, sizeof(c->output_dir), "/tmp/spanprof-out");
}

sp_session *sp_session_new(sp_shm_header *h, size_t len, pid_t pid, sp_symbolizer *sym,
			   const char *output_dir, sp_error *err)
{
	sp_session *s = calloc(1, sizeof(*s));
	sp_aggregator_config ac;
	sp_error perr = { "" };
	char link[64];
	ssize_t n;

	if (!s) {
		sp_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	s->h = h;
	s->len = len;
	s->pid = pid;
	s->sym = sym;
	s->n_slots = h->slots_cap;
	s->ring_fp = sp_shm_ring_footprint(h);
	s->slots = calloc(s->n_slots ? s->n_slots : 1, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		sp_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	load_config(s);
	if (output_dir && output_dir[0])
		snprintf(s->cfg.output_dir, sizeof(s->cfg.output_dir), "%s", output_dir);
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, s->exe, sizeof(s->exe) - 1);
	s->exe[n > 0 ? n : 0] = '\0';
	rebuild_modules(s, sp_mono_ns());

	s->iv_start_wall = sp_wall_ns();
	s->iv_start_mono = sp_mono_ns();

	memset(&ac, 0, sizeof(ac));
	ac.period_ns = (int64_t)(1000000000 / s->cfg.hz);
	ac.symbolize = s->cfg.symbolize;
	ac.span_name_label = true;
	ac.source = &session_source;
	ac.source_ctx = s;
	ac.pid = pid;
	ac.exe = s->exe;
	ac.symbolizer = sym;
	if (s->cfg.cpu) {
		s->agg = sp_aggregator_new(&ac, &perr);
		if (!s->agg) {
			s->agg_failed = true;
			sp_log("pid %d: cannot start the stack aggregator: %s", (int)pid, perr.msg);
		}
	}
	if (s->cfg.heap) {
		ac.heap = true;
		ac.heap_rate = s->cfg.heap_rate;
		s->heap_agg = sp_aggregator_new(&ac, &perr);
		if (!s->heap_agg)
			sp_log("pid %d: cannot start the heap aggregator: %s", (int)pid, perr.msg);
	}
	s->span_times = sp_span_times_new(0);
	{
		sp_sinks_config kc = {
			.output_dir = s->cfg.output_dir,
			.service = s->cfg.service,
			.pid = pid,
			.start_wall_ns = s->iv_start_wall,
			.retention_mb = s->cfg.retention_mb,
			.retention_hours = s->cfg.retention_hours,
			.getenv = arena_getenv,
			.getenv_ctx = h,
		};
		sp_sinks_open(&s->sinks, &kc);
	}
	if (s->cfg.debug_counts[0]) {
		s->dbg = sp_debug_counts_new();
		s->debug = s->dbg != NULL;
	}
	return s;
}

void sp_session_free(sp_session *s)
{
	if (!s)
		return;
	sp_sinks_close(&s->sinks, s->cfg.flush_timeout_ms);
	sp_aggregator_free(s->agg);
	sp_aggregator_free(s->heap_agg);
	sp_span_times_free(s->span_times);
	sp_debug_counts_free(s->dbg);
	sp_procmaps_free(&s->mods);
	free(s->anon);
	free(s->slots);
	munmap(s->h, s->len);
	free(s);
}

/* ---- draining -------------------------------------------------------------- */

static void refresh_name(sp_session *s, struct slot_view *v)
{
	char path[64];
	ssize_t n;
	int fd;

	v->name_epoch = s->seq + 1;
	if (s->gone)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)s->pid, (int)v->tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, v->name, sizeof(v->name) - 1);
	close(fd);
	if (n <= 0)
		return;
	if (v->name[n - 1] == '\n')
		n--;
	v->name[n] = '\0';
}

static void count_ring(sp_session *s, struct slot_view *v, sp_ring *r)
{
	uint64_t t = sp_ring_taken(r), l = sp_ring_lost(r);

	/* A reused slot's ring starts from zero again. */
	s->taken += t >= v->taken ? t - v->taken : t;
	s->lost += l >= v->lost ? l - v->lost : l;
	v->taken = t;
	v->lost = l;
}

static bool thread_cpu_ns(sp_session *s, int32_t tid, uint64_t *ns)
{
	char path[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)s->pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	*ns = strtoull(buf, NULL, 10);
	return true;
}

/* A live thread that used five periods of CPU since the last check and
 * sent no sample: its event was closed or replaced in the host. Our signal
 * by tgkill asks the thread to re-arm (the handler knows our pid). */
static void check_stall(sp_session *s, uint32_t i, struct slot_view *v, int64_t now)
{
	sp_shm_slot *sl = &sp_shm_slots(s->h)[i];
	int signo = atomic_load(&s->h->signo);
	uint64_t cpu;

	if (s->gone || now - v->check_ns < STALL_CHECK_NS)
		return;
	if (now - s->stall_window_ns >= 1000000000LL) {
		s->stall_window_ns = now;
		s->stall_checks = 0;
	}
	if (s->stall_checks >= STALL_CHECKS_PER_S)
		return;
	if (v->taken != v->check_taken) {
		v->check_taken = v->taken;
		v->check_ns = now;
		v->check_cpu = 0;
		return;
	}
	s->stall_checks++;
	if (!thread_cpu_ns(s, v->tid, &cpu))
		return;
	if (v->check_cpu && cpu - v->check_cpu >= 5 * (uint64_t)(1000000000 / s->cfg.hz) &&
	    signo > 0 && signo < 65) {
		atomic_store(&sl->nudge, 1);
		syscall(SYS_tgkill, s->pid, v->tid, signo);
	}
	v->check_cpu = cpu;
	v->check_ns = now;
}

void sp_session_drain(sp_session *s, int64_t now, int64_t *next_ns)
{
	sp_shm_header *h = s->h;
	sp_shm_slot *sl = sp_shm_slots(h);
	uint32_t used = atomic_load(&h->slots_used);
	int64_t since = now - s->last_drain;

	if (used > s->n_slots)
		used = s->n_slots;
	check_modules(s, now);
	for (uint32_t i = 0; i < used; i++) {
		uint32_t st = atomic_load_explicit(&sl[i].state, memory_order_acquire);
		struct slot_view *v = &s->slots[i];
		const sp_raw_sample *rs;
		sp_ring *r;
		size_t fill;

		if (st != SP_SLOT_LIVE && st != SP_SLOT_DEAD)
			continue;
		r = sp_ring_attach(sp_shm_ring(h, i), s->ring_fp);
		if (!r)
			continue;
		if (v->tid != sl[i].tid || v->seen_state == SP_SLOT_FREE) {
			/* A new thread in this slot. */
			v->tid = sl[i].tid;
			v->name[0] = '\0';
			v->name_epoch = 0;
			v->taken = v->lost = 0;
		}
		v->seen_state = st;
		fill = sp_ring_used(r);
		if (fill && s->last_drain && since > 0) {
			int64_t to_mark = (int64_t)((double)since * (double)sp_ring_wake_mark(r) /
						    (double)fill);
			if (to_mark / 2 < *next_ns)
				*next_ns = to_mark / 2;
		}
		while ((rs = sp_ring_peek(r))) {
			if (s->maps_wanted) {
				s->maps_wanted = false;
				rebuild_modules(s, sp_mono_ns());
			}
			if (v->name_epoch != s->seq + 1)
				refresh_name(s, v);
			if (rs->kind == SP_SAMPLE_CPU) {
				if (s->agg)
					sp_aggregator_add(s->agg, rs, v->name[0] ? v->name : NULL);
				if (s->dbg)
					sp_debug_count(s->dbg, v->name, rs);
				s->iv_samples++;
			} else if (s->heap_agg) {
				sp_aggregator_add(s->heap_agg, rs, v->name[0] ? v->name : NULL);
				s->iv_heap_samples += rs->kind == SP_SAMPLE_ALLOC;
			}
			if (s->span_times && rs->kind != SP_SAMPLE_FREE)
				sp_span_times_note(s->span_times, &rs->span, rs->time_ns);
			sp_ring_pop(r);
		}
		sp_ring_rearm(r);
		count_ring(s, v, r);
		if (st == SP_SLOT_LIVE && s->cfg.cpu)
			check_stall(s, i, v, now);
		if (st == SP_SLOT_DEAD) {
			uint32_t dead = SP_SLOT_DEAD;
			v->seen_state = SP_SLOT_FREE;
			atomic_compare_exchange_strong(&sl[i].state, &dead, SP_SLOT_FREE);
		}
	}
	sp_aggregator_pass(s->heap_agg);
	s->last_drain = now;
}

/* ---- intervals ------------------------------------------------------------ */

/* What the heap telemetry line adds: why some allocations are not seen,
 * and what the host could not record. */
static const char *heap_note(sp_session *s, char *buf, size_t len)
{
	sp_shm_header *h = s->h;
	char why[sizeof(h->heap_note)];

	memcpy(why, h->heap_note, sizeof(why));
	why[sizeof(why) - 1] = '\0';
	snprintf(buf, len,
		 "heap untracked=%" PRIu64 " frees_lost=%" PRIu64 " no_thread=%" PRIu64
		 " cpu_samples_dropped=%" PRIu64 "%s%s",
		 atomic_load(&h->heap_untracked), atomic_load(&h->heap_frees_lost),
		 atomic_load(&h->heap_no_thread), atomic_load(&h->heap_cpu_dropped),
		 why[0] ? "; " : "", why);
	return buf;
}

/* "<engine> at <hz> Hz[, because <why>]": `spanprof record` prints it in
 * its summary, since the library itself says nothing on stderr. */
static const char *engine_summary(sp_session *s, char *buf, size_t len)
{
	char engine[sizeof(s->h->engine)], why[sizeof(s->h->engine_reason)];

	memcpy(engine, s->h->engine, sizeof(engine));
	engine[sizeof(engine) - 1] = '\0';
	memcpy(why, s->h->engine_reason, sizeof(why));
	why[sizeof(why) - 1] = '\0';
	if (s->cfg.engine == SP_ENGINE_TIMER)
		snprintf(why, sizeof(why), "SPANPROF_ENGINE=timer");
	snprintf(buf, len, "%s at %d Hz%s%s", engine[0] ? engine : "perf_event cpu-clock",
		 s->cfg.hz, why[0] ? ", because " : "", why);
	return buf;
}

static uint64_t live_threads(sp_session *s)
{
	sp_shm_slot *sl = sp_shm_slots(s->h);
	uint32_t used = atomic_load(&s->h->slots_used);
	uint64_t n = 0;

	if (used > s->n_slots)
		used = s->n_slots;
	for (uint32_t i = 0; i < used; i++)
		if (atomic_load(&sl[i].state) == SP_SLOT_LIVE)
			n++;
	return n;
}

static void flush_interval(sp_session *s)
{
	char engine[400];
	int64_t now_wall = sp_wall_ns(), now_mono = sp_mono_ns();
	uint64_t trunc = 0;
	sp_telemetry tel;
	sp_error err = { "" };
	sp_profile *p;
	sp_links_span_time *times = NULL;
	size_t n_times = 0;

	if (s->agg)
		trunc = sp_aggregator_truncated(s->agg);
	if (s->span_times)
		sp_span_times_take(s->span_times, now_wall - now_mono, &times, &n_times);
	bool cpu_due = s->agg && s->iv_samples;

	if (s->heap_agg && !s->heap_noted && s->h->heap_note[0]) {
		char why[sizeof(s->h->heap_note)];

		memcpy(why, s->h->heap_note, sizeof(why));
		why[sizeof(why) - 1] = '\0';
		s->heap_noted = true;
		sp_log("pid %d: %s", (int)s->pid, why);
	}
	bool heap_due = s->heap_agg &&
		(s->iv_heap_samples || sp_aggregator_live_blocks(s->heap_agg));

	if (cpu_due || heap_due)
		s->seq++;
	memset(&tel, 0, sizeof(tel));
	if (heap_due) {
		char note[600];

		tel.engine = "allocation hooks";
		tel.samples_taken = s->iv_heap_samples;
		tel.threads = live_threads(s);
		tel.note = heap_note(s, note, sizeof(note));
		p = sp_aggregator_take_profile(s->heap_agg, s->iv_start_wall,
					       now_mono - s->iv_start_mono, &tel, &err);
		if (p) {
			sp_sinks_write(&s->sinks, p, SP_SINK_MEMORY, s->seq, s->iv_start_wall, now_wall,
				       NULL, 0);
			sp_profile_free(p);
		} else if (!s->sinks.logged_write_error) {
			sp_log("pid %d: cannot build the interval's memory profile: %s", (int)s->pid,
			       err.msg);
			s->sinks.logged_write_error = true;
		}
		memset(&tel, 0, sizeof(tel));
	}
	if (cpu_due) {
		char note[600];

		/* Why allocations are not seen, where `record` reads it even
		 * when no memory profile could be written. */
		if (s->heap_agg && s->h->heap_note[0])
			tel.note = heap_note(s, note, sizeof(note));
		tel.engine = engine_summary(s, engine, sizeof(engine));
		/* Records in the rings are CPU and heap alike: the CPU ones drained. */
		tel.samples_taken = s->heap_agg ? s->iv_samples : s->taken - s->last_taken;
		tel.samples_lost = s->lost - s->last_lost;
		tel.stacks_truncated = trunc - s->last_trunc;
		tel.threads = live_threads(s);
		p = sp_aggregator_take_profile(s->agg, s->iv_start_wall,
					       now_mono - s->iv_start_mono, &tel, &err);
		if (p) {
			sp_sinks_write(&s->sinks, p, SP_SINK_CPU, s->seq, s->iv_start_wall, now_wall,
				       times, n_times);
			sp_profile_free(p);
		} else if (!s->sinks.logged_write_error) {
			sp_log("pid %d: cannot build the interval profile: %s", (int)s->pid, err.msg);
			s->sinks.logged_write_error = true;
		}
	}
	free(times);
	s->last_taken = s->taken;
	s->last_lost = s->lost;
	s->last_trunc = trunc;
	s->iv_samples = 0;
	s->iv_heap_samples = 0;
	s->iv_start_wall = now_wall;
	s->iv_start_mono = now_mono;
	if (s->dbg) {
		static pid_t first_pid;
		char path[4200];

		if (!first_pid)
			first_pid = s->pid;
		/* A forked child writes its own file. */
		if (s->pid != first_pid)
			snprintf(path, sizeof(path), "%s.%d", s->cfg.debug_counts, (int)s->pid);
		else
			snprintf(path, sizeof(path), "%s", s->cfg.debug_counts);
		sp_debug_counts_write(s->dbg, path, s->pid, s->seq, s->taken, s->lost,
				      engine_summary(s, engine, sizeof(engine)), s->h);
	}
}

void sp_session_close_exports(sp_session *s)
{
	int64_t waited, left;

	if (!s->sinks.pyro)
		return;
	/* Uploads get what is left of the host's flush deadline (it waits
	 * for the ack), minus a margin for the exporter's own teardown. */
	{
		uint32_t st = atomic_load(&s->h->state);
		waited = st == SP_SHM_STOPPED || st == SP_SHM_EXITED ?
			(sp_mono_ns() - (int64_t)atomic_load(&s->h->state_ns)) / 1000000 : 0;
	}
	left = s->cfg.flush_timeout_ms - waited;
	left -= left / 10 < 100 ? left / 10 : 100;
	sp_sinks_close(&s->sinks, left > 0 ? (int)left : 0);
}

void sp_session_ack(sp_session *s)
{
	atomic_fetch_add(&s->h->flushed, 1);
	syscall(SYS_futex, &s->h->flushed, FUTEX_WAKE, 64, NULL, NULL, 0);
}

void sp_session_finish(sp_session *s)
{
	int64_t next = IDLE_NS;

	if (s->finished)
		return;
	sp_session_drain(s, sp_mono_ns(), &next);
	s->gone = true;
	flush_interval(s);
	s->finished = true;
}

bool sp_session_tick(sp_session *s, int64_t now)
{
	uint32_t st = atomic_load_explicit(&s->h->state, memory_order_acquire);
	int64_t interval = (int64_t)s->cfg.upload_interval_s * 1000000000;

	if (s->finished)
		return true;
	if (st == SP_SHM_STOPPED || st == SP_SHM_EXITED)
		return true; /* the image says it is done: the caller finishes it */
	if (now - s->iv_start_mono >= interval)
		flush_interval(s);
	return false;
}
