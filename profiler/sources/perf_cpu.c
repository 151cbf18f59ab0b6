/* Per-CPU cpu-clock sampling with perf rings. Layouts follow
 * linux/perf_event.h for exactly the sample_type and attributes set in
 * open_one(); a record that does not parse is counted (`bad`) and skipped. */
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sources/perf_cpu.h"

/* The 20 general registers without DS/ES/FS/GS (those four make
 * perf_event_open fail with EINVAL on x86-64), packed by ascending bit:
 * AX BX CX DX SI DI BP SP IP FLAGS CS SS R8..R15. */
#define REGS_MASK 0xff0fffULL
#define N_REGS 20
/* DWARF register n (raw_sample.h order) is perf's packed index here. */
static const uint8_t dwarf_from_perf[SP_REG_COUNT] = {
	0, 3, 2, 1, 4, 5, 6, 7,          /* RAX RDX RCX RBX RSI RDI RBP RSP */
	12, 13, 14, 15, 16, 17, 18, 19,  /* R8..R15 */
	8,                               /* RIP */
};

#define SAMPLE_TYPE (PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | \
		     PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)
/* sample_id_all trailer of non-sample records for SAMPLE_TYPE: pid, tid,
 * time, cpu, reserved. */
#define TRAILER 24

typedef struct cpu_ring {
	int cpu, fd;
	struct perf_event_mmap_page *meta;
	uint8_t *data;
	size_t size; /* data bytes, a power of two */
} cpu_ring;

struct sp_perf_cpu {
	cpu_ring *rings;
	int n;
	struct pollfd *pfds;
	int64_t period_ns;
	uint64_t samples, lost, bad;
	/* A record that wraps the ring's end is copied here (records are at
	 * most 64 KiB: a u16 size). */
	uint8_t *scratch;
	uint64_t kpcs[PERF_MAX_STACK_DEPTH];
};

static long perf_open(struct perf_event_attr *a, int cpu)
{
	return syscall(SYS_perf_event_open, a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int read_int_file(const char *path, int *v)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/* Online CPUs from "0-3,6,8-9"; sysconf's count when sysfs is missing. */
static int online_cpus(int **out)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	char buf[4096];
	int *v = NULL, n = 0, cap = 0;

	if (f && fgets(buf, sizeof(buf), f)) {
		for (char *p = buf; *p && *p != '\n';) {
			char *end;
			long lo = strtol(p, &end, 10), hi = lo;
			if (end == p)
				break;
			if (*end == '-')
				hi = strtol(end + 1, &end, 10);
			for (long c = lo; c <= hi && c < 65536; c++) {
				if (n == cap) {
					int *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));
					if (!nv) {
						free(v);
						fclose(f);
						return -ENOMEM;
					}
					v = nv;
				}
				v[n++] = (int)c;
			}
			p = *end == ',' ? end + 1 : end;
		}
	}
	if (f)
		fclose(f);
	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
		free(v);
		if (!(v = malloc(n * sizeof(*v))))
			return -ENOMEM;
		for (int i = 0; i < n; i++)
			v[i] = i;
	}
	*out = v;
	return n;
}

static void init_attr(struct perf_event_attr *a, const sp_perf_cpu_config *cfg, bool kernel,
		      size_t ring)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_CPU_CLOCK;
	a->freq = 1;
	a->sample_freq = (uint64_t)cfg->hz;
	a->sample_type = SAMPLE_TYPE;
	a->sample_regs_user = REGS_MASK;
	a->sample_stack_user = cfg->stack_bytes;
	/* The user part is unwound from the stack copy (complete without frame
	 * pointers); the kernel's frame-pointer walk of it would be wasted. */
	a->exclude_callchain_user = 1;
	a->exclude_kernel = !kernel;
	a->exclude_callchain_kernel = !kernel;
	a->exclude_hv = 1;
	a->exclude_idle = 1;
	a->disabled = 1;
	a->mmap = 1;
	a->mmap2 = 1;
	a->comm = 1;
	a->comm_exec = 1;
	a->task = 1;
	a->sample_id_all = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	/* Wake at a quarter full: room for three more quarters while the
	 * loop unwinds what it took. */
	a->watermark = 1;
	a->wakeup_watermark = (uint32_t)(ring / 4);
}

static void describe_open_error(int e, int cpu, const sp_perf_cpu_config *cfg, sp_error *err)
{
	int paranoid = -9, max_rate = 0;

	read_int_file("/proc/sys/kernel/perf_event_paranoid", &paranoid);
	read_int_file("/proc/sys/kernel/perf_event_max_sample_rate", &max_rate);
	switch (e) {
	case EACCES:
	case EPERM:
		sp_error_set(err, -e,
			     "perf_event_open(cpu-clock, every process, CPU %d): %s "
			     "(kernel.perf_event_paranoid=%d): sampling every process needs "
			     "CAP_PERFMON (or CAP_SYS_ADMIN, or root) or kernel.perf_event_paranoid "
			     "<= 0: run as root, `setcap cap_perfmon,cap_syslog+ep spanprof`, or "
			     "`sysctl -w kernel.perf_event_paranoid=0`; in a container, its seccomp "
			     "profile must also allow perf_event_open",
			     cpu, strerror(e), paranoid);
		break;
	case EMFILE:
	case ENFILE:
		sp_error_set(err, -e, "perf_event_open(CPU %d): %s: one descriptor per CPU is "
			     "needed; raise RLIMIT_NOFILE (ulimit -n)", cpu, strerror(e));
		break;
	case EINVAL:
		if (max_rate > 0 && cfg->hz > max_rate) {
			sp_error_set(err, -e, "perf_event_open: -F %d is above "
				     "kernel.perf_event_max_sample_rate=%d", cfg->hz, max_rate);
			break;
		}
		/* fall through */
	default:
		sp_error_set(err, -e, "perf_event_open(cpu-clock, CPU %d): %s", cpu, strerror(e));
	}
}

static void describe_mmap_error(int e, size_t bytes, sp_error *err)
{
	int mlock_kb = 0;

	read_int_file("/proc/sys/kernel/perf_event_mlock_kb", &mlock_kb);
	sp_error_set(err, -e,
		     "mmap of a %zu KiB perf ring per CPU: %s: perf rings are locked memory; "
		     "a user may lock kernel.perf_event_mlock_kb=%d KiB times the number of "
		     "CPUs, the excess is charged to RLIMIT_MEMLOCK: raise "
		     "`sysctl -w kernel.perf_event_mlock_kb=...` or `ulimit -l`, run with "
		     "CAP_IPC_LOCK, or lower --stack-size",
		     bytes / 1024, strerror(e), mlock_kb);
}

static size_t pow2_at_least(size_t v)
{
	size_t p = 4096;

	while (p < v)
		p <<= 1;
	return p;
}

static void close_rings(sp_perf_cpu *pc)
{
	long page = sysconf(_SC_PAGESIZE);

	for (int i = 0; i < pc->n; i++) {
		if (pc->rings[i].meta)
			munmap(pc->rings[i].meta, pc->rings[i].size + (size_t)page);
		if (pc->rings[i].fd >= 0)
			close(pc->rings[i].fd);
		pc->rings[i] = (cpu_ring){ .fd = -1 };
	}
	pc->n = 0;
}

/* Every CPU's event and ring of `ring` bytes: 0, -EAGAIN when an mmap ran
 * over the locked-memory budget (all closed again), else -errno with err. */
static int open_all(sp_perf_cpu *pc, const int *cpus, int n, const sp_perf_cpu_config *cfg,
		    bool *kernel, size_t ring, bool *kernel_dropped, int *mmap_errno,
		    sp_error *err)
{
	long page = sysconf(_SC_PAGESIZE);
	struct perf_event_attr attr;

	for (int i = 0; i < n; i++) {
		cpu_ring *r = &pc->rings[i];
		long fd;
		void *m;

		*r = (cpu_ring){ .cpu = cpus[i], .fd = -1 };
		pc->n = i + 1;
		init_attr(&attr, cfg, *kernel, ring);
		fd = perf_open(&attr, r->cpu);
		if (fd < 0 && *kernel && (errno == EACCES || errno == EPERM)) {
			/* Degrade: user stacks without kernel frames. */
			init_attr(&attr, cfg, false, ring);
			fd = perf_open(&attr, r->cpu);
			if (fd >= 0) {
				*kernel = false;
				if (kernel_dropped)
					*kernel_dropped = true;
			}
		}
		if (fd < 0) {
			int e = errno;
			describe_open_error(e, r->cpu, cfg, err);
			close_rings(pc);
			return -e;
		}
		r->fd = (int)fd;
		m = mmap(NULL, ring + (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
		if (m == MAP_FAILED) {
			int e = errno;
			close_rings(pc);
			*mmap_errno = e;
			if (e == EPERM || e == ENOMEM)
				return -EAGAIN;
			describe_mmap_error(e, ring, err);
			return -e;
		}
		r->meta = m;
		r->data = (uint8_t *)m + page;
		r->size = ring;
		pc->pfds[i] = (struct pollfd){ .fd = r->fd, .events = POLLIN };
	}
	return 0;
}

sp_perf_cpu *sp_perf_cpu_open(const sp_perf_cpu_config *cfg_in, bool *kernel_dropped,
			      sp_error *err)
{
	sp_perf_cpu_config cfg = *cfg_in;
	sp_perf_cpu *pc;
	int *cpus = NULL, n, mmap_errno = 0;
	size_t rec, ring, min_ring;
	bool kernel = cfg.kernel;

	if (kernel_dropped)
		*kernel_dropped = false;
	if (cfg.hz <= 0)
		cfg.hz = SP_PERF_CPU_DEFAULT_HZ;
	if (!cfg.stack_bytes)
		cfg.stack_bytes = SP_PERF_CPU_DEFAULT_STACK;
	if (cfg.stack_bytes % 8 || cfg.stack_bytes >= 65528) {
		sp_error_set(err, -EINVAL, "stack size %u: must be a multiple of 8 below 65528",
			     cfg.stack_bytes);
		return NULL;
	}
	n = online_cpus(&cpus);
	if (n < 0) {
		sp_error_set(err, n, "perf: out of memory");
		return NULL;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc || !(pc->rings = calloc(n, sizeof(*pc->rings))) ||
	    !(pc->pfds = calloc(n, sizeof(*pc->pfds))) || !(pc->scratch = malloc(65536))) {
		free(cpus);
		sp_perf_cpu_close(pc);
		sp_error_set(err, -ENOMEM, "perf: out of memory");
		return NULL;
	}
	pc->period_ns = 1000000000LL / cfg.hz;
	/* Every sample takes the full stack size in the ring, however little
	 * was copied: room for 16 of them, 8 at the least. */
	rec = cfg.stack_bytes + 8 * PERF_MAX_STACK_DEPTH + 256; /* + callchain, regs, header */
	ring = pow2_at_least(16 * rec);
	if (ring < 512 * 1024)
		ring = 512 * 1024;
	min_ring = pow2_at_least(8 * rec);
	for (;;) {
		int rc = open_all(pc, cpus, n, &cfg, &kernel, ring, kernel_dropped, &mmap_errno,
				  err);

		if (!rc)
			break;
		/* The locked-memory budget is per user, for all CPUs: retry
		 * every CPU with half the ring, down to 8 samples' worth. */
		if (rc == -EAGAIN && ring / 2 >= min_ring) {
			ring /= 2;
			continue;
		}
		if (rc == -EAGAIN)
			describe_mmap_error(mmap_errno, ring, err);
		free(cpus);
		sp_perf_cpu_close(pc);
		return NULL;
	}
	free(cpus);
	return pc;
}

void sp_perf_cpu_close(sp_perf_cpu *pc)
{
	if (!pc)
		return;
	if (pc->rings)
		close_rings(pc);
	free(pc->rings);
	free(pc->pfds);
	free(pc->scratch);
	free(pc);
}

static int ioctl_all(sp_perf_cpu *pc, unsigned long req)
{
	for (int i = 0; i < pc->n; i++)
		if (ioctl(pc->rings[i].fd, req, 0) < 0)
			return -errno;
	return 0;
}

int sp_perf_cpu_enable(sp_perf_cpu *pc)
{
	return ioctl_all(pc, PERF_EVENT_IOC_ENABLE);
}

int sp_perf_cpu_disable(sp_perf_cpu *pc)
{
	return ioctl_all(pc, PERF_EVENT_IOC_DISABLE);
}

int sp_perf_cpu_wait(sp_perf_cpu *pc, int timeout_ms)
{
	int r = poll(pc->pfds, (nfds_t)pc->n, timeout_ms);

	return r < 0 ? -errno : r;
}

/* A cursor over one record's bytes. */
typedef struct rd {
	const uint8_t *p, *end;
	bool bad;
} rd;

static uint64_t rd_u64(rd *r)
{
	uint64_t v = 0;

	if (r->end - r->p < 8) {
		r->bad = true;
		r->p = r->end;
		return 0;
	}
	memcpy(&v, r->p, 8);
	r->p += 8;
	return v;
}

/* Two u32 fields stored in one u64 slot (pid/tid, cpu/res). */
static void rd_u32x2(rd *r, uint32_t *a, uint32_t *b)
{
	uint64_t v = rd_u64(r);

	*a = (uint32_t)v;
	*b = (uint32_t)(v >> 32);
}

static const uint8_t *rd_bytes(rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return NULL;
	}
	r->p += n;
	return p;
}

static bool parse_sample(sp_perf_cpu *pc, rd *r, sp_perf_event *ev)
{
	uint32_t pid, tid, cpu, res;
	uint64_t nr, abi, size;
	size_t nk = 0;
	bool in_kernel = false;
	sp_raw_sample *s = &ev->sample;

	rd_u32x2(r, &pid, &tid);
	ev->time_ns = rd_u64(r);
	rd_u32x2(r, &cpu, &res);
	nr = rd_u64(r);
	if (r->bad || nr > (size_t)(r->end - r->p) / 8)
		return false;
	/* Context markers split the chain; only the kernel part is kept
	 * (exclude_callchain_user leaves no user part). */
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t ip = rd_u64(r);
		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			in_kernel = ip == (uint64_t)PERF_CONTEXT_KERNEL;
			continue;
		}
		if (in_kernel && nk < PERF_MAX_STACK_DEPTH)
			pc->kpcs[nk++] = ip;
	}
	ev->type = SP_PERF_SAMPLE;
	ev->pid = (int)pid;
	ev->tid = (int)tid;
	ev->cpu = (int)cpu;
	ev->kernel_pcs = pc->kpcs;
	ev->n_kernel = nk;
	memset(s, 0, sizeof(*s));
	s->time_ns = ev->time_ns;
	s->pid = (int32_t)pid;
	s->tid = (int32_t)tid;
	s->kind = SP_SAMPLE_CPU;
	s->weight = (uint64_t)pc->period_ns;
	s->count = 1;
	abi = rd_u64(r);
	if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
		uint64_t regs[N_REGS];
		for (int i = 0; i < N_REGS; i++)
			regs[i] = rd_u64(r);
		for (int i = 0; i < SP_REG_COUNT; i++)
			s->regs[i] = regs[dwarf_from_perf[i]];
	}
	size = rd_u64(r);
	if (size) {
		const uint8_t *data = rd_bytes(r, size);
		uint64_t dyn = rd_u64(r);
		if (r->bad)
			return false;
		if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
			s->stack = data;
			s->stack_len = (uint32_t)(dyn < size ? dyn : size);
			s->stack_base = s->regs[SP_REG_RSP];
		}
	}
	return !r->bad;
}

static void parse_trailer(const uint8_t *rec, size_t len, sp_perf_event *ev)
{
	rd r = { rec + len - TRAILER, rec + len, false };
	uint32_t pid, tid, cpu, res;

	rd_u32x2(&r, &pid, &tid);
	ev->time_ns = rd_u64(&r);
	rd_u32x2(&r, &cpu, &res);
	ev->cpu = (int)cpu;
}

static bool parse_record(sp_perf_cpu *pc, const struct perf_event_header *h, sp_perf_event *ev)
{
	const uint8_t *body = (const uint8_t *)(h + 1);
	size_t len = h->size - sizeof(*h);
	rd r = { body, body + len, false };
	uint32_t a, b;

	memset(ev, 0, offsetof(sp_perf_event, sample));
	ev->kernel_pcs = NULL;
	ev->n_kernel = 0;
	ev->filename = ev->comm = NULL;
	if (h->type == PERF_RECORD_SAMPLE)
		return parse_sample(pc, &r, ev);
	if (len < TRAILER)
		return false;
	parse_trailer(body, len, ev);
	r.end -= TRAILER;
	switch (h->type) {
	case PERF_RECORD_MMAP2: {
		ev->type = SP_PERF_MMAP;
		rd_u32x2(&r, &a, &b);
		ev->pid = (int)a;
		ev->tid = (int)b;
		ev->addr = rd_u64(&r);
		ev->len = rd_u64(&r);
		ev->pgoff = rd_u64(&r);
		rd_bytes(&r, 8 + 16 + 8); /* maj, min, ino, ino_generation (or build-id) */
		if (r.bad || !memchr(r.p, '\0', (size_t)(r.end - r.p)))
			return false;
		ev->filename = (const char *)r.p;
		return true;
	}
	case PERF_RECORD_COMM:
		ev->type = SP_PERF_COMM;
		rd_u32x2(&r, &a, &b);
		ev->pid = (int)a;
		ev->tid = (int)b;
		if (r.bad || !memchr(r.p, '\0', (size_t)(r.end - r.p)))
			return false;
		ev->comm = (const char *)r.p;
		ev->exec = (h->misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
		return true;
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		uint32_t ppid, ptid;
		ev->type = h->type == PERF_RECORD_FORK ? SP_PERF_FORK : SP_PERF_EXIT;
		rd_u32x2(&r, &a, &ppid);
		rd_u32x2(&r, &b, &ptid);
		ev->pid = (int)a;
		ev->ppid = (int)ppid;
		ev->tid = (int)b;
		ev->ptid = (int)ptid;
		ev->time_ns = rd_u64(&r);
		return !r.bad;
	}
	case PERF_RECORD_LOST:
		ev->type = SP_PERF_LOST;
		rd_u64(&r); /* id */
		ev->lost = rd_u64(&r);
		return !r.bad;
	default:
		return false;
	}
}

static size_t drain_ring(sp_perf_cpu *pc, cpu_ring *r, sp_perf_event_fn fn, void *ctx)
{
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;
	size_t mask = r->size - 1, n = 0;
	sp_perf_event ev;

	while (tail < head) {
		struct perf_event_header hdr;
		const struct perf_event_header *h;
		size_t off = tail & mask;

		/* The 8-byte header never splits; the body may wrap. */
		memcpy(&hdr, r->data + off, sizeof(hdr));
		if (hdr.size < sizeof(hdr) || hdr.size > head - tail) {
			pc->bad++;
			tail = head; /* lost sync: drop the rest */
			break;
		}
		if (off + hdr.size <= r->size) {
			h = (const struct perf_event_header *)(r->data + off);
		} else {
			size_t first = r->size - off;
			memcpy(pc->scratch, r->data + off, first);
			memcpy(pc->scratch + first, r->data, hdr.size - first);
			h = (const struct perf_event_header *)pc->scratch;
		}
		if (parse_record(pc, h, &ev)) {
			if (ev.type == SP_PERF_SAMPLE)
				pc->samples++;
			else if (ev.type == SP_PERF_LOST)
				pc->lost += ev.lost;
			fn(ctx, &ev);
			n++;
		} else if (hdr.type == PERF_RECORD_SAMPLE || hdr.type == PERF_RECORD_MMAP2 ||
			   hdr.type == PERF_RECORD_COMM || hdr.type == PERF_RECORD_FORK ||
			   hdr.type == PERF_RECORD_EXIT || hdr.type == PERF_RECORD_LOST) {
			pc->bad++;
		}
		tail += hdr.size;
		/* Give the space back at once: the kernel writes while we unwind. */
		__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
	return n;
}

size_t sp_perf_cpu_drain(sp_perf_cpu *pc, sp_perf_event_fn fn, void *ctx)
{
	size_t n = 0;

	for (int i = 0; i < pc->n; i++)
		n += drain_ring(pc, &pc->rings[i], fn, ctx);
	return n;
}

int sp_perf_cpu_count(const sp_perf_cpu *pc)
{
	return pc->n;
}

int64_t sp_perf_cpu_period_ns(const sp_perf_cpu *pc)
{
	return pc->period_ns;
}

size_t sp_perf_cpu_ring_bytes(const sp_perf_cpu *pc)
{
	return pc->n ? pc->rings[0].size : 0;
}

uint64_t sp_perf_cpu_samples(const sp_perf_cpu *pc)
{
	return pc->samples;
}

uint64_t sp_perf_cpu_lost(const sp_perf_cpu *pc)
{
	return pc->lost;
}

uint64_t sp_perf_cpu_bad(const sp_perf_cpu *pc)
{
	return pc->bad;
}
