/* JIT-like code: two functions generated at run time into an anonymous
 * executable mapping (no unwind info, frame pointers kept, as JITs do),
 * named in /tmp/perf-<pid>.map (the format node --perf-basic-prof writes:
 * "START SIZE name", hex). main -> jit_outer -> jit_inner -> burn_in_c.
 *   jit_frames SECONDS     (of CPU; prints "jit ok" at the end) */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NOIPA __attribute__((noipa))

volatile unsigned long sink;

NOIPA void burn_in_c(void)
{
	unsigned long x = sink | 1;

	for (int i = 0; i < 200000; i++)
		x = x * 6364136223846793005UL + 1;
	sink = x;
}

/* push rbp; mov rbp,rsp; movabs rax,TARGET; call rax; pop rbp; ret */
static size_t emit_call(uint8_t *p, void *target)
{
	static const uint8_t head[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0xb8 };
	static const uint8_t tail[] = { 0xff, 0xd0, 0x5d, 0xc3 };
	uint64_t t = (uint64_t)(uintptr_t)target;

	memcpy(p, head, sizeof(head));
	memcpy(p + sizeof(head), &t, 8);
	memcpy(p + sizeof(head) + 8, tail, sizeof(tail));
	return sizeof(head) + 8 + sizeof(tail);
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0, end;
	uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *inner, *outer;
	size_t ni, no;
	char path[64];
	FILE *f;

	if (code == MAP_FAILED)
		return 1;
	inner = code + 64;
	outer = code + 256;
	ni = emit_call(inner, (void *)burn_in_c);
	no = emit_call(outer, inner);
	if (mprotect(code, 4096, PROT_READ | PROT_EXEC) < 0)
		return 1;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%lx %zx jit_inner\n%lx %zx jit_outer\n", (unsigned long)(uintptr_t)inner, ni,
		(unsigned long)(uintptr_t)outer, no);
	fclose(f);

	end = cpu_s() + secs;
	while (cpu_s() < end)
		((void (*)(void))outer)();
	printf("jit ok %d\n", (int)getpid());
	return 0;
}
