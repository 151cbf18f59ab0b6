/* libunwind (built with --enable-block-signals, Debian's default) blocks
 * every signal around each global-cache lookup: two rt_sigprocmask syscalls
 * per frame, measured at ~75% of a warm 30-frame remote unwind. The blocking
 * protects a thread that unwinds from a signal handler which unwinds the same
 * address space; our address space is used only by the worker thread and our
 * signal handler never unwinds, so on that thread the calls are useless.
 *
 * We patch the PLT (GOT) slots of the libunwind copy we dlopen'ed so its
 * sigprocmask calls go through a shim: skipped while the calling thread is
 * inside sp_unwind (thread-local flag), forwarded unchanged otherwise, so a
 * host that shares the same libunwind copy keeps the original behaviour. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unwind/unwind_sigmask.h"

__thread int sp_unwind_quiet __attribute__((tls_model("initial-exec")));

typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
static sigmask_fn real_sigprocmask, real_pthread_sigmask;

static int quiet_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	if (sp_unwind_quiet) {
		/* libunwind restores `old` later, through this shim too. */
		if (old)
			sigemptyset(old);
		return 0;
	}
	return real_sigprocmask(how, set, old);
}

static int quiet_pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	if (sp_unwind_quiet) {
		if (old)
			sigemptyset(old);
		return 0;
	}
	return real_pthread_sigmask(how, set, old);
}

struct relro_query {
	uintptr_t base, lo, hi;
};

static int relro_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct relro_query *q = arg;

	if (info->dlpi_addr != q->base)
		return 0;
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
			q->lo = q->base + info->dlpi_phdr[i].p_vaddr;
			q->hi = q->lo + info->dlpi_phdr[i].p_memsz;
		}
	}
	return 1;
}

static int write_slot(uintptr_t slot, void *fn, const struct relro_query *relro)
{
	long pagesz = sysconf(_SC_PAGESIZE);
	uintptr_t page = slot & ~((uintptr_t)pagesz - 1);
	bool ro = slot >= relro->lo && slot < relro->hi;

	if (ro && mprotect((void *)page, (size_t)pagesz, PROT_READ | PROT_WRITE) < 0)
		return -1;
	__atomic_store_n((void **)slot, fn, __ATOMIC_RELEASE);
	if (ro)
		mprotect((void *)page, (size_t)pagesz, PROT_READ);
	return 0;
}

/* On x86_64 glibc relocates d_ptr of these tags in place; elsewhere they
 * may still be link-time addresses. */
static uintptr_t dyn_ptr(uintptr_t v, uintptr_t base)
{
	return v < base ? v + base : v;
}

int sp_unwind_sigmask_patch(void *handle)
{
	struct link_map *lm = NULL;
	const ElfW(Rela) *jmprel = NULL;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	size_t pltrelsz = 0;
	int patched = 0;

	if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_ld)
		return 0;
	uintptr_t base = lm->l_addr;
	for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_JMPREL: jmprel = (const void *)dyn_ptr(d->d_un.d_ptr, base); break;
		case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
		case DT_SYMTAB: symtab = (const void *)dyn_ptr(d->d_un.d_ptr, base); break;
		case DT_STRTAB: strtab = (const void *)dyn_ptr(d->d_un.d_ptr, base); break;
		case DT_PLTREL: if (d->d_un.d_val != DT_RELA) return 0; break;
		}
	}
	if (!jmprel || !symtab || !strtab)
		return 0;
	real_sigprocmask = (sigmask_fn)dlsym(RTLD_DEFAULT, "sigprocmask");
	real_pthread_sigmask = (sigmask_fn)dlsym(RTLD_DEFAULT, "pthread_sigmask");
	struct relro_query relro = { .base = base };
	dl_iterate_phdr(relro_cb, &relro);
	for (size_t i = 0; i < pltrelsz / sizeof(*jmprel); i++) {
		const ElfW(Rela) *r = &jmprel[i];
		if (ELF64_R_TYPE(r->r_info) != R_X86_64_JUMP_SLOT)
			continue;
		const char *name = strtab + symtab[ELF64_R_SYM(r->r_info)].st_name;
		void *fn = NULL;
		if (!strcmp(name, "sigprocmask") && real_sigprocmask)
			fn = (void *)quiet_sigprocmask;
		else if (!strcmp(name, "pthread_sigmask") && real_pthread_sigmask)
			fn = (void *)quiet_pthread_sigmask;
		if (fn && write_slot(base + r->r_offset, fn, &relro) == 0)
			patched++;
	}
	return patched;
}
