/* /proc/kallsyms: "ADDR TYPE NAME[\t[MODULE]]" per line, in no useful
 * order for modules. Names live in one growing buffer, so the table is two
 * allocations whatever the symbol count (about 120k on a distribution
 * kernel). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer/kallsyms.h"

typedef struct ksym {
	uint64_t addr;
	size_t name; /* offset into names */
} ksym;

struct sp_kallsyms {
	ksym *syms;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
};

static int cmp_ksym(const void *a, const void *b)
{
	const ksym *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

static int add(sp_kallsyms *k, uint64_t addr, const char *name, size_t len)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 65536;
		ksym *s = realloc(k->syms, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		k->syms = s;
		k->cap = cap;
	}
	if (k->names_len + len + 1 > k->names_cap) {
		size_t cap = k->names_cap ? 2 * k->names_cap : 1 << 21;
		while (cap < k->names_len + len + 1)
			cap *= 2;
		char *nb = realloc(k->names, cap);
		if (!nb)
			return -ENOMEM;
		k->names = nb;
		k->names_cap = cap;
	}
	memcpy(k->names + k->names_len, name, len);
	k->names[k->names_len + len] = '\0';
	k->syms[k->n++] = (ksym){ .addr = addr, .name = k->names_len };
	k->names_len += len + 1;
	return 0;
}

sp_kallsyms *sp_kallsyms_load(const char *path, sp_error *err)
{
	FILE *f;
	sp_kallsyms *k;
	char line[512];
	size_t zero = 0, seen = 0;
	int rc = 0;

	if (!path)
		path = "/proc/kallsyms";
	f = fopen(path, "re");
	if (!f) {
		sp_error_set(err, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		fclose(f);
		sp_error_set(err, -ENOMEM, "kallsyms: out of memory");
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		char *end, *name;
		uint64_t addr = strtoull(line, &end, 16);
		char type;
		size_t len;

		if (end == line || *end != ' ' || !end[1] || end[2] != ' ')
			continue;
		type = end[1];
		name = end + 3;
		len = strcspn(name, "\t\n");
		seen++;
		if (!addr) {
			zero++;
			continue;
		}
		/* Text only: data symbols never contain a pc. */
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if ((rc = add(k, addr, name, len)) < 0)
			break;
	}
	fclose(f);
	if (rc < 0) {
		sp_kallsyms_free(k);
		sp_error_set(err, rc, "kallsyms: out of memory");
		return NULL;
	}
	if (!k->n) {
		sp_kallsyms_free(k);
		sp_error_set(err, -EPERM,
			     "%s: %s; kernel frames stay unnamed (set kernel.kptr_restrict=0, "
			     "or run with CAP_SYSLOG)",
			     path, seen && zero == seen ? "every address reads as 0" :
							  "no text symbols");
		return NULL;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	return k;
}

void sp_kallsyms_free(sp_kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	free(k);
}

const char *sp_kallsyms_find(const sp_kallsyms *k, uint64_t pc)
{
	size_t lo = 0, hi;

	if (!k || !k->n || pc < k->syms[0].addr)
		return NULL;
	hi = k->n;
	/* last symbol with addr <= pc */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return k->names + k->syms[lo].name;
}

size_t sp_kallsyms_count(const sp_kallsyms *k)
{
	return k ? k->n : 0;
}
