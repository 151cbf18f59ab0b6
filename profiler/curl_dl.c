/* libcurl loaded on first use; see curl_dl.h. */
#include "curl_dl.h"

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
	*(void **)&sp_curl.global_init = resolve(lib, "curl_global_init");
	*(void **)&sp_curl.easy_init = resolve(lib, "curl_easy_init");
	*(void **)&sp_curl.easy_setopt = resolve(lib, "curl_easy_setopt");
	*(void **)&sp_curl.easy_perform = resolve(lib, "curl_easy_perform");
	*(void **)&sp_curl.easy_getinfo = resolve(lib, "curl_easy_getinfo");
	*(void **)&sp_curl.easy_cleanup = resolve(lib, "curl_easy_cleanup");
	*(void **)&sp_curl.easy_strerror = resolve(lib, "curl_easy_strerror");
	*(void **)&sp_curl.slist_append = resolve(lib, "curl_slist_append");
	*(void **)&sp_curl.slist_free_all = resolve(lib, "curl_slist_free_all");
	*(void **)&sp_curl.free = resolve(lib, "curl_free");
	*(void **)&sp_curl.url = resolve(lib, "curl_url");
	*(void **)&sp_curl.url_cleanup = resolve(lib, "curl_url_cleanup");
	*(void **)&sp_curl.url_set = resolve(lib, "curl_url_set");
	*(void **)&sp_curl.url_get = resolve(lib, "curl_url_get");
	*(void **)&sp_curl.url_strerror = resolve(lib, "curl_url_strerror");
	/* A library missing any of them is not used at all (never dlclosed:
	 * a half-resolved table must not be called). */
	load_result = load_error[0] ? -ENOSYS : 0;
}

int sp_curl_load(sp_error *err)
{
	pthread_once(&once, load);
	if (load_result)
		return sp_error_set(err, load_result, "pyroscope: %s", load_error);
	return 0;
}
