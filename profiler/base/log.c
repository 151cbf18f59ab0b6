#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* Silent unless asked: the host's stderr is its own (a shell loop of
 * subshells would otherwise get lines from every process and exec). */
static volatile bool log_on, log_quiet;

void sp_log_set_enabled(bool on)
{
	log_on = on;
}

void sp_log_set_quiet(bool quiet)
{
	log_quiet = quiet;
}

static void vlog(const char *fmt, va_list ap)
{
	char buf[768];
	int saved = errno;
	int n = snprintf(buf, sizeof(buf), "spanprof[%d]: ", (int)getpid());

	if (n < 0)
		n = 0;
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write so lines of concurrent processes do not interleave. */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		(void)0;
	errno = saved;
}

void sp_log(const char *fmt, ...)
{
	va_list ap;

	if (!log_on)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void sp_log_info(const char *fmt, ...)
{
	va_list ap;

	if (!log_on || log_quiet)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void sp_log_to(sp_log_sink sink, void *ctx, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	if (!sink) {
		if (log_on)
			vlog(fmt, ap);
	} else {
		vsnprintf(line, sizeof(line), fmt, ap);
		sink(ctx, line);
	}
	va_end(ap);
	errno = saved;
}
