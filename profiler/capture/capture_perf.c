/* perf_event engine: a cpu-clock software event per thread whose overflow
 * signal is delivered to that thread. No ring buffer is mapped (the signal
 * does not need one), so no mlock budget is used.
 *
 * Kernel time: the event counts kernel mode too (exclude_kernel = 0), so a
 * profile's total is the thread's user+system CPU. The overflow signal is
 * delivered on the way back to user mode, so time spent in a system call is
 * charged to the user stack that made the call. The kernel refuses such an
 * event (EACCES) at kernel.perf_event_paranoid >= 2 unless the caller has
 * CAP_PERFMON or CAP_SYS_ADMIN. Then:
 *  - SPANPROF_ENGINE=auto lets the caller fall back to POSIX CPU timers,
 *    which count system time as well: a full profile beats a user-only one;
 *  - SPANPROF_ENGINE=perf (the perf engine was asked for) opens a user-only
 *    event and sp_perf_user_only() turns true, so the summary, the log line
 *    and the profile's comments can say system time is missing. */
#include "capture/capture.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic bool user_only;

bool sp_perf_user_only(void)
{
	return atomic_load(&user_only);
}

void sp_perf_reset_user_only(void)
{
	atomic_store(&user_only, false);
}

int sp_perf_arm(pid_t tid, int signo, uint64_t period_ns, bool allow_user_only, int fd_lo, int fd_hi,
		int *fd_out, uint64_t *id_out)
{
	struct perf_event_attr attr;
	struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = tid };
	uint64_t id = 0;
	int fd, high, fl, ret;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.sample_period = period_ns;
	attr.disabled = 1;
	attr.exclude_kernel = atomic_load(&user_only);
	attr.exclude_hv = 1;

	fd = (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM) && !attr.exclude_kernel &&
	    allow_user_only) {
		attr.exclude_kernel = 1;
		fd = (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1,
				  PERF_FLAG_FD_CLOEXEC);
		if (fd >= 0)
			atomic_store(&user_only, true);
	}
	if (fd < 0)
		return -errno;
	/* Move it out of the application's way: the lowest numbers are the
	 * ones programs assume free (exec 3>file, close 3..N, select()). The
	 * event lives exactly as long as some descriptor refers to it, and
	 * O_ASYNC signals only while it does, so it must stay open. */
	high = fcntl(fd, F_DUPFD_CLOEXEC, fd_lo);
	if (high < 0 || high >= fd_hi) {
		ret = high < 0 ? -errno : -EMFILE;
		if (high >= 0)
			close(high);
		close(fd);
		return ret;
	}
	close(fd);
	fd = high;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_ASYNC) < 0 ||
	    fcntl(fd, F_SETSIG, signo) < 0 || fcntl(fd, F_SETOWN_EX, &owner) < 0 ||
	    ioctl(fd, PERF_EVENT_IOC_ID, &id) < 0 ||
	    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*fd_out = fd;
	*id_out = id;
	return 0;
}

static int still_ours(int fd, uint64_t id)
{
	uint64_t now = 0;

	return fd >= 0 && ioctl(fd, PERF_EVENT_IOC_ID, &now) == 0 && now == id;
}

bool sp_perf_is_ours(int fd, uint64_t id)
{
	return still_ours(fd, id);
}

void sp_perf_close_inherited(int fd, uint64_t id)
{
	if (still_ours(fd, id))
		close(fd);
}

void sp_perf_pause(int fd, uint64_t id)
{
	if (still_ours(fd, id))
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
}

void sp_perf_resume(int fd, uint64_t id)
{
	if (still_ours(fd, id))
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

int sp_perf_set_signal(int fd, uint64_t id, int signo)
{
	if (!still_ours(fd, id))
		return -EBADF;
	return fcntl(fd, F_SETSIG, signo) < 0 ? -errno : 0;
}

void sp_perf_disarm(int fd, uint64_t id)
{
	if (still_ours(fd, id)) {
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
		close(fd);
	}
}

void sp_perf_strerror(int err, char *buf, size_t len)
{
	int paranoid = -9;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");

	if (f) {
		if (fscanf(f, "%d", &paranoid) != 1)
			paranoid = -9;
		fclose(f);
	}
	switch (-err) {
	case EACCES:
	case EPERM:
		if (paranoid != -9)
			snprintf(buf, len, "perf_event_open: %s (kernel.perf_event_paranoid=%d; "
				 "counting kernel time needs <= 1 or CAP_PERFMON; "
				 "a seccomp filter also gives this)",
				 strerror(-err), paranoid);
		else
			snprintf(buf, len, "perf_event_open: %s (perf events not permitted here)",
				 strerror(-err));
		break;
	case ENOSYS:
	case ENOENT:
	case EOPNOTSUPP:
		snprintf(buf, len, "perf_event_open: %s (no perf events in this kernel)",
			 strerror(-err));
		break;
	case EMFILE:
	case ENFILE:
		snprintf(buf, len, "perf_event_open: %s (file descriptor limit)", strerror(-err));
		break;
	default:
		snprintf(buf, len, "perf_event_open: %s", strerror(-err));
	}
}
