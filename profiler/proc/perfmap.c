/* /tmp/perf-<pid>.map reader; see perfmap.h. */
#include "proc/perfmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sp_perfmap_free(sp_perfmap *m)
{
	free(m->v);
	free(m->names);
	memset(m, 0, sizeof(*m));
}

static int add(sp_perfmap *m, uint64_t start, uint64_t size, const char *name, size_t len)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		sp_perfmap_entry *v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	if (m->names_len + len + 1 > m->names_cap || m->names_len + len + 1 > UINT32_MAX) {
		size_t cap = m->names_cap ? m->names_cap * 2 : 4096;
		char *s;
		while (cap < m->names_len + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -E2BIG;
		s = realloc(m->names, cap);
		if (!s)
			return -ENOMEM;
		m->names = s;
		m->names_cap = cap;
	}
	memcpy(m->names + m->names_len, name, len);
	m->names[m->names_len + len] = '\0';
	m->v[m->n] = (sp_perfmap_entry){ start, start + size, (uint32_t)m->names_len,
					 (uint32_t)m->n };
	m->names_len += len + 1;
	m->n++;
	m->sorted = 0;
	return 0;
}

/* One line without its newline. Malformed lines are skipped. */
static int parse_line(sp_perfmap *m, char *line, size_t len)
{
	char *end;
	uint64_t start, size;

	line[len] = '\0';
	start = strtoull(line, &end, 16);
	if (end == line || *end != ' ')
		return 0;
	line = end + 1;
	size = strtoull(line, &end, 16);
	if (end == line || *end != ' ' || !size || start + size < start)
		return 0;
	line = end + 1;
	return add(m, start, size, line, strlen(line));
}

int sp_perfmap_refresh(sp_perfmap *m, pid_t pid)
{
	char path[64], buf[65536];
	struct stat st;
	size_t have = 0;
	int fd, r = 0;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	if (m->pid != pid || st.st_dev != m->dev || st.st_ino != m->ino || st.st_size < m->parsed) {
		sp_perfmap_free(m);
		m->pid = pid;
		m->dev = st.st_dev;
		m->ino = st.st_ino;
	}
	if (st.st_size == m->parsed || lseek(fd, m->parsed, SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	/* Whole lines only: a line still being written is read next time. */
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *p = buf, *nl;

		if (got <= 0)
			break;
		have += (size_t)got;
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf)))) {
			if ((r = parse_line(m, p, (size_t)(nl - p))) < 0)
				goto out;
			m->parsed += nl + 1 - p;
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
		if (have == sizeof(buf) - 1) {
			/* A line longer than the buffer: skip it. */
			m->parsed += (off_t)have;
			have = 0;
		}
	}
out:
	close(fd);
	return r;
}

static int cmp_entry(const void *a, const void *b)
{
	const sp_perfmap_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

const char *sp_perfmap_find(sp_perfmap *m, uint64_t addr)
{
	const sp_perfmap_entry *best = NULL;
	size_t lo = 0, hi;

	if (!m->n)
		return NULL;
	if (!m->sorted) {
		qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
		m->sorted = 1;
	}
	/* The last entry starting at or below addr, then back over the
	 * ones that may still cover it; the latest line wins. Entries are
	 * small and rarely overlap, so the walk back is short. */
	hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo, k = 0; i-- > 0 && k < 64; k++) {
		const sp_perfmap_entry *e = &m->v[i];
		if (addr < e->end && (!best || e->seq > best->seq))
			best = e;
	}
	return best ? m->names + best->name : NULL;
}
