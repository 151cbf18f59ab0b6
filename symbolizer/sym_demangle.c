/* C++ demangling through the C++ runtime's __cxa_demangle (-lstdc++). */
#include <stdlib.h>
#include <string.h>

#include "sym_internal.h"

/* From <cxxabi.h>, which is C++ only. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

char *sp_sym_demangle(const char *name)
{
	int status = 0;
	char *d;

	/* Itanium ABI names only; "_ZN...": plain C names never start so.
	 * __cxa_demangle also accepts bare type names like "i", which would
	 * turn a C function called "f" into "float". */
	if (!name || strncmp(name, "_Z", 2))
		return NULL;
	d = __cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(d);
		return NULL;
	}
	return d;
}
