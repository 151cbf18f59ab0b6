/* SPANPROF_* environment parsing with bounds and safe defaults. */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

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

int sp_config_parse_duration_s(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	int64_t total_ms = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return -EINVAL;
	/* A bare number is seconds (as before units were accepted). */
	{
		int r = sp_config_parse_int(p, lo, hi, out);

		if (r != -EINVAL)
			return r;
	}
	while (*p && *p != ' ' && *p != '\t') {
		char *end;
		long long v;
		size_t i;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || v > 1000000000LL)
			return -ERANGE;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);

			/* "m" must not swallow the "m" of "ms" */
			if (!strncmp(end, units[i].unit, n) &&
			    !(n == 1 && end[0] == 'm' && end[1] == 's'))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		total_ms += v * units[i].ms;
		if (total_ms > hi * 1000)
			return -ERANGE;
		p = end + strlen(units[i].unit);
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return -EINVAL;
	if (total_ms % 1000)
		return -EINVAL; /* whole seconds only */
	if (total_ms / 1000 < lo)
		return -ERANGE;
	*out = total_ms / 1000;
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

void sp_config_exe_name(char *out, size_t outlen)
{
	extern char *program_invocation_short_name;
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	const char *base = program_invocation_short_name;

	if (n > 0) {
		buf[n] = '\0';
		base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
	}
	snprintf(out, outlen, "%s", base ? base : "");
}

char *sp_config_otel_attr(const char *attrs, const char *key)
{
	const char *p = attrs;
	size_t klen = strlen(key);

	while (p && *p) {
		const char *end = p + strcspn(p, ","), *k = p, *eq;
		size_t len = (size_t)(end - p);

		eq = memchr(k, '=', len);
		if (eq) {
			const char *v = eq + 1;
			size_t kl = (size_t)(eq - k), vl = len - kl - 1;

			while (kl && isspace((unsigned char)*k))
				k++, kl--;
			while (kl && isspace((unsigned char)k[kl - 1]))
				kl--;
			while (vl && isspace((unsigned char)*v))
				v++, vl--;
			while (vl && isspace((unsigned char)v[vl - 1]))
				vl--;
			if (kl == klen && !strncmp(k, key, klen)) {
				char *out = malloc(vl + 1);
				size_t o = 0;

				if (!out)
					return NULL;
				for (size_t i = 0; i < vl; i++) {
					if (v[i] == '%' && i + 2 < vl &&
					    isxdigit((unsigned char)v[i + 1]) &&
					    isxdigit((unsigned char)v[i + 2])) {
						char h[3] = { v[i + 1], v[i + 2], 0 };
						out[o++] = (char)strtol(h, NULL, 16);
						i += 2;
					} else {
						out[o++] = v[i];
					}
				}
				out[o] = '\0';
				return out;
			}
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

/* Here, not in pyroscope_config.c: the capture layer resolves the service
 * name too, and must not link the Pyroscope exporter. */
static bool service_char(unsigned char c)
{
	return c < 0x80 && (isalnum(c) || c == '_' || c == '.' || c == '/' || c == '-');
}

char *sp_pyroscope_sanitize_service(const char *in, bool *changed)
{
	size_t len, i;
	char *out;

	*changed = false;
	if (!in)
		return NULL;
	len = strlen(in);
	while (len && isspace((unsigned char)*in)) {
		in++;
		len--;
	}
	while (len && isspace((unsigned char)in[len - 1]))
		len--;
	if (len == 0)
		return NULL;
	if (len > SP_PYRO_MAX_LABEL_VALUE) {
		len = SP_PYRO_MAX_LABEL_VALUE;
		*changed = true;
	}
	out = malloc(len + 1);
	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = in[i];
		out[i] = service_char(c) ? (char)c : '_';
		if (out[i] != (char)c)
			*changed = true;
	}
	out[len] = '\0';
	return out;
}

const char *sp_service_name(sp_getenv_fn get, void *ctx, const char *explicit_name,
			    const char *fallback, char *out, size_t outlen, bool *changed)
{
	static const char *const vars[] = { "SPANPROF_SERVICE", "PYROSCOPE_APPLICATION_NAME",
					    "OTEL_SERVICE_NAME" };
	const char *src = NULL, *v = NULL;
	char *attr = NULL, exe[256], *clean;
	bool ch = false;

	if (!get)
		get = sp_getenv_process;
	if (explicit_name && *explicit_name) {
		v = explicit_name;
		src = "spanprof_options.service";
	}
	for (size_t i = 0; !v && i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *e = get(ctx, vars[i]);

		if (e && e[strspn(e, " \t")]) {
			v = e;
			src = vars[i];
		}
	}
	if (!v) {
		const char *attrs = get(ctx, "OTEL_RESOURCE_ATTRIBUTES");

		attr = attrs ? sp_config_otel_attr(attrs, "service.name") : NULL;
		if (attr && attr[strspn(attr, " \t")]) {
			v = attr;
			src = "service.name in OTEL_RESOURCE_ATTRIBUTES";
		}
	}
	if (!v && fallback && *fallback) {
		v = fallback;
		src = "the command name";
	}
	if (!v) {
		sp_config_exe_name(exe, sizeof(exe));
		v = exe;
		src = "the executable name";
	}
	clean = sp_pyroscope_sanitize_service(v, &ch);
	snprintf(out, outlen, "%s", clean ? clean : "unknown_service");
	if (!clean)
		ch = true;
	free(clean);
	free(attr);
	if (changed)
		*changed = ch;
	return src;
}

static void env_int(const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
	const char *s = sp_getenv(name);
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

int sp_config_parse_bytes(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	static const struct { const char *sfx; int shift; } units[] = {
		{ "", 0 }, { "k", 10 }, { "kb", 10 }, { "kib", 10 }, { "m", 20 }, { "mb", 20 },
		{ "mib", 20 }, { "g", 30 }, { "gb", 30 }, { "gib", 30 },
	};
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].sfx))
			continue;
		if (v > (unsigned long long)hi >> units[i].shift)
			return -ERANGE;
		v <<= units[i].shift;
		if ((int64_t)v < lo)
			return -ERANGE;
		*out = (int64_t)v;
		return 0;
	}
	return -EINVAL;
}

static void env_bool(const char *name, bool def, bool *out)
{
	const char *s = sp_getenv(name);

	*out = def;
	if (!s || !*s)
		return;
	if (sp_config_parse_bool(s, out))
		sp_log("%s=%s is not a boolean (use 1 or 0); using %d", name, s, def);
}

static void env_str(const char *name, const char *def, char *out, size_t outlen)
{
	const char *s = sp_getenv(name);

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

	memset(c, 0, sizeof(*c));
	/* First, so the lines about bad values below are shown when asked. */
	s = sp_getenv("SPANPROF_LOG");
	if (s && *s && sp_config_parse_bool(s, &c->log) == 0)
		sp_log_set_enabled(c->log);

	env_int("SPANPROF_HZ", 1, 10000, 100, &v);
	c->hz = (int)v;
	env_str("SPANPROF_OUTPUT", "./spanprof-out", c->output_dir, sizeof(c->output_dir));
	/* SPANPROF_UPLOAD_INTERVAL, else the Pyroscope SDKs' name for it. */
	c->upload_interval_s = 10;
	for (size_t i = 0; i < 2; i++) {
		const char *name = i ? "PYROSCOPE_UPLOAD_INTERVAL" : "SPANPROF_UPLOAD_INTERVAL";
		int r;

		s = sp_getenv(name);
		if (!s || !*s)
			continue;
		r = sp_config_parse_duration_s(s, 1, 3600, &v);
		if (!r)
			c->upload_interval_s = (int)v;
		else
			sp_log("%s=%s is not a duration of 1 s to 1 h in whole seconds (10, 10s, 1m, 1m30s); using %d s",
			       name, s, c->upload_interval_s);
		break;
	}
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
	env_bool("SPANPROF_CPU", true, &c->cpu);
	env_bool("SPANPROF_HEAP", false, &c->heap);
	c->heap_rate = 512 * 1024;
	s = sp_getenv("SPANPROF_HEAP_RATE");
	if (s && *s && sp_config_parse_bytes(s, 1, (int64_t)1 << 30, &c->heap_rate))
		sp_log("SPANPROF_HEAP_RATE=%s is not a byte count of 1 to 1G (524288, 512K, 1M); "
		       "using 512K", s);
	env_bool("SPANPROF_QUIET", false, &c->quiet);
	env_str("SPANPROF_DEBUG_COUNTS", "", c->debug_counts, sizeof(c->debug_counts));

	c->engine = SP_ENGINE_AUTO;
	s = sp_getenv("SPANPROF_ENGINE");
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

	{
		bool changed;
		const char *src = sp_service_name(NULL, NULL, opts ? opts->service : NULL, NULL,
						  c->service, sizeof(c->service), &changed);

		if (changed)
			sp_log("service name from %s has characters Pyroscope refuses (allowed: letters, digits, _ . / -); using '%s'",
			       src, c->service);
	}

	if (opts) {
		if (opts->hz > 0 && opts->hz <= 10000)
			c->hz = opts->hz;
		else if (opts->hz)
			sp_log("spanprof_options.hz=%d is outside 1..10000; using %d", opts->hz, c->hz);
		if (opts->output_dir && *opts->output_dir)
			snprintf(c->output_dir, sizeof(c->output_dir), "%s", opts->output_dir);
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
		/* Allocation samples come in bursts (a loop of large blocks
		 * samples nearly every one): room for a few hundred records. */
		if (c->heap && c->ring_bytes < 512 * 1024)
			c->ring_bytes = 512 * 1024;
	}
}
