/* ASan builds only: clear stale shadow memory. After fork in a threaded
 * process the child inherits the shadow of every other thread's stack; when
 * that memory is reused (thread stacks from glibc's cache, files mapped where
 * a stack was), ASan reports reads of it as stack overflows. */
#ifndef SPANPROF_ASAN_COMPAT_H
#define SPANPROF_ASAN_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define sp_asan_unpoison(p, n) __asan_unpoison_memory_region((void *)(uintptr_t)(p), (size_t)(n))
#else
#define sp_asan_unpoison(p, n) ((void)(p), (void)(n))
#endif

#endif
