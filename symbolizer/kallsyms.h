/* Kernel function names for kernel-mode pcs of host-wide samples, from
 * /proc/kallsyms (text symbols only), sorted once, looked up by bisection. */
#ifndef SPANPROF_KALLSYMS_H
#define SPANPROF_KALLSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct sp_kallsyms sp_kallsyms;

/* x86-64: the kernel owns the upper half of the address space. */
static inline bool sp_kernel_pc(uint64_t pc)
{
	return pc >= 0xffff800000000000ULL;
}

/* path NULL: /proc/kallsyms. Fails with -EPERM when every address reads as
 * zero (kernel.kptr_restrict, or no CAP_SYSLOG): the message says which
 * setting to change. */
sp_kallsyms *sp_kallsyms_load(const char *path, sp_error *err);
void sp_kallsyms_free(sp_kallsyms *k);

/* The function containing pc (the nearest symbol at or below it), or NULL
 * below the first one. Valid until sp_kallsyms_free. */
const char *sp_kallsyms_find(const sp_kallsyms *k, uint64_t pc);
size_t sp_kallsyms_count(const sp_kallsyms *k);

#endif
