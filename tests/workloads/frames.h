/* For symbolizer test workloads: print a backtrace as "frame I PATH OFFSET"
 * lines, OFFSET being the hex file offset of the call site (return address
 * - 1) in PATH, from /proc/self/maps. Header-only, C and C++. */
#ifndef SPANPROF_TEST_FRAMES_H
#define SPANPROF_TEST_FRAMES_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static inline void print_frames(void **frames, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t pc = (uint64_t)(uintptr_t)frames[i] - 1, start, end, off;
		char line[4096], perms[8], path[4096];
		FILE *f = fopen("/proc/self/maps", "r");

		while (f && fgets(line, sizeof(line), f)) {
			path[0] = '\0';
			if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %4095s",
				   &start, &end, perms, &off, path) < 4)
				continue;
			if (pc >= start && pc < end && perms[2] == 'x') {
				printf("frame %d %s %" PRIx64 "\n", i, path, pc - start + off);
				break;
			}
		}
		if (f)
			fclose(f);
	}
	fflush(stdout);
}

#endif
