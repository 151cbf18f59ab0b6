#include "base/env.h"

#include <stdlib.h>
#include <string.h>

const char *sp_getenv(const char *name)
{
	return secure_getenv(name);
}

const char *sp_getenv_process(void *ctx, const char *name)
{
	(void)ctx;
	return sp_getenv(name);
}

const char *sp_env_block_get(const char *block, size_t len, const char *name)
{
	const char *p = block, *end = block + len;
	size_t klen = strlen(name);

	while (p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		if (!z)
			break;
		if ((size_t)(z - p) > klen && !memcmp(p, name, klen) && p[klen] == '=')
			return p + klen + 1;
		p = z + 1;
	}
	return NULL;
}
