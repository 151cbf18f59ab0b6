/* Module table and fault-safe module reads for the in-process unwinder.
 *
 * libunwind's remote API reads .eh_frame_hdr tables, FDE/CIE bytes and code
 * bytes (PLT detection) through access_mem. Those addresses are only served
 * when they fall inside a PT_LOAD of a module we saw in dl_iterate_phdr, and
 * are copied a page at a time with process_vm_readv on our own pid: a module
 * dlclosed between capture and unwind (or during the unwind) then fails the
 * read with EFAULT instead of faulting the worker. Warm, libunwind's own
 * cache answers almost every frame, so copies are rare. */
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "unwind_modules.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE_ (1u << PAGE_SHIFT)
/* At most PAGE_SLOTS/2 cached pages (4 MiB); when full the cache restarts. */
#define PAGE_SLOTS 2048

struct sp_upage {
	uint64_t addr; /* page address; 0 = empty slot */
	uint8_t *data;
};

struct build_ctx {
	sp_umod *mods;
	size_t n_mods, cap_mods;
	sp_urange *ranges;
	size_t n_ranges, cap_ranges;
	uint64_t no_table;
	unsigned long long adds, subs;
	bool counted;
	int err;
};

static int self_pid;

static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return sizeof(uint64_t); /* absptr */
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	case 0x04: case 0x0c: return 8;
	default: return 0;
	}
}

/* Decode an absolute (non pc-relative) count field. */
static int read_count(const uint8_t *p, uint8_t enc, uint64_t *out)
{
	if ((enc & 0x70) != 0) /* only plain (absptr/udata/sdata) counts */
		return -1;
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: { uint64_t v; memcpy(&v, p, 8); *out = v; return 0; }
	case 0x03: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
	case 0x0b: { int32_t v; memcpy(&v, p, 4); if (v < 0) return -1; *out = (uint64_t)v; return 0; }
	case 0x02: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
	default: return -1;
	}
}

static bool in_ranges(const sp_urange *r, size_t n, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < n; i++)
		if (lo >= r[i].start && hi <= r[i].end)
			return true;
	return false;
}

/* Called with the loader lock held, so the module's memory is mapped and can
 * be read directly here. */
static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build_ctx *b = arg;
	uint64_t bias = info->dlpi_addr, text_lo = UINT64_MAX, text_hi = 0, hdr = 0;
	size_t first_range = b->n_ranges;

	if (!b->counted) {
		b->adds = info->dlpi_adds;
		b->subs = info->dlpi_subs;
		b->counted = true;
	}

	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_GNU_EH_FRAME) {
			hdr = bias + ph->p_vaddr;
			continue;
		}
		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		uint64_t lo = bias + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (ph->p_flags & PF_X) {
			if (lo < text_lo) text_lo = lo;
			if (hi > text_hi) text_hi = hi;
		}
		if (!(ph->p_flags & PF_R) && !(ph->p_flags & PF_X))
			continue;
		if (b->n_ranges == b->cap_ranges) {
			size_t cap = b->cap_ranges ? b->cap_ranges * 2 : 64;
			sp_urange *r = realloc(b->ranges, cap * sizeof(*r));
			if (!r) { b->err = -ENOMEM; return 1; }
			b->ranges = r;
			b->cap_ranges = cap;
		}
		b->ranges[b->n_ranges++] = (sp_urange){ lo, hi };
	}
	if (text_lo >= text_hi)
		return 0; /* nothing executable: no frames can be in it */

	sp_umod m = { .text_start = text_lo, .text_end = text_hi };
	const sp_urange *mr = b->ranges + first_range;
	size_t mn = b->n_ranges - first_range;
	if (hdr && in_ranges(mr, mn, hdr, hdr + 4)) {
		const uint8_t *h = (const uint8_t *)(uintptr_t)hdr;
		size_t ptr_sz = enc_size(h[1]), cnt_sz = enc_size(h[2]);
		uint64_t count;
		/* Version 1, and the table must be datarel|sdata4 (0x3b): the
		 * remote table search assumes {int32 ip, int32 fde} pairs
		 * relative to the header. */
		if (h[0] == 1 && h[3] == 0x3b && ptr_sz && cnt_sz &&
		    in_ranges(mr, mn, hdr, hdr + 4 + ptr_sz + cnt_sz) &&
		    read_count(h + 4 + ptr_sz, h[2], &count) == 0 && count > 0) {
			uint64_t table = hdr + 4 + ptr_sz + cnt_sz;
			if (count < (1ull << 28) &&
			    in_ranges(mr, mn, table, table + count * 8)) {
				m.eh_hdr = hdr;
				m.table = table;
				m.fde_count = count;
			}
		}
	}
	if (!m.table)
		b->no_table++;
	if (b->n_mods == b->cap_mods) {
		size_t cap = b->cap_mods ? b->cap_mods * 2 : 32;
		sp_umod *nm = realloc(b->mods, cap * sizeof(*nm));
		if (!nm) { b->err = -ENOMEM; return 1; }
		b->mods = nm;
		b->cap_mods = cap;
	}
	b->mods[b->n_mods++] = m;
	return 0;
}

static int cmp_mod(const void *a, const void *b)
{
	const sp_umod *x = a, *y = b;
	return x->text_start < y->text_start ? -1 : x->text_start > y->text_start;
}

static int cmp_range(const void *a, const void *b)
{
	const sp_urange *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void pages_clear(sp_umods *t)
{
	for (size_t i = 0; i < t->page_cap; i++) {
		free(t->pages[i].data);
		t->pages[i] = (struct sp_upage){ 0, NULL };
	}
	t->page_used = 0;
}

int sp_umods_init(sp_umods *t)
{
	uint64_t probe = 0x5350, got = 0;
	struct iovec l = { &got, sizeof(got) }, r = { &probe, sizeof(probe) };

	memset(t, 0, sizeof(*t));
	t->pages = calloc(PAGE_SLOTS, sizeof(*t->pages));
	if (!t->pages)
		return -ENOMEM;
	t->page_cap = PAGE_SLOTS;
	self_pid = getpid();
	/* seccomp may deny process_vm_readv (containers): fall back to plain
	 * loads, still limited to the module table's ranges. */
	if (process_vm_readv(self_pid, &l, 1, &r, 1, 0) != sizeof(got) || got != probe)
		t->direct = true;
	return 0;
}

void sp_umods_free(sp_umods *t)
{
	if (t->pages)
		pages_clear(t);
	free(t->pages);
	free(t->mods);
	free(t->ranges);
	memset(t, 0, sizeof(*t));
}

int sp_umods_rebuild(sp_umods *t)
{
	struct build_ctx b = { 0 };

	dl_iterate_phdr(phdr_cb, &b);
	free(t->mods);
	free(t->ranges);
	t->mods = NULL;
	t->ranges = NULL;
	t->n_mods = t->n_ranges = 0;
	pages_clear(t);
	if (b.err) {
		free(b.mods);
		free(b.ranges);
		return b.err;
	}
	qsort(b.mods, b.n_mods, sizeof(*b.mods), cmp_mod);
	qsort(b.ranges, b.n_ranges, sizeof(*b.ranges), cmp_range);
	t->mods = b.mods;
	t->n_mods = b.n_mods;
	t->ranges = b.ranges;
	t->n_ranges = b.n_ranges;
	t->no_table = b.no_table;
	t->dl_adds = b.adds;
	t->dl_subs = b.subs;
	return 0;
}

static int counters_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;

	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1; /* the counters are the same in every entry */
}

bool sp_umods_stale(const sp_umods *t)
{
	unsigned long long c[2] = { 0, 0 };

	dl_iterate_phdr(counters_cb, c);
	return c[0] != t->dl_adds || c[1] != t->dl_subs;
}

const sp_umod *sp_umods_find_text(const sp_umods *t, uint64_t ip)
{
	size_t lo = 0, hi = t->n_mods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->mods[mid].text_start <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const sp_umod *m = &t->mods[lo - 1];
	return ip < m->text_end ? m : NULL;
}

static bool readable(const sp_umods *t, uint64_t addr, uint64_t len)
{
	size_t lo = 0, hi = t->n_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ranges[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges of different modules never overlap; one PT_LOAD may hold the
	 * whole word, otherwise refuse. */
	return lo > 0 && addr + len <= t->ranges[lo - 1].end && addr + len > addr;
}

static const uint8_t *page_get(sp_umods *t, uint64_t page)
{
	size_t mask = t->page_cap - 1;
	size_t i = (size_t)((page >> PAGE_SHIFT) * 0x9e3779b97f4a7c15ull >> 40) & mask;

	for (;; i = (i + 1) & mask) {
		if (t->pages[i].addr == page)
			return t->pages[i].data;
		if (t->pages[i].addr == 0)
			break;
	}
	if (t->page_used >= t->page_cap / 2) {
		pages_clear(t);
		return page_get(t, page);
	}
	uint8_t *data = malloc(PAGE_SIZE_);
	if (!data)
		return NULL;
	struct iovec l = { data, PAGE_SIZE_ }, r = { (void *)(uintptr_t)page, PAGE_SIZE_ };
	if (process_vm_readv(self_pid, &l, 1, &r, 1, 0) != PAGE_SIZE_) {
		/* Unmapped since the table was built (dlclose race). */
		t->page_faults++;
		free(data);
		return NULL;
	}
	t->pages[i] = (struct sp_upage){ page, data };
	t->page_used++;
	return data;
}

/* A plain load from module memory; the address was validated against the
 * module table, and ASan must not police another object's globals. */
__attribute__((no_sanitize_address)) static uint64_t direct_load(uint64_t addr)
{
	uint64_t v;
	__builtin_memcpy(&v, (const void *)(uintptr_t)addr, sizeof(v));
	return v;
}

int sp_umods_read(sp_umods *t, uint64_t addr, uint64_t *val)
{
	if (!readable(t, addr, sizeof(*val)))
		return -EFAULT;
	if (t->direct) {
		*val = direct_load(addr);
		return 0;
	}
	uint64_t page = addr & ~(uint64_t)(PAGE_SIZE_ - 1), off = addr - page;
	const uint8_t *p = page_get(t, page);
	if (!p)
		return -EFAULT;
	if (off + sizeof(*val) <= PAGE_SIZE_) {
		memcpy(val, p + off, sizeof(*val));
		return 0;
	}
	/* Unaligned word across a page boundary. */
	uint8_t buf[8];
	size_t first = PAGE_SIZE_ - off;
	memcpy(buf, p + off, first);
	const uint8_t *p2 = page_get(t, page + PAGE_SIZE_);
	if (!p2)
		return -EFAULT;
	memcpy(buf + first, p2, sizeof(buf) - first);
	memcpy(val, buf, sizeof(buf));
	return 0;
}
