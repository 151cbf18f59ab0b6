/* `spanprof record [-F HZ] [-o DIR] [--svg FILE] [--duration S] -- CMD ARGS...`:
 * run CMD with libspanprof.so preloaded, forward signals to it, and when it
 * ends merge the interval profiles it (and any forked children) wrote into
 * one pprof and one flame graph. Exits with CMD's status. */
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "abi/link_proto.h"
#include "pipeline/consumer.h"
#include "cli/cli.h"
#include "cli/cli_merge.h"
#include "base/config.h"
#include "base/env.h"
#include "render/flamegraph.h"
#include "sinks/links.h"
#include "sinks/output.h"
#include "model/pprof.h"
#include "model/profile.h"
#include "render/stacks.h"

static const char usage_text[] =
"usage: spanprof record [options] -- CMD [ARGS...]\n"
"\n"
"Run CMD with the profiler preloaded (LD_PRELOAD=libspanprof.so). Every\n"
"SPANPROF_UPLOAD_INTERVAL seconds it writes an interval profile to\n"
"DIR/intervals/; when CMD ends they are merged into DIR/<cmd>-<pid>.pb.gz and\n"
"an SVG flame graph, so DIR/*.pb.gz names each sample once. With --heap the\n"
"memory profile (sampled allocations: alloc_objects, alloc_space, and\n"
"inuse_objects, inuse_space still live when each process ended) goes to\n"
"DIR/<cmd>-<pid>.heap.pb.gz, its flame graph of alloc_space to .heap.svg.\n"
"Signals sent to spanprof are forwarded to CMD; the exit status is CMD's\n"
"(128+N when it was killed by signal N), or 0 when --duration stopped it.\n"
"A statically linked CMD cannot be profiled (LD_PRELOAD needs the dynamic\n"
"loader) and is refused.\n"
"\n"
"options:\n"
"  -F, --freq HZ         sampling rate per thread, 1..10000 (default 100)\n"
"  -o, --output DIR      a directory (created): the merged profile, flame graph\n"
"                        and links at the top, interval files in DIR/intervals/\n"
"                        (default ./spanprof-out)\n"
"      --svg FILE        flame graph path (default DIR/<cmd>-<pid>.svg)\n"
"      --duration S      stop CMD with SIGTERM after S seconds (then exit 0)\n"
"      --timer           use POSIX CPU timers instead of perf events\n"
"      --heap            sample allocations too (SPANPROF_HEAP=1)\n"
"      --heap-rate BYTES mean bytes between allocation samples (default 512K)\n"
"      --no-cpu          no CPU sampling (with --heap: memory only)\n"
"  -q, --quiet           no summary\n"
"  -h, --help            show this help\n"
"\n"
"The library is found next to the spanprof binary, in ../lib, or at\n"
"$SPANPROF_LIB. Other SPANPROF_* variables pass through to CMD.\n";

static volatile pid_t child_pid;

/* Forward what is sent to us; a terminal's ^C already reached CMD (same
 * process group, si_code SI_KERNEL) and is not sent twice. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (child_pid > 0 && si->si_code != SI_KERNEL)
		kill(child_pid, sig);
}

static int find_library(char *out, size_t len)
{
	char exe[PATH_MAX - 64];
	const char *env = sp_getenv("SPANPROF_LIB");
	ssize_t n;
	char *slash;

	if (env && *env) {
		if (access(env, R_OK) == 0) {
			snprintf(out, len, "%s", env);
			return 0;
		}
		cli_error("record: SPANPROF_LIB=%s is not readable", env);
		return -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, len, "%s/libspanprof.so", exe);
	if (access(out, R_OK) == 0)
		return 0;
	snprintf(out, len, "%s/../lib/libspanprof.so", exe);
	if (access(out, R_OK) == 0)
		return 0;
	cli_error("record: libspanprof.so not found next to %s nor in %s/../lib; set SPANPROF_LIB",
		  exe, exe);
	return -ENOENT;
}

/* Path execvp would run for cmd (PATH search when it has no '/'). */
static int resolve_command(const char *cmd, char *out, size_t len)
{
	const char *path = sp_getenv("PATH"), *p, *end;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return 0;
	}
	for (p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = end + !!*end) {
		end = strchrnul(p, ':');
		if (end > p)
			snprintf(out, len, "%.*s/%s", (int)(end - p), p, cmd);
		else
			snprintf(out, len, "./%s", cmd); /* empty PATH entry: cwd */
		if (access(out, X_OK) == 0)
			return 0;
		if (!*end)
			break;
	}
	return -ENOENT;
}

/* 1 when file is an ELF executable without PT_INTERP: the kernel starts it
 * without the dynamic loader, which is what reads LD_PRELOAD, so the
 * profiler can never load. 0 otherwise (dynamic, script, unreadable). */
static int is_static_elf(const char *file)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(file, O_RDONLY | O_CLOEXEC), interp = 0, elf = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh.e_phentsize == sizeof(ph)) {
		elf = 1;
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) !=
			    (ssize_t)sizeof(ph)) {
				elf = 0;
				break;
			}
			if (ph.p_type == PT_INTERP)
				interp = 1;
		}
	}
	close(fd);
	return elf && !interp;
}


static int parse_uint(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		cli_error("record: %s wants a whole number in %ld..%ld, got '%s'", opt, lo, hi, s);
		return CLI_USAGE_ERROR;
	}
	*out = v;
	return 0;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return CLI_RUNTIME_ERROR;
}

int cli_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "freq", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "svg", required_argument, NULL, 'S' },
		{ "duration", required_argument, NULL, 'd' },
		{ "timer", no_argument, NULL, 'T' },
		{ "heap", no_argument, NULL, 'H' },
		{ "heap-rate", required_argument, NULL, 'R' },
		{ "no-cpu", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	const char *dir = NULL, *svg = NULL;
	long hz = 0, duration = 0;
	bool timer = false, quiet = false, heap = false, cpu = true;
	const char *heap_rate = NULL;
	char lib[PATH_MAX], preload[2 * PATH_MAX + 2], hzbuf[16], svc[128];
	char absdir[PATH_MAX], idir[PATH_MAX + 16], exe[PATH_MAX];
	bool stopped = false;
	struct cli_name_set before = { 0 }, before_heap = { 0 };
	struct sigaction sa;
	const char *old;
	int c, status = 0, ret;
	pid_t pid;
	sp_consumer *consumer;
	sp_error cerr = { "" };
	time_t deadline = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:F:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if ((ret = parse_uint("-F", optarg, 1, 10000, &hz)))
				return ret;
			break;
		case 'o': dir = optarg; break;
		case 'S': svg = optarg; break;
		case 'd':
			if ((ret = parse_uint("--duration", optarg, 1, 86400 * 365, &duration)))
				return ret;
			break;
		case 'T': timer = true; break;
		case 'H': heap = true; break;
		case 'C': cpu = false; break;
		case 'R': {
			int64_t v;
			if (sp_config_parse_bytes(optarg, 1, (int64_t)1 << 30, &v)) {
				cli_error("record: --heap-rate wants a byte count of 1 to 1G (524288, 512K, 1M), got '%s'",
					  optarg);
				return CLI_USAGE_ERROR;
			}
			heap_rate = optarg;
			heap = true;
			break;
		}
		case 'q': quiet = true; break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("record", c, argv);
		}
	}
	if (optind >= argc) {
		cli_error("record: no command; usage: spanprof record [options] -- CMD [ARGS...]");
		return CLI_USAGE_ERROR;
	}
	if (find_library(lib, sizeof(lib)))
		return CLI_RUNTIME_ERROR;
	if (!dir)
		dir = sp_getenv("SPANPROF_OUTPUT") && *sp_getenv("SPANPROF_OUTPUT") ?
			sp_getenv("SPANPROF_OUTPUT") : "./spanprof-out";
	if ((ret = sp_mkdir_p(dir, 0755))) {
		cli_error("record: cannot create %s: %s", dir, strerror(-ret));
		return CLI_RUNTIME_ERROR;
	}
	/* Absolute, so a CMD that changes directory still writes here. */
	if (!realpath(dir, absdir)) {
		cli_error("record: %s: %s", dir, strerror(errno));
		return CLI_RUNTIME_ERROR;
	}
	snprintf(idir, sizeof(idir), "%s/intervals", absdir);
	/* The consumer's raw intervals are this user's only (other users'
	 * processes may not register either). */
	if ((ret = sp_mkdir_p(idir, 0700)) || chmod(idir, 0700) < 0) {
		cli_error("record: cannot create %s: %s", idir, strerror(ret ? -ret : errno));
		return CLI_RUNTIME_ERROR;
	}
	if (resolve_command(argv[optind], exe, sizeof(exe)) == 0 && is_static_elf(exe)) {
		cli_error("record: %s is statically linked (no ELF interpreter): the dynamic "
			  "loader never runs, so LD_PRELOAD cannot load the profiler; "
			  "rebuild it dynamically linked", exe);
		return CLI_RUNTIME_ERROR;
	}
	if (!cpu && !heap) {
		cli_error("record: --no-cpu leaves nothing to sample; add --heap");
		return CLI_USAGE_ERROR;
	}
	cli_list_intervals(idir, &before, false);
	cli_list_intervals(idir, &before_heap, true);
	/* The name the command will resolve for itself, were it not to exec. */
	sp_service_name(NULL, NULL, NULL,
			strrchr(argv[optind], '/') ? strrchr(argv[optind], '/') + 1 : argv[optind],
			svc, sizeof(svc), NULL);

	old = sp_getenv("LD_PRELOAD");
	/* After what is there: a sanitizer runtime must stay first. */
	if (old && *old)
		snprintf(preload, sizeof(preload), "%s %s", old, lib);
	else
		snprintf(preload, sizeof(preload), "%s", lib);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaction(fwd[i], &sa, NULL);

	/* This process is the consumer for the whole tree: every process
	 * registers here, so what ends by _exit, exec, a signal or a crash is
	 * still drained from its rings. */
	consumer = sp_consumer_start(NULL, &cerr);
	if (!consumer) {
		cli_error("record: %s", cerr.msg);
		cli_free_set(&before);
		cli_free_set(&before_heap);
		return CLI_RUNTIME_ERROR;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_error("record: fork: %s", strerror(errno));
		sp_consumer_finish(consumer);
		cli_free_set(&before);
		cli_free_set(&before_heap);
		return CLI_RUNTIME_ERROR;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
			signal(fwd[i], SIG_DFL);
		setenv("LD_PRELOAD", preload, 1);
		setenv("SPANPROF_OUTPUT", idir, 1);
		setenv("SPANPROF_AUTOSTART", "1", 1);
		setenv(SP_CONSUMER_ENV, sp_consumer_address(consumer), 1);
		/* A process outliving record must not start a consumer of its own. */
		setenv("SPANPROF_CONSUMER_SPAWN", "0", 1);
		if (hz) {
			snprintf(hzbuf, sizeof(hzbuf), "%ld", hz);
			setenv("SPANPROF_HZ", hzbuf, 1);
		}
		if (timer)
			setenv("SPANPROF_ENGINE", "timer", 1);
		if (heap)
			setenv("SPANPROF_HEAP", "1", 1);
		if (heap_rate)
			setenv("SPANPROF_HEAP_RATE", heap_rate, 1);
		if (!cpu)
			setenv("SPANPROF_CPU", "0", 1);
		if (quiet)
			setenv("SPANPROF_QUIET", "1", 1);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "spanprof: record: cannot run %s: %s\n", argv[optind],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	/* Everything record writes (the consumer's intervals, the merged
	 * profile, the flame graph) is this user's only; after the fork, so the
	 * command keeps the umask it was given. */
	umask(077);
	if (duration)
		deadline = time(NULL) + duration;
	for (;;) {
		pid_t w = waitpid(pid, &status, deadline ? WNOHANG : 0);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			cli_error("record: waitpid: %s", strerror(errno));
			status = 0;
			break;
		}
		if (deadline && time(NULL) >= deadline) {
			kill(pid, SIGTERM);
			stopped = true;
			deadline = 0;
			continue;
		}
		if (deadline)
			usleep(20000);
	}
	child_pid = 0;
	sp_consumer_finish(consumer);
	ret = exit_code(status);
	/* A run ended by --duration is a success; 143 would read as a failure. */
	if (stopped && ret == 128 + SIGTERM) {
		if (!quiet)
			fprintf(stderr, "spanprof: stopped %s after %ld s (--duration); exit status 0\n",
				svc, duration);
		ret = 0;
	}
	if (sp_getenv("SPANPROF_CPU") && !strcmp(sp_getenv("SPANPROF_CPU"), "0"))
		cpu = false;
	if (sp_getenv("SPANPROF_HEAP") && !strcmp(sp_getenv("SPANPROF_HEAP"), "1"))
		heap = true;
	struct cli_collect cc = {
		.cmd = "record", .dir = absdir, .idir = idir, .before = &before,
		.service = svc, .pid = pid, .svg = svg, .quiet = quiet,
	};
	if (cpu && cli_collect(&cc) && ret == 0)
		ret = CLI_RUNTIME_ERROR;
	cc.before = &before_heap;
	cc.svg = NULL;
	cc.heap = true;
	if (heap && cli_collect(&cc) && ret == 0)
		ret = CLI_RUNTIME_ERROR;
	cli_free_set(&before);
	cli_free_set(&before_heap);
	return ret;
}
