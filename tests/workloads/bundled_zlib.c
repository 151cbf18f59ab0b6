/* An application linked with its own libz.so.1, found through
 * RPATH=$ORIGIN/lib (zlib_stub.c): prints the zlib it got, then burns
 * SECONDS of CPU in bundled_zlib_burn.
 *   bundled_zlib SECONDS */
#include <stdio.h>
#include <stdlib.h>

#include "burn.h"

const char *zlibVersion(void);

NOIPA void bundled_zlib_burn(double secs)
{
	burn_cpu(secs);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: bundled_zlib SECONDS\n");
		return 2;
	}
	printf("zlib %s\n", zlibVersion());
	fflush(stdout);
	bundled_zlib_burn(atof(argv[1]));
	printf("done\n");
	return 0;
}
