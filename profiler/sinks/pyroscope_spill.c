/* Spill files for the Pyroscope exporter; see pyroscope_spill.h. */
#include "sinks/pyroscope_spill.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.h"

#define MAGIC "spanprof-pyroscope-spill 1\n"
#define SUFFIX ".pspill"

int sp_spill_init(const char *dir, sp_error *err)
{
	int r = strlen(dir) ? sp_mkdir_p(dir, 0700) : -EINVAL;

	if (r == -EINVAL || r == -ENAMETOOLONG)
		return sp_error_set(err, -EINVAL, "SPANPROF_PYROSCOPE_SPILL_DIR: bad path");
	if (r)
		return sp_error_set(err, r, "SPANPROF_PYROSCOPE_SPILL_DIR '%s': %s", dir,
				    strerror(-r));
	if (access(dir, W_OK | X_OK))
		return sp_error_set(err, -errno, "SPANPROF_PYROSCOPE_SPILL_DIR '%s': %s", dir,
				    strerror(errno));
	return 0;
}

int sp_spill_write(const char *dir, const sp_upload_item *it, uint32_t counter, char **path,
		   sp_error *err)
{
	char *final = NULL, *hdr = NULL;
	sp_atomic_file af;
	int ret, hlen;

	*path = NULL;
	if (asprintf(&final, "%s/%020" PRId64 "-%010u-%d" SUFFIX, dir, it->time_ns, counter,
		     (int)getpid()) < 0) {
		final = NULL;
		ret = -ENOMEM;
		goto out;
	}
	hlen = asprintf(&hdr, MAGIC "kind %s\ntime %" PRId64 "\ncost %zu\nquery %s\nlength %zu\n\n",
			it->kind, it->time_ns, it->cost, it->query, it->len);
	if (hlen < 0) {
		hdr = NULL;
		ret = -ENOMEM;
		goto out;
	}
	/* 0600: queued uploads are the process's own business. The temp name
	 * does not end in SUFFIX, so a loader never picks up a partial file. */
	ret = sp_atomic_file_open(&af, final, 0600);
	if (ret)
		goto out;
	if (fwrite(hdr, 1, (size_t)hlen, af.f) != (size_t)hlen ||
	    (it->len && fwrite(it->body, 1, it->len, af.f) != it->len)) {
		sp_atomic_file_abort(&af);
		ret = -EIO;
		goto out;
	}
	ret = sp_atomic_file_commit(&af);
	if (!ret) {
		*path = final;
		final = NULL;
	}
out:
	if (ret)
		sp_error_set(err, ret, "spill to %s failed: %s", dir, strerror(-ret));
	free(final);
	free(hdr);
	return ret;
}

int sp_spill_read(const char *path, char **query, uint8_t **body, size_t *len,
		  int64_t *time_ns, char kind[8], sp_error *err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *q = NULL;
	size_t cap = 0, n = 0;
	uint8_t *b = NULL;
	ssize_t l;
	int ret = -EINVAL;

	*query = NULL;
	*body = NULL;
	if (!f)
		return sp_error_set(err, -errno, "%s: %s", path, strerror(errno));
	if (getline(&line, &cap, f) < 0 || strcmp(line, MAGIC))
		goto bad;
	kind[0] = '\0';
	*time_ns = 0;
	while ((l = getline(&line, &cap, f)) > 0) {
		if (line[l - 1] == '\n')
			line[--l] = '\0';
		if (l == 0)
			break;
		if (!strncmp(line, "kind ", 5)) {
			size_t k = strlen(line + 5) < 7 ? strlen(line + 5) : 7;
			memcpy(kind, line + 5, k);
			kind[k] = '\0';
		} else if (!strncmp(line, "time ", 5)) {
			*time_ns = strtoll(line + 5, NULL, 10);
		} else if (!strncmp(line, "query ", 6)) {
			free(q);
			q = strdup(line + 6);
		} else if (!strncmp(line, "length ", 7)) {
			n = strtoull(line + 7, NULL, 10);
		}
	}
	if (!q || !n || n > (256u << 20))
		goto bad;
	b = malloc(n);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	if (fread(b, 1, n, f) != n)
		goto bad;
	*query = q;
	*body = b;
	*len = n;
	q = NULL;
	b = NULL;
	ret = 0;
	goto out;
bad:
	ret = sp_error_set(err, -EINVAL, "%s: not a complete spanprof spill file", path);
out:
	free(line);
	free(q);
	free(b);
	fclose(f);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parse "<time>-<counter>-<pid>.pspill". */
static int parse_name(const char *name, int64_t *time_ns, unsigned *counter, int *pid)
{
	size_t l = strlen(name);

	if (l <= strlen(SUFFIX) || strcmp(name + l - strlen(SUFFIX), SUFFIX))
		return -1;
	if (sscanf(name, "%" SCNd64 "-%u-%d", time_ns, counter, pid) != 3)
		return -1;
	return 0;
}

int sp_spill_load(const char *dir, sp_upload_queue *q, sp_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int queued = 0, me = (int)getpid();

	if (!d)
		return sp_error_set(err, -errno, "SPANPROF_PYROSCOPE_SPILL_DIR '%s': %s", dir,
				    strerror(errno));
	while ((de = readdir(d))) {
		int64_t t;
		unsigned c;
		int pid;

		if (parse_name(de->d_name, &t, &c, &pid))
			continue;
		if (pid != me && !(kill(pid, 0) && errno == ESRCH))
			continue; /* a live process owns it */
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		char *from = NULL, *to = NULL, kind[8] = "";
		size_t cost = 0;
		int64_t t;
		unsigned c;
		int pid;
		struct stat st;
		sp_upload_item *it;
		FILE *f;
		char line[128];

		parse_name(names[i], &t, &c, &pid);
		if (asprintf(&from, "%s/%s", dir, names[i]) < 0)
			from = NULL;
		if (asprintf(&to, "%s/%020" PRId64 "-%010u-%d" SUFFIX, dir, t, c, me) < 0)
			to = NULL;
		if (!from || !to || (strcmp(from, to) && rename(from, to)) || stat(to, &st)) {
			free(from);
			free(to);
			continue; /* somebody else claimed it first */
		}
		free(from);
		/* kind only, for messages; the body stays on disk */
		f = fopen(to, "re");
		if (f) {
			while (fgets(line, sizeof(line), f) && line[0] != '\n')
				if (!strncmp(line, "kind ", 5))
					snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(line + 5, "\n"),
						 line + 5);
				else if (!strncmp(line, "cost ", 5))
					cost = strtoull(line + 5, NULL, 10);
			fclose(f);
		}
		it = sp_upload_item_new(NULL, NULL, (size_t)st.st_size, t, kind);
		if (!it) {
			free(to);
			break;
		}
		it->spill_path = to;
		it->cost = cost;
		sp_upload_queue_push_disk_front(q, it);
		queued++;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return queued;
}
