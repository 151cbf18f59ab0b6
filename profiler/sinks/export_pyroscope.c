/* Grafana Pyroscope exporter: a thread that POSTs queued profiles to
 * {server}/ingest?name=...&format=pprof with libcurl, strictly in order,
 * retrying 429/5xx/network failures with capped backoff and jitter and never
 * retrying other refusals. Server behaviour: shared/reference/pyroscope-api.md.
 *
 * Threads: the caller's (sp_pyroscope_enqueue: encode, then a short critical
 * section; it never waits for the network) and the exporter's (the only one
 * touching curl). One mutex guards the queue, the counters and the log-once
 * state; it is never held during a request. */
#include "sinks/export_pyroscope.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sinks/curl_dl.h"
#include "base/log.h"
#include "sinks/pyroscope_prepare.h"
#include "sinks/pyroscope_spill.h"
#include "sinks/upload_queue.h"

#define PFX "pyroscope: "
#define MAX_PARTS 64
#define FUTURE_SLACK_NS (570LL * 1000000000) /* server: reject_newer_than 10 min */

enum log_once {
	LOG_QUEUE_FULL = 1u << 0,
	LOG_EXPIRED = 1u << 1,
	LOG_PREPARE = 1u << 2,
	LOG_TIME = 1u << 3,
	LOG_SPILL = 1u << 4,
	LOG_TOO_BIG = 1u << 5,
	LOG_SPILL_READ = 1u << 6,
};

struct result {
	int curl_code;
	long status;
	long retry_after_ms;
	char msg[300];
};

struct sp_pyroscope {
	struct sp_pyroscope *reg_next; /* live exporters, for the fork handlers */
	pid_t pid;                     /* owner; in a forked child the copy is inert */
	sp_pyroscope_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	pthread_t thread;
	bool thread_started;
	bool stopping;       /* atomic reads from the curl progress callback */
	int64_t deadline_ms; /* monotonic; valid when stopping */
	sp_upload_queue q;
	sp_pyroscope_stats st;
	uint64_t rng;
	uint32_t spill_counter;
	bool spill_ok;
	uint32_t logged;
	long refused_logged[16];
	size_t n_refused_logged;
	bool outage;           /* a retryable failure was logged, no success since */
	uint64_t outage_failures;
	/* What the server said of its version (GET /api/v1/status/buildinfo,
	 * asked once by the exporter thread before its first upload). */
	bool version_done;     /* asked (or not needed); under the lock */
	bool keep_trace_id;    /* atomic: the server keeps trace_id a sample label */
	char server_version[32];

	/* exporter thread only */
	CURL *curl;
	struct curl_slist *headers;
	char *url_prefix; /* server + "/ingest?" */
	char errbuf[CURL_ERROR_SIZE];
	char resp[1024];
	size_t resp_len;
	long retry_after_ms;
	uint64_t req_bytes;  /* request bytes of the current attempt */
	double tokens;       /* pacing: the server's per-tenant token bucket */
	int64_t tokens_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* The exporter's lines go to the configured sink, else to sp_log. */
#define logf_(x, fmt, ...) sp_log_to((x)->cfg.log, (x)->cfg.log_ctx, PFX fmt, ##__VA_ARGS__)

/* Under the lock. */
static bool once(sp_pyroscope *x, uint32_t bit)
{
	if (x->logged & bit)
		return false;
	x->logged |= bit;
	return true;
}

/* ---- curl ----------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	sp_pyroscope *x = ctx;
	size_t n = size * nmemb, room = sizeof(x->resp) - 1 - x->resp_len;

	if (room) {
		size_t take = n < room ? n : room;
		memcpy(x->resp + x->resp_len, data, take);
		x->resp_len += take;
		x->resp[x->resp_len] = '\0';
	}
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	sp_pyroscope *x = ctx;
	size_t n = size * nmemb;

	if (n > 12 && !strncasecmp(data, "Retry-After:", 12)) {
		char buf[32];
		size_t l = n - 12 < sizeof(buf) - 1 ? n - 12 : sizeof(buf) - 1;
		long s;

		memcpy(buf, data + 12, l);
		buf[l] = '\0';
		s = strtol(buf, NULL, 10); /* HTTP-date form: ignored (0) */
		if (s > 0 && s < 86400)
			x->retry_after_ms = s * 1000;
	}
	return n;
}

/* Bytes handed to the connection (headers and body, before TLS). */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
	sp_pyroscope *x = ctx;

	if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
		x->req_bytes += size;
	return 0;
}

/* Abort a request in flight when the shutdown deadline passes. */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	sp_pyroscope *x = ctx;

	return __atomic_load_n(&x->stopping, __ATOMIC_ACQUIRE) &&
	       mono_ms() >= __atomic_load_n(&x->deadline_ms, __ATOMIC_ACQUIRE);
}

static int header_add(struct curl_slist **l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int header_add(struct curl_slist **l, const char *fmt, ...)
{
	struct curl_slist *n;
	char *h = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&h, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	n = curl_slist_append(*l, h);
	memset(h, 0, (size_t)r); /* may hold a token */
	free(h);
	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

static int setup_curl(sp_pyroscope *x, sp_error *err)
{
	sp_pyroscope_config *c = &x->cfg;
	CURL *h = curl_easy_init();
	size_t i;
	int r = 0;

	if (!h)
		return sp_error_set(err, -ENOMEM, "pyroscope: curl_easy_init failed");
	x->curl = h;
	r |= header_add(&x->headers, "Content-Type: application/octet-stream");
	r |= header_add(&x->headers, "Expect:"); /* no 1 s wait for 100-continue */
	if (c->tenant_id)
		r |= header_add(&x->headers, "X-Scope-OrgID: %s", c->tenant_id);
	if (c->bearer_token)
		r |= header_add(&x->headers, "Authorization: Bearer %s", c->bearer_token);
	/* Extra headers last: with curl a user header replaces its own. */
	for (i = 0; i < c->n_headers; i++)
		r |= *c->headers[i].value ?
			     header_add(&x->headers, "%s: %s", c->headers[i].name, c->headers[i].value) :
			     header_add(&x->headers, "%s;", c->headers[i].name);
	if (r)
		return sp_error_set(err, -ENOMEM, "pyroscope: out of memory");
	if (asprintf(&x->url_prefix, "%s/ingest?", c->server) < 0) {
		x->url_prefix = NULL;
		return sp_error_set(err, -ENOMEM, "pyroscope: out of memory");
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "spanprof/0.1.0");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* as pyroscope-go */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, x);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* only feeds on_debug */
	if (c->basic_user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->basic_user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->basic_password);
	}
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return 0;
}

/* Pull "message" out of the server's {"code":...,"message":"..."} body. */
static void server_message(const char *body, char *out, size_t len)
{
	const char *m = strstr(body, "\"message\"");
	size_t o = 0;

	if (m && (m = strchr(m + 9, '"'))) {
		for (m++; *m && *m != '"' && o + 1 < len; m++) {
			if (*m == '\\' && m[1])
				m++;
			out[o++] = (unsigned char)*m < 0x20 ? ' ' : *m;
		}
		out[o] = '\0';
		return;
	}
	for (; *body && o + 1 < len; body++)
		out[o++] = (unsigned char)*body < 0x20 ? ' ' : *body;
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static void post(sp_pyroscope *x, const char *query, const uint8_t *body, size_t len,
		 struct result *r)
{
	CURL *h = x->curl;
	char *url = NULL;
	long timeout = x->cfg.timeout_ms;

	memset(r, 0, sizeof(*r));
	x->resp_len = 0;
	x->resp[0] = '\0';
	x->errbuf[0] = '\0';
	x->retry_after_ms = 0;
	x->req_bytes = 0;
	if (asprintf(&url, "%s%s", x->url_prefix, query) < 0) {
		r->curl_code = CURLE_OUT_OF_MEMORY;
		snprintf(r->msg, sizeof(r->msg), "out of memory");
		return;
	}
	if (__atomic_load_n(&x->stopping, __ATOMIC_ACQUIRE)) {
		long left = (long)(__atomic_load_n(&x->deadline_ms, __ATOMIC_ACQUIRE) - mono_ms());
		if (left < timeout)
			timeout = left > 1 ? left : 1;
	}
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	r->curl_code = (int)curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	r->retry_after_ms = x->retry_after_ms;
	if (r->curl_code)
		snprintf(r->msg, sizeof(r->msg), "%s",
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror((CURLcode)r->curl_code));
	else
		server_message(x->resp, r->msg, sizeof(r->msg));
	pthread_mutex_lock(&x->lock);
	x->st.requests++;
	x->st.wire_bytes += x->req_bytes;
	pthread_mutex_unlock(&x->lock);
	free(url);
}

/* ---- queue policy ---------------------------------------------------------- */

static void drop_item(sp_pyroscope *x, sp_upload_item *it)
{
	if (it->spill_path)
		unlink(it->spill_path);
	sp_upload_queue_remove(&x->q, it);
	sp_upload_item_free(it);
}

/* Keep the spill directory under its byte limit: drop the oldest files. */
static void trim_spill(sp_pyroscope *x)
{
	while (x->q.disk_bytes > x->cfg.spill_max_bytes) {
		sp_upload_item *old = sp_upload_queue_oldest_disk(&x->q);

		if (!old)
			break;
		drop_item(x, old);
		x->st.dropped++;
	}
}

/* Under the lock: an in-memory item must leave memory. */
static int evict(void *ctx, sp_upload_queue *q, sp_upload_item *it)
{
	sp_pyroscope *x = ctx;
	sp_error err;
	char *path;

	if (x->spill_ok) {
		if (!sp_spill_write(x->cfg.spill_dir, it, x->spill_counter++, &path, &err)) {
			sp_upload_queue_to_disk(q, it, path);
			x->st.spilled++;
			trim_spill(x);
			return 0;
		}
		if (once(x, LOG_SPILL))
			logf_(x, "%s; dropping instead", err.msg);
	}
	x->st.dropped++;
	if (once(x, LOG_QUEUE_FULL))
		logf_(x, "upload queue full (%zu profiles, %zu bytes): dropping the oldest; the server is slow or down (raise SPANPROF_PYROSCOPE_QUEUE_MAX/_BYTES or set SPANPROF_PYROSCOPE_SPILL_DIR)",
		      q->max_count, q->max_bytes);
	return -1;
}

static void fill_counts(sp_pyroscope *x)
{
	x->st.queued = x->q.mem_count;
	x->st.queued_bytes = x->q.mem_bytes;
	x->st.peak_queued_bytes = x->q.peak_bytes;
	x->st.spill_pending = x->q.disk_count;
}

/* Under the lock: next item to send, discarding those too old for the
 * server's ingestion window (it would answer 422). */
static sp_upload_item *pick(sp_pyroscope *x)
{
	int64_t oldest = wall_ns() - (int64_t)x->cfg.max_age_s * 1000000000;
	sp_upload_item *it;

	while ((it = sp_upload_queue_next(&x->q)) && it->time_ns && it->time_ns < oldest) {
		if (once(x, LOG_EXPIRED))
			logf_(x, "discarding %s profiles older than %ld s: Pyroscope refuses profiles older than 1 h",
			      it->kind[0] ? it->kind : "queued", x->cfg.max_age_s);
		drop_item(x, it);
		x->st.dropped++;
	}
	return it;
}

static bool refused_once(sp_pyroscope *x, long status)
{
	size_t i;

	for (i = 0; i < x->n_refused_logged; i++)
		if (x->refused_logged[i] == status)
			return false;
	if (x->n_refused_logged < sizeof(x->refused_logged) / sizeof(x->refused_logged[0]))
		x->refused_logged[x->n_refused_logged++] = status;
	return true;
}

static const char *advice(int curl_code)
{
	switch (curl_code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return " (certificate not trusted: set SPANPROF_PYROSCOPE_CA_FILE to the CA that signed it, or SPANPROF_PYROSCOPE_INSECURE=1 to skip verification)";
	case CURLE_COULDNT_RESOLVE_HOST:
		return " (check the host name in PYROSCOPE_SERVER_ADDRESS)";
	default:
		return "";
	}
}

/* Under the lock, after a request. */
static void settle(sp_pyroscope *x, sp_upload_item *it, const struct result *r)
{
	enum sp_upload_outcome o = sp_upload_classify(r->curl_code, r->status);
	long delay;

	if (r->curl_code == CURLE_ABORTED_BY_CALLBACK)
		return; /* shutdown deadline: not a failure of the server */
	switch (o) {
	case SP_UPLOAD_OK:
		x->st.sent++;
		x->st.bytes_sent += it->len;
		if (x->outage)
			logf_(x, "uploads to %s work again (after %" PRIu64 " failed attempts)",
			      x->cfg.server, x->outage_failures);
		x->outage = false;
		x->outage_failures = 0;
		drop_item(x, it);
		break;
	case SP_UPLOAD_REFUSED:
		x->st.failed++;
		if (refused_once(x, r->status))
			logf_(x, "server refused a %s profile with HTTP %ld%s%s; not retrying it (later refusals with this status are only counted)",
			      it->kind, r->status, r->msg[0] ? ": " : "", r->msg);
		drop_item(x, it);
		break;
	case SP_UPLOAD_RETRY:
		it->attempts++;
		x->st.retried++;
		x->outage_failures++;
		delay = sp_backoff_ms(it->attempts, x->cfg.retry_base_ms, x->cfg.retry_max_ms, &x->rng);
		if (r->retry_after_ms > delay)
			delay = r->retry_after_ms < x->cfg.retry_max_ms ? r->retry_after_ms :
									  x->cfg.retry_max_ms;
		it->not_before_ms = mono_ms() + delay;
		if (!x->outage) {
			char why[480];

			if (r->curl_code)
				snprintf(why, sizeof(why), "%s%s", r->msg, advice(r->curl_code));
			else
				snprintf(why, sizeof(why), "HTTP %ld%s%s", r->status,
					 r->msg[0] ? ": " : "", r->msg);
			logf_(x, "upload to %s failed (%s); retrying with backoff up to %ld ms, keeping up to %zu profiles%s%s",
			      x->cfg.server, why, x->cfg.retry_max_ms, x->q.max_count,
			      x->spill_ok ? " in memory, then spilling to " : "",
			      x->spill_ok ? x->cfg.spill_dir : "");
			x->outage = true;
		}
		break;
	}
}

/* Exporter thread, before the first upload: ask the server its version
 * once. Any failure (old server without the route, a proxy, a timeout)
 * leaves it unknown, and unknown means trace_id is not sent. */
static void ask_version(sp_pyroscope *x)
{
	CURL *h = x->curl;
	char *url = NULL;
	long status = 0;
	int major, minor, patch;
	bool keep = false;
	CURLcode rc;

	if (x->cfg.trace_id != SP_PYRO_TRACE_ID_AUTO ||
	    asprintf(&url, "%s/api/v1/status/buildinfo", x->cfg.server) < 0)
		goto out;
	x->resp_len = 0;
	x->resp[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 x->cfg.timeout_ms < 5000 ? x->cfg.timeout_ms : 5000L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (rc == CURLE_OK && status == 200 &&
	    sp_pyroscope_parse_buildinfo(x->resp, &major, &minor, &patch)) {
		keep = sp_pyroscope_version_keeps_trace_id(major, minor, patch);
		pthread_mutex_lock(&x->lock);
		snprintf(x->server_version, sizeof(x->server_version), "%d.%d.%d", major, minor,
			 patch);
		pthread_mutex_unlock(&x->lock);
	}
out:
	free(url);
	__atomic_store_n(&x->keep_trace_id, keep, __ATOMIC_RELEASE);
	pthread_mutex_lock(&x->lock);
	x->version_done = true;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

static void *exporter_main(void *arg)
{
	sp_pyroscope *x = arg;

	ask_version(x);
	pthread_mutex_lock(&x->lock);
	for (;;) {
		sp_upload_item *it;
		uint8_t *body = NULL, *loaded = NULL;
		char *query = NULL, *lq = NULL, kind[8];
		size_t len = 0;
		int64_t now = mono_ms(), t;
		struct result r;
		sp_error err;

		if (x->stopping && now >= x->deadline_ms)
			break;
		it = pick(x);
		if (!it) {
			if (x->stopping)
				break;
			pthread_cond_wait(&x->cond, &x->lock);
			continue;
		}
		if (it->not_before_ms > now) {
			int64_t until = it->not_before_ms;
			struct timespec ts;

			if (x->stopping && x->deadline_ms < until)
				until = x->deadline_ms;
			ts.tv_sec = until / 1000;
			ts.tv_nsec = (until % 1000) * 1000000;
			pthread_cond_timedwait(&x->cond, &x->lock, &ts);
			continue;
		}
		if (x->cfg.rate_bytes > 0 && (double)it->cost <= x->cfg.burst_bytes) {
			x->tokens += (double)(now - x->tokens_ms) * x->cfg.rate_bytes / 1000.0;
			if (x->tokens > x->cfg.burst_bytes)
				x->tokens = x->cfg.burst_bytes;
			x->tokens_ms = now;
			if (x->tokens < (double)it->cost) {
				int64_t until = now + 1 +
						(int64_t)(((double)it->cost - x->tokens) * 1000.0 /
							  x->cfg.rate_bytes);
				struct timespec ts;

				if (x->stopping && x->deadline_ms < until)
					until = x->deadline_ms;
				ts.tv_sec = until / 1000;
				ts.tv_nsec = (until % 1000) * 1000000;
				pthread_cond_timedwait(&x->cond, &x->lock, &ts);
				continue;
			}
		}
		it->in_flight = true;
		body = it->body;
		len = it->len;
		query = it->query;
		pthread_mutex_unlock(&x->lock);

		if (!body) {
			if (sp_spill_read(it->spill_path, &lq, &loaded, &len, &t, kind, &err)) {
				pthread_mutex_lock(&x->lock);
				it->in_flight = false;
				if (once(x, LOG_SPILL_READ))
					logf_(x, "%s; discarded", err.msg);
				drop_item(x, it);
				x->st.dropped++;
				continue;
			}
			body = loaded;
			query = lq;
		}
		post(x, query, body, len, &r);
		free(loaded);
		free(lq);

		pthread_mutex_lock(&x->lock);
		it->in_flight = false;
		if (r.status)
			x->tokens = r.status == 429 ? 0 : x->tokens - (double)it->cost;
		settle(x, it, &r);
		x->st.thread_cpu_ns = thread_cpu_ns();
	}
	x->st.thread_cpu_ns = thread_cpu_ns();
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

/* ---- fork ---------------------------------------------------------------------
 * The child of a fork has a copy of every exporter but not its thread. Hold
 * each exporter's mutex across fork() so the copy is never taken locked; the
 * child's copy is then inert (enqueue: -ECHILD; shutdown leaves it alone,
 * curl's state in it belongs to the parent's connection). */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static sp_pyroscope *reg_head;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	sp_pyroscope *x;

	pthread_mutex_lock(&reg_lock);
	for (x = reg_head; x; x = x->reg_next)
		pthread_mutex_lock(&x->lock);
}

static void fork_parent(void)
{
	sp_pyroscope *x;

	for (x = reg_head; x; x = x->reg_next)
		pthread_mutex_unlock(&x->lock);
	pthread_mutex_unlock(&reg_lock);
}

static void fork_child(void)
{
	/* the forking thread holds these; it is the child's only thread */
	fork_parent();
}

static void atfork_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void sp_pyroscope_fork_handlers_init(void)
{
	pthread_once(&atfork_once, atfork_init);
}

static void reg_add(sp_pyroscope *x)
{
	sp_pyroscope_fork_handlers_init();
	pthread_mutex_lock(&reg_lock);
	x->reg_next = reg_head;
	reg_head = x;
	pthread_mutex_unlock(&reg_lock);
}

static void reg_del(sp_pyroscope *x)
{
	sp_pyroscope **pp;

	pthread_mutex_lock(&reg_lock);
	for (pp = &reg_head; *pp; pp = &(*pp)->reg_next)
		if (*pp == x) {
			*pp = x->reg_next;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
}

/* ---- public API ------------------------------------------------------------- */

static void destroy(sp_pyroscope *x)
{
	if (!x)
		return;
	sp_upload_queue_clear(&x->q);
	if (x->curl)
		curl_easy_cleanup(x->curl);
	if (x->headers)
		curl_slist_free_all(x->headers);
	free(x->url_prefix);
	pthread_cond_destroy(&x->cond);
	pthread_mutex_destroy(&x->lock);
	sp_pyroscope_config_free(&x->cfg);
	free(x);
}

sp_pyroscope *sp_pyroscope_start(sp_pyroscope_config *cfg, sp_error *err)
{
	sp_pyroscope *x = calloc(1, sizeof(*x));
	pthread_condattr_t ca;
	sigset_t all, old;
	sp_error e2;
	int ret;

	if (!x) {
		sp_pyroscope_config_free(cfg);
		sp_error_set(err, -ENOMEM, "pyroscope: out of memory");
		return NULL;
	}
	x->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&x->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cond, &ca);
	pthread_condattr_destroy(&ca);
	sp_upload_queue_init(&x->q, x->cfg.queue_max, x->cfg.queue_max_bytes);
	x->rng = (uint64_t)wall_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)x;
	x->tokens = x->cfg.burst_bytes;
	x->tokens_ms = mono_ms();
	if (!x->cfg.server || !x->cfg.name) {
		sp_error_set(err, -EINVAL, "pyroscope: no server or name configured");
		goto fail;
	}
	if (sp_curl_load(err))
		goto fail;
	if (setup_curl(x, err))
		goto fail;
	if (x->cfg.spill_dir) {
		if (sp_spill_init(x->cfg.spill_dir, &e2) ||
		    sp_spill_load(x->cfg.spill_dir, &x->q, &e2) < 0)
			logf_(x, "%s; spilling to disk is off", e2.msg);
		else
			x->spill_ok = true;
	}
	/* The exporter thread takes no signals: profiling signals and the
	 * host's handlers stay on the host's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&x->thread, NULL, exporter_main, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		sp_error_set(err, -ret, "pyroscope: cannot start the upload thread: %s", strerror(ret));
		goto fail;
	}
	pthread_setname_np(x->thread, "spanprof-pyro");
	x->thread_started = true;
	x->pid = getpid();
	reg_add(x);
	return x;
fail:
	destroy(x);
	return NULL;
}

sp_pyroscope *sp_pyroscope_from_env(const char *service, sp_error *err)
{
	return sp_pyroscope_from_getenv(service, sp_getenv_process, NULL, err);
}

sp_pyroscope *sp_pyroscope_from_getenv(const char *service, sp_getenv_fn get,
				       void *ctx, sp_error *err)
{
	sp_pyroscope_config cfg;
	sp_pyroscope *x;
	int ret;

	ret = sp_pyroscope_config_from_env(&cfg, get, ctx, service, NULL, NULL, err);
	if (ret == 1) {
		if (err)
			err->msg[0] = '\0';
		return NULL;
	}
	if (ret < 0) {
		sp_error_prefix(err, "Pyroscope upload disabled");
		return NULL;
	}
	x = sp_pyroscope_start(&cfg, err);
	if (!x)
		sp_error_prefix(err, "Pyroscope upload disabled");
	return x;
}

int sp_pyroscope_enqueue(sp_pyroscope *x, const sp_profile *p, const char *profile_type,
			 int64_t from_ns, int64_t until_ns)
{
	sp_pyroscope_prep o;
	sp_pyroscope_part *parts = NULL;
	size_t n = 0, i;
	uint64_t cpu0 = thread_cpu_ns();
	int64_t t, now = wall_ns();
	char *query = NULL;
	sp_error err;
	int ret;

	if (!x || !p || !profile_type)
		return -EINVAL;
	if (x->pid != getpid())
		return -ECHILD; /* a forked child's copy: no thread behind it */
	if (!p->n_samples)
		return 0; /* the server would answer 200 and ingest nothing */
	t = p->time_nanos ? p->time_nanos : from_ns;
	if (t < now - (int64_t)x->cfg.max_age_s * 1000000000 || t > now + FUTURE_SLACK_NS) {
		pthread_mutex_lock(&x->lock);
		x->st.failed++;
		if (once(x, LOG_TIME))
			logf_(x, "%s profile time is %+" PRId64 " s from now, outside what Pyroscope accepts (-1 h .. +10 min); not sent",
			      profile_type, (t - now) / 1000000000);
		pthread_mutex_unlock(&x->lock);
		return -EINVAL;
	}
	o.keep_span_name = x->cfg.span_name;
	o.keep_thread_name = x->cfg.thread_name;
	o.keep_trace_id = x->cfg.trace_id == SP_PYRO_TRACE_ID_ALWAYS ||
			  (x->cfg.trace_id == SP_PYRO_TRACE_ID_AUTO &&
			   __atomic_load_n(&x->keep_trace_id, __ATOMIC_ACQUIRE));
	o.max_samples = x->cfg.max_samples;
	o.max_bytes = x->cfg.max_profile_bytes;
	o.max_parts = MAX_PARTS;
	o.gzip_level = x->cfg.gzip_level;
	ret = sp_pyroscope_prepare(p, profile_type, &o, from_ns, until_ns, &parts, &n, &err);
	if (!ret) {
		query = sp_pyroscope_build_query(x->cfg.name, from_ns, until_ns,
						 !strcmp(profile_type, "cpu") ?
							 sp_pyroscope_sample_rate(p) : 0);
		if (!query)
			ret = sp_error_set(&err, -ENOMEM, "pyroscope: out of memory");
	}
	pthread_mutex_lock(&x->lock);
	if (ret) {
		x->st.failed++;
		if (once(x, LOG_PREPARE))
			logf_(x, "%s; not sent", err.msg + (strncmp(err.msg, "pyroscope: ", 11) ? 0 : 11));
		goto out;
	}
	for (i = 0; i < n; i++) {
		char *q = i + 1 == n ? query : strdup(query);
		sp_upload_item *it = q ? sp_upload_item_new(q, parts[i].body, parts[i].len, t,
							    profile_type) : NULL;

		if (it)
			it->cost = parts[i].raw_len + strlen(x->cfg.name);

		if (!it) {
			if (q != query)
				free(q);
			x->st.dropped++;
			continue;
		}
		if (i + 1 == n)
			query = NULL;
		parts[i].body = NULL;
		if (it->len > x->q.max_bytes ||
		    sp_upload_queue_make_room(&x->q, it->len, evict, x) < 0) {
			if (once(x, LOG_TOO_BIG))
				logf_(x, "a %zu-byte %s profile does not fit in the upload queue (%zu bytes); dropped",
				      it->len, profile_type, x->q.max_bytes);
			sp_upload_item_free(it);
			x->st.dropped++;
			continue;
		}
		sp_upload_queue_push(&x->q, it);
	}
	if (n > 1)
		x->st.split += n - 1;
	pthread_cond_broadcast(&x->cond); /* the exporter, or a version waiter */
out:
	x->st.encode_cpu_ns += thread_cpu_ns() - cpu0;
	pthread_mutex_unlock(&x->lock);
	free(query);
	sp_pyroscope_parts_free(parts, n);
	return ret;
}

void sp_pyroscope_get_stats(sp_pyroscope *x, sp_pyroscope_stats *out)
{
	if (!x) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&x->lock);
	fill_counts(x);
	*out = x->st;
	pthread_mutex_unlock(&x->lock);
}

const char *sp_pyroscope_app_name(const sp_pyroscope *x)
{
	return x ? x->cfg.app : NULL;
}

const char *sp_pyroscope_server(const sp_pyroscope *x)
{
	return x ? x->cfg.server : NULL;
}

int sp_pyroscope_server_version(sp_pyroscope *x, int wait_ms, char *buf, size_t len)
{
	struct timespec ts;
	int64_t until = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	int ret;

	if (len)
		buf[0] = '\0';
	if (!x || x->pid != getpid())
		return 0;
	ts.tv_sec = until / 1000;
	ts.tv_nsec = (until % 1000) * 1000000;
	pthread_mutex_lock(&x->lock);
	while (!x->version_done && !x->stopping &&
	       pthread_cond_timedwait(&x->cond, &x->lock, &ts) != ETIMEDOUT)
		;
	ret = x->server_version[0] ? 1 : 0;
	if (len)
		snprintf(buf, len, "%s", x->server_version);
	pthread_mutex_unlock(&x->lock);
	return ret;
}

/* Under the lock: one line at exit, what reached the server and what did not. */
static void exit_summary(sp_pyroscope *x, size_t left, size_t spilled, int deadline_ms)
{
	char tail[600] = "";

	if (spilled)
		snprintf(tail, sizeof(tail), "; %zu not uploaded within the %d ms shutdown deadline: %zu spilled to %s (sent by the next run), %zu dropped",
			 left + spilled, deadline_ms, spilled, x->cfg.spill_dir, left);
	else if (left)
		snprintf(tail, sizeof(tail), "; %zu not uploaded within the %d ms shutdown deadline: dropped",
			 left, deadline_ms);
	/* One line at exit: what reached the server and what did not; only
	 * informational when everything did. */
	if (x->cfg.log || x->st.failed || x->st.dropped || left || spilled)
		logf_(x, "at exit: %" PRIu64 " profiles sent to %s, %" PRIu64 " failed, %" PRIu64 " dropped%s",
		      x->st.sent, x->cfg.server, x->st.failed, x->st.dropped, tail);
	else
		sp_log_info(PFX "at exit: %" PRIu64 " profiles sent to %s, 0 failed, 0 dropped",
			    x->st.sent, x->cfg.server);
}

void sp_pyroscope_shutdown_stats(sp_pyroscope *x, int deadline_ms, sp_pyroscope_stats *final)
{
	sp_upload_item *it, *next;
	size_t left = 0, spilled = 0;

	if (!x || x->pid != getpid()) {
		if (final)
			memset(final, 0, sizeof(*final));
		return;
	}
	reg_del(x);
	pthread_mutex_lock(&x->lock);
	__atomic_store_n(&x->deadline_ms, mono_ms() + (deadline_ms > 0 ? deadline_ms : 0),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&x->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	if (x->thread_started) {
		struct timespec ts;

		/* libcurl sees the abort only at its next progress call (up to
		 * about a second when idle): past the deadline, report what is
		 * left, then still wait for the thread, which stops at that call.
		 * A thread left running in libcurl while the process exits would
		 * meet OpenSSL's exit handlers freeing what it uses (seen: a
		 * crash at exit). */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (deadline_ms > 0 ? deadline_ms : 0) / 1000;
		ts.tv_nsec += ((deadline_ms > 0 ? deadline_ms : 0) % 1000 + 20) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(x->thread, NULL, &ts)) {
			pthread_mutex_lock(&x->lock);
			left = x->q.mem_count;
			x->st.dropped += left;
			exit_summary(x, left, 0, deadline_ms);
			fill_counts(x);
			if (final)
				*final = x->st;
			pthread_mutex_unlock(&x->lock);
			pthread_join(x->thread, NULL);
			return;
		}
	}

	/* What is left in memory: to disk when we can, else it is lost. */
	pthread_mutex_lock(&x->lock);
	for (it = x->q.head; it; it = next) {
		char *path;
		sp_error err;

		next = it->next;
		if (!it->body)
			continue; /* already on disk: the next run sends it */
		if (x->spill_ok &&
		    !sp_spill_write(x->cfg.spill_dir, it, x->spill_counter++, &path, &err)) {
			sp_upload_queue_to_disk(&x->q, it, path);
			x->st.spilled++;
			spilled++;
			continue;
		}
		sp_upload_queue_remove(&x->q, it);
		sp_upload_item_free(it);
		x->st.dropped++;
		left++;
	}
	exit_summary(x, left, spilled, deadline_ms);
	fill_counts(x);
	if (final)
		*final = x->st;
	pthread_mutex_unlock(&x->lock);
	destroy(x);
}

void sp_pyroscope_shutdown(sp_pyroscope *x, int deadline_ms)
{
	sp_pyroscope_shutdown_stats(x, deadline_ms, NULL);
}
