/* gzip encoding of a buffer in memory: the one encoder for pprof files
 * (Go's level, BestSpeed) and Pyroscope uploads (their configured level). */
#ifndef SPANPROF_GZIP_H
#define SPANPROF_GZIP_H

#include <stddef.h>
#include <stdint.h>

/* One gzip member of in[0..len) at zlib level (0..9, or -1 for zlib's
 * default). On success *out is malloc'd. Returns 0, -ENOMEM, -EINVAL (bad
 * level) or -EIO (zlib failed). */
int sp_gzip(const uint8_t *in, size_t len, int level, uint8_t **out, size_t *out_len);

#endif
