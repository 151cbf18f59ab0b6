/* The consumer's one hash: a 64-bit mixer, a combiner built on it, and a
 * byte-string hash. Not for persisting or comparing across builds: values
 * may change with the implementation. */
#ifndef SPANPROF_HASH_H
#define SPANPROF_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Full avalanche of one word (the MurmurHash3 finalizer), so the low bits a
 * power-of-two table uses depend on every input bit. */
static inline uint64_t sp_hash_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Fold one word into a running hash; order-dependent. */
static inline uint64_t sp_hash_add(uint64_t h, uint64_t v)
{
	return sp_hash_mix(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

/* n bytes folded into `seed`, a word at a time; the length is part of the
 * hash, so "a" and "a\0" differ. */
uint64_t sp_hash_bytes(uint64_t seed, const void *p, size_t n);

static inline uint64_t sp_hash_str(const char *s)
{
	return sp_hash_bytes(0, s, strlen(s));
}

#endif
