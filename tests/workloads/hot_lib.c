/* The known split inside a shared library (loaded with dlopen by cpu_split). */
#include <stdint.h>

__attribute__((noipa)) uint64_t hot_heavy(uint64_t n)
{
	uint64_t x = n | 1;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

__attribute__((noipa)) uint64_t hot_light(uint64_t n)
{
	uint64_t x = n | 3;

	for (uint64_t i = 0; i < n; i++)
		x = x * 2862933555777941757ULL + 3037000493ULL;
	return x;
}
