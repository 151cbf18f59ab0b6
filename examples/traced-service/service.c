/* traced-service: a small traced HTTP/1.1 server that shows span-level
 * profiles. Each request's span is published to spanprof for as long as the
 * request is being handled, so every CPU sample taken meanwhile carries its
 * span_id / trace_id / span_name.
 *
 *   traced-service [-p PORT] [-t THREADS] [-a ADDR]
 *
 * Endpoints (CPU profiles clearly apart, so their flame graphs differ):
 *   /fast      next to no work
 *   /checksum  checksum_payload(): a hashing loop
 *   /render    render_table(): sort rows and format them as text
 *   /slow      checksum_payload() + render_table() + count_primes()
 *
 * Tracing: a valid W3C `traceparent` request header continues that trace;
 * otherwise a new trace starts. The server span gets a fresh span id, which
 * is what spanprof is told (the local root span of the request, as Pyroscope's
 * SDKs do) and what the response's `traceparent` carries. The spanprof calls
 * are weak: the service runs unchanged without libspanprof.
 *
 * Design: plain sockets, one epoll set shared by a fixed pool of worker
 * threads; connections are EPOLLONESHOT so one worker at a time owns a
 * connection (keep-alive and pipelining work). SIGTERM/SIGINT stop the
 * workers and return from main, so a preloaded profiler's exit path runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spanprof.h"

#define MAX_THREADS 64
#define CONN_BUF 16384

/* ---- the work: one distinct function per endpoint ----------------------- */

#define PAYLOAD_BYTES (64 * 1024)
#define CHECKSUM_ROUNDS 36
#define RENDER_ROWS 4500
#define PRIME_LIMIT 170000

static uint8_t payload[PAYLOAD_BYTES];

/* /checksum: FNV-1a over the payload, again and again (chained rounds so
 * the compiler cannot collapse them). */
__attribute__((noinline)) static uint64_t checksum_payload(uint64_t seed)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (int r = 0; r < CHECKSUM_ROUNDS; r++)
		for (size_t i = 0; i < PAYLOAD_BYTES; i++)
			h = (h ^ payload[i]) * 1099511628211ULL;
	return h;
}

struct row {
	uint32_t key;
	uint32_t qty;
	double price;
};

static int compare_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->qty > y->qty) - (x->qty < y->qty);
}

/* /render: build rows, sort them, format them as a text table; returns the
 * number of bytes formatted. */
__attribute__((noinline)) static size_t render_table(uint64_t seed)
{
	static __thread struct row rows[RENDER_ROWS];
	static __thread char out[64 * RENDER_ROWS];
	uint64_t x = seed | 1;
	size_t len = 0;

	for (int i = 0; i < RENDER_ROWS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		rows[i].key = (uint32_t)(x % 100000);
		rows[i].qty = (uint32_t)(x >> 40) % 1000;
		rows[i].price = (double)(x % 1000000) / 100.0;
	}
	qsort(rows, RENDER_ROWS, sizeof(rows[0]), compare_rows);
	for (int i = 0; i < RENDER_ROWS; i++) {
		int n = snprintf(out + len, sizeof(out) - len, "%08u | %5u | %12.2f | %10.3e\n",
				 rows[i].key, rows[i].qty, rows[i].price,
				 rows[i].price * rows[i].qty);
		if (n < 0 || (size_t)n >= sizeof(out) - len)
			break;
		len += (size_t)n;
	}
	return len;
}

/* /slow's extra: trial-division prime count (its own flame graph tower). */
__attribute__((noinline)) static unsigned count_primes(unsigned limit)
{
	unsigned count = 0;

	for (unsigned n = 2; n < limit; n++) {
		bool prime = true;

		for (unsigned d = 2; d * d <= n; d++) {
			if (n % d == 0) {
				prime = false;
				break;
			}
		}
		count += prime;
	}
	return count;
}

/* ---- trace context ------------------------------------------------------ */

struct trace_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8];   /* our server span */
	uint8_t flags;
	char header[56];      /* our traceparent, version 00 */
};

static __thread uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t x;

	if (!rng_state) {
		if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
			rng_state = (uint64_t)(uintptr_t)&x ^ (uint64_t)getpid() << 32;
		rng_state |= 1;
	}
	x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Random, never all zero (an all-zero id is invalid). */
static void random_id(uint8_t *out, size_t n)
{
	uint64_t r = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			r = rng_next();
		out[i] = (uint8_t)(r >> (8 * (i % 8)));
	}
	out[n - 1] |= 1;
}

static int lhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_hex(const char *s, uint8_t *out, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = lhex(s[2 * i]), lo = lhex(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		acc |= out[i];
	}
	return acc != 0;
}

/* W3C traceparent (version 00 exactly 55 characters; later versions may
 * append "-..."; version ff invalid; lower-case hex; ids not all zero). The
 * service parses it itself because it must work without libspanprof. */
static bool parse_traceparent(const char *v, size_t len, uint8_t trace_id[16],
			      uint8_t *flags)
{
	uint8_t version, parent[8];

	if (len < 55 || lhex(v[0]) < 0 || lhex(v[1]) < 0)
		return false;
	version = (uint8_t)(lhex(v[0]) << 4 | lhex(v[1]));
	if (version == 0xff)
		return false;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return false;
	if (!parse_hex(v + 3, trace_id, 16) || !parse_hex(v + 36, parent, 8))
		return false;
	if (lhex(v[53]) < 0 || lhex(v[54]) < 0)
		return false;
	if (version == 0 ? len != 55 : len > 55 && v[55] != '-')
		return false;
	*flags = (uint8_t)(lhex(v[53]) << 4 | lhex(v[54]));
	return true;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
}

/* Continue the caller's trace (or start one) with a new server span. */
static void trace_begin(struct trace_ctx *t, const char *tp, size_t tp_len)
{
	if (!tp || !parse_traceparent(tp, tp_len, t->trace_id, &t->flags)) {
		random_id(t->trace_id, sizeof(t->trace_id));
		t->flags = 0x01; /* sampled */
	}
	t->flags &= 0x01; /* re-sent as version 00: unknown flags are 0 */
	random_id(t->span_id, sizeof(t->span_id));
	memcpy(t->header, "00-", 3);
	hex(t->trace_id, 16, t->header + 3);
	t->header[35] = '-';
	hex(t->span_id, 8, t->header + 36);
	t->header[52] = '-';
	hex(&t->flags, 1, t->header + 53);
	t->header[55] = '\0';
}

/* ---- HTTP --------------------------------------------------------------- */

struct conn {
	int fd;
	size_t len;
	char buf[CONN_BUF];
};

struct request {
	const char *path;     /* NUL-terminated, without the query */
	const char *traceparent;
	size_t traceparent_len;
	int traceparent_count;
	bool keep_alive;
	size_t total_len;     /* header + body bytes to consume */
};

struct server {
	int listen_fd, epoll_fd, stop_fd;
	volatile int stopping;
};

static struct server srv;

static bool send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, 5000) <= 0)
				return false;
			continue;
		}
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
		      size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return false;
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	*value = line;
	*vlen = len;
	return true;
}

/* Parse one request at the start of c->buf. 1: complete, 0: need more
 * bytes, -1: malformed. Writes NULs into the buffer. */
static int parse_request(struct conn *c, struct request *r)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	char *line, *next, *sp1, *sp2, *q;
	size_t body = 0;
	bool http10;

	if (!end)
		return c->len >= sizeof(c->buf) ? -1 : 0;
	memset(r, 0, sizeof(*r));
	*end = '\0';
	line = c->buf;
	next = strstr(line, "\r\n");
	if (next)
		*next = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7))
		return -1;
	*sp2 = '\0';
	http10 = sp2[8] == '0';
	r->path = sp1 + 1;
	q = strchr(sp1 + 1, '?');
	if (q)
		*q = '\0';
	r->keep_alive = !http10;
	while (next && next < end) {
		const char *v;
		size_t vlen;

		line = next + 2;
		next = strstr(line, "\r\n");
		if (next)
			*next = '\0';
		size_t len = strlen(line);
		if (header_is(line, len, "traceparent", &v, &vlen)) {
			r->traceparent = v;
			r->traceparent_len = vlen;
			r->traceparent_count++;
		} else if (header_is(line, len, "connection", &v, &vlen)) {
			if (vlen == 5 && !strncasecmp(v, "close", 5))
				r->keep_alive = false;
			else if (vlen == 10 && !strncasecmp(v, "keep-alive", 10))
				r->keep_alive = true;
		} else if (header_is(line, len, "content-length", &v, &vlen)) {
			body = strtoul(v, NULL, 10);
		}
	}
	r->total_len = (size_t)(end + 4 - c->buf) + body;
	if (r->total_len > sizeof(c->buf))
		return -1;
	return r->total_len <= c->len ? 1 : 0;
}

enum route { ROUTE_FAST, ROUTE_CHECKSUM, ROUTE_RENDER, ROUTE_SLOW, ROUTE_NONE };

/* The span name is the route, never the raw path (bounded cardinality). */
static const char *const route_names[] = { "/fast", "/checksum", "/render", "/slow",
					   "unmatched" };

static enum route route_of(const char *path)
{
	for (int i = 0; i < ROUTE_NONE; i++)
		if (!strcmp(path, route_names[i]))
			return (enum route)i;
	return ROUTE_NONE;
}

/* Do the route's work; returns the body length, or -1 for no route. */
static int handle(enum route route, char *body, size_t bodysz)
{
	uint64_t seed = rng_next();

	switch (route) {
	case ROUTE_FAST:
		return snprintf(body, bodysz, "fast %llu\n", (unsigned long long)(seed & 0xffff));
	case ROUTE_CHECKSUM:
		return snprintf(body, bodysz, "checksum %016llx\n",
				(unsigned long long)checksum_payload(seed));
	case ROUTE_RENDER:
		return snprintf(body, bodysz, "render %zu bytes\n", render_table(seed));
	case ROUTE_SLOW: {
		uint64_t h = checksum_payload(seed);
		size_t n = render_table(seed);
		unsigned primes = count_primes(PRIME_LIMIT);

		return snprintf(body, bodysz, "slow %016llx %zu %u\n", (unsigned long long)h, n,
				primes);
	}
	default:
		return -1;
	}
}

/* Serve every complete request in the buffer. false: close the connection. */
static bool serve(struct conn *c)
{
	for (;;) {
		struct request r;
		struct trace_ctx t;
		const char *status = "200 OK";
		enum route route;
		char body[256], head[512];
		int blen, hlen, rc = parse_request(c, &r);
		bool ok;

		if (rc == 0)
			return true;
		if (rc < 0) {
			static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
						  "Connection: close\r\n\r\n";
			send_all(c->fd, bad, sizeof(bad) - 1);
			return false;
		}
		/* Two traceparent headers: restart the trace (W3C). */
		trace_begin(&t, r.traceparent_count == 1 ? r.traceparent : NULL,
			    r.traceparent_len);
		route = route_of(r.path);
		SPANPROF_SPAN_SET_TRACEPARENT(t.header, route_names[route]);
		blen = handle(route, body, sizeof(body));
		if (blen < 0) {
			status = "404 Not Found";
			blen = snprintf(body, sizeof(body), "no route %s\n", r.path);
		}
		if (blen >= (int)sizeof(body))
			blen = sizeof(body) - 1;
		hlen = snprintf(head, sizeof(head),
				"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
				"traceparent: %s\r\n%s\r\n",
				status, blen, t.header,
				r.keep_alive ? "" : "Connection: close\r\n");
		ok = send_all(c->fd, head, (size_t)hlen) && send_all(c->fd, body, (size_t)blen);
		SPANPROF_SPAN_CLEAR();
		if (!ok || !r.keep_alive)
			return false;
		memmove(c->buf, c->buf + r.total_len, c->len - r.total_len);
		c->len -= r.total_len;
	}
}

static void conn_close(struct conn *c)
{
	epoll_ctl(srv.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void accept_all(void)
{
	for (;;) {
		int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;
		struct conn *c;
		struct epoll_event ev;

		if (fd < 0)
			return; /* EAGAIN: another worker took it, or none left */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->len = 0;
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
		ev.data.ptr = c;
		if (epoll_ctl(srv.epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
		}
	}
}

/* Read what is there, serve it, re-arm. */
static void on_readable(struct conn *c)
{
	struct epoll_event ev;

	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->len += (size_t)n;
		if (!serve(c)) {
			conn_close(c);
			return;
		}
	}
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.ptr = c;
	if (epoll_ctl(srv.epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		conn_close(c);
}

static void *worker(void *arg)
{
	(void)arg;
	while (!srv.stopping) {
		struct epoll_event ev;
		int n = epoll_wait(srv.epoll_fd, &ev, 1, -1);

		if (n <= 0)
			continue;
		if (ev.data.ptr == &srv.listen_fd)
			accept_all();
		else if (ev.data.ptr == &srv.stop_fd)
			break; /* level-triggered: wakes every worker */
		else
			on_readable(ev.data.ptr);
	}
	return NULL;
}

static int listen_on(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t salen = sizeof(sa);
	int one = 1, fd;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "traced-service: '%s' is not an IPv4 address\n", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
		fprintf(stderr, "traced-service: cannot listen on %s:%d: %s\n", addr, port,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	printf("traced-service: listening on http://%s:%d/ (pid %d, spanprof %s)\n", addr,
	       ntohs(sa.sin_port), (int)getpid(),
	       spanprof_span_set_traceparent ? "present" : "absent");
	fflush(stdout);
	return fd;
}

static void usage(FILE *f)
{
	fputs("usage: traced-service [-p PORT] [-t THREADS] [-a ADDR]\n"
	      "  -p PORT     TCP port (default 8080; 0 picks a free one, printed at start)\n"
	      "  -t THREADS  worker threads (default 4)\n"
	      "  -a ADDR     IPv4 address to bind (default 127.0.0.1)\n"
	      "Endpoints: /fast /checksum /render /slow. Stop with SIGTERM or Ctrl-C.\n", f);
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	int port = 8080, nthreads = 4, opt, sig;
	pthread_t threads[MAX_THREADS];
	struct epoll_event ev;
	sigset_t stop_sigs;

	while ((opt = getopt(argc, argv, "p:t:a:h")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'a': addr = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (port < 0 || port > 65535 || nthreads < 1 || nthreads > MAX_THREADS) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 131 + 7);

	/* Stop signals go to main's sigwait only; the profiler's own sampling
	 * signal stays unblocked in every thread. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);

	srv.listen_fd = listen_on(addr, port);
	if (srv.listen_fd < 0)
		return 1;
	srv.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	srv.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv.epoll_fd < 0 || srv.stop_fd < 0) {
		perror("traced-service: epoll/eventfd");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &srv.listen_fd;
	epoll_ctl(srv.epoll_fd, EPOLL_CTL_ADD, srv.listen_fd, &ev);
	ev.data.ptr = &srv.stop_fd;
	epoll_ctl(srv.epoll_fd, EPOLL_CTL_ADD, srv.stop_fd, &ev);

	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, worker, NULL)) {
			fprintf(stderr, "traced-service: cannot start worker %d\n", i);
			return 1;
		}
	}
	sigwait(&stop_sigs, &sig);
	srv.stopping = 1;
	if (eventfd_write(srv.stop_fd, 1) < 0)
		perror("traced-service: eventfd_write");
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	fprintf(stderr, "traced-service: stopped by signal %d\n", sig);
	return 0;
}
