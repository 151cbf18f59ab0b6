/* The exec family, interposed only to pause this thread's sampling around
 * the call (threads.c: sp_threads_exec_prepare says why). glibc's own calls
 * between these functions are internal, so each entry point is wrapped;
 * the execl forms collect their arguments and go through the execv forms. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "threads.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

/* Wraps one call: pause, call the next definition, resume if it returned. */
#define EXEC_THROUGH(type, name, ...)                                   \
	do {                                                            \
		static type real;                                       \
		int ret_, saved_;                                       \
		if (!real)                                              \
			real = (type)dlsym(RTLD_NEXT, name);            \
		if (!real) {                                            \
			errno = ENOSYS;                                 \
			return -1;                                      \
		}                                                       \
		sp_threads_exec_prepare();                              \
		ret_ = real(__VA_ARGS__);                               \
		saved_ = errno;                                         \
		sp_threads_exec_failed();                               \
		errno = saved_;                                         \
		return ret_;                                            \
	} while (0)

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	EXEC_THROUGH(execve_fn, "execve", path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	EXEC_THROUGH(execv_fn, "execv", path, argv);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	EXEC_THROUGH(execv_fn, "execvp", file, argv);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	EXEC_THROUGH(execve_fn, "execvpe", file, argv, envp);
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		    int flags)
{
	EXEC_THROUGH(execveat_fn, "execveat", dirfd, path, argv, envp, flags);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	EXEC_THROUGH(fexecve_fn, "fexecve", fd, argv, envp);
}

/* Counts the arguments after arg0 up to the terminating NULL. */
static size_t count_args(va_list ap)
{
	size_t n = 1;

	while (va_arg(ap, const char *))
		n++;
	return n;
}

#define COLLECT_ARGS(argv, n, arg0, ap)                                  \
	do {                                                             \
		argv[0] = (char *)arg0;                                  \
		for (size_t i_ = 1; i_ <= n; i_++)                       \
			argv[i_] = va_arg(ap, char *);                   \
	} while (0)

EXPORT int execl(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(ap);
	va_end(ap);
	{
		char *argv[n + 1];
		va_start(ap, arg0);
		COLLECT_ARGS(argv, n, arg0, ap);
		va_end(ap);
		return execv(path, argv);
	}
}

EXPORT int execlp(const char *file, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(ap);
	va_end(ap);
	{
		char *argv[n + 1];
		va_start(ap, arg0);
		COLLECT_ARGS(argv, n, arg0, ap);
		va_end(ap);
		return execvp(file, argv);
	}
}

EXPORT int execle(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t n;
	char *const *envp;

	va_start(ap, arg0);
	n = count_args(ap);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	{
		char *argv[n + 1];
		va_start(ap, arg0);
		COLLECT_ARGS(argv, n, arg0, ap);
		va_end(ap);
		return execve(path, argv, envp);
	}
}
