/* Test tool: builds interval profiles and pushes them through the Pyroscope
 * exporter configured from the environment (sp_pyroscope_from_env), like the
 * profiler does. Compiled by the integration tests against libspanprof_core.a.
 *
 *   pyroscope_push [--intervals N] [--stacks K] [--kinds cpu|memory|both]
 *                  [--period-ms M] [--deadline-ms D] [--span-names]
 *                  [--bad-utf8] [--repeat R] [--local-dir DIR] [--quiet]
 *                  [--base-from UNIX_S] [--shape tree|random] [--fork]
 *                  [--unique-traces] [--wait-version MS]
 *
 * --unique-traces: every labelled sample gets a trace and span of its own
 * (a busy service: thousands of requests per interval), instead of 97.
 * --wait-version: wait up to MS for the exporter to have asked the server
 * its version, print "server_version=..." (empty: unknown), then send.
 *
 * --fork: halfway, fork; the child checks that its copy of the exporter is
 * inert (enqueue -ECHILD), starts its own from the environment, sends one
 * profile (from = base + 1000) and prints "child ..." lines.
 *
 * Per interval it prints "enqueued kind=... from=<s> samples=... total=..."
 * and, at the end, "stats key=value..." plus max_enqueue_us and shutdown_ms.
 * With --local-dir it writes each profile as DIR/<i>-<kind>.pb.gz too.
 * Bad configuration: prints the exporter's one-line message and keeps
 * "running" (the intervals are still built), exit 0. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sinks/export_pyroscope.h"
#include "base/log.h"
/* Weak, so the tool still links against a core from before this API (to
 * show a test failing on an older build for the right reason). */
#pragma weak sp_pyroscope_server_version
#include "model/pprof.h"
#include "model/profile.h"

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* K distinct stacks of up to 32 frames over a program-like pool of functions
 * (K/4 + 16 of them, 2 call sites each, so locations are shared between
 * stacks as in a real program); each stack repeated R times with different
 * span labels. Shape "tree" (default): each stack branches off an earlier
 * one near its leaf end, like a real call tree. "random": every frame drawn
 * at random, 8-32 deep, the worst case for compression. */
static int shape_tree = 1;
static int unique_traces;

static sp_profile *build(const char *kind, int interval, int stacks, int repeat, int span_names,
			 int bad_utf8, int64_t period_ns)
{
	sp_profile *p = sp_profile_new();
	uint64_t map_id, locs[40];
	int *funcs = calloc((size_t)stacks * 40, sizeof(int)), *depths = calloc((size_t)stacks, sizeof(int));
	int pool = stacks / 4 + 16;
	char name[160];
	int s, r, d;

	if (!strcmp(kind, "cpu"))
		sp_profile_init_cpu(p, period_ns);
	else
		sp_profile_init_heap(p, 524288);
	p->time_nanos = now_ns(CLOCK_REALTIME);
	p->duration_nanos = 10000000000LL;
	map_id = sp_profile_add_mapping(p, 0x400000, 0x800000, 0, "/usr/bin/pushd-workload",
					"4f2a9c0d1e2b3c4d5e6f708192a3b4c5d6e7f809");
	for (size_t i = 0; i < p->n_mappings; i++)
		p->mappings[i].has_functions = p->mappings[i].has_filenames =
			p->mappings[i].has_line_numbers = true;
	rng_state = 88172645463325252ull; /* same stacks every interval */
	for (s = 0; s < stacks; s++) {
		int depth = 8 + (int)(rnd() % 25), keep = 0, par = 0;

		/* tree: branch off an earlier stack within its last few frames and
		 * add 1-5 new ones, as call trees fan out near the leaves */
		if (shape_tree && s > 0) {
			par = (int)(rnd() % (uint64_t)s);
			keep = depths[par] - 1 - (int)(rnd() % 5);
			if (keep < 1)
				keep = 1;
			depth = keep + 1 + (int)(rnd() % 5);
			if (depth > 32) {
				keep -= depth - 32;
				depth = 32;
			}
		}
		depths[s] = depth;
		for (d = 0; d < depth; d++) {
			sp_line ln = { 0 };
			uint64_t fn;
			/* root first in funcs[]; pprof stacks are leaf first */
			int from_root = depth - 1 - d, f;
			int site;

			if (from_root < keep)
				f = funcs[par * 40 + from_root];
			else if (from_root == 0)
				f = 0;
			else if (d == 0)
				f = s % pool;
			else
				f = 1 + (int)(rnd() % (uint64_t)(pool - 1));
			funcs[s * 40 + from_root] = f;
			site = f % 2;

			if (f == 0)
				snprintf(name, sizeof(name), "main");
			else
				snprintf(name, sizeof(name),
					 "pushd::service::Handler%d::process_request_%d(std::string const&, int)",
					 f % 37, f);
			if (bad_utf8 && f == 1)
				snprintf(name, sizeof(name), "bad\xff\xfeutf8");
			fn = sp_profile_add_function(p, name, name, "src/pushd/handler.cc", 10 + f);
			ln.function_id = fn;
			ln.line = 100 + site;
			locs[d] = sp_profile_add_location(p, map_id, 0x401000 + (uint64_t)f * 64 + (uint64_t)site * 8,
							  &ln, 1);
		}
		for (r = 0; r < repeat; r++) {
			char span[17], trace[33];
			sp_label lbl[3];
			size_t nl = 0;
			int64_t v[4];
			int64_t count = 1 + (interval * 7 + s + r) % 5;

			if ((s + r) % 3) {
				uint64_t id = unique_traces ?
					(uint64_t)interval << 32 | (uint64_t)s * (uint64_t)repeat + (uint64_t)r :
					(uint64_t)((s + r) % 97);

				snprintf(span, sizeof(span), "%016" PRIx64, 0x1000 + id);
				snprintf(trace, sizeof(trace), "%016" PRIx64 "%016" PRIx64, (uint64_t)0xabc,
					 0x2000 + id);
				lbl[nl++] = sp_profile_str_label(p, "span_id", span);
				lbl[nl++] = sp_profile_str_label(p, "trace_id", trace);
				if (span_names)
					lbl[nl++] = sp_profile_str_label(p, "span_name",
									 (s % 2) ? "GET /users" : "POST /orders");
			}
			if (!strcmp(kind, "cpu")) {
				v[0] = count;
				v[1] = count * period_ns;
			} else {
				v[0] = count;
				v[1] = count * 4096;
				v[2] = count / 2;
				v[3] = (count / 2) * 4096;
			}
			sp_profile_add_sample(p, locs, (size_t)depth, v, lbl, nl);
		}
	}
	free(funcs);
	free(depths);
	return p;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "intervals", 1, 0, 'n' }, { "stacks", 1, 0, 'k' },     { "kinds", 1, 0, 't' },
		{ "period-ms", 1, 0, 'p' }, { "deadline-ms", 1, 0, 'd' }, { "span-names", 0, 0, 's' },
		{ "bad-utf8", 0, 0, 'u' },  { "repeat", 1, 0, 'r' },      { "local-dir", 1, 0, 'l' },
		{ "quiet", 0, 0, 'q' },     { "base-from", 1, 0, 'b' },   { "shape", 1, 0, 'S' },
		{ "fork", 0, 0, 'f' },      { "unique-traces", 0, 0, 'U' },
		{ "wait-version", 1, 0, 'W' }, { 0, 0, 0, 0 },
	};
	int intervals = 5, stacks = 50, period_ms = 100, deadline_ms = 5000, span_names = 0;
	int bad_utf8 = 0, repeat = 1, quiet = 0, do_fork = 0, wait_version = -1, c, i;
	pid_t child = -1;
	const char *kinds = "cpu", *local_dir = NULL;

	/* The exporter's lines are what the tests read: this tool always
	 * logs, as SPANPROF_LOG=1 makes the library do. */
	sp_log_set_enabled(true);
	int64_t max_enqueue = 0, t0, base_s = now_ns(CLOCK_REALTIME) / 1000000000 - 100000;
	sp_pyroscope_stats st;
	sp_pyroscope *x;
	sp_error err = { { 0 } };

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': intervals = atoi(optarg); break;
		case 'k': stacks = atoi(optarg); break;
		case 't': kinds = optarg; break;
		case 'p': period_ms = atoi(optarg); break;
		case 'd': deadline_ms = atoi(optarg); break;
		case 's': span_names = 1; break;
		case 'u': bad_utf8 = 1; break;
		case 'r': repeat = atoi(optarg); break;
		case 'l': local_dir = optarg; break;
		case 'q': quiet = 1; break;
		case 'b': base_s = atoll(optarg); break;
		case 'S': shape_tree = strcmp(optarg, "random") != 0; break;
		case 'f': do_fork = 1; break;
		case 'U': unique_traces = 1; break;
		case 'W': wait_version = atoi(optarg); break;
		default: return 2;
		}
	}
	x = sp_pyroscope_from_env(NULL, &err);
	if (!x && err.msg[0])
		fprintf(stderr, "spanprof: %s\n", err.msg);
	if (x && !quiet)
		printf("exporter server=%s app=%s\n", sp_pyroscope_server(x), sp_pyroscope_app_name(x));
	if (x && wait_version >= 0) {
		char ver[32];

		if (sp_pyroscope_server_version)
			sp_pyroscope_server_version(x, wait_version, ver, sizeof(ver));
		else
			snprintf(ver, sizeof(ver), "?");
		printf("server_version=%s\n", ver);
	}
	for (i = 0; i < intervals; i++) {
		const char *ks[2] = { "cpu", "memory" };
		int k;

		for (k = 0; k < 2; k++) {
			sp_profile *p;
			int64_t from, total;
			int ret = 0;

			if (strcmp(kinds, "both") && strcmp(kinds, ks[k]))
				continue;
			p = build(ks[k], i, stacks, repeat, span_names, bad_utf8, 10000000);
			/* from identifies the interval in the receiver's index */
			from = (base_s + i) * 1000000000LL;
			total = sp_profile_total(p, 1);
			if (local_dir) {
				char path[4096];
				sp_error werr;

				snprintf(path, sizeof(path), "%s/%03d-%s.pb.gz", local_dir, i, ks[k]);
				if (sp_pprof_write_file(p, path, &werr))
					fprintf(stderr, "write %s: %s\n", path, werr.msg);
			}
			t0 = now_ns(CLOCK_MONOTONIC);
			if (x)
				ret = sp_pyroscope_enqueue(x, p, ks[k], from, from + 1000000000LL);
			t0 = now_ns(CLOCK_MONOTONIC) - t0;
			if (t0 > max_enqueue)
				max_enqueue = t0;
			if (!quiet)
				printf("enqueued kind=%s from=%" PRId64 " samples=%zu total=%" PRId64
				       " ret=%d\n",
				       ks[k], from / 1000000000, p->n_samples, total, ret);
			sp_profile_free(p);
		}
		fflush(stdout);
		if (do_fork && i == intervals / 2 && (child = fork()) == 0) {
			sp_profile *p = build("cpu", 0, stacks, 1, 0, 0, 10000000);
			int64_t from = (base_s + 1000) * 1000000000LL;
			sp_pyroscope *mine;
			sp_error cerr = { { 0 } };
			int r1, r2 = -1;

			r1 = x ? sp_pyroscope_enqueue(x, p, "cpu", from, from + 1000000000LL) : 0;
			sp_pyroscope_shutdown(x, 0); /* inert in the child */
			mine = sp_pyroscope_from_env(NULL, &cerr);
			if (mine)
				r2 = sp_pyroscope_enqueue(mine, p, "cpu", from, from + 1000000000LL);
			sp_pyroscope_shutdown_stats(mine, 5000, &st);
			printf("child inherited_enqueue=%d own_enqueue=%d sent=%" PRIu64 " from=%" PRId64 "\n",
			       r1, r2, st.sent, from / 1000000000);
			sp_profile_free(p);
			fflush(stdout);
			_exit(0);
		}
		if (period_ms > 0)
			usleep((useconds_t)period_ms * 1000);
	}
	if (child > 0)
		waitpid(child, NULL, 0);
	t0 = now_ns(CLOCK_MONOTONIC);
	sp_pyroscope_shutdown_stats(x, deadline_ms, &st);
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	printf("stats sent=%" PRIu64 " retried=%" PRIu64 " dropped=%" PRIu64 " failed=%" PRIu64
	       " bytes_sent=%" PRIu64 " queued=%" PRIu64 " peak_queued_bytes=%" PRIu64
	       " spilled=%" PRIu64 " spill_pending=%" PRIu64 " requests=%" PRIu64
	       " wire_bytes=%" PRIu64 " split=%" PRIu64 " thread_cpu_ns=%" PRIu64
	       " encode_cpu_ns=%" PRIu64 " max_enqueue_us=%" PRId64 " shutdown_ms=%" PRId64 "\n",
	       st.sent, st.retried, st.dropped, st.failed, st.bytes_sent, st.queued,
	       st.peak_queued_bytes, st.spilled, st.spill_pending, st.requests, st.wire_bytes,
	       st.split, st.thread_cpu_ns, st.encode_cpu_ns, max_enqueue / 1000, t0 / 1000000);
	printf("host still running: %d intervals done\n", intervals);
	return 0;
}
