/* Byte-string hash: see hash.h. */
#include "base/hash.h"

uint64_t sp_hash_bytes(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = sp_hash_add(seed, n), w;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = sp_hash_add(h, w);
	}
	if (n) {
		w = 0;
		memcpy(&w, b, n);
		h = sp_hash_add(h, w);
	}
	return h;
}
