/* The sampling signal: picking a real-time signal nobody handles, installing
 * the copy-only handler, and the handler's optional self-timing. */
#ifndef SPANPROF_SIGHANDLER_H
#define SPANPROF_SIGHANDLER_H

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

/* Which signal is whose. The sampling signal is a real-time signal nobody
 * uses; when the application shows it wants that number (a handler, a
 * mask that blocks it, a signalfd on it) sampling moves to another free
 * one and the number is the application's (sp_signal_move). A signal our
 * handler still holds without sampling on it is "guarded": the number we
 * left (a late sample of ours may still be queued) and SIGIO (the kernel's
 * fallback when the real-time queue overflows). The application sees the
 * action it set on a guarded signal (sp_signal_view_*), and gets it. */

/* A real-time signal with the default disposition, not blocked in the
 * calling thread, preferring `wanted` when non-zero. 0 when none is free. */
int sp_signal_pick(int wanted);

/* Install the handler for signo (SA_SIGINFO | SA_RESTART) and sample on
 * it. 0 or -errno. */
int sp_signal_install(int signo);
/* The sampling signal now (0 before the first start). */
int sp_signal_current(void);

/* SIGIO with the default action gets a handler that drops the kernel's
 * SIGIO (queue overflow) and keeps the default action for SIGIO sent by
 * kill/tgkill/sigqueue. */
void sp_signal_guard_sigio(void);

/* Whether our handler holds sig (sampling, left, or SIGIO guarded). */
bool sp_signal_guarded(int sig);
/* The application's action on a guarded signal: what it last set (SIG_DFL
 * when nothing). set: record it (the handler calls it or acts it out). */
struct sigaction;
void sp_signal_view_get(int sig, struct sigaction *out);
void sp_signal_view_set(int sig, const struct sigaction *act);
/* The application installs its own action on a guarded signal that is
 * not the sampling one: ours is no longer the real one. */
void sp_signal_unguard(int sig);

/* The application uses these numbers (it blocked them or read them from a
 * signalfd): never sample on them. */
void sp_signal_claim(int sig);
void sp_signal_claim_set(const sigset_t *set);
/* Sample on a free real-time signal outside `avoid` (NULL: none) from now
 * on, every thread re-armed; the number left stays guarded. 0, or -EBUSY
 * when no signal is free. Async-signal-safe (applications change masks in
 * handlers). */
int sp_signal_move(const sigset_t *avoid);

/* Worker, about once a second: a thread whose mask blocks the sampling
 * signal (set by a raw system call, or inherited) stops being sampled, and
 * what it had queued is discarded; a paused thread that unblocked it is
 * sampled again. */
void sp_signal_watch(void);
/* After the calling thread's mask changed or it registered: pause or resume
 * its sampling to match. */
void sp_signal_mask_check(void);
/* The calling thread is about to block our signal: stop sampling it first. */
void sp_signal_pause_self(void);

/* fork child: the move lock may have been held by a thread that is gone. */
void sp_signal_atfork_child(void);

/* SIGIO from the kernel dropped by the guard. */
uint64_t sp_signal_sigio_dropped(void);

/* Shared with the allocation hooks: the slice of t's stack a record takes
 * from `*start` (at most the configured stack bytes; never past the top of
 * the stack when its bounds are known; *start raised to its bottom), and
 * the copy of it into a reserved record, faults impossible. */
struct sp_thread;
size_t sp_stack_slice(const struct sp_thread *t, uint64_t sp, uint64_t *start, bool *in_stack);
uint32_t sp_stack_copy(uint8_t *buf, uint64_t start, size_t len, bool in_stack);
/* A record of `kind` in t's ring, its header filled (time, pid, tid,
 * weight, count 1, addr, flags; no stack yet), or NULL when the ring is
 * full (counted as dropped once the consumer is gone). publish commits it
 * and wakes the consumer when the ring asks for a drain. */
struct sp_raw_sample;
struct sp_raw_sample *sp_capture_reserve(struct sp_thread *t, size_t stack_len,
					 uint8_t **stack_buf, uint32_t kind, uint64_t weight,
					 uint64_t addr, uint32_t flags);
void sp_capture_publish(struct sp_thread *t);

/* Time the handler into the arena's histogram (SPANPROF_DEBUG_COUNTS). */
extern bool sp_handler_timing;

#endif
