#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sp_error_set(sp_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void sp_error_prefix(sp_error *err, const char *prefix)
{
	char tmp[sizeof(err->msg)];

	if (!err || !prefix)
		return;
	snprintf(tmp, sizeof(tmp), "%s: %s", prefix, err->msg);
	memcpy(err->msg, tmp, sizeof(tmp));
}
