/* Burns SECONDS in a function named after WHO (owner_uid_burn,
 * nobody_uid_burn or tree_uid_burn: names no other workload uses), prints
 * "done WHO", and
 * tells on stderr whether libspanprof.so is mapped in it (so a test knows
 * the preload happened even when the run is not profiled).
 *   uid_burn owner|nobody|tree SECONDS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burn.h"

NOIPA void owner_uid_burn(double secs) { burn_cpu(secs); }
NOIPA void nobody_uid_burn(double secs) { burn_cpu(secs); }
NOIPA void tree_uid_burn(double secs) { burn_cpu(secs); }

static const char *preloaded(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "re");
	const char *yes = "no";

	if (!f)
		return "unknown";
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/libspanprof.so"))
			yes = "yes";
	fclose(f);
	return yes;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: uid_burn owner|nobody|tree SECONDS\n");
		return 2;
	}
	if (!strcmp(argv[1], "owner"))
		owner_uid_burn(atof(argv[2]));
	else if (!strcmp(argv[1], "nobody"))
		nobody_uid_burn(atof(argv[2]));
	else if (!strcmp(argv[1], "tree"))
		tree_uid_burn(atof(argv[2]));
	else
		return 2;
	fprintf(stderr, "libspanprof mapped: %s\n", preloaded());
	printf("done %s\n", argv[1]);
	return 0;
}
