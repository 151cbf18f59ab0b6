/* SPANPROF_* environment parsing with bounds and safe defaults. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int sp_config_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == s || *end)
		return -EINVAL;
	if (errno == ERANGE || v < lo || v > hi)
		return -ERANGE;
	*out = v;
	return 0;
}

int sp_config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

void sp_config_sanitize_name(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (!outlen)
		return;
	for (; in && *in && n + 1 < outlen; in++) {
		char ch = *in;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		out[n++] = ok ? ch : '_';
	}
	out[n] = '\0';
	if (!n || !strcmp(out, ".") || !strcmp(out, ".."))
		snprintf(out, outlen, "process");
}

static void env_int(const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
	const char *s = getenv(name);
	int r;

	*out = def;
	if (!s || !*s)
		return;
	r = sp_config_parse_int(s, lo, hi, out);
	if (r == -ERANGE)
		sp_log("%s=%s is outside %lld..%lld; using %lld", name, s,
		       (long long)lo, (long long)hi, (long long)def);
	else if (r)
		sp_log("%s=%s is not a whole number; using %lld", name, s, (long long)def);
}

static void env_bool(const char *name, bool def, bool *out)
{
	const char *s = getenv(name);

	*out = def;
	if (!s || !*s)
		return;
	if (sp_config_parse_bool(s, out))
		sp_log("%s=%s is not a boolean (use 1 or 0); using %d", name, s, def);
}

static void env_str(const char *name, const char *def, char *out, size_t outlen)
{
	const char *s = getenv(name);

	if (!s || !*s)
		s = def;
	if (strlen(s) >= outlen) {
		sp_log("%s is longer than %zu bytes; using %s", name, outlen - 1, def);
		s = def;
	}
	snprintf(out, outlen, "%s", s);
}

void sp_config_load(sp_config *c, const spanprof_options *opts)
{
	int64_t v;
	const char *s;
	extern char *program_invocation_short_name;

	memset(c, 0, sizeof(*c));
	/* First, so the lines about bad values below are shown when asked. */
	s = getenv("SPANPROF_LOG");
	if (s && *s && sp_config_parse_bool(s, &c->log) == 0)
		sp_log_set_enabled(c->log);

	env_int("SPANPROF_HZ", 1, 10000, 100, &v);
	c->hz = (int)v;
	env_str("SPANPROF_OUTPUT", "./spanprof-out", c->output_dir, sizeof(c->output_dir));
	env_int("SPANPROF_UPLOAD_INTERVAL", 1, 3600, 10, &v);
	c->upload_interval_s = (int)v;
	env_int("SPANPROF_STACK_BYTES", 1024, 262144, 32768, &v);
	c->stack_bytes = (size_t)v;
	env_int("SPANPROF_RING_KB", 16, 65536, 0, &v);
	c->ring_bytes = (size_t)v * 1024;
	env_int("SPANPROF_RETENTION_MB", 0, INT64_MAX / (1 << 20), 256, &v);
	c->retention_mb = v;
	env_int("SPANPROF_RETENTION_HOURS", 0, 24 * 365 * 10, 24, &v);
	c->retention_hours = v;
	env_int("SPANPROF_FLUSH_TIMEOUT_MS", 0, 60000, 3000, &v);
	c->flush_timeout_ms = (int)v;
	env_int("SPANPROF_SIGNAL", 0, 64, 0, &v);
	c->signo = (int)v;
	env_bool("SPANPROF_SYMBOLIZE", true, &c->symbolize);
	env_bool("SPANPROF_FOLLOW_FORK", true, &c->follow_fork);
	env_bool("SPANPROF_QUIET", false, &c->quiet);
	env_str("SPANPROF_DEBUG_COUNTS", "", c->debug_counts, sizeof(c->debug_counts));

	c->engine = SP_ENGINE_AUTO;
	s = getenv("SPANPROF_ENGINE");
	if (s && *s) {
		if (!strcasecmp(s, "auto"))
			c->engine = SP_ENGINE_AUTO;
		else if (!strcasecmp(s, "perf") || !strcasecmp(s, "perf_event"))
			c->engine = SP_ENGINE_PERF;
		else if (!strcasecmp(s, "timer") || !strcasecmp(s, "timers"))
			c->engine = SP_ENGINE_TIMER;
		else
			sp_log("SPANPROF_ENGINE=%s is not one of auto, perf, timer; using auto", s);
	}

	s = getenv("SPANPROF_SERVICE");
	if (!s || !*s)
		s = getenv("OTEL_SERVICE_NAME");
	if (!s || !*s)
		s = program_invocation_short_name;
	sp_config_sanitize_name(s, c->service, sizeof(c->service));

	if (opts) {
		if (opts->hz > 0 && opts->hz <= 10000)
			c->hz = opts->hz;
		else if (opts->hz)
			sp_log("spanprof_options.hz=%d is outside 1..10000; using %d", opts->hz, c->hz);
		if (opts->output_dir && *opts->output_dir)
			snprintf(c->output_dir, sizeof(c->output_dir), "%s", opts->output_dir);
		if (opts->service && *opts->service)
			sp_config_sanitize_name(opts->service, c->service, sizeof(c->service));
		if (opts->upload_interval_s > 0 && opts->upload_interval_s <= 3600)
			c->upload_interval_s = opts->upload_interval_s;
		if (opts->stack_bytes >= 1024 && opts->stack_bytes <= 262144)
			c->stack_bytes = opts->stack_bytes;
		if (opts->force_timer_engine)
			c->engine = SP_ENGINE_TIMER;
	}
	c->stack_bytes &= ~(size_t)7;

	/* Resolved now: files are written later, maybe after a chdir("/"). */
	if (c->output_dir[0] != '/') {
		char cwd[sizeof(c->output_dir)], abs[sizeof(c->output_dir)];
		const char *rel = c->output_dir;

		if (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		if (getcwd(cwd, sizeof(cwd)) &&
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", strcmp(cwd, "/") ? cwd : "",
				     rel) < sizeof(abs))
			memcpy(c->output_dir, abs, sizeof(abs));
	}

	/* 128 KiB up to 250 Hz: dozens of typical records (1-8 KiB of stack
	 * each), at least three full-size ones. A ring wakes the worker when
	 * half full, so a bigger ring at higher rates means fewer wake-ups
	 * (each costs tens of µs): 512 KiB at 1 kHz, at most 1 MiB. */
	if (!c->ring_bytes) {
		c->ring_bytes = 128 * 1024;
		while (c->ring_bytes < 1024 * 1024 && c->ring_bytes * 250 < 128 * 1024 * (size_t)c->hz)
			c->ring_bytes *= 2;
		while (c->ring_bytes < 3 * (c->stack_bytes + 1024))
			c->ring_bytes *= 2;
	}
}
