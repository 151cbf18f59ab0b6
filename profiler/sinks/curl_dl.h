/* libcurl, loaded on first use (dlopen RTLD_LOCAL) instead of linked.
 *
 * Why: libspanprof.so is preloaded into every process of a service, most of
 * which never upload; linking libcurl would map it and its ~28 dependencies
 * (OpenSSL, Kerberos, LDAP, nghttp2...) into all of them, costing start-up
 * time and memory and putting a second OpenSSL next to the host's. Only a
 * process with a Pyroscope server configured loads it.
 *
 * Include this instead of <curl/curl.h>: after sp_curl_load() succeeds the
 * usual curl_* names call through the loaded library. curl's GCC setopt
 * type checks are off (they wrap the real function name). */
#ifndef SPANPROF_CURL_DL_H
#define SPANPROF_CURL_DL_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "base/error.h"

struct sp_curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode c);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	void (*free)(void *p);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *u);
	CURLUcode (*url_set)(CURLU *u, CURLUPart part, const char *s, unsigned flags);
	CURLUcode (*url_get)(const CURLU *u, CURLUPart part, char **s, unsigned flags);
	const char *(*url_strerror)(CURLUcode c);
};
extern struct sp_curl_api sp_curl;

/* Load libcurl and run curl_global_init, once (thread-safe); later calls
 * return the first result. On failure err says which library was missing
 * and how to install it. */
int sp_curl_load(sp_error *err);

/* curl.h's own argument-count macros would wrap ours. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_init (*sp_curl.easy_init)
#define curl_easy_setopt (*sp_curl.easy_setopt)
#define curl_easy_perform (*sp_curl.easy_perform)
#define curl_easy_getinfo (*sp_curl.easy_getinfo)
#define curl_easy_cleanup (*sp_curl.easy_cleanup)
#define curl_easy_strerror (*sp_curl.easy_strerror)
#define curl_slist_append (*sp_curl.slist_append)
#define curl_slist_free_all (*sp_curl.slist_free_all)
#define curl_free (*sp_curl.free)
#define curl_url (*sp_curl.url)
#define curl_url_cleanup (*sp_curl.url_cleanup)
#define curl_url_set (*sp_curl.url_set)
#define curl_url_get (*sp_curl.url_get)
#define curl_url_strerror (*sp_curl.url_strerror)

#endif
