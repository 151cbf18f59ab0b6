/* The one environment lookup of spanprof (library and CLI).
 *
 * secure_getenv, not getenv: libspanprof.so runs inside other programs. In
 * a program that gained privileges at exec (setuid/setgid or file
 * capabilities: AT_SECURE), the environment is the unprivileged caller's,
 * and would choose where a privileged process writes files
 * (SPANPROF_OUTPUT), where it uploads its profiles and with which
 * credentials (PYROSCOPE_*). There every variable reads as unset, so the
 * defaults apply. Everywhere else it is getenv. */
#ifndef SPANPROF_ENV_H
#define SPANPROF_ENV_H

#include <stddef.h>

const char *sp_getenv(const char *name);

/* Lookups that tests feed a fake environment take one of these; ctx is the
 * fake's. sp_getenv_process is sp_getenv in that shape (ctx unused). */
typedef const char *(*sp_getenv_fn)(void *ctx, const char *name);
const char *sp_getenv_process(void *ctx, const char *name);

/* name's value in a block of "KEY=VALUE\0" entries of len bytes (another
 * process's environment: an arena's copy, /proc/PID/environ), or NULL. */
const char *sp_env_block_get(const char *block, size_t len, const char *name);

#endif
