/* libcurl loaded on first use; see curl_dl.h. */
#include "sinks/curl_dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

struct sp_curl_api sp_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static char load_error[512];

/* Debian's libcurl4 (OpenSSL), then the GnuTLS flavour, then a dev link. */
static const char *const sonames[] = { "libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so" };

static void *resolve(void *lib, const char *name)
{
	void *p = dlsym(lib, name);

	if (!p && !load_error[0])
		snprintf(load_error, sizeof(load_error), "libcurl has no %s (too old?)", name);
	return p;
}

static void load(void)
{
	void *lib = NULL;
	const char *why = "";

	for (size_t i = 0; i < sizeof(sonames) / sizeof(sonames[0]) && !lib; i++) {
		lib = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (!lib && i == 0)
			why = dlerror();
	}
	if (!lib) {
		snprintf(load_error, sizeof(load_error),
			 "cannot load libcurl (%s); install it (apt-get install libcurl4)", why);
		load_result = -ENOENT;
		return;
	}
#define LOAD(field) (*(void **)&sp_curl.field = resolve(lib, "curl_" #field))
	LOAD(global_init);
	LOAD(easy_init);
	LOAD(easy_setopt);
	LOAD(easy_perform);
	LOAD(easy_getinfo);
	LOAD(easy_cleanup);
	LOAD(easy_strerror);
	LOAD(slist_append);
	LOAD(slist_free_all);
	LOAD(free);
	LOAD(url);
	LOAD(url_cleanup);
	LOAD(url_set);
	LOAD(url_get);
	LOAD(url_strerror);
#undef LOAD
	/* A library missing any of them is not used at all (never dlclosed:
	 * a half-resolved table must not be called). */
	load_result = load_error[0] ? -ENOSYS : 0;
	/* Once per process, never cleaned up: the host may use curl too, and
	 * cleanup is not thread-safe. */
	if (!load_result)
		sp_curl.global_init(CURL_GLOBAL_DEFAULT);
}

int sp_curl_load(sp_error *err)
{
	pthread_once(&once, load);
	if (load_result)
		return sp_error_set(err, load_result, "pyroscope: %s", load_error);
	return 0;
}
