/* C++ demangling through the C++ runtime's __cxa_demangle, looked up in
 * libstdc++.so.6 on the first mangled name. Not linked: a C program never
 * maps libstdc++ because of us, the build needs no libstdc++ development
 * files, and a C++ program's own copy is the one already loaded. Without
 * the runtime, names stay mangled. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer/sym_internal.h"

/* The signature of <cxxabi.h>'s abi::__cxa_demangle, which is C++ only. */
typedef char *(*cxa_demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static cxa_demangle_fn cxa_demangle;
static pthread_once_t cxa_once = PTHREAD_ONCE_INIT;

static void load_cxa_demangle(void)
{
	/* RTLD_NOLOAD first: a C++ host already has its runtime mapped. */
	void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);

	if (!h)
		h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (h)
		cxa_demangle = (cxa_demangle_fn)dlsym(h, "__cxa_demangle");
}

char *sp_sym_demangle(const char *name)
{
	int status = 0;
	char *d;

	/* Itanium ABI names only; "_ZN...": plain C names never start so.
	 * __cxa_demangle also accepts bare type names like "i", which would
	 * turn a C function called "f" into "float". */
	if (!name || strncmp(name, "_Z", 2))
		return NULL;
	pthread_once(&cxa_once, load_cxa_demangle);
	if (!cxa_demangle)
		return NULL;
	d = cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(d);
		return NULL;
	}
	return d;
}
