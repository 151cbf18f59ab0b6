/* dlopen LIB, burn SECONDS in its dlclose_lib_burn, dlclose it (and check
 * it is no longer mapped), then burn 0.3 s in after_dlclose_burn and exit:
 * the library's samples must still be named after it is gone.
 *   dlclose_burn LIB SECONDS */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burn.h"

NOIPA void after_dlclose_burn(double secs)
{
	burn_cpu(secs);
}

static int mapped(const char *path)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "re");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, path))
			found = 1;
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	void (*burn)(double);
	void *h;

	if (argc != 3) {
		fprintf(stderr, "usage: dlclose_burn LIB SECONDS\n");
		return 2;
	}
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	burn = (void (*)(double))dlsym(h, "dlclose_lib_burn");
	if (!burn) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 2;
	}
	burn(atof(argv[2]));
	if (dlclose(h)) {
		fprintf(stderr, "dlclose: %s\n", dlerror());
		return 2;
	}
	if (mapped(argv[1]) != 0) {
		fprintf(stderr, "%s is still mapped after dlclose\n", argv[1]);
		return 3;
	}
	after_dlclose_burn(0.3);
	printf("burnt in the library, unloaded it, burnt after\n");
	return 0;
}
