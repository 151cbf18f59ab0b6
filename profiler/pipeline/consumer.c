/* The consumer's registration server and drain loop; see consumer.h. */
#include "pipeline/consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "abi/link_proto.h"
#include "base/log.h"
#include "pipeline/session.h"
#include "abi/shm.h"
#include "symbolizer/symbolizer.h"

#define MAX_PROCS 4096
/* Detached: stay this long after the last process ended, so a daemon's
 * child registering just after its parent exited finds us. */
#define IDLE_GRACE_NS (3LL * 1000000000LL)
#define FIRST_WAIT_NS (15LL * 1000000000LL)
#define IDLE_DRAIN_NS 250000000LL

struct proc {
	sp_session *s;
	int pidfd;              /* -1 once the session is handed back */
	pid_t pid;
	_Atomic int ended;      /* set by the server: the process is gone */
	_Atomic int replaced;   /* set by the server: it exec'd a new image */
	_Atomic bool done;      /* drain thread: session finished and freed */
};

struct sp_consumer {
	char address[108];
	int listen_fd;
	int ctl_fd;
	sp_shm_control *ctl;
	int stop_pipe[2];
	pthread_t server, drainer;
	_Atomic int stopping;   /* drain thread: write everything and leave */
	pthread_mutex_t mu;     /* procs[] and n_procs */
	struct proc *procs[MAX_PROCS];
	size_t n_procs;
	_Atomic unsigned registered, live;
	_Atomic int64_t idle_since;
	sp_symbolizer *sym;
	uid_t uid;
	char output_dir[4096];  /* "": each process's own */
	/* Who was served when (monotonic ns), for sp_consumer_serves: the
	 * latest registrations, kept after their processes are gone (under mu). */
	struct { pid_t pid; int64_t from, until; } served[512];
	_Atomic unsigned n_served; /* total ever; slot = n % 512 */
	/* Processes that stopped profiling and may start again: their file
	 * numbering goes on (drain thread writes, server reads; under mu). */
	struct { pid_t pid; unsigned seq; } stopped[64];
	unsigned n_stopped;
};

static void wake_drainer(sp_consumer *c)
{
	atomic_fetch_add(&c->ctl->wake_seq, 1);
	syscall(SYS_futex, &c->ctl->wake_seq, FUTEX_WAKE, 1, NULL, NULL, 0);
}

const char *sp_consumer_address(const sp_consumer *c)
{
	return c->address;
}

bool sp_consumer_serves(sp_consumer *c, pid_t pid, int64_t mono_ns)
{
	unsigned n = atomic_load(&c->n_served);
	bool found = false;

	/* The agent asks for every sample: most hosts have nobody registered. */
	if (!n)
		return false;
	n = n < 512 ? n : 512;
	pthread_mutex_lock(&c->mu);
	for (unsigned i = 0; i < n && !found; i++)
		found = c->served[i].pid == pid && c->served[i].from <= mono_ns &&
			mono_ns <= c->served[i].until;
	pthread_mutex_unlock(&c->mu);
	return found;
}

/* Under mu. */
static void served_from(sp_consumer *c, pid_t pid, int64_t from)
{
	unsigned k = atomic_load(&c->n_served) % 512;

	c->served[k].pid = pid;
	c->served[k].from = from;
	c->served[k].until = INT64_MAX;
	atomic_fetch_add(&c->n_served, 1); /* after the entry: read under mu anyway */
}

/* Under mu: pid's process has ended (noticed at now). */
static void served_until(sp_consumer *c, pid_t pid, int64_t now)
{
	unsigned n = atomic_load(&c->n_served);

	n = n < 512 ? n : 512;
	for (unsigned i = 0; i < n; i++)
		if (c->served[i].pid == pid && c->served[i].until == INT64_MAX)
			c->served[i].until = now;
}

/* ---- registration ---------------------------------------------------------- */

static void reply(int s, int status, int fd_to_send)
{
	sp_link_reply rep = { SP_LINK_MAGIC, status, (int32_t)getpid() };

	sp_link_send(s, &rep, sizeof(rep), fd_to_send);
}

static void add_proc(sp_consumer *c, struct proc *p)
{
	pthread_mutex_lock(&c->mu);
	/* The same pid registering again is a new image after exec: the old
	 * one is complete. */
	for (size_t i = 0; i < c->n_procs; i++)
		if (c->procs[i]->pid == p->pid && !atomic_load(&c->procs[i]->ended))
			atomic_store(&c->procs[i]->replaced, 1);
	if (c->n_procs < MAX_PROCS) {
		c->procs[c->n_procs++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (p) {
		sp_log("more than %d processes registered; pid %d is not profiled", MAX_PROCS,
		       (int)p->pid);
		if (p->pidfd >= 0)
			close(p->pidfd);
		sp_session_free(p->s);
		free(p);
	}
}

static void handle_registration(sp_consumer *c, int s)
{
	sp_link_request req;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct timeval tv = { 2, 0 };
	struct stat st;
	int memfd = -1, status = 0;
	ssize_t n;
	sp_shm_header *h = NULL;
	struct proc *p;
	sp_error err = { "" };

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&req, 0, sizeof(req));
	n = sp_link_recv(s, &req, sizeof(req), &memfd);
	/* Who is asking, as the kernel saw it at connect(): only our own uid,
	 * or root, may hand us its memory and read what we hold. */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		status = -EPROTO;
		goto refuse;
	}
	if (cred.uid != c->uid && cred.uid != 0) {
		status = -EACCES;
		sp_log("refused registration from pid %d: uid %u is not ours (%u)", (int)cred.pid,
		       (unsigned)cred.uid, (unsigned)c->uid);
		goto refuse;
	}
	if (n != (ssize_t)sizeof(req) || req.magic != SP_LINK_MAGIC ||
	    req.version != SP_SHM_VERSION || memfd < 0) {
		status = -EPROTO;
		goto refuse;
	}
	/* The size comes from the fd, not from the message. */
	if (fstat(memfd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size != req.arena_bytes) {
		status = -EINVAL;
		goto refuse;
	}
	h = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	close(memfd);
	memfd = -1;
	if (h == MAP_FAILED) {
		h = NULL;
		status = -ENOMEM;
		goto refuse;
	}
	if (sp_shm_validate(h, (size_t)st.st_size) || h->pid != cred.pid) {
		status = -EINVAL;
		goto refuse;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		status = -ENOMEM;
		goto refuse;
	}
	p->pid = cred.pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	/* The process waits for this answer (in its constructor, or in a fork
	 * child before it runs on): give it before the session's setup, which
	 * opens the output directory and builds the unwinders. Its rings are
	 * mapped here already, so nothing it writes meanwhile is lost. */
	/* From its arena's start: its rings hold everything since. */
	pthread_mutex_lock(&c->mu);
	served_from(c, cred.pid, (int64_t)h->start_mono_ns);
	pthread_mutex_unlock(&c->mu);
	reply(s, 0, c->ctl_fd);
	p->s = sp_session_new(h, (size_t)st.st_size, cred.pid, c->sym,
			      c->output_dir[0] ? c->output_dir : NULL, &err);
	if (!p->s) {
		/* Its samples fill the rings and are counted as lost there. */
		if (p->pidfd >= 0)
			close(p->pidfd);
		free(p);
		munmap(h, (size_t)st.st_size);
		sp_log("pid %d is not profiled: %s", (int)cred.pid, err.msg);
		return;
	}
	h = NULL; /* the session's now */
	pthread_mutex_lock(&c->mu);
	for (unsigned i = 0; i < 64 && i < c->n_stopped; i++)
		if (c->stopped[i].pid == cred.pid)
			sp_session_set_files(p->s, c->stopped[i].seq);
	pthread_mutex_unlock(&c->mu);
	if (p->pidfd < 0)
		atomic_store(&p->ended, 1); /* already gone */
	atomic_fetch_add(&c->registered, 1);
	atomic_fetch_add(&c->live, 1);
	atomic_fetch_add(&c->ctl->arenas, 1);
	add_proc(c, p);
	wake_drainer(c);
	return;
refuse:
	if (memfd >= 0)
		close(memfd);
	if (h)
		munmap(h, (size_t)st.st_size);
	reply(s, status, -1);
}

static void *server_main(void *arg)
{
	sp_consumer *c = arg;
	struct pollfd *pf = calloc(MAX_PROCS + 2, sizeof(*pf));
	struct proc **who = calloc(MAX_PROCS + 2, sizeof(*who));

	if (!pf || !who) {
		free(pf);
		free(who);
		return NULL;
	}
	for (;;) {
		size_t n = 0, k = 0;

		/* Forget finished processes: only this thread frees them, so the
		 * pointers in who[] stay valid through its poll. */
		pthread_mutex_lock(&c->mu);
		for (size_t i = 0; i < c->n_procs; i++) {
			struct proc *p = c->procs[i];
			if (atomic_load(&p->done)) {
				if (p->pidfd >= 0)
					close(p->pidfd);
				free(p);
				continue;
			}
			c->procs[k++] = p;
		}
		c->n_procs = k;
		pthread_mutex_unlock(&c->mu);

		pf[n].fd = c->listen_fd;
		pf[n].events = POLLIN;
		who[n++] = NULL;
		pf[n].fd = c->stop_pipe[0];
		pf[n].events = POLLIN;
		who[n++] = NULL;
		pthread_mutex_lock(&c->mu);
		for (size_t i = 0; i < c->n_procs && n < MAX_PROCS + 2; i++) {
			struct proc *p = c->procs[i];
			if (p->pidfd < 0 || atomic_load(&p->ended))
				continue;
			pf[n].fd = p->pidfd;
			pf[n].events = POLLIN;
			who[n++] = p;
		}
		pthread_mutex_unlock(&c->mu);
		if (poll(pf, n, 500) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (pf[0].revents & POLLIN) {
			int s = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (s >= 0) {
				handle_registration(c, s);
				close(s);
			}
		}
		bool any = false;
		for (size_t i = 2; i < n; i++) {
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				atomic_store(&who[i]->ended, 1);
				pthread_mutex_lock(&c->mu);
				served_until(c, who[i]->pid, sp_mono_ns());
				pthread_mutex_unlock(&c->mu);
				any = true;
			}
		}
		if (any)
			wake_drainer(c);
	}
	free(pf);
	free(who);
	return NULL;
}

/* ---- draining ---------------------------------------------------------------- */

/* Drain thread: one pass over every process. Returns the time to the next
 * planned pass. */
static int64_t pass(sp_consumer *c, bool final)
{
	int64_t now = sp_mono_ns(), next = IDLE_DRAIN_NS;
	struct proc *snap[MAX_PROCS];
	size_t n;

	/* Not the finished ones: the server may free those at any time. */
	pthread_mutex_lock(&c->mu);
	n = 0;
	for (size_t i = 0; i < c->n_procs; i++)
		if (!atomic_load(&c->procs[i]->done))
			snap[n++] = c->procs[i];
	pthread_mutex_unlock(&c->mu);

	for (size_t i = 0; i < n; i++) {
		struct proc *p = snap[i];
		bool finished;

		if (atomic_load(&p->ended) || atomic_load(&p->replaced) || final) {
			finished = true;
		} else {
			sp_session_drain(p->s, now, &next);
			finished = sp_session_tick(p->s, now);
		}
		if (finished) {
			sp_session_finish(p->s);
			/* Before the ack: a restart right after spanprof_stop
			 * must find where the numbering goes on. */
			if (sp_session_stopped(p->s)) {
				pthread_mutex_lock(&c->mu);
				c->stopped[c->n_stopped % 64].pid = p->pid;
				c->stopped[c->n_stopped % 64].seq = sp_session_files(p->s);
				c->n_stopped++;
				pthread_mutex_unlock(&c->mu);
			}
			sp_session_close_exports(p->s);
			sp_session_ack(p->s);
			sp_session_free(p->s);
			p->s = NULL;
			atomic_store(&p->done, true);
			atomic_fetch_sub(&c->live, 1);
			atomic_fetch_sub(&c->ctl->arenas, 1);
		}
	}
	if (atomic_load(&c->live) == 0) {
		if (!atomic_load(&c->idle_since))
			atomic_store(&c->idle_since, now);
	} else {
		atomic_store(&c->idle_since, 0);
	}
	return next < 5000000 ? 5000000 : next;
}

static void *drain_main(void *arg)
{
	sp_consumer *c = arg;

	for (;;) {
		uint32_t seen = atomic_load(&c->ctl->wake_seq);
		bool stop = atomic_load(&c->stopping);
		int64_t next;
		struct timespec ts;

		atomic_store(&c->ctl->heartbeat_ns, sp_mono_ns());
		next = pass(c, stop);
		if (stop)
			break;
		/* The heartbeat must stay fresher than SP_SHM_HEARTBEAT_STALE_NS. */
		if (next > IDLE_DRAIN_NS)
			next = IDLE_DRAIN_NS;
		ts.tv_sec = next / 1000000000;
		ts.tv_nsec = next % 1000000000;
		syscall(SYS_futex, &c->ctl->wake_seq, FUTEX_WAIT, seen, &ts, NULL, 0);
	}
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------- */

static int make_control(sp_consumer *c)
{
	int fd = (int)syscall(SYS_memfd_create, "spanprof-control", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, 4096) < 0) {
		close(fd);
		return -errno;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	c->ctl = p;
	c->ctl_fd = fd;
	c->ctl->magic = SP_SHM_MAGIC;
	c->ctl->consumer_pid = (int32_t)getpid();
	atomic_store(&c->ctl->heartbeat_ns, sp_mono_ns());
	return 0;
}

sp_consumer *sp_consumer_start(const sp_consumer_options *o, sp_error *err)
{
	sp_consumer *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	socklen_t salen;
	int r;

	if (!c) {
		sp_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	c->listen_fd = c->ctl_fd = -1;
	c->stop_pipe[0] = c->stop_pipe[1] = -1;
	c->uid = geteuid();
	pthread_mutex_init(&c->mu, NULL);
	if (o && o->output_dir)
		snprintf(c->output_dir, sizeof(c->output_dir), "%s", o->output_dir);
	if (o && o->address && *o->address) {
		snprintf(c->address, sizeof(c->address), "%s", o->address);
	} else {
		unsigned rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (unsigned)sp_mono_ns();
		snprintf(c->address, sizeof(c->address), "@spanprof-%u-%d-%08x",
			 (unsigned)c->uid, (int)getpid(), rnd);
	}
	salen = sp_link_address(c->address, &sa);
	if (!salen) {
		sp_error_set(err, -ENAMETOOLONG, "consumer address too long: %s", c->address);
		goto fail;
	}
	c->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, salen) < 0 ||
	    listen(c->listen_fd, 128) < 0) {
		sp_error_set(err, -errno, "cannot listen on %s: %s", c->address, strerror(errno));
		goto fail;
	}
	if (c->address[0] != '@')
		chmod(c->address, 0600);
	r = make_control(c);
	if (r) {
		sp_error_set(err, r, "cannot create the control page: %s", strerror(-r));
		goto fail;
	}
	if (pipe2(c->stop_pipe, O_CLOEXEC) < 0) {
		sp_error_set(err, -errno, "pipe: %s", strerror(errno));
		goto fail;
	}
	{
		sp_symbolizer_options so = { .demangle = true, .debug_cache = o ? o->debug_cache : NULL };

		c->sym = sp_symbolizer_new(&so, err);
	}
	if (!c->sym)
		goto fail;
	atomic_store(&c->idle_since, sp_mono_ns());
	{
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r = pthread_create(&c->server, NULL, server_main, c);
		if (!r) {
			r = pthread_create(&c->drainer, NULL, drain_main, c);
			if (r) {
				write(c->stop_pipe[1], "x", 1);
				pthread_join(c->server, NULL);
			}
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r) {
		sp_error_set(err, -r, "cannot start the consumer threads: %s", strerror(r));
		goto fail;
	}
	return c;
fail:
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->address[0] && c->address[0] != '@')
		unlink(c->address);
	if (c->ctl)
		munmap(c->ctl, 4096);
	if (c->ctl_fd >= 0)
		close(c->ctl_fd);
	if (c->stop_pipe[0] >= 0) {
		close(c->stop_pipe[0]);
		close(c->stop_pipe[1]);
	}
	sp_symbolizer_free(c->sym);
	free(c);
	return NULL;
}

void sp_consumer_wait_idle(sp_consumer *c)
{
	for (;;) {
		int64_t since = atomic_load(&c->idle_since), now = sp_mono_ns();
		unsigned reg = atomic_load(&c->registered);
		struct timespec ts = { 0, 100000000 };

		if (since && atomic_load(&c->live) == 0 &&
		    now - since > (reg ? IDLE_GRACE_NS : FIRST_WAIT_NS))
			return;
		nanosleep(&ts, NULL);
	}
}

void sp_consumer_finish(sp_consumer *c)
{
	/* Processes that already ended are noticed by the server within its
	 * poll; give it one round, then cut everything. */
	struct timespec ts = { 0, 20000000 };

	nanosleep(&ts, NULL);
	if (write(c->stop_pipe[1], "x", 1) < 0) {
		/* the server then leaves at its next poll timeout */
	}
	pthread_join(c->server, NULL);
	/* Ended processes first (their pidfds are readable now). */
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n_procs; i++) {
		struct proc *p = c->procs[i];
		struct pollfd pf = { p->pidfd, POLLIN, 0 };
		if (p->pidfd >= 0 && poll(&pf, 1, 0) == 1)
			atomic_store(&p->ended, 1);
	}
	pthread_mutex_unlock(&c->mu);
	atomic_store(&c->stopping, 1);
	wake_drainer(c);
	pthread_join(c->drainer, NULL);
	for (size_t i = 0; i < c->n_procs; i++) {
		if (c->procs[i]->pidfd >= 0)
			close(c->procs[i]->pidfd);
		free(c->procs[i]);
	}
	c->n_procs = 0;
	close(c->listen_fd);
	if (c->address[0] != '@')
		unlink(c->address);
	close(c->stop_pipe[0]);
	close(c->stop_pipe[1]);
	/* Hosts still running see the heartbeat stop. */
	atomic_store(&c->ctl->heartbeat_ns, 0);
	munmap(c->ctl, 4096);
	close(c->ctl_fd);
	sp_symbolizer_free(c->sym);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
