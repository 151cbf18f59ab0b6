/* The exec family, interposed only to pause this thread's sampling around
 * the call (threads.c: sp_threads_exec_prepare says why). glibc's own calls
 * between these functions are internal, so each entry point is wrapped;
 * the execl forms collect their arguments and go through the execv forms. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "capture/threads.h"

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

/* The execl forms: count the arguments up to the terminating NULL, copy
 * them into an argv on the stack, then make CALL, which sees argv and, with
 * WITH_ENV (execle only: nothing else passes one), envp after the NULL. */
#define EXECL_BODY(arg0, WITH_ENV, CALL)                                 \
	do {                                                             \
		va_list ap_;                                             \
		size_t n_ = 1;                                           \
		char *const *envp_;                                      \
		va_start(ap_, arg0);                                     \
		while (va_arg(ap_, const char *))                        \
			n_++;                                            \
		envp_ = WITH_ENV ? va_arg(ap_, char *const *) : NULL;    \
		va_end(ap_);                                             \
		{                                                        \
			char *argv[n_ + 1];                              \
			char *const *envp = envp_;                       \
			(void)envp;                                      \
			argv[0] = (char *)arg0;                          \
			va_start(ap_, arg0);                             \
			for (size_t i_ = 1; i_ <= n_; i_++)              \
				argv[i_] = va_arg(ap_, char *);          \
			va_end(ap_);                                     \
			return CALL;                                     \
		}                                                        \
	} while (0)

EXPORT int execl(const char *path, const char *arg0, ...)
{
	EXECL_BODY(arg0, 0, execv(path, argv));
}

EXPORT int execlp(const char *file, const char *arg0, ...)
{
	EXECL_BODY(arg0, 0, execvp(file, argv));
}

EXPORT int execle(const char *path, const char *arg0, ...)
{
	EXECL_BODY(arg0, 1, execve(path, argv, envp));
}
