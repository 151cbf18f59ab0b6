/* Interval file names and retention; see output.h. */
#include "sinks/output.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/env.h"

static bool denied(int r)
{
	return r == -EACCES || r == -EPERM || r == -EROFS;
}

int sp_output_fallback(sp_output *o, sp_error *err)
{
	const char *tmp = sp_getenv("TMPDIR");
	char dir[sizeof(o->dir)];
	struct stat st;
	uid_t uid = geteuid();

	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/spanprof-%u", tmp, (unsigned)uid) >= sizeof(dir))
		return sp_error_set(err, -ENAMETOOLONG, "%s: path too long", tmp);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return sp_error_set(err, -errno, "%s: cannot create: %s", dir, strerror(errno));
	/* In a shared /tmp the name may have been taken first by someone
	 * else, or be a symlink planted for us: use only our own directory. */
	if (lstat(dir, &st) < 0)
		return sp_error_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 022))
		return sp_error_set(err, -EPERM, "%s: not a directory of uid %u only; not used",
				    dir, (unsigned)uid);
	if (access(dir, W_OK) < 0)
		return sp_error_set(err, -errno, "%s: not writable: %s", dir, strerror(errno));
	memcpy(o->dir, dir, sizeof(dir));
	o->dir_ok = true;
	return 0;
}

int sp_output_init(sp_output *o, const char *dir, const char *service, pid_t pid,
		   int64_t start_wall_ns, int64_t retention_mb, int64_t retention_hours,
		   sp_error *err)
{
	time_t secs = (time_t)(start_wall_ns / 1000000000);
	struct tm tm;
	char when[32];
	char svc[128];
	int r;

	memset(o, 0, sizeof(*o));
	snprintf(o->dir, sizeof(o->dir), "%s", dir);
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	sp_config_sanitize_name(service, svc, sizeof(svc));
	snprintf(o->stem, sizeof(o->stem), "%s-%d-%s", svc, (int)pid, when);
	o->max_bytes = retention_mb * 1024 * 1024;
	o->max_age_s = retention_hours * 3600;
	r = sp_mkdir_p(dir, 0755);
	if (!r && access(dir, W_OK) < 0)
		r = -errno;
	if (!r) {
		o->dir_ok = true;
		return 0;
	}
	if (denied(r) && sp_output_fallback(o, NULL) == 0) {
		o->fell_back = true;
		return 0;
	}
	return sp_error_set(err, r, "%s: output directory cannot be created or written: %s; "
			    "set SPANPROF_OUTPUT to a writable directory", dir, strerror(-r));
}

void sp_output_profile_path(const sp_output *o, unsigned seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s-%04u.pb.gz", o->dir, o->stem, seq);
}

void sp_output_heap_path(const sp_output *o, unsigned seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s-%04u" SP_HEAP_SUFFIX, o->dir, o->stem, seq);
}

void sp_output_links_path(const sp_output *o, unsigned seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s-%04u.links.jsonl", o->dir, o->stem, seq);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !memcmp(s + n - m, suffix, m);
}

/* The known suffix name ends with (the longest first), or NULL. */
static const char *interval_suffix(const char *name)
{
	static const char *const suffixes[] = { SP_HEAP_SUFFIX, ".pb.gz", ".links.jsonl" };

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(name, suffixes[i]))
			return suffixes[i];
	return NULL;
}

/* "<service>-<pid>-<8 digits>T<6 digits>Z-<digits>" + a known suffix. */
bool sp_output_is_interval_name(const char *name)
{
	const char *sfx = interval_suffix(name);
	size_t n = strlen(name), stem_len = sfx ? n - strlen(sfx) : 0;
	const char *p;
	int dashes = 0;

	if (!stem_len)
		return false;
	/* Walk back over "-<seq>", "-<time>", "-<pid>". */
	p = name + stem_len;
	while (p > name && dashes < 3) {
		const char *end = p;
		while (p > name && p[-1] != '-')
			p--;
		if (p == name || p == end)
			return false;
		if (dashes == 1) {
			if (end - p != 16 || p[8] != 'T' || p[15] != 'Z')
				return false;
			for (int i = 0; i < 15; i++)
				if (i != 8 && (p[i] < '0' || p[i] > '9'))
					return false;
		} else {
			for (const char *q = p; q < end; q++)
				if (*q < '0' || *q > '9')
					return false;
		}
		p--; /* the dash */
		dashes++;
	}
	return dashes == 3 && p > name;
}

bool sp_output_interval_service(const char *name, char *svc, size_t len, pid_t *pid)
{
	const char *p, *pid_start;
	size_t n;

	if (!sp_output_is_interval_name(name) || strstr(name, ".tmp."))
		return false;
	/* "<service>-<pid>-<time>-<seq>.suffix": the service may hold dashes,
	 * the other three fields do not. */
	p = name + strlen(name) - strlen(interval_suffix(name));
	for (int dashes = 0; dashes < 3; dashes++) {
		while (p > name && p[-1] != '-')
			p--;
		if (p == name)
			return false;
		pid_start = p;
		p--;
	}
	n = (size_t)(p - name);
	if (n >= len)
		return false;
	memcpy(svc, name, n);
	svc[n] = '\0';
	*pid = (pid_t)strtol(pid_start, NULL, 10);
	return true;
}

/* A writer's temp file ("<interval name>.tmp.<pid>.<n>") left behind by a
 * process killed mid-write. */
static bool is_temp_name(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	char base[256];
	size_t n;

	if (!t)
		return false;
	n = (size_t)(t - name);
	if (n >= sizeof(base))
		return false;
	memcpy(base, name, n);
	base[n] = '\0';
	return sp_output_is_interval_name(base);
}

#define STALE_TEMP_S 600

struct entry {
	char *name;
	int64_t size;
	int64_t mtime_ns;
};

static int cmp_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

int sp_output_retention(const sp_output *o, const char *keep, int64_t now_wall_ns)
{
	DIR *d;
	struct dirent *de;
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	int64_t total = 0;
	int removed = 0;
	const char *keep_base = keep ? strrchr(keep, '/') : NULL;

	keep_base = keep_base ? keep_base + 1 : keep;
	if (!o->dir_ok || (!o->max_bytes && !o->max_age_s))
		return 0;
	d = opendir(o->dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;
		struct entry *nv;

		bool temp = false;

		if (!sp_output_is_interval_name(de->d_name) && !(temp = is_temp_name(de->d_name)))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (temp) {
			if (now_wall_ns - (int64_t)st.st_mtim.tv_sec * 1000000000 >
			    (int64_t)STALE_TEMP_S * 1000000000 && unlinkat(dirfd(d), de->d_name, 0) == 0)
				removed++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n].name = strdup(de->d_name);
		if (!v[n].name)
			break;
		v[n].size = (int64_t)st.st_size;
		v[n].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		total += v[n].size;
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_age);
	for (size_t i = 0; i < n; i++) {
		bool too_old = o->max_age_s && now_wall_ns - v[i].mtime_ns > o->max_age_s * 1000000000;
		bool too_big = o->max_bytes && total > o->max_bytes;

		if (!too_old && !too_big)
			break;
		if (keep_base && !strcmp(v[i].name, keep_base))
			continue;
		if (unlinkat(dirfd(d), v[i].name, 0) == 0 || errno == ENOENT) {
			total -= v[i].size;
			removed++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	closedir(d);
	return removed;
}
