/* A service doing fixed work: rounds of the same LCG walk until SECONDS of
 * CPU are used (at least one round), each round checked against the first.
 * Prints the checksum, which depends on the work only (not on how many
 * rounds ran), so a run under the profiler prints what a plain run prints.
 *   checksum_service SECONDS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "burn.h"

NOIPA uint64_t checksum_round(void)
{
	uint64_t x = 12345;

	for (uint32_t i = 0; i < 20000000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL + (x >> 29);
	return x;
}

int main(int argc, char **argv)
{
	double end;
	uint64_t first;

	if (argc != 2) {
		fprintf(stderr, "usage: checksum_service SECONDS\n");
		return 2;
	}
	end = process_cpu_s() + atof(argv[1]);
	first = checksum_round();
	while (process_cpu_s() < end)
		if (checksum_round() != first) {
			printf("checksum mismatch\n");
			return 1;
		}
	printf("checksum %016llx\n", (unsigned long long)first);
	return 0;
}
