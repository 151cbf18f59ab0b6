/* Worker thread; see worker.h. */
#include "worker.h"

#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "asan_compat.h"
#include "capture_debug.h"
#include "export_pyroscope.h"
#include "links.h"
#include "log.h"
#include "output.h"
#include "pprof.h"
#include "profile.h"
#include "ring.h"
#include "sighandler.h"
#include "span_times.h"
#include "threads.h"

/* Held by the worker while it works (not while it sleeps): fork waits for
 * it, so a child never inherits a lock the worker held inside libc,
 * libdw or libunwind (dl_iterate_phdr's, stdio's, the symbolizer's...). */
static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;

static struct worker {
	sp_config cfg;
	pthread_t th;
	bool started;
	_Atomic uint32_t wake_seq;     /* futex: bumped by every wake request */
	_Atomic int stop;
	_Atomic int64_t deadline_ns;   /* CLOCK_MONOTONIC, for the final flush */
	_Atomic uint32_t exited;       /* futex: 1 when the thread is done */
	_Atomic int final_written;     /* the last interval is on disk (or had no samples) */
	_Atomic uint32_t drain_req, drain_done;
	_Atomic int modules_changed;

	sp_aggregator *agg;
	bool agg_failed;
	sp_span_times *span_times;     /* first/last sample of each span, for links */
	sp_pyroscope *pyro;
	sp_output out;
	bool out_ok, logged_write_error;
	pid_t pid;
	int64_t iv_start_wall, iv_start_mono;
	unsigned seq;
	uint64_t iv_samples;
	uint64_t last_taken, last_lost, last_trunc;
	int64_t last_reap;
	int64_t last_drain;            /* CLOCK_MONOTONIC of the last drain pass */
	int next_sleep_ms;             /* from the fill rates seen by that pass */
	bool debug;                    /* SPANPROF_DEBUG_COUNTS */
} W;

/* Aggregators and exporters inherited over fork: never touched in the child
 * (their locks may be held), kept reachable for the leak checker. */
static void *inherited[64];
static size_t n_inherited;
static pid_t first_pid;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void futex_wake(_Atomic uint32_t *a)
{
	syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Wait until *a - target >= 0 (wrapping) or the deadline passes. */
static bool futex_wait_until(_Atomic uint32_t *a, uint32_t target, int64_t deadline)
{
	for (;;) {
		uint32_t cur = atomic_load(a);
		int64_t left = deadline - mono_ns();
		struct timespec ts;

		if ((int32_t)(cur - target) >= 0)
			return true;
		if (left <= 0)
			return false;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, cur, &ts, NULL, 0);
	}
}

/* A futex rather than an eventfd: the signal handler calls this, and a
 * descriptor could be closed and its number reused by the application
 * between the handler's load and its write. */
static void wake(void)
{
	atomic_fetch_add_explicit(&W.wake_seq, 1, memory_order_release);
	futex_wake(&W.wake_seq);
}

void sp_worker_wake(void)
{
	int saved = errno;

	wake();
	errno = saved;
}

/* Sleep until woken (wake_seq moves away from seen) or timeout_ms pass. */
static void sleep_until_woken(uint32_t seen, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };

	if (atomic_load_explicit(&W.wake_seq, memory_order_acquire) != seen)
		return;
	syscall(SYS_futex, &W.wake_seq, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
}

/* ---- draining ------------------------------------------------------------ */

static void refresh_name(sp_thread *t)
{
	char path[64];
	ssize_t n;
	int fd;

	t->name_epoch = W.seq + 1;
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)t->tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, t->name, sizeof(t->name) - 1);
	close(fd);
	if (n <= 0)
		return;
	if (t->name[n - 1] == '\n')
		n--;
	t->name[n] = '\0';
}

static void ensure_aggregator(void)
{
	sp_aggregator_config ac;
	sp_error err = { "" };

	if (W.agg || W.agg_failed)
		return;
	memset(&ac, 0, sizeof(ac));
	ac.period_ns = (int64_t)(1000000000 / W.cfg.hz);
	ac.symbolize = W.cfg.symbolize;
	ac.span_name_label = true;
	W.agg = sp_aggregator_new(&ac, &err);
	if (!W.agg) {
		W.agg_failed = true;
		sp_log("cannot start the stack aggregator: %s; no profiles will be written",
		       err.msg[0] ? err.msg : "out of memory");
	}
	if (W.agg)
		W.last_trunc = sp_aggregator_truncated(W.agg);
	/* Without it the links file falls back to the interval bounds. */
	if (W.agg && !W.span_times)
		W.span_times = sp_span_times_new(0);
}

/* Drain every ring, and plan the next pass: at half the time the fastest
 * filling ring (at the rate just seen) needs to reach its wake mark, so a
 * steady ring never has to wake us from its signal handler (a futex wake
 * there costs the sampled thread a syscall and an IPI). */
static void drain_all(void)
{
	int64_t now = mono_ns(), since = now - W.last_drain;
	int64_t next_ns = (int64_t)SP_WORKER_IDLE_MS * 1000000;

	for (sp_thread *t = sp_threads_first(); t; t = t->next) {
		int st = atomic_load(&t->state);
		const sp_raw_sample *s;
		sp_ring *ring;
		size_t used;

		if (st != SP_THREAD_LIVE && st != SP_THREAD_DEAD)
			continue;
		ring = t->ring;
		if (!ring)
			continue;
		used = sp_ring_used(ring);
		if (used && W.last_drain && since > 0) {
			int64_t to_mark = (int64_t)((double)since * (double)sp_ring_wake_mark(ring) /
						    (double)used);
			if (to_mark / 2 < next_ns)
				next_ns = to_mark / 2;
		}
		while ((s = sp_ring_peek(ring))) {
			if (t->name_epoch != W.seq + 1)
				refresh_name(t);
			ensure_aggregator();
			if (W.agg)
				sp_aggregator_add(W.agg, s, t->name[0] ? t->name : NULL);
			if (W.span_times)
				sp_span_times_note(W.span_times, &s->span, s->time_ns);
			if (W.debug)
				sp_debug_count(t->name, s);
			t->drained++;
			W.iv_samples++;
			sp_ring_pop(ring);
		}
		sp_ring_rearm(ring);
		if (st == SP_THREAD_DEAD)
			sp_threads_release(t);
	}
	W.last_drain = now;
	W.next_sleep_ms = next_ns < 5000000 ? 5 : (int)(next_ns / 1000000);
}

/* ---- intervals ----------------------------------------------------------- */

static bool has_span_labels(const sp_profile *p)
{
	for (size_t i = 0; i < p->n_samples; i++)
		if (sp_profile_sample_label(p, &p->samples[i], "span_id"))
			return true;
	return false;
}

static void export_profile(sp_profile *p, int64_t from, int64_t until,
			   const sp_links_span_time *times, size_t n_times)
{
	char path[4700], links[4700];
	sp_error err = { "" };

	W.seq++;
	sp_output_profile_path(&W.out, W.seq, path, sizeof(path));
	if (W.out_ok) {
		int r = sp_pprof_write_file(p, path, &err);
		char was[sizeof(W.out.dir)];

		memcpy(was, W.out.dir, sizeof(was));
		if ((r == -EACCES || r == -EPERM || r == -EROFS) && !W.out.fell_back &&
		    sp_output_fallback(&W.out, NULL) == 0) {
			W.out.fell_back = true;
			sp_log("%s is not writable by uid %u; profiles go to %s", was,
			       (unsigned)geteuid(), W.out.dir);
			sp_output_profile_path(&W.out, W.seq, path, sizeof(path));
			r = sp_pprof_write_file(p, path, &err);
		}
		if (r) {
			if (!W.logged_write_error)
				sp_log("%s", err.msg);
			W.logged_write_error = true;
		} else if (has_span_labels(p)) {
			sp_links_context lc = {
				.service = W.cfg.service,
				.profile_path = path,
				.pyroscope_url = W.pyro ?
					sp_pyroscope_server(W.pyro) : NULL,
				.pyroscope_app = W.pyro ?
					sp_pyroscope_app_name(W.pyro) : NULL,
				.from_ns = from,
				.until_ns = until,
				.span_times = times,
				.n_span_times = n_times,
			};
			sp_output_links_path(&W.out, W.seq, links, sizeof(links));
			if (sp_links_write(p, &lc, links, &err) && !W.logged_write_error) {
				sp_log("%s", err.msg);
				W.logged_write_error = true;
			}
		}
		sp_output_retention(&W.out, path, until);
	}
	if (W.pyro)
		sp_pyroscope_enqueue(W.pyro, p, "cpu", from, until);
}

/* "<engine> at <hz> Hz[, because <why>]": `spanprof record` prints it in
 * its summary, since the library itself says nothing on stderr. */
static const char *engine_summary(char *buf, size_t len)
{
	const char *why = sp_threads_engine_reason();

	if (W.cfg.engine == SP_ENGINE_TIMER)
		why = "SPANPROF_ENGINE=timer";
	snprintf(buf, len, "%s at %d Hz%s%s", sp_threads_engine_name(), W.cfg.hz,
		 why[0] ? ", because " : "", why);
	return buf;
}

static void flush_interval(void)
{
	char engine[320];
	int64_t now_wall = wall_ns(), now_mono = mono_ns();
	uint64_t taken, lost, trunc = 0;
	sp_telemetry tel;
	sp_error err = { "" };
	sp_profile *p;
	sp_links_span_time *times = NULL;
	size_t n_times = 0;

	sp_threads_totals(&taken, &lost);
	if (W.agg)
		trunc = sp_aggregator_truncated(W.agg);
	if (W.span_times)
		sp_span_times_take(W.span_times, now_wall - now_mono, &times, &n_times);
	if (W.agg && W.iv_samples) {
		tel.engine = engine_summary(engine, sizeof(engine));
		tel.samples_taken = taken - W.last_taken;
		tel.samples_lost = lost - W.last_lost;
		tel.stacks_truncated = trunc - W.last_trunc;
		tel.threads = sp_threads_count_live();
		p = sp_aggregator_take_profile(W.agg, W.iv_start_wall, now_mono - W.iv_start_mono,
					       &tel, &err);
		if (p) {
			export_profile(p, W.iv_start_wall, now_wall, times, n_times);
			sp_profile_free(p);
		} else if (!W.logged_write_error) {
			sp_log("cannot build the interval profile: %s", err.msg);
			W.logged_write_error = true;
		}
	}
	free(times);
	W.last_taken = taken;
	W.last_lost = lost;
	W.last_trunc = trunc;
	W.iv_samples = 0;
	W.iv_start_wall = now_wall;
	W.iv_start_mono = now_mono;
	if (W.debug) {
		char path[4200];
		/* A forked child writes its own file. */
		if (W.pid != first_pid)
			snprintf(path, sizeof(path), "%s.%d", W.cfg.debug_counts, (int)W.pid);
		else
			snprintf(path, sizeof(path), "%s", W.cfg.debug_counts);
		sp_debug_counts_write(path, W.pid, W.seq);
	}
}

/* dlopen is not interposed (that would make glibc search the RUNPATH of
 * libspanprof instead of the caller's); the loader's add/remove counters
 * tell us instead, checked before each drain. */
static int phdr_counts(struct dl_phdr_info *info, size_t size, void *data)
{
	unsigned long long *c = data;

	(void)size;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1;
}

static void check_modules(void)
{
	static unsigned long long last[2];
	unsigned long long now[2] = { 0, 0 };

	dl_iterate_phdr(phdr_counts, now);
	if (now[0] != last[0] || now[1] != last[1]) {
		if (last[0] && W.agg)
			sp_aggregator_modules_changed(W.agg);
		last[0] = now[0];
		last[1] = now[1];
	}
}

/* How long to sleep when nobody wakes us: what the last drain planned
 * (5 ms to SP_WORKER_IDLE_MS), cut short by the end of the interval. Each
 * wake-up costs tens of µs on a VM: wake no more than the rings need. */
static int sleep_ms(int64_t now, int64_t interval_ns)
{
	int64_t left = (W.iv_start_mono + interval_ns - now) / 1000000 + 1;
	int plan = W.next_sleep_ms > 0 ? W.next_sleep_ms : SP_WORKER_IDLE_MS;

	return left < 1 ? 1 : left < plan ? (int)left : plan;
}

static void *worker_main(void *arg)
{
	int64_t interval_ns = (int64_t)W.cfg.upload_interval_s * 1000000000;
	int left;

	(void)arg;
	sp_tls_internal = 1;
	/* Visible in top -H and perf as ours, not as the application's. */
	pthread_setname_np(pthread_self(), "spanprof");
	/* Work first, then sleep: a wake (or stop) requested before this
	 * thread ran is seen by the first pass. */
	for (;;) {
		/* Read before draining: a wake that comes during the pass makes
		 * the sleep after it return at once. */
		uint32_t seen = atomic_load_explicit(&W.wake_seq, memory_order_acquire);
		uint32_t dr;
		int64_t now;
		bool stop;

		pthread_mutex_lock(&busy_mu);
		if (atomic_exchange(&W.modules_changed, 0) && W.agg)
			sp_aggregator_modules_changed(W.agg);
		check_modules();
		dr = atomic_load(&W.drain_req);
		stop = atomic_load(&W.stop);
		drain_all();
		if (atomic_load(&W.drain_done) != dr) {
			atomic_store(&W.drain_done, dr);
			futex_wake(&W.drain_done);
		}
		now = mono_ns();
		if (now - W.last_reap > 1000000000) {
			sp_threads_reap_foreign();
			sp_threads_check_events();
			W.last_reap = now;
		}
		if (stop || now - W.iv_start_mono >= interval_ns)
			flush_interval();
		if (stop)
			atomic_store(&W.final_written, 1);
		pthread_mutex_unlock(&busy_mu);
		if (stop)
			break;
		sleep_until_woken(seen, sleep_ms(mono_ns(), interval_ns));
	}
	/* Uploads get what is left of the deadline, minus a margin for the
	 * exporter's own teardown, so the caller sees the worker finish. */
	left = (int)((atomic_load(&W.deadline_ns) - mono_ns()) / 1000000);
	left -= left / 10 < 100 ? left / 10 : 100;
	if (W.pyro)
		sp_pyroscope_shutdown(W.pyro, left > 0 ? left : 0);
	W.pyro = NULL;
	atomic_store(&W.exited, 1);
	futex_wake(&W.exited);
	return NULL;
}

/* The worker runs on a stack of its own, never one from glibc's cache: in
 * a fork child the cache holds the parent's dead threads' stacks, whose
 * ASan shadow still marks their old frames (false reports in the ASan
 * build). 8 MiB reserved, touched pages only; the lowest page is a guard. */
#define WORKER_STACK (8u << 20)
static uint8_t *stack_mem;

static void free_stack(void)
{
	if (stack_mem) {
		sp_asan_unpoison(stack_mem + 4096, WORKER_STACK - 4096);
		munmap(stack_mem, WORKER_STACK);
	}
	stack_mem = NULL;
}

/* Start the thread with every signal blocked: it must not take the app's
 * SIGTERM nor our sampling signal. */
static int spawn(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int r, saved = sp_tls_internal;

	stack_mem = mmap(NULL, WORKER_STACK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (stack_mem == MAP_FAILED) {
		stack_mem = NULL;
		return -ENOMEM;
	}
	mprotect(stack_mem, 4096, PROT_NONE);
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack_mem, WORKER_STACK);
	sp_tls_internal = 1; /* our pthread_create wrapper: an internal thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&W.th, &attr, worker_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sp_tls_internal = saved;
	pthread_attr_destroy(&attr);
	if (r)
		free_stack();
	return -r;
}

static int setup(sp_error *err)
{
	sp_error perr = { "" };
	int r;

	/* A second session in the same process keeps counting, so its files
	 * never take the names of the first one's (same second, same stem). */
	if (W.pid != getpid())
		W.seq = 0;
	W.pid = getpid();
	W.iv_start_wall = wall_ns();
	W.iv_start_mono = mono_ns();
	W.iv_samples = 0;
	sp_threads_totals(&W.last_taken, &W.last_lost);
	W.last_trunc = 0;
	W.last_drain = 0;
	W.next_sleep_ms = 0;
	W.agg = NULL;
	W.agg_failed = false;
	W.span_times = NULL;
	W.pyro = NULL;
	W.logged_write_error = false;
	atomic_store(&W.stop, 0);
	atomic_store(&W.exited, 0);
	atomic_store(&W.final_written, 0);
	atomic_store(&W.modules_changed, 0);
	W.debug = W.cfg.debug_counts[0] != '\0' && sp_debug_counts_reset() == 0;
	sp_handler_timing = W.debug;

	r = sp_output_init(&W.out, W.cfg.output_dir, W.cfg.service, W.pid, W.iv_start_wall,
			   W.cfg.retention_mb, W.cfg.retention_hours, err);
	W.out_ok = r == 0;
	if (r)
		sp_log("%s", err->msg);
	else if (W.out.fell_back)
		sp_log("%s is not writable by uid %u; profiles go to %s", W.cfg.output_dir,
		       (unsigned)geteuid(), W.out.dir);

	/* Sets up its own thread; make that one internal too. */
	{
		int saved = sp_tls_internal;
		sp_tls_internal = 1;
		W.pyro = sp_pyroscope_from_env(W.cfg.service, &perr);
		sp_tls_internal = saved;
		if (!W.pyro && perr.msg[0])
			sp_log("%s; profiles stay in local files only", perr.msg);
	}

	r = spawn();
	if (r) {
		return sp_error_set(err, r, "cannot start the profiler thread: %s", strerror(-r));
	}
	W.started = true;
	return 0;
}

int sp_worker_start(const sp_config *cfg, sp_error *err)
{
	if (W.started)
		return -EALREADY;
	W.cfg = *cfg;
	if (!first_pid)
		first_pid = getpid();
	return setup(err);
}

bool sp_worker_running(void)
{
	return W.started;
}

bool sp_worker_stop(int deadline_ms)
{
	bool done;

	if (!W.started)
		return true;
	atomic_store(&W.deadline_ns, mono_ns() + (int64_t)deadline_ms * 1000000);
	atomic_store(&W.stop, 1);
	wake();
	done = futex_wait_until(&W.exited, 1, atomic_load(&W.deadline_ns));
	if (!done) {
		if (atomic_load(&W.final_written))
			sp_log("uploads did not finish within %d ms (SPANPROF_FLUSH_TIMEOUT_MS); "
			       "the last interval is in %s", deadline_ms, W.cfg.output_dir);
		else
			sp_log("final flush did not finish within %d ms (SPANPROF_FLUSH_TIMEOUT_MS); "
			       "the last interval may be missing", deadline_ms);
		pthread_detach(W.th);
		W.started = false;
		return false;
	}
	pthread_join(W.th, NULL);
	free_stack();
	W.started = false;
	if (W.agg)
		sp_aggregator_free(W.agg);
	W.agg = NULL;
	sp_span_times_free(W.span_times);
	W.span_times = NULL;
	return true;
}

bool sp_worker_final_flush_from_signal(int deadline_ms)
{
	if (!W.started)
		return true;
	atomic_store(&W.deadline_ns, mono_ns() + (int64_t)deadline_ms * 1000000);
	atomic_store(&W.stop, 1);
	wake();
	return futex_wait_until(&W.exited, 1, atomic_load(&W.deadline_ns));
}

void sp_worker_modules_changed(void)
{
	atomic_store(&W.modules_changed, 1);
	wake();
}

void sp_worker_sync_drain(int timeout_ms)
{
	uint32_t target;

	if (!W.started || sp_tls_internal || atomic_load(&W.stop))
		return;
	target = atomic_fetch_add(&W.drain_req, 1) + 1;
	wake();
	futex_wait_until(&W.drain_done, target, mono_ns() + (int64_t)timeout_ms * 1000000);
}

void sp_worker_atfork_prepare(void)
{
	if (W.started)
		pthread_mutex_lock(&busy_mu);
}

void sp_worker_atfork_parent(void)
{
	if (W.started)
		pthread_mutex_unlock(&busy_mu);
}

void sp_worker_atfork_child(bool restart)
{
	sp_error err = { "" };

	pthread_mutex_init(&busy_mu, NULL);
	if (!W.started)
		return;
	if (W.agg && n_inherited < 64)
		inherited[n_inherited++] = W.agg;
	if (W.span_times && n_inherited < 64)
		inherited[n_inherited++] = W.span_times;
	if (W.pyro && n_inherited < 64)
		inherited[n_inherited++] = W.pyro;
	W.started = false;
	free_stack(); /* the parent's worker's; no thread uses it here */
	atomic_store(&W.drain_req, 0);
	atomic_store(&W.drain_done, 0);
	if (!restart)
		return;
	if (setup(&err))
		sp_log("profiling stops in this child: %s", err.msg);
}

unsigned sp_worker_files_written(void)
{
	return W.seq;
}
