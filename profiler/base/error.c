#include "base/error.h"

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
	size_t plen;

	if (!err || !prefix)
		return;
	/* Built by hand: snprintf("%s: %s") trips -Wformat-truncation. */
	plen = strnlen(prefix, sizeof(tmp) - 3);
	memcpy(tmp, prefix, plen);
	memcpy(tmp + plen, ": ", 2);
	strncpy(tmp + plen + 2, err->msg, sizeof(tmp) - plen - 3);
	tmp[sizeof(tmp) - 1] = '\0';
	memcpy(err->msg, tmp, sizeof(tmp));
}
