/* Host-wide capture: one perf_event_open cpu-clock sampling event per
 * online CPU (pid -1), each with its own mmap ring, drained by the caller's
 * event loop. Records come out parsed: samples as an sp_raw_sample (user
 * registers and the kernel's copy of the user stack, for the same unwinder
 * the preloaded library's samples go through) plus the kernel part of the
 * callchain; MMAP2, COMM, FORK and EXIT records for the caller's process
 * model; LOST counts. Consumer side: allocates, not signal-safe. */
#ifndef SPANPROF_PERF_CPU_H
#define SPANPROF_PERF_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/raw_sample.h"
#include "base/error.h"

/* 99, not 100: application timers and tick-driven work run at round rates
 * (100 Hz, 10 ms, 1 s); a sampler at the same rate runs in lock-step with
 * them and sees the same phase of their work every time, biasing the
 * profile. 99 drifts across their phases. */
#define SP_PERF_CPU_DEFAULT_HZ 99
#define SP_PERF_CPU_DEFAULT_STACK 32768

typedef struct sp_perf_cpu sp_perf_cpu;

typedef struct sp_perf_cpu_config {
	int hz;               /* 0: SP_PERF_CPU_DEFAULT_HZ */
	uint32_t stack_bytes; /* user stack copied per sample; 0: default; a
				 multiple of 8 below 65528 (the kernel's u16
				 record size) */
	bool kernel;          /* kernel callchains (needs CAP_PERFMON or
				 kernel.perf_event_paranoid <= 1) */
} sp_perf_cpu_config;

enum sp_perf_event_type {
	SP_PERF_SAMPLE,
	SP_PERF_MMAP,  /* an executable mapping appeared */
	SP_PERF_COMM,  /* a thread's name changed, or exec (`exec`) */
	SP_PERF_FORK,  /* a process or thread was created */
	SP_PERF_EXIT,  /* a thread ended (pid == tid: the process's last) */
	SP_PERF_LOST,  /* the ring was full: `lost` records dropped */
};

/* Pointers are valid during the callback only. */
typedef struct sp_perf_event {
	enum sp_perf_event_type type;
	int cpu;
	int pid, tid;        /* SAMPLE, MMAP, COMM: the thread; FORK, EXIT: the child / the thread */
	int ppid, ptid;      /* FORK, EXIT */
	uint64_t time_ns;    /* CLOCK_MONOTONIC */
	/* SAMPLE: regs (DWARF order), stack and stack_base (= RSP) filled,
	 * weight = the period in ns, count 1. No user registers (a kernel
	 * thread): regs all 0, stack_len 0. */
	sp_raw_sample sample;
	const uint64_t *kernel_pcs; /* leaf first */
	size_t n_kernel;
	/* MMAP */
	uint64_t addr, len, pgoff;
	const char *filename;
	/* COMM */
	const char *comm;
	bool exec;
	/* LOST */
	uint64_t lost;
} sp_perf_event;

typedef void (*sp_perf_event_fn)(void *ctx, const sp_perf_event *ev);

/* Open (disabled) and map one event per online CPU. On failure err says
 * what to change (kernel.perf_event_paranoid, CAP_PERFMON, RLIMIT_MEMLOCK /
 * kernel.perf_event_mlock_kb); with cfg->kernel and EACCES/EPERM it retries
 * without kernel callchains and sets *kernel_dropped (may be NULL). */
sp_perf_cpu *sp_perf_cpu_open(const sp_perf_cpu_config *cfg, bool *kernel_dropped,
			      sp_error *err);
void sp_perf_cpu_close(sp_perf_cpu *pc);

int sp_perf_cpu_enable(sp_perf_cpu *pc);
int sp_perf_cpu_disable(sp_perf_cpu *pc);

/* Wait until a ring reaches its wake mark, or timeout_ms (-1: forever).
 * Returns >0 when some ring wants draining, 0 on timeout, -errno (EINTR
 * included: the caller checks its signal flags). */
int sp_perf_cpu_wait(sp_perf_cpu *pc, int timeout_ms);

/* Parse and hand out every record now in every ring; returns how many. */
size_t sp_perf_cpu_drain(sp_perf_cpu *pc, sp_perf_event_fn fn, void *ctx);

int sp_perf_cpu_count(const sp_perf_cpu *pc);
int64_t sp_perf_cpu_period_ns(const sp_perf_cpu *pc);
size_t sp_perf_cpu_ring_bytes(const sp_perf_cpu *pc);
/* Totals since open: samples parsed, records reported lost by the kernel,
 * records too malformed to use. */
uint64_t sp_perf_cpu_samples(const sp_perf_cpu *pc);
uint64_t sp_perf_cpu_lost(const sp_perf_cpu *pc);
uint64_t sp_perf_cpu_bad(const sp_perf_cpu *pc);

#endif
