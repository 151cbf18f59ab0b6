/* Processes that end in ways no code of theirs sees, each burning a known
 * amount of CPU in a function of its own first, and reporting the CPU it
 * used (measured by the kernel, not assumed) to CPUFILE as "<seconds>\n":
 *   lossless fork N CPUFILE    N children burn 1 s each (fork_child_burn)
 *                              and _exit(0); CPUFILE gets the sum of their
 *                              user+system time, from wait4's rusage
 *   lossless exec CPUFILE      burns 2 s (exec_burn), then execs /bin/true;
 *                              CPUFILE gets its CPU time just before execv
 *   lossless sigpipe CPUFILE   writes one byte to stdout, burns 1 s
 *                              (pipe_burn), then keeps writing: run as
 *                              `lossless sigpipe F | head -c1`, the first
 *                              write after head is gone kills it (SIGPIPE);
 *                              CPUFILE is rewritten before each write
 *   lossless service PIDFILE   writes its pid, then burns (service_burn)
 *                              until killed (the caller reads its CPU from
 *                              /proc/PID/stat); gives up after 120 s CPU */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burn.h"

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd)) {
		perror(path);
		exit(2);
	}
}

static void put_seconds(const char *path, double s)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.6f\n", s);
	put(path, buf);
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

NOIPA void fork_child_burn(double secs) { burn_cpu(secs); }
NOIPA void exec_burn(double secs) { burn_cpu(secs); }
NOIPA void pipe_burn(double secs) { burn_cpu(secs); }
NOIPA void service_burn(double secs) { burn_cpu(secs); }

static int run_fork(int n, const char *cpufile)
{
	double sum = 0;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			fork_child_burn(1.0);
			_exit(0);
		}
	}
	for (int i = 0; i < n; i++) {
		struct rusage ru;
		int st;

		if (wait4(-1, &st, 0, &ru) < 0) {
			perror("wait4");
			return 2;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "a child ended with status %#x\n", st);
			return 3;
		}
		sum += tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
	}
	put_seconds(cpufile, sum);
	printf("fork: %d children done\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "fork"))
		return run_fork(atoi(argv[2]), argv[3]);
	if (argc == 3 && !strcmp(argv[1], "exec")) {
		exec_burn(2.0);
		put_seconds(argv[2], process_cpu_s());
		execl("/bin/true", "true", (char *)NULL);
		perror("execl /bin/true");
		return 2;
	}
	if (argc == 3 && !strcmp(argv[1], "sigpipe")) {
		struct timespec pause = { 0, 10 * 1000 * 1000 };

		signal(SIGPIPE, SIG_DFL); /* the caller's shell may ignore it */
		if (write(1, "x", 1) != 1)
			return 2;
		pipe_burn(1.0);
		for (int i = 0; i < 10000; i++) {
			put_seconds(argv[2], process_cpu_s());
			if (write(1, "y", 1) != 1)
				return 2;
			nanosleep(&pause, NULL);
		}
		fprintf(stderr, "sigpipe: the reader never went away\n");
		return 3;
	}
	if (argc == 3 && !strcmp(argv[1], "service")) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		put(argv[2], buf);
		service_burn(120.0);
		fprintf(stderr, "service: nobody killed me\n");
		return 3;
	}
	fprintf(stderr, "usage: lossless fork N CPUFILE | exec CPUFILE | sigpipe CPUFILE | service PIDFILE\n");
	return 2;
}
