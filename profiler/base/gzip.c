#include "base/gzip.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int sp_gzip(const uint8_t *in, size_t len, int level, uint8_t **out, size_t *out_len)
{
	z_stream zs;
	uint8_t *buf = NULL;
	size_t cap;
	int zrc, rc = 0;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
	zrc = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zrc != Z_OK)
		return zrc == Z_STREAM_ERROR ? -EINVAL : -ENOMEM;
	cap = deflateBound(&zs, len) + 64;
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	zs.next_in = (Bytef *)in;
	zs.next_out = buf;
	/* deflateBound covers the whole output; feed in uInt-sized pieces. */
	do {
		size_t left_in = len - (size_t)(zs.next_in - in);
		size_t left_out = cap - (size_t)(zs.next_out - buf);

		zs.avail_in = left_in > UINT_MAX ? UINT_MAX : (uInt)left_in;
		zs.avail_out = left_out > UINT_MAX ? UINT_MAX : (uInt)left_out;
		zrc = deflate(&zs, zs.avail_in == left_in ? Z_FINISH : Z_NO_FLUSH);
	} while (zrc == Z_OK || (zrc == Z_BUF_ERROR && zs.avail_out));
	if (zrc != Z_STREAM_END) {
		rc = -EIO;
		goto out;
	}
	*out_len = (size_t)(zs.next_out - buf);
	*out = buf;
	buf = NULL;
out:
	deflateEnd(&zs);
	free(buf);
	return rc;
}
