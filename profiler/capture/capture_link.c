/* The host's link to the consumer; see capture_link.h. */
#include "capture/capture_link.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/env.h"
#include "base/log.h"

extern char **environ;

static sp_shm_header *arena;
static size_t arena_len;
static sp_shm_control *control;
static _Atomic int lost;              /* the consumer is gone (reported) */
static char consumer_addr[108];
static pthread_mutex_t mod_mu = PTHREAD_MUTEX_INITIALIZER;

bool sp_link_active(void)
{
	return arena != NULL && control != NULL;
}

sp_shm_header *sp_link_arena(void)
{
	return arena;
}

/* ---- wake and liveness (signal handler) ---------------------------------- */

void sp_link_wake(void)
{
	sp_shm_control *c = control;

	if (!c)
		return;
	atomic_fetch_add_explicit(&c->wake_seq, 1, memory_order_release);
	/* Shared futex: the word lives in a memfd mapped by another process. */
	syscall(SYS_futex, &c->wake_seq, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void say(const char *msg)
{
	size_t n = strlen(msg);

	while (n) {
		ssize_t w = write(2, msg, n);
		if (w <= 0)
			return;
		msg += w;
		n -= (size_t)w;
	}
}

bool sp_link_consumer_lost(void)
{
	sp_shm_control *c = control;
	int64_t hb;

	if (atomic_load_explicit(&lost, memory_order_relaxed))
		return true;
	if (!c)
		return false;
	hb = atomic_load_explicit(&c->heartbeat_ns, memory_order_relaxed);
	if (sp_mono_ns() - hb < (int64_t)SP_SHM_HEARTBEAT_STALE_NS)
		return false;
	/* A stale heartbeat and no such process: gone (kill 0 alone could see a
	 * reused pid; the heartbeat alone a consumer stopped by a debugger). */
	if (kill(c->consumer_pid, 0) == 0 || errno != ESRCH) {
		errno = 0;
		return false;
	}
	if (!atomic_exchange(&lost, 1))
		say("spanprof: profiling stopped: the consumer process is gone; "
		    "the application goes on unprofiled\n");
	return true;
}

bool sp_link_is_consumer(pid_t pid)
{
	sp_shm_control *c = control;

	return c && pid > 0 && c->consumer_pid == pid;
}

/* ---- modules ------------------------------------------------------------- */

struct scan_ctx {
	sp_shm_header *h;
	char exe[PATH_MAX];
};

static bool known_module(sp_shm_header *h, uint64_t start, uint64_t end)
{
	uint32_t n = atomic_load_explicit(&h->n_modules, memory_order_acquire);
	sp_shm_module *m = sp_shm_modules(h);

	for (uint32_t i = 0; i < n; i++)
		if (m[i].start == start && m[i].end == end && !atomic_load(&m[i].unloaded))
			return true;
	return false;
}

static void note_build_id(const struct dl_phdr_info *info, sp_shm_module *m)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			size_t name = (nh->n_namesz + 3) & ~3u, desc = (nh->n_descsz + 3) & ~3u;
			const char *d = p + sizeof(*nh) + name;

			if (d + desc > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(p + sizeof(*nh), "GNU", 4) && nh->n_descsz <= sizeof(m->build_id)) {
				memcpy(m->build_id, d, nh->n_descsz);
				m->build_id_len = (uint8_t)nh->n_descsz;
				return;
			}
			p = d + desc;
		}
	}
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan_ctx *sc = data;
	const char *path = info->dlpi_name;
	uint32_t flags = 0;
	sp_shm_module bid;

	(void)size;
	memset(&bid, 0, sizeof(bid));
	note_build_id(info, &bid);
	if (!path || !path[0]) {
		path = sc->exe;
		flags |= SP_MOD_MAIN;
	} else if (!strncmp(path, "linux-vdso", 10) || !strncmp(path, "linux-gate", 10)) {
		flags |= SP_MOD_VDSO;
		path = "[vdso]";
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		sp_shm_module m;
		uint64_t lo, hi;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		lo = (info->dlpi_addr + ph->p_vaddr) & ~(uint64_t)4095;
		hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~(uint64_t)4095;
		if (known_module(sc->h, lo, hi))
			continue;
		memset(&m, 0, sizeof(m));
		m.start = lo;
		m.end = hi;
		m.offset = ph->p_offset & ~(uint64_t)4095;
		m.flags = flags;
		memcpy(m.build_id, bid.build_id, sizeof(m.build_id));
		m.build_id_len = bid.build_id_len;
		sp_shm_add_module(sc->h, &m, path);
	}
	return 0;
}

static void scan_into(sp_shm_header *h)
{
	struct scan_ctx sc;
	ssize_t n;

	sc.h = h;
	n = readlink("/proc/self/exe", sc.exe, sizeof(sc.exe) - 1);
	sc.exe[n > 0 ? n : 0] = '\0';
	dl_iterate_phdr(scan_one, &sc);
}

void sp_link_scan_modules(void)
{
	if (!arena)
		return;
	pthread_mutex_lock(&mod_mu);
	scan_into(arena);
	pthread_mutex_unlock(&mod_mu);
}

void sp_link_before_dlclose(void)
{
	sp_link_scan_modules();
}

/* ---- registration -------------------------------------------------------- */

/* Syscalls only: also used in fork children of threaded processes. */
static int do_register_checked(const char *addr, int memfd, size_t bytes, int *ctl_fd,
			       bool own_peer);

static int do_register(const char *addr, int memfd, size_t bytes, int *ctl_fd)
{
	return do_register_checked(addr, memfd, bytes, ctl_fd, false);
}

/* own_peer: the listener must be this user or root (SO_PEERCRED of the
 * connected socket is the listener's): a well-known name anyone could
 * have bound first is never handed our memory. */
static int do_register_checked(const char *addr, int memfd, size_t bytes, int *ctl_fd,
			       bool own_peer)
{
	struct sockaddr_un sa;
	socklen_t salen = sp_link_address(addr, &sa);
	struct timeval tv = { 2, 0 };
	sp_link_request req;
	sp_link_reply rep;
	ssize_t n;
	int s, r;

	*ctl_fd = -1;
	if (!salen)
		return -EINVAL;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sa, salen) < 0) {
		r = -errno;
		goto out;
	}
	if (own_peer) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);

		if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			r = -EACCES;
			goto out;
		}
	}
	memset(&req, 0, sizeof(req));
	req.magic = SP_LINK_MAGIC;
	req.version = SP_SHM_VERSION;
	req.pid = (int32_t)getpid();
	req.arena_bytes = bytes;
	r = sp_link_send(s, &req, sizeof(req), memfd);
	if (r)
		goto out;
	memset(&rep, 0, sizeof(rep));
	n = sp_link_recv(s, &rep, sizeof(rep), ctl_fd);
	if (n != (ssize_t)sizeof(rep) || rep.magic != SP_LINK_MAGIC)
		r = n < 0 ? (int)n : -EPROTO;
	else if (rep.status)
		r = rep.status;
	else
		r = *ctl_fd < 0 ? -EPROTO : 0;
	if (r && *ctl_fd >= 0) {
		close(*ctl_fd);
		*ctl_fd = -1;
	}
out:
	close(s);
	return r;
}

static int map_control(int fd)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	control = p;
	atomic_store(&lost, 0);
	return 0;
}

/* ---- starting a consumer ------------------------------------------------- */

/* The spanprof executable: SPANPROF_EXE, else beside this library (the
 * build tree), else ../bin/spanprof (an installed prefix). */
static int find_exe(char *out, size_t len)
{
	const char *env = sp_getenv("SPANPROF_EXE");
	Dl_info di;
	char dir[PATH_MAX];
	char *slash;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK) == 0 ? 0 : -ENOENT;
	}
	if (!dladdr((void *)find_exe, &di) || !di.dli_fname || !realpath(di.dli_fname, dir))
		return -ENOENT;
	slash = strrchr(dir, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	snprintf(out, len, "%s/spanprof", dir);
	if (access(out, X_OK) == 0)
		return 0;
	snprintf(out, len, "%s/../bin/spanprof", dir);
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

static long raw_fork_no_sigchld(void)
{
	/* exit_signal 0: the application gets no SIGCHLD for this child, and
	 * wait(-1) never returns it (only __WALL/__WCLONE waits see it). */
	return syscall(SYS_clone, 0UL, 0UL, NULL, NULL, 0UL);
}

/* Double fork + exec, as a daemon: the consumer is reparented away from the
 * application (which could otherwise reap, wait for or signal it), in its
 * own session (a terminal's ^C does not reach it; it sees the application
 * end and writes its last interval). */
static int spawn_consumer(char *addr, size_t addrlen, sp_error *err)
{
	char exe[PATH_MAX], ready_arg[16];
	char *argv[8];
	char **envp;
	size_t n_env = 0, k = 0;
	unsigned rnd = 0;
	int pfd[2], status;
	bool keep_stderr;
	long mid;
	char buf[8];
	struct pollfd pf;
	ssize_t got;

	if (find_exe(exe, sizeof(exe)))
		return sp_error_set(err, -ENOENT,
				    "cannot find the spanprof executable to run the consumer "
				    "(set SPANPROF_EXE)");
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned)sp_mono_ns();
	snprintf(addr, addrlen, "@spanprof-%u-%d-%08x", (unsigned)getuid(), (int)getpid(), rnd);
	for (char **e = environ; e && *e; e++)
		n_env++;
	envp = calloc(n_env + 1, sizeof(*envp));
	if (!envp)
		return sp_error_set(err, -ENOMEM, "out of memory");
	/* Not LD_PRELOAD: the consumer must not profile itself (nor fork-bomb). */
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, SP_CONSUMER_ENV "=", 18))
			envp[k++] = *e;
	envp[k] = NULL;
	{
		const char *lg = sp_getenv("SPANPROF_LOG");
		if (!lg || sp_config_parse_bool(lg, &keep_stderr))
			keep_stderr = false;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(envp);
		return sp_error_set(err, -errno, "pipe: %s", strerror(errno));
	}
	snprintf(ready_arg, sizeof(ready_arg), "%d", 3);
	argv[0] = exe;
	argv[1] = "consumer";
	argv[2] = "--socket";
	argv[3] = addr;
	argv[4] = "--ready-fd";
	argv[5] = ready_arg;
	argv[6] = NULL;

	mid = raw_fork_no_sigchld();
	if (mid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		free(envp);
		return sp_error_set(err, -e, "cannot start the consumer: clone: %s", strerror(e));
	}
	if (mid == 0) {
		/* Middle child: syscalls only (a copy of a maybe threaded process). */
		sigset_t none;
		long gc = syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, NULL, NULL, 0UL);

		if (gc != 0)
			syscall(SYS_exit_group, gc < 0 ? 1 : 0);
		setsid();
		sigemptyset(&none);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, _NSIG / 8);
		if (dup3(pfd[1], 3, 0) < 0 && pfd[1] != 3)
			syscall(SYS_exit_group, 127);
		if (pfd[1] == 3)
			fcntl(3, F_SETFD, 0);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		{
			/* Not the application's stdout, nor its stderr unless
			 * diagnostics were asked for: a consumer holding the write
			 * end of a pipe would keep `x=$(cmd 2>&1)` waiting for it. */
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				if (!keep_stderr)
					dup2(nul, 2);
				if (nul > 2)
					close(nul);
			}
		}
		if (chdir("/")) {
			/* keep the inherited cwd */
		}
		execve(exe, argv, envp);
		syscall(SYS_exit_group, 127);
	}
	free(envp);
	close(pfd[1]);
	while (waitpid((pid_t)mid, &status, __WALL) < 0 && errno == EINTR)
		;
	/* "ok" once the consumer listens; 5 s covers a cold start on a slow disk. */
	pf.fd = pfd[0];
	pf.events = POLLIN;
	got = 0;
	if (poll(&pf, 1, 5000) == 1)
		got = read(pfd[0], buf, sizeof(buf));
	close(pfd[0]);
	if (got < 2 || memcmp(buf, "ok", 2))
		return sp_error_set(err, -ECONNREFUSED, "the consumer (%s) did not start", exe);
	return 0;
}

/* ---- arena ---------------------------------------------------------------- */

static const char *const env_prefixes[] = { "SPANPROF_", "PYROSCOPE_", "OTEL_", "TMPDIR=" };

static void copy_env(sp_shm_header *h)
{
	char *dst = sp_shm_env(h);
	size_t used = 0;

	h->env_len = 0;
	/* As sp_getenv: a program that gained privileges at exec ignores the
	 * caller's environment, here too. */
	if (getauxval(AT_SECURE))
		return;
	for (char **e = environ; e && *e; e++) {
		size_t n;
		bool want = false;

		for (size_t i = 0; i < sizeof(env_prefixes) / sizeof(env_prefixes[0]); i++)
			if (!strncmp(*e, env_prefixes[i], strlen(env_prefixes[i])))
				want = true;
		n = strlen(*e) + 1;
		if (!want || n > SP_SHM_ENV_BYTES - used)
			continue;
		memcpy(dst + used, *e, n);
		used += n;
	}
	h->env_len = (uint32_t)used;
}

static int new_arena(size_t bytes, int *fd_out, sp_shm_header **out)
{
	int fd = (int)syscall(SYS_memfd_create, "spanprof", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	*fd_out = fd;
	*out = p;
	return 0;
}

int sp_link_start(const sp_config *cfg, uint32_t slots, sp_error *err)
{
	const char *addr = sp_getenv(SP_CONSUMER_ENV);
	const char *spawn = sp_getenv("SPANPROF_CONSUMER_SPAWN");
	size_t bytes = sp_shm_size(slots, cfg->ring_bytes);
	sp_shm_header *h;
	int fd, ctl = -1, r;
	const char *exe;

	if (arena)
		return -EALREADY;
	r = new_arena(bytes, &fd, &h);
	if (r)
		return sp_error_set(err, r, "cannot create the sample rings (%zu MiB): %s",
				    bytes >> 20, strerror(-r));
	sp_shm_layout(h, bytes, slots, cfg->ring_bytes, cfg->stack_bytes);
	h->pid = (int32_t)getpid();
	h->ppid = (int32_t)getppid();
	h->start_wall_ns = sp_wall_ns();
	h->start_mono_ns = sp_mono_ns();
	h->hz = cfg->hz;
	memcpy(sp_shm_cfg(h), cfg, sizeof(*cfg));
	copy_env(h);
	exe = program_invocation_short_name;
	snprintf(h->exe, sizeof(h->exe), "%s", exe ? exe : "");
	scan_into(h);

	if (addr && *addr) {
		snprintf(consumer_addr, sizeof(consumer_addr), "%s", addr);
		r = do_register(consumer_addr, fd, bytes, &ctl);
		/* A consumer that ended (its last process went away before this
		 * one registered): start a new one, unless record owns it. */
		if ((r == -ECONNREFUSED || r == -ENOENT) && !(spawn && !strcmp(spawn, "0")))
			addr = NULL;
	}
	const char *join_agent = sp_getenv("SPANPROF_AGENT");

	if ((!addr || !*addr) && !(spawn && !strcmp(spawn, "0")) &&
	    !(join_agent && !strcmp(join_agent, "0"))) {
		/* A host-wide agent of this user: it serves us (our samples keep
		 * their spans, and it does not sample us a second time). No agent:
		 * the connect is refused at once. */
		snprintf(consumer_addr, sizeof(consumer_addr), SP_AGENT_ADDRESS_FMT,
			 (unsigned)geteuid());
		if (do_register_checked(consumer_addr, fd, bytes, &ctl, true) == 0) {
			setenv(SP_CONSUMER_ENV, consumer_addr, 1);
			r = 0;
			goto registered;
		}
	}
	if (!addr || !*addr) {
		if (spawn && !strcmp(spawn, "0")) {
			r = sp_error_set(err, -ENOENT, "no consumer to register with");
			goto fail;
		}
		r = spawn_consumer(consumer_addr, sizeof(consumer_addr), err);
		if (r)
			goto fail;
		/* Children (fork and exec) join this consumer. */
		setenv(SP_CONSUMER_ENV, consumer_addr, 1);
		r = do_register(consumer_addr, fd, bytes, &ctl);
	}
	if (r) {
		sp_error_set(err, r, "cannot register with the consumer %s: %s", consumer_addr,
			     r == -EACCES || r == -EPERM ? "refused (another user's consumer)" :
			     strerror(-r));
		goto fail;
	}
registered:
	close(fd);
	arena = h;
	arena_len = bytes;
	r = map_control(ctl);
	if (r) {
		sp_error_set(err, r, "cannot map the consumer's control page: %s", strerror(-r));
		munmap(h, bytes);
		arena = NULL;
		return r;
	}
	return 0;
fail:
	close(fd);
	munmap(h, bytes);
	return r;
}

void sp_link_set_state(int state, int timeout_ms)
{
	sp_shm_header *h = arena;
	uint32_t seen;
	int64_t deadline;

	if (!h)
		return;
	seen = atomic_load(&h->flushed);
	atomic_store(&h->state_ns, (uint64_t)sp_mono_ns());
	atomic_store(&h->state, (uint32_t)state);
	sp_link_wake();
	if ((state != SP_SHM_STOPPED && state != SP_SHM_EXITED) || timeout_ms <= 0 ||
	    atomic_load(&lost))
		return;
	deadline = sp_mono_ns() + (int64_t)timeout_ms * 1000000;
	while (atomic_load(&h->flushed) == seen) {
		int64_t left = deadline - sp_mono_ns();
		struct timespec ts;

		if (left <= 0 || sp_link_consumer_lost())
			break;
		/* Short waits: the consumer's death is noticed from its heartbeat. */
		if (left > 250000000)
			left = 250000000;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		syscall(SYS_futex, &h->flushed, FUTEX_WAIT, seen, &ts, NULL, 0);
	}
}

int sp_link_atfork_child(void)
{
	sp_shm_header *old = arena, *h;
	size_t bytes = arena_len;
	int fd, ctl = -1, r;

	pthread_mutex_init(&mod_mu, NULL);
	if (!old)
		return -ENOENT;
	arena = NULL;
	if (control)
		munmap(control, 4096);
	control = NULL;
	r = new_arena(bytes, &fd, &h);
	if (r) {
		munmap(old, bytes);
		return r;
	}
	sp_shm_layout(h, bytes, old->slots_cap, (size_t)old->ring_bytes - 4096, old->stack_bytes);
	/* sp_shm_layout recomputes ring_bytes from the data size: same region. */
	h->pid = (int32_t)getpid();
	h->ppid = old->pid;
	h->start_wall_ns = sp_wall_ns();
	h->start_mono_ns = sp_mono_ns();
	h->hz = old->hz;
	memcpy(sp_shm_cfg(h), sp_shm_cfg(old), sizeof(sp_config));
	memcpy(sp_shm_env(h), sp_shm_env(old), old->env_len);
	h->env_len = old->env_len;
	memcpy(h->exe, old->exe, sizeof(h->exe));
	memcpy(h->engine, old->engine, sizeof(h->engine));
	memcpy(h->engine_reason, old->engine_reason, sizeof(h->engine_reason));
	/* Same address space as the parent's: its module table holds. */
	{
		uint32_t n = atomic_load(&old->n_modules);
		memcpy(sp_shm_modules(h), sp_shm_modules(old), n * sizeof(sp_shm_module));
		memcpy(sp_shm_strings(h), sp_shm_strings(old), atomic_load(&old->strings_used));
		atomic_store(&h->strings_used, atomic_load(&old->strings_used));
		atomic_store(&h->n_modules, n);
	}
	munmap(old, bytes);
	r = do_register(consumer_addr, fd, bytes, &ctl);
	close(fd);
	if (r) {
		munmap(h, bytes);
		return r;
	}
	arena = h;
	return map_control(ctl);
}

void sp_link_stop(void)
{
	if (arena)
		munmap(arena, arena_len);
	if (control)
		munmap(control, 4096);
	arena = NULL;
	control = NULL;
}
