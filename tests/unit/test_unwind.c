/* The remote unwinder over a real sample copied by a test signal handler. */
#include "test_util.h"

#include <execinfo.h>
#include <gnu/libc-version.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sample_capture.h"
#include "unwind/unwind.h"
#include "unwind/unwind_modules.h"

#define CHAIN __attribute__((noinline, noclone, optimize("omit-frame-pointer")))

static volatile int sink;

CHAIN static void chain_leaf(void) { sink++; CAP_FIRE(); sink++; }
CHAIN static void chain_c(void) { chain_leaf(); sink++; }
CHAIN static void chain_b(void) { chain_c(); sink++; }
CHAIN static void chain_a(void) { chain_b(); sink++; }

CHAIN static void recurse(int n)
{
	if (n > 0)
		recurse(n - 1);
	else
		CAP_FIRE();
	sink++;
}

static sp_unwinder *new_unwinder(void)
{
	sp_error err = { { 0 } };
	sp_unwinder *u = sp_unwinder_new_procfs(0, &err);
	if (!u)
		fail_msg("sp_unwinder_new: %s", err.msg);
	return u;
}

static size_t names_of(const uint64_t *pcs, size_t n, char names[][64])
{
	for (size_t i = 0; i < n; i++)
		cap_symname(pcs[i], names[i], 64);
	return n;
}

static void dump(const char *what, char names[][64], size_t n, enum sp_unwind_status st)
{
	fprintf(stderr, "# %s: %zu frames, status %d:", what, n, st);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s", names[i]);
	fprintf(stderr, "\n");
}

static ssize_t find_name(char names[][64], size_t n, size_t from, const char *name)
{
	for (size_t i = from; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

static void test_chain_complete(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES], pcs2[SP_MAX_FRAMES];
	char names[SP_MAX_FRAMES][64];
	enum sp_unwind_status st, st2;

	cap_setup();
	chain_a();
	assert_true(cap_done);
	sigset_t before, after;
	sigemptyset(&before);
	sigaddset(&before, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &before, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &before);
	sp_unwinder *u = new_unwinder();
	size_t n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	names_of(pcs, n, names);
	dump("chain", names, n, st);
	/* libunwind's lock dance (skipped or not) leaves the mask as it was. */
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	pthread_sigmask(SIG_UNBLOCK, &before, NULL);

	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_int_equal(pcs[0], cap_sample.regs[SP_REG_RIP]);
	assert_string_equal(names[0], "chain_leaf");
	assert_string_equal(names[1], "chain_c");
	assert_string_equal(names[2], "chain_b");
	assert_string_equal(names[3], "chain_a");
	assert_string_equal(names[4], "test_chain_complete");
	assert_true(find_name(names, n, 5, "main") > 4);
	assert_string_equal(names[n - 1], "_start");

	/* Warm cache: same answer. */
	size_t n2 = sp_unwind(u, &cap_sample, pcs2, SP_MAX_FRAMES, &st2);
	assert_int_equal(n2, n);
	assert_int_equal(st2, st);
	assert_memory_equal(pcs, pcs2, n * sizeof(pcs[0]));

	/* Invalidation rebuilds the tables and gives the same answer. */
	sp_unwinder_invalidate(u);
	n2 = sp_unwind(u, &cap_sample, pcs2, SP_MAX_FRAMES, &st2);
	assert_int_equal(n2, n);
	assert_memory_equal(pcs, pcs2, n * sizeof(pcs[0]));
	sp_unwinder_free(u);
}

static void test_short_copy_truncates(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES];
	enum sp_unwind_status st;
	size_t full;

	cap_setup();
	chain_a();
	sp_unwinder *u = new_unwinder();
	full = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);

	sp_raw_sample s = cap_sample;
	uint32_t lens[] = { 0, 8, SP_REDZONE, SP_REDZONE + 24, SP_REDZONE + 200, 1024, 4000 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		s.stack_len = lens[i];
		size_t n = sp_unwind(u, &s, pcs, SP_MAX_FRAMES, &st);
		assert_int_equal(st, SP_UNWIND_TRUNCATED);
		assert_true(n >= 1);
		assert_true(n < full);
		assert_int_equal(pcs[0], s.regs[SP_REG_RIP]);
	}
	/* No copy at all. */
	s.stack = NULL;
	s.stack_len = 0;
	size_t n = sp_unwind(u, &s, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_TRUNCATED);
	assert_true(n >= 1 && n < full);
	sp_unwinder_free(u);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_garbage_truncates(void **state)
{
	static uint8_t junk[16384];
	uint64_t pcs[SP_MAX_FRAMES];
	enum sp_unwind_status st;
	sp_unwinder *u = new_unwinder();

	/* Nothing at all. */
	sp_raw_sample z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(sp_unwind(u, &z, pcs, SP_MAX_FRAMES, &st), 0);
	assert_int_not_equal(st, SP_UNWIND_COMPLETE);

	cap_setup();
	chain_a();
	uint64_t good_ip = cap_sample.regs[SP_REG_RIP];
	for (int round = 0; round < 200; round++) {
		sp_raw_sample s;
		memset(&s, 0, sizeof(s));
		for (size_t i = 0; i < sizeof(junk); i += 8) {
			uint64_t v = next_rand();
			memcpy(junk + i, &v, 8);
		}
		s.stack = junk;
		s.stack_len = sizeof(junk);
		s.stack_base = 0x7ffd00000000ull + (next_rand() & 0xffff0);
		for (int i = 0; i < SP_REG_COUNT; i++)
			s.regs[i] = next_rand();
		/* Half the rounds: real code, garbage stack; and registers
		 * pointing into the garbage so CFI reads succeed. */
		if (round & 1) {
			s.regs[SP_REG_RIP] = good_ip;
			s.regs[SP_REG_RSP] = s.stack_base + SP_REDZONE;
			s.regs[SP_REG_RBP] = s.stack_base + 256 + (next_rand() & 0x3ff8);
		}
		size_t n = sp_unwind(u, &s, pcs, SP_MAX_FRAMES, &st);
		assert_int_not_equal(st, SP_UNWIND_COMPLETE);
		assert_true(n >= 1);
		assert_true(n <= 3);
	}
	sp_unwinder_free(u);
}

static void test_depth_cap(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES];
	char names[SP_MAX_FRAMES][64];
	enum sp_unwind_status st;

	cap_setup();
	recurse(SP_MAX_FRAMES + 20);
	sp_unwinder *u = new_unwinder();
	size_t n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(n, SP_MAX_FRAMES);
	assert_int_equal(st, SP_UNWIND_MAX_DEPTH);
	names_of(pcs, n, names);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(names[i], "recurse");
	/* A caller-side limit below the cap. */
	n = sp_unwind(u, &cap_sample, pcs, 5, &st);
	assert_int_equal(n, 5);
	assert_int_equal(st, SP_UNWIND_MAX_DEPTH);
	sp_unwinder_free(u);
}

/* Through a signal frame: the sample interrupts code running inside an
 * application signal handler; the unwind must cross __restore_rt back into
 * the interrupted chain, whose pc is exact (not pc - 1). */
CHAIN static void app_handler(int sig)
{
	CAP_FIRE();
	sink++;
}

static volatile uint64_t sig_after_syscall, sig_leaf_ra;

CHAIN static void sig_leaf(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_handler;
	sigaction(SIGUSR2, &sa, NULL);
	sink++;
	/* Raise SIGUSR2 with a raw syscall: the interrupted ip is the
	 * instruction after it, in this function. */
	long r;
	uint64_t after;
	__asm__ volatile("syscall\n"
			 "0:\n\t"
			 "lea 0b(%%rip), %1"
			 : "=a"(r), "=r"(after)
			 : "0"((long)SYS_tgkill), "D"((long)getpid()),
			   "S"((long)syscall(SYS_gettid)), "d"((long)SIGUSR2)
			 : "rcx", "r11", "memory");
	sig_after_syscall = after;
	sig_leaf_ra = (uint64_t)(uintptr_t)__builtin_return_address(0);
	sink++;
}

CHAIN static void sig_mid(void) { sig_leaf(); sink++; }

static void test_signal_frame(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES];
	char names[SP_MAX_FRAMES][64];
	enum sp_unwind_status st;

	cap_setup();
	sig_mid();
	assert_true(cap_done);
	sp_unwinder *u = new_unwinder();
	size_t n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	names_of(pcs, n, names);
	dump("signal", names, n, st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_string_equal(names[0], "app_handler");
	ssize_t leaf = find_name(names, n, 1, "sig_leaf");
	assert_true(leaf >= 2); /* handler, __restore_rt, sig_leaf */
	assert_string_equal(names[leaf + 1], "sig_mid");
	assert_string_equal(names[leaf + 2], "test_signal_frame");
	assert_string_equal(names[n - 1], "_start");
	/* The interrupted frame's pc is exact (the instruction after the
	 * syscall), not return address - 1 like a caller's. */
	assert_int_equal(pcs[leaf], sig_after_syscall);
	/* The trampoline frame has the trampoline's own address, the
	 * restorer glibc registered with the kernel (__restore_rt). */
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } ksa;
	assert_int_equal(syscall(SYS_rt_sigaction, SIGUSR2, NULL, &ksa, 8), 0);
	assert_int_equal(pcs[leaf - 1], (uint64_t)(uintptr_t)ksa.restorer);
	/* ... and its caller's is the call site again. */
	assert_int_equal(pcs[leaf + 1], sig_leaf_ra - 1);
	sp_unwinder_free(u);
	signal(SIGUSR2, SIG_DFL);
}

static sp_unwinder *thread_u;
static uint64_t thread_pcs[SP_MAX_FRAMES];
static size_t thread_n;
static enum sp_unwind_status thread_st;

static void *thread_main(void *arg)
{
	cap_setup();
	chain_a();
	return NULL;
}

static void test_thread_ends_at_clone(void **state)
{
	char names[SP_MAX_FRAMES][64];
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, thread_main, NULL), 0);
	pthread_join(t, NULL);
	assert_true(cap_done);
	/* The thread's stack is gone now; the copy is all we need. */
	thread_u = new_unwinder();
	thread_n = sp_unwind(thread_u, &cap_sample, thread_pcs, SP_MAX_FRAMES, &thread_st);
	names_of(thread_pcs, thread_n, names);
	dump("thread", names, thread_n, thread_st);
	assert_int_equal(thread_st, SP_UNWIND_COMPLETE);
	assert_string_equal(names[0], "chain_leaf");
	assert_string_equal(names[4], "thread_main");
	assert_true(find_name(names, thread_n, 5, "start_thread") > 4 ||
		    find_name(names, thread_n, 5, "?") > 4);
	sp_unwinder_free(thread_u);
}

/* ---- dlclose between capture and unwind -------------------------------- */

static char dl_dir[64];
static char dl_path[128];

static void dl_capture_cb(void)
{
	CAP_FIRE();
	sink++;
}

static bool build_lib(void)
{
	char src[160], cmd[512];
	snprintf(dl_dir, sizeof(dl_dir), "/tmp/sp-unwind-XXXXXX");
	if (!mkdtemp(dl_dir))
		return false;
	snprintf(src, sizeof(src), "%s/lib.c", dl_dir);
	snprintf(dl_path, sizeof(dl_path), "%s/libspdl.so", dl_dir);
	FILE *f = fopen(src, "w");
	if (!f)
		return false;
	fputs("volatile int n;\n"
	      "__attribute__((noinline)) void dl_inner(void (*cb)(void)) { cb(); n++; }\n"
	      "void dl_call(void (*cb)(void)) { dl_inner(cb); n++; }\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -O2 -shared -fPIC -o %s %s 2>/dev/null", dl_path, src);
	return system(cmd) == 0;
}

static void cleanup_lib(void)
{
	char p[192];
	snprintf(p, sizeof(p), "%s/lib.c", dl_dir);
	unlink(p);
	unlink(dl_path);
	rmdir(dl_dir);
}

static size_t capture_in_lib(void)
{
	void *h = dlopen(dl_path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	void (*call)(void (*)(void)) = (void (*)(void (*)(void)))dlsym(h, "dl_call");
	assert_non_null(call);
	cap_setup();
	call(dl_capture_cb);
	assert_true(cap_done);
	dlclose(h);
	/* Really gone (nothing else holds it). */
	assert_null(dlopen(dl_path, RTLD_NOW | RTLD_NOLOAD));
	return 0;
}

static void test_dlclosed_module(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES];
	char names[SP_MAX_FRAMES][64];
	enum sp_unwind_status st;

	if (!build_lib()) {
		cleanup_lib();
		skip();
	}
	sp_unwinder *u = new_unwinder();

	/* 1. Loaded after the module table was built, and at unwind time: the
	 * walk goes through the library without anyone telling the unwinder. */
	cap_setup();
	chain_a();
	sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	void *h = dlopen(dl_path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	void (*call)(void (*)(void)) = (void (*)(void (*)(void)))dlsym(h, "dl_call");
	cap_setup();
	call(dl_capture_cb);
	size_t n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	names_of(pcs, n, names);
	dump("dl loaded", names, n, st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_int_equal(find_name(names, n, 0, "dl_inner"), 1);
	assert_int_equal(find_name(names, n, 0, "dl_call"), 2);
	dlclose(h);

	/* 2. Captured, then dlclosed and invalidated before the unwind: the
	 * stack ends at the first frame in the unloaded module. */
	capture_in_lib();
	sp_unwinder_invalidate(u);
	n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	names_of(pcs, n, names);
	dump("dl closed", names, n, st);
	assert_int_equal(st, SP_UNWIND_TRUNCATED);
	assert_int_equal(n, 2); /* dl_capture_cb, then the unmapped caller */
	assert_string_equal(names[0], "dl_capture_cb");

	/* 3. dlclosed and nobody told the unwinder: it notices by itself
	 * (loader counters), flushes its caches and truncates the same way. */
	h = dlopen(dl_path, RTLD_NOW | RTLD_LOCAL);
	call = (void (*)(void (*)(void)))dlsym(h, "dl_call");
	cap_setup();
	call(dl_capture_cb);
	n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st); /* warm while loaded */
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	dlclose(h);
	assert_null(dlopen(dl_path, RTLD_NOW | RTLD_NOLOAD));
	n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	names_of(pcs, n, names);
	dump("dl closed, not told", names, n, st);
	assert_int_equal(st, SP_UNWIND_TRUNCATED);
	assert_int_equal(n, 2);

	/* 4. The true race (unmapped while the worker is inside the walk, with
	 * a table that still lists the library): module bytes come from the
	 * mapped FILE, which outlives the dlclose and even the unlink, so the
	 * reads still succeed and give the bytes the library had. */
	sp_module_list l;
	sp_umods t = { 0 };
	h = dlopen(dl_path, RTLD_NOW | RTLD_LOCAL);
	uint64_t fn = (uint64_t)(uintptr_t)dlsym(h, "dl_inner"), v, code;
	memcpy(&code, (const void *)(uintptr_t)fn, sizeof(code));
	assert_int_equal(sp_procmaps_read(0, &l, NULL), 0);
	assert_int_equal(sp_umods_build(&t, &l), 0);
	const sp_umod *m = sp_umods_find_text(&t, fn);
	assert_non_null(m);
	assert_non_null(m->file);
	assert_true(m->file->table != 0);
	uint64_t hdr = m->file->eh_hdr + m->bias, hdr_word;
	assert_int_equal(sp_umods_read(&t, hdr, &hdr_word), 0);
	dlclose(h);
	assert_null(dlopen(dl_path, RTLD_NOW | RTLD_NOLOAD));
	cleanup_lib();
	assert_int_equal(sp_umods_read(&t, fn, &v), 0);
	assert_int_equal(v, code);
	assert_int_equal(sp_umods_read(&t, hdr, &v), 0);
	assert_int_equal(v, hdr_word);
	sp_umods_free(&t);
	sp_procmaps_free(&l);
	sp_unwinder_free(u);
}

/* Module reads: served from module files, inside their read-only segments
 * only, identical to the process's own bytes there. */
static void test_module_reads(void **state)
{
	static const uint64_t in_rodata = 0x1122334455667788ull;
	uint64_t on_stack = 42, v;
	uint64_t *heap = malloc(64);
	sp_module_list l;
	sp_umods t = { 0 };

	assert_non_null(heap);
	heap[0] = 7;
	assert_int_equal(sp_procmaps_read(0, &l, NULL), 0);
	/* Twice: a rebuild over a built table keeps the shared files. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(sp_umods_build(&t, &l), 0);
		assert_true(t.n_mods > 2);
		assert_int_equal(t.no_file, 0);
		assert_non_null(sp_umods_find_text(&t, (uint64_t)(uintptr_t)chain_leaf));
		assert_non_null(sp_umods_find_text(&t, (uint64_t)(uintptr_t)printf));
		assert_null(sp_umods_find_text(&t, (uint64_t)(uintptr_t)&on_stack));
		assert_int_equal(sp_umods_read(&t, (uint64_t)(uintptr_t)&in_rodata, &v), 0);
		assert_int_equal(v, in_rodata);
		uint64_t code;
		memcpy(&code, (const void *)(uintptr_t)chain_leaf, 8);
		assert_int_equal(sp_umods_read(&t, (uint64_t)(uintptr_t)chain_leaf, &v), 0);
		assert_int_equal(v, code);
		/* Unaligned, maybe across a page. */
		memcpy(&code, (const uint8_t *)(uintptr_t)chain_leaf + 3, 8);
		assert_int_equal(sp_umods_read(&t, (uint64_t)(uintptr_t)chain_leaf + 3, &v), 0);
		assert_int_equal(v, code);
		memcpy(&code, (const uint8_t *)(uintptr_t)printf + 5, 8);
		assert_int_equal(sp_umods_read(&t, (uint64_t)(uintptr_t)printf + 5, &v), 0);
		assert_int_equal(v, code);
		assert_int_equal(sp_umods_read(&t, (uint64_t)(uintptr_t)&on_stack, &v), -EFAULT);
		assert_int_equal(sp_umods_read(&t, (uint64_t)(uintptr_t)heap, &v), -EFAULT);
		assert_int_equal(sp_umods_read(&t, (uint64_t)(uintptr_t)&sink, &v), -EFAULT);
		assert_int_equal(sp_umods_read(&t, 0, &v), -EFAULT);
		assert_int_equal(sp_umods_read(&t, UINT64_MAX - 3, &v), -EFAULT);
	}
	sp_umods_free(&t);
	sp_procmaps_free(&l);
	free(heap);
}

/* A file's bytes mapped a second time elsewhere (V8 remaps node's builtins
 * next to its JIT code): that copy is not the loaded object. Its bias loses
 * the vote, it serves no reads and is walked as JIT code. */
static void test_alias_mapping(void **state)
{
	sp_module_list l;
	sp_umods t = { 0 };
	uint64_t v;

	assert_int_equal(sp_procmaps_read(0, &l, NULL), 0);
	const sp_module *libc = sp_procmaps_find(&l, (uint64_t)(uintptr_t)gnu_get_libc_version);
	assert_non_null(libc);
	/* An address range nothing uses: reserved, never mapped executable. */
	void *hole = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(hole != MAP_FAILED);
	sp_module_list l2 = { calloc(l.n + 1, sizeof(sp_module)), l.n + 1 };
	assert_non_null(l2.mods);
	memcpy(l2.mods, l.mods, l.n * sizeof(sp_module));
	sp_module fake = *libc;
	fake.start = (uint64_t)(uintptr_t)hole;
	fake.end = fake.start + (1 << 20);
	fake.offset = libc->offset + 0x2000;
	l2.mods[l.n] = fake;
	assert_int_equal(sp_umods_build(&t, &l2), 0);
	const sp_umod *real = sp_umods_find_text(&t, libc->start);
	const sp_umod *copy = sp_umods_find_text(&t, fake.start + 16);
	assert_non_null(real);
	assert_non_null(copy);
	assert_false(real->alias);
	assert_true(copy->alias);
	assert_ptr_equal(real->file, copy->file);
	assert_int_equal(sp_umods_read(&t, libc->start, &v), 0);
	assert_int_equal(sp_umods_read(&t, fake.start + 16, &v), -EFAULT);
	sp_umods_free(&t);
	free(l2.mods);
	munmap(hole, 1 << 20);
	sp_procmaps_free(&l);
}

/* ---- same frames as the in-process unwinder ------------------------------ */

#define BT_MAX 64
static void *bt[BT_MAX];
static int bt_n;

CHAIN static void bt_leaf(void)
{
	bt_n = backtrace(bt, BT_MAX); /* libgcc's unwinder, reading live memory */
	CAP_FIRE();
	sink++;
}
CHAIN static void bt_c(void) { bt_leaf(); sink++; }
CHAIN static void bt_b(void) { bt_c(); sink++; }
CHAIN static void bt_a(void) { bt_b(); sink++; }

/* A real captured stack, walked from files only, gives exactly the frames
 * glibc's backtrace() (libgcc, in-process memory) found at the same place:
 * every caller's return address, to _start. */
static void test_same_as_backtrace(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES];
	char names[SP_MAX_FRAMES][64];
	enum sp_unwind_status st;

	cap_setup();
	bt_a();
	assert_true(cap_done);
	sp_unwinder *u = new_unwinder();
	size_t n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	names_of(pcs, n, names);
	dump("vs backtrace", names, n, st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_string_equal(names[0], "bt_leaf");
	/* bt[k] is bt_c's return address (bt[0] is in bt_leaf after the
	 * backtrace call; under ASan, in its interceptor first); the callers'
	 * return addresses follow, and ours are those minus one. */
	int k = 0;
	while (k < 3 && k < bt_n && (uint64_t)(uintptr_t)bt[k] - 1 != pcs[1])
		k++;
	assert_true(k >= 1 && k < 3);
	assert_true(bt_n - k >= 6);
	assert_int_equal(n - 1, (size_t)(bt_n - k));
	for (int i = k; i < bt_n; i++)
		assert_int_equal(pcs[1 + i - k], (uint64_t)(uintptr_t)bt[i] - 1);
	sp_unwinder_free(u);
}

/* ---- consumer-supplied sources -------------------------------------------- */

/* What the consumer process has: a module list it keeps by itself. */
struct list_src {
	sp_module_list list;
	uint64_t gen;
	int modules_calls;
};

static const sp_module_list *list_modules(void *ctx, uint64_t *gen)
{
	struct list_src *c = ctx;
	c->modules_calls++;
	*gen = c->gen;
	return &c->list;
}

static const sp_unwind_source_ops list_ops = { .modules = list_modules };

static sp_module *module_of(sp_module_list *l, const void *fn)
{
	return (sp_module *)sp_procmaps_find(l, (uint64_t)(uintptr_t)fn);
}

/* A mapping whose file was replaced (build-id mismatch) or is missing has no
 * unwind info: the walk stops there, truncated, and nothing crashes. */
static void test_missing_or_replaced_file(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES], good[SP_MAX_FRAMES];
	enum sp_unwind_status st;
	struct list_src src = { .gen = 1 };
	sp_error err = { { 0 } };

	cap_setup();
	chain_a();
	assert_int_equal(sp_procmaps_read(0, &src.list, NULL), 0);
	sp_unwinder *u = sp_unwinder_new(&list_ops, &src, &err);
	assert_non_null(u);
	size_t full = sp_unwind(u, &cap_sample, good, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_true(src.modules_calls >= 1);

	/* libc's file "replaced": the walk stops at the first frame in libc
	 * (below main), with everything above it intact. */
	/* (Not printf's module: under ASan that is the interceptor's.) */
	sp_module *libc = module_of(&src.list, (void *)(uintptr_t)good[full - 2]);
	assert_non_null(libc);
	assert_non_null(strstr(libc->path, "libc"));
	assert_true(libc->build_id[0] != '\0');
	char saved[41];
	memcpy(saved, libc->build_id, sizeof(saved));
	memset(libc->build_id, 'f', 40);
	src.gen++;
	size_t n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_TRUNCATED);
	assert_true(n > 5 && n < full);
	assert_memory_equal(pcs, good, n * sizeof(pcs[0]));
	assert_true(sp_procmaps_find(&src.list, pcs[n - 1]) == libc);
	for (size_t i = 0; i + 1 < n; i++)
		assert_true(sp_procmaps_find(&src.list, pcs[i]) != libc);

	/* Our own executable's file is gone: stops in the first frame. (With
	 * its build-id kept, the copy already open would serve: same
	 * build-id, same bytes.) */
	memcpy(libc->build_id, saved, sizeof(saved));
	sp_module *exe = module_of(&src.list, chain_leaf);
	assert_non_null(exe);
	char *path = exe->path;
	exe->path = (char *)"/nonexistent/spanprof-test";
	memcpy(saved, exe->build_id, sizeof(saved));
	exe->build_id[0] = '\0';
	src.gen++;
	n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_TRUNCATED);
	assert_int_equal(n, 1);
	assert_int_equal(pcs[0], cap_sample.regs[SP_REG_RIP]);
	exe->path = path;
	memcpy(exe->build_id, saved, sizeof(saved));

	/* Back to the true list: complete again (the caches were flushed). */
	src.gen++;
	n = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_int_equal(n, full);
	assert_memory_equal(pcs, good, n * sizeof(pcs[0]));
	sp_unwinder_free(u);
	sp_procmaps_free(&src.list);
}

/* Another process, unwound here, also after it has exited: the child copies
 * its sample into shared memory; the parent never reads the child's memory. */
struct shared_sample {
	sp_raw_sample s;
	uint8_t stack[CAP_STACK_MAX];
};

static void test_other_process(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES], pcs2[SP_MAX_FRAMES];
	char names[SP_MAX_FRAMES][64];
	enum sp_unwind_status st;
	sp_error err = { { 0 } };
	int ready[2], go[2];
	char c = 0;

	struct shared_sample *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cap_setup();
		chain_a();
		sh->s = cap_sample;
		memcpy(sh->stack, cap_stack, cap_sample.stack_len);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	sp_raw_sample s = sh->s;
	s.stack = sh->stack;
	assert_int_equal(s.pid, pid);

	sp_unwinder *u = sp_unwinder_new_procfs(pid, &err);
	assert_non_null(u);
	size_t n = sp_unwind(u, &s, pcs, SP_MAX_FRAMES, &st);
	names_of(pcs, n, names); /* the fork has our layout: our names apply */
	dump("other process", names, n, st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_string_equal(names[0], "chain_leaf");
	assert_string_equal(names[3], "chain_a");
	assert_string_equal(names[4], "test_other_process");
	assert_string_equal(names[n - 1], "_start");

	/* Gone: the unwinder kept its list, and a rebuild (as after a dlopen
	 * notice) works from the files alone. */
	assert_int_equal(write(go[1], "g", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sp_unwinder_invalidate(u);
	size_t n2 = sp_unwind(u, &s, pcs2, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_int_equal(n2, n);
	assert_memory_equal(pcs, pcs2, n * sizeof(pcs[0]));
	sp_unwinder_free(u);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	munmap(sh, sizeof(*sh));
}

/* Many unwinders (processes) share one copy of each module file. */
static void test_files_shared(void **state)
{
	uint64_t pcs[SP_MAX_FRAMES];
	enum sp_unwind_status st;
	sp_error err = { { 0 } };

	cap_setup();
	chain_a();
	size_t before = sp_ufile_cached();
	sp_unwinder *u1 = sp_unwinder_new_procfs(0, &err);
	assert_non_null(u1);
	sp_unwind(u1, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	size_t one = sp_ufile_cached();
	assert_true(one > before);
	sp_unwinder *u2 = sp_unwinder_new_procfs(0, &err);
	assert_non_null(u2);
	sp_unwind(u2, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	assert_int_equal(st, SP_UNWIND_COMPLETE);
	assert_int_equal(sp_ufile_cached(), one);
	sp_unwinder_free(u1);
	assert_int_equal(sp_ufile_cached(), one);
	sp_unwinder_free(u2);
	assert_int_equal(sp_ufile_cached(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_complete),
		cmocka_unit_test(test_short_copy_truncates),
		cmocka_unit_test(test_garbage_truncates),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_signal_frame),
		cmocka_unit_test(test_thread_ends_at_clone),
		cmocka_unit_test(test_dlclosed_module),
		cmocka_unit_test(test_module_reads),
		cmocka_unit_test(test_alias_mapping),
		cmocka_unit_test(test_same_as_backtrace),
		cmocka_unit_test(test_missing_or_replaced_file),
		cmocka_unit_test(test_other_process),
		cmocka_unit_test(test_files_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
