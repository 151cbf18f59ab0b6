#include "base/env.h"

#include <stdlib.h>

const char *sp_getenv(const char *name)
{
	return secure_getenv(name);
}

const char *sp_getenv_process(void *ctx, const char *name)
{
	(void)ctx;
	return sp_getenv(name);
}
