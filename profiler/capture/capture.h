/* The two sampling engines: arm a per-thread CPU-time clock whose expiry
 * sends `signo` to that very thread.
 *  - perf_event: a PERF_COUNT_SW_CPU_CLOCK event (one fd per thread), with
 *    O_ASYNC + F_SETSIG + F_SETOWN_EX(F_OWNER_TID); si_code POLL_IN.
 *  - POSIX timer: timer_create on the thread's CPU-time clock with
 *    SIGEV_THREAD_ID (no fd); si_code SI_TIMER, si_value = SP_TIMER_COOKIE. */
#ifndef SPANPROF_CAPTURE_H
#define SPANPROF_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* si_value of our timers, so a user's timer on the same signal is told apart. */
#define SP_TIMER_COOKIE ((void *)0x5350726f66ULL)

/* Returns 0 with *fd (moved into [fd_lo, fd_hi), close-on-exec) and *id
 * (the kernel's event id) set, or a negative errno from perf_event_open /
 * fcntl; -EMFILE when [fd_lo, fd_hi) has no free number. The event counts
 * user and kernel time; when the kernel refuses kernel time
 * (perf_event_paranoid >= 2 without CAP_PERFMON) it fails with -EACCES, or,
 * with allow_user_only, counts user time only from then on (see
 * sp_perf_user_only). */
int sp_perf_arm(pid_t tid, int signo, uint64_t period_ns, bool allow_user_only, int fd_lo,
		int fd_hi, int *fd, uint64_t *id);
/* Whether `fd` still is the event `id` (the application may have closed
 * or replaced it: dup2, close of a range). */
bool sp_perf_is_ours(int fd, uint64_t id);
/* True once an event had to leave kernel time out: profiles miss system time. */
bool sp_perf_user_only(void);
void sp_perf_reset_user_only(void);
/* Close the event, but only if `fd` still is that event (the application
 * may have closed it and reused the number). */
void sp_perf_disarm(int fd, uint64_t id);
/* fork child: drop the inherited reference without disabling the event
 * (the file description is shared with the parent's live event). */
void sp_perf_close_inherited(int fd, uint64_t id);
/* Stop counting without closing (before exit; the fd stays valid). */
void sp_perf_pause(int fd, uint64_t id);
/* Count again after sp_perf_pause. */
void sp_perf_resume(int fd, uint64_t id);

/* Signal `signo` from now on (the application took the old number).
 * 0, -EBADF when fd is not that event any more, or a negative errno. */
int sp_perf_set_signal(int fd, uint64_t id, int signo);

/* Returns 0 with *timer set, or a negative errno. */
int sp_timer_arm(pid_t tid, int signo, uint64_t period_ns, timer_t *timer);
void sp_timer_disarm(timer_t timer);
/* Stop the timer without deleting it; sp_timer_resume starts it again
 * (0 or a negative errno). */
void sp_timer_pause(timer_t timer);
int sp_timer_resume(timer_t timer, uint64_t period_ns);
/* Replace *timer by one signalling `signo`, running or paused as it was. */
int sp_timer_resignal(pid_t tid, int signo, uint64_t period_ns, timer_t *timer);
/* CPU time of thread tid of this process (0 when it cannot be read). */
uint64_t sp_timer_thread_cpu_ns(pid_t tid);

/* Human-readable reason for an engine error, e.g. "perf_event_open: EACCES
 * (kernel.perf_event_paranoid=3)". */
void sp_perf_strerror(int err, char *buf, size_t len);

#endif
