/* libspanprof.so entry points: constructor/destructor, the interposed
 * thread functions and dlclose, and the public start/stop API.
 *
 * Not interposed, on purpose:
 *  - fork: pthread_atfork handlers (profiler.c) see every fork, including
 *    those made inside libraries;
 *  - dlopen: glibc resolves the RUNPATH/$ORIGIN and the namespace of a
 *    dlopen from its caller's address, so a wrapper would change which file
 *    a library's own dlopen finds. The worker notices new modules from the
 *    loader's dlpi_adds/dlpi_subs counters instead (worker.c). */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "base/log.h"
#include "capture/profiler.h"
#include "spanprof.h"
#include "capture/threads.h"

#define EXPORT __attribute__((visibility("default")))

void sp_preload_signals_install(void); /* preload_signals.c */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				 void *);
typedef void (*pthread_exit_fn)(void *) __attribute__((noreturn));
typedef int (*dlclose_fn)(void *);

static pthread_create_fn real_pthread_create;
static pthread_exit_fn real_pthread_exit;
static dlclose_fn real_dlclose;

/* A successful dlsym(RTLD_NEXT) does not allocate (glibc 2.34+). */
static void *next_symbol(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p)
		sp_log("cannot find the real %s: %s", name, dlerror());
	return p;
}

static void resolve(void)
{
	if (!real_pthread_create)
		real_pthread_create = (pthread_create_fn)next_symbol("pthread_create");
	if (!real_pthread_exit)
		real_pthread_exit = (pthread_exit_fn)next_symbol("pthread_exit");
	if (!real_dlclose)
		real_dlclose = (dlclose_fn)next_symbol("dlclose");
}

struct trampoline {
	void *(*fn)(void *);
	void *arg;
	int internal;
};

static void *thread_trampoline(void *p)
{
	struct trampoline t = *(struct trampoline *)p;
	void *ret;

	free(p);
	if (t.internal)
		sp_tls_internal = 1;
	else
		sp_profiler_thread_start();
	ret = t.fn(t.arg);
	sp_profiler_thread_exit();
	return ret;
}

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
			  void *arg)
{
	struct trampoline *t;
	int r;

	resolve();
	if (!real_pthread_create)
		return EAGAIN;
	/* Threads made by the profiler's own threads stay unprofiled. */
	if (!sp_profiler_running() && !sp_tls_internal)
		return real_pthread_create(th, attr, fn, arg);
	t = malloc(sizeof(*t));
	if (!t)
		return real_pthread_create(th, attr, fn, arg);
	t->fn = fn;
	t->arg = arg;
	t->internal = sp_tls_internal;
	r = real_pthread_create(th, attr, thread_trampoline, t);
	if (r)
		free(t);
	return r;
}

EXPORT void pthread_exit(void *ret)
{
	resolve();
	sp_profiler_thread_exit();
	real_pthread_exit(ret);
}

EXPORT int dlclose(void *handle)
{
	int r;

	resolve();
	if (!real_dlclose)
		return -1;
	/* Samples taken in the module are unwound while it is still mapped. */
	sp_profiler_before_dlclose();
	r = real_dlclose(handle);
	sp_profiler_modules_changed();
	return r;
}

/* ---- public API (include/spanprof.h) --------------------------------- */

int spanprof_start(const spanprof_options *opts)
{
	int r;

	resolve();
	r = sp_profiler_start(opts);
	if (!r)
		sp_preload_signals_install();
	return r == -EALREADY ? SPANPROF_EALREADY : r;
}

int spanprof_stop(void)
{
	return sp_profiler_stop() ? SPANPROF_ENOTRUNNING : SPANPROF_OK;
}

/* ---- load / unload ----------------------------------------------------- */

__attribute__((constructor)) static void spanprof_preload_init(void)
{
	const char *s = sp_getenv("SPANPROF_AUTOSTART");

	resolve();
	/* Linked with -lspanprof (not preloaded): the program calls
	 * spanprof_start itself unless SPANPROF_AUTOSTART=1. */
	if (s && *s) {
		if (!strcmp(s, "0"))
			return;
	} else {
		const char *pre = sp_getenv("LD_PRELOAD");
		if (!pre || !strstr(pre, "libspanprof"))
			return;
	}
	if (sp_profiler_start(NULL) == 0)
		sp_preload_signals_install();
}

__attribute__((destructor)) static void spanprof_preload_fini(void)
{
	sp_profiler_exit();
}
