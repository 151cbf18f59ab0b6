/* Test-only capture of a realistic raw sample, independent of the real
 * signal handler: a real-time signal handler copies the ucontext registers
 * (DWARF numbering) and the stack from RSP - 128 up to the thread's stack top
 * into static buffers. Also a small address -> name helper (dladdr, plus the
 * executable's .symtab for static functions). Include once per test. */
#ifndef SPANPROF_TEST_SAMPLE_CAPTURE_H
#define SPANPROF_TEST_SAMPLE_CAPTURE_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "abi/raw_sample.h"

#define CAP_SIGNAL (SIGRTMIN + 5)
#define CAP_STACK_MAX (256 * 1024)

static uint8_t cap_stack[CAP_STACK_MAX];
static sp_raw_sample cap_sample;
static uint64_t cap_stack_top;
static volatile sig_atomic_t cap_done;

/* ASan must not see this: it reads other frames' redzones on purpose. A
 * plain word loop, not memcpy (intercepted and range-checked by ASan). */
__attribute__((no_sanitize_address, noinline)) static void
cap_copy(uint8_t *dst, uint64_t src, size_t len)
{
	volatile const uint64_t *s = (const uint64_t *)(uintptr_t)src;
	uint64_t *d = (uint64_t *)dst;
	for (size_t i = 0; i < len / 8; i++)
		d[i] = s[i];
}

static void cap_handler(int sig, siginfo_t *si, void *ctx)
{
	static const int map[SP_REG_COUNT] = {
		REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
		REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
		REG_RIP,
	};
	ucontext_t *uc = ctx;
	int saved = errno;

	for (int i = 0; i < SP_REG_COUNT; i++)
		cap_sample.regs[i] = (uint64_t)uc->uc_mcontext.gregs[map[i]];
	uint64_t lo = (cap_sample.regs[SP_REG_RSP] - SP_REDZONE) & ~7ull;
	uint64_t len = cap_stack_top > lo ? cap_stack_top - lo : 0;
	if (len > CAP_STACK_MAX)
		len = CAP_STACK_MAX;
	cap_copy(cap_stack, lo, len);
	cap_sample.stack_base = lo;
	cap_sample.stack_len = (uint32_t)len;
	cap_sample.stack = cap_stack;
	cap_sample.kind = SP_SAMPLE_CPU;
	cap_sample.count = 1;
	cap_sample.weight = 10000000;
	cap_sample.pid = getpid();
	cap_sample.tid = (int32_t)syscall(SYS_gettid);
	cap_done = 1;
	errno = saved;
}

/* Call before cap_fire() on the thread that will be sampled. */
static void cap_setup(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;
	struct sigaction sa;

	memset(&cap_sample, 0, sizeof(cap_sample));
	pthread_getattr_np(pthread_self(), &attr);
	pthread_attr_getstack(&attr, &addr, &size);
	pthread_attr_destroy(&attr);
	cap_stack_top = (uint64_t)(uintptr_t)addr + size;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = cap_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(CAP_SIGNAL, &sa, NULL);
	cap_done = 0;
}

/* Deliver the signal to this thread from a raw syscall instruction, so the
 * interrupted IP is inside the caller of this inline code. */
#define CAP_FIRE()                                                              \
	do {                                                                    \
		long _r;                                                        \
		__asm__ volatile("syscall"                                      \
				 : "=a"(_r)                                     \
				 : "0"((long)SYS_tgkill), "D"((long)getpid()),  \
				   "S"((long)syscall(SYS_gettid)),              \
				   "d"((long)CAP_SIGNAL)                        \
				 : "rcx", "r11", "memory");                     \
		(void)_r;                                                       \
	} while (0)

/* ---- address -> name ---------------------------------------------------- */

__attribute__((unused)) static uint64_t exe_bias(void)
{
	static uint64_t bias;
	static bool done;
	if (!done) {
		Dl_info di;
		struct link_map *lm = NULL;
		if (dladdr1((void *)exe_bias, &di, (void **)&lm, RTLD_DL_LINKMAP) && lm)
			bias = lm->l_addr;
		done = true;
	}
	return bias;
}

/* Writes the function name containing pc into out ("?" when unknown). */
__attribute__((unused)) static void
cap_symname(uint64_t pc, char *out, size_t outlen)
{
	Dl_info di, self;
	snprintf(out, outlen, "?");
	if (!dladdr((void *)(uintptr_t)pc, &di))
		return;
	if (di.dli_sname && di.dli_saddr) {
		snprintf(out, outlen, "%s", di.dli_sname);
		return;
	}
	if (!dladdr((void *)exe_bias, &self) || self.dli_fbase != di.dli_fbase)
		return;
	/* In the executable: static functions are only in .symtab. */
	elf_version(EV_CURRENT);
	int fd = open("/proc/self/exe", O_RDONLY);
	if (fd < 0)
		return;
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	uint64_t rel = pc - exe_bias();
	while (e && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; d && i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			if (rel >= sym.st_value && rel < sym.st_value + (sym.st_size ? sym.st_size : 1)) {
				snprintf(out, outlen, "%s", elf_strptr(e, sh.sh_link, sym.st_name));
				goto done;
			}
		}
	}
done:
	if (e)
		elf_end(e);
	close(fd);
}

#endif
