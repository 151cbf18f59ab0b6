/* POSIX timer engine: a timer on the thread's own CPU-time clock, signalling
 * that thread. Costs no fd; CPU-clock timers are checked on the scheduler
 * tick, so at high rates expiries arrive in bursts and si_overrun carries
 * the ones merged into a single signal (the handler weights by it). */
#include "capture/capture.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

/* The kernel's encoding of a thread CPU clock id (include/linux/posix-timers.h:
 * CPUCLOCK_PERTHREAD_MASK 4 | CPUCLOCK_SCHED 2), which lets us name another
 * thread of this process by tid, as pthread_getcpuclockid does for a
 * pthread_t. */
static clockid_t thread_cpu_clock(pid_t tid)
{
	return (clockid_t)((~(unsigned)tid) << 3) | 6;
}

int sp_timer_resume(timer_t timer, uint64_t period_ns)
{
	struct itimerspec its;

	its.it_interval.tv_sec = (time_t)(period_ns / 1000000000u);
	its.it_interval.tv_nsec = (long)(period_ns % 1000000000u);
	its.it_value = its.it_interval;
	return timer_settime(timer, 0, &its, NULL) < 0 ? -errno : 0;
}

void sp_timer_pause(timer_t timer)
{
	struct itimerspec zero;

	memset(&zero, 0, sizeof(zero));
	timer_settime(timer, 0, &zero, NULL);
}

int sp_timer_arm(pid_t tid, int signo, uint64_t period_ns, timer_t *timer)
{
	struct sigevent sev;
	timer_t t;
	int ret;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = signo;
	sev.sigev_value.sival_ptr = SP_TIMER_COOKIE;
	sev._sigev_un._tid = tid;
	if (timer_create(thread_cpu_clock(tid), &sev, &t) < 0)
		return -errno;
	ret = sp_timer_resume(t, period_ns);
	if (ret) {
		timer_delete(t);
		return ret;
	}
	*timer = t;
	return 0;
}

/* A timer's signal cannot be changed: make a new one in the same state
 * (running or paused), then delete the old one, which also takes its
 * pending signal off the queue. */
int sp_timer_resignal(pid_t tid, int signo, uint64_t period_ns, timer_t *timer)
{
	struct itimerspec cur;
	timer_t t;
	int r;

	if (timer_gettime(*timer, &cur) < 0)
		return -errno;
	r = sp_timer_arm(tid, signo, period_ns, &t);
	if (r)
		return r;
	if (!cur.it_interval.tv_sec && !cur.it_interval.tv_nsec)
		sp_timer_pause(t);
	timer_delete(*timer);
	*timer = t;
	return 0;
}

uint64_t sp_timer_thread_cpu_ns(pid_t tid)
{
	struct timespec ts;

	if (clock_gettime(thread_cpu_clock(tid), &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sp_timer_disarm(timer_t timer)
{
	timer_delete(timer);
}
