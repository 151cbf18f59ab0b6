/* Error reporting: functions return 0 or a negative errno-style code and,
 * when given an sp_error, fill it with one line a user can act on. */
#ifndef SPANPROF_ERROR_H
#define SPANPROF_ERROR_H

#include <stddef.h>

typedef struct sp_error {
	char msg[512];
} sp_error;

/* printf-style; safe with err == NULL. Always returns `code` so callers can
 * write `return sp_error_set(err, -EINVAL, "...")`. */
int sp_error_set(sp_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message, e.g. with the file name: "a.pb.gz: <msg>". */
void sp_error_prefix(sp_error *err, const char *prefix);

#endif
