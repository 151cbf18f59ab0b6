/* The raw sample: what a capture path (signal handler, allocation hook,
 * host-wide perf ring) copies, before any unwinding. One record shape for
 * every entry point. */
#ifndef SPANPROF_RAW_SAMPLE_H
#define SPANPROF_RAW_SAMPLE_H

#include <stdint.h>

#include "abi/span.h"

/* Registers indexed by DWARF / UNW_X86_64_* numbers:
 * RAX RDX RCX RBX RSI RDI RBP RSP R8..R15 RIP. */
#define SP_REG_COUNT 17
#define SP_REG_RSP 7
#define SP_REG_RBP 6
#define SP_REG_RIP 16

/* Copy the stack from RSP - 128: the red zone survives signal delivery and
 * CFI of leaf epilogues may read below RSP. */
#define SP_REDZONE 128

enum sp_sample_kind {
	SP_SAMPLE_CPU = 0,
	SP_SAMPLE_ALLOC = 1,  /* a sampled allocation of `weight` bytes at `addr` */
	SP_SAMPLE_FREE = 2,   /* the sampled block at `addr` was freed (no stack) */
};

/* flags of an SP_SAMPLE_ALLOC */
#define SP_ALLOC_UNTRACKED 1u /* the host's live table was full: its free is not seen */

typedef struct sp_raw_sample {
	uint64_t time_ns;         /* CLOCK_MONOTONIC */
	int32_t pid;
	int32_t tid;
	uint32_t kind;            /* enum sp_sample_kind */
	uint32_t stack_len;       /* bytes valid in stack[] */
	uint64_t weight;          /* CPU: ns of CPU time; alloc: bytes */
	uint64_t count;           /* CPU: 1; alloc: objects represented */
	uint64_t addr;            /* alloc, free: the block */
	uint32_t flags;           /* SP_ALLOC_* */
	uint32_t pad;
	uint64_t regs[SP_REG_COUNT];
	uint64_t stack_base;      /* runtime address of stack[0] */
	sp_span_snapshot span;    /* span active on the thread, if any */
	const uint8_t *stack;     /* the copy; owned by the ring slot */
} sp_raw_sample;

#endif
