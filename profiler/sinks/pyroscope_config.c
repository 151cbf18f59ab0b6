/* Pyroscope exporter configuration from the environment; see
 * pyroscope_config.h. The server's rules enforced here are in
 * shared/reference/pyroscope-api.md (1.3 name syntax, 1.9 label limits). */
#include "sinks/pyroscope_config.h"

#include "base/config.h"
#include "sinks/curl_dl.h"
#include "base/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PFX "pyroscope: "

void sp_pyroscope_config_defaults(sp_pyroscope_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connect_timeout_ms = SP_PYRO_DEF_CONNECT_TIMEOUT_MS;
	cfg->timeout_ms = SP_PYRO_DEF_TIMEOUT_MS;
	cfg->queue_max = SP_PYRO_DEF_QUEUE_MAX;
	cfg->queue_max_bytes = SP_PYRO_DEF_QUEUE_BYTES;
	cfg->retry_base_ms = SP_PYRO_DEF_RETRY_BASE_MS;
	cfg->retry_max_ms = SP_PYRO_DEF_RETRY_MAX_MS;
	cfg->max_age_s = SP_PYRO_DEF_MAX_AGE_S;
	cfg->max_samples = SP_PYRO_DEF_MAX_SAMPLES;
	cfg->max_profile_bytes = SP_PYRO_DEF_MAX_PROFILE_BYTES;
	cfg->gzip_level = SP_PYRO_DEF_GZIP_LEVEL;
	cfg->spill_max_bytes = SP_PYRO_DEF_SPILL_MAX_BYTES;
	cfg->rate_bytes = SP_PYRO_DEF_RATE_BYTES;
	cfg->burst_bytes = SP_PYRO_DEF_BURST_BYTES;
	cfg->span_name = true;
	cfg->trace_id = SP_PYRO_TRACE_ID_AUTO;
}

void sp_pyroscope_config_free(sp_pyroscope_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->app);
	free(cfg->name);
	free(cfg->basic_user);
	free(cfg->basic_password);
	free(cfg->bearer_token);
	free(cfg->tenant_id);
	for (i = 0; i < cfg->n_headers; i++) {
		free(cfg->headers[i].name);
		free(cfg->headers[i].value);
	}
	free(cfg->headers);
	free(cfg->ca_file);
	free(cfg->spill_dir);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- small string helpers ---------------------------------------------- */

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

bool sp_pyroscope_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p;
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates and out-of-range code points */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

bool sp_pyroscope_valid_key(const char *key, size_t len)
{
	size_t i;

	if (len == 0 || len > SP_PYRO_MAX_LABEL_NAME)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = key[i];
		if (!(isalnum(c) || c == '_' || c == '.') || c >= 0x80)
			return false;
	}
	return true;
}

bool sp_pyroscope_valid_value(const char *value, size_t len)
{
	size_t i;

	if (len > SP_PYRO_MAX_LABEL_VALUE)
		return false;
	for (i = 0; i < len; i++)
		if (value[i] == ',' || value[i] == '}' || value[i] == '\0')
			return false;
	return sp_pyroscope_valid_utf8(value, len);
}

bool sp_pyroscope_valid_tenant(const char *id)
{
	size_t len = id ? strlen(id) : 0, i;

	if (len == 0 || len > 150 || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = id[i];
		if (!(c < 0x80 && (isalnum(c) || strchr("!-_.*'()", c))))
			return false;
	}
	return true;
}

bool sp_pyroscope_parse_buildinfo(const char *json, int *major, int *minor, int *patch)
{
	const char *p = json ? strstr(json, "\"version\"") : NULL;
	int v[3], i;

	if (!p)
		return false;
	p += 9;
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != ':')
		return false;
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != '"')
		return false;
	if (*p == 'v')
		p++;
	for (i = 0; i < 3; i++) {
		char *end;
		long x;

		if (!isdigit((unsigned char)*p))
			return false;
		x = strtol(p, &end, 10);
		if (x > 100000)
			return false;
		v[i] = (int)x;
		p = end;
		if (i < 2 && *p++ != '.')
			return false;
	}
	if (*p != '"' && *p != '-' && *p != '+')
		return false;
	*major = v[0];
	*minor = v[1];
	*patch = v[2];
	return true;
}

bool sp_pyroscope_version_keeps_trace_id(int major, int minor, int patch)
{
	(void)patch;
	return major > 2 || (major == 2 && minor >= 1);
}

/* ---- server address ---------------------------------------------------- */

void sp_pyroscope_redact_url(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *host, *at, *slash;

	if (!outlen)
		return;
	if (!p) {
		/* no scheme: an '@' before the first '/' is still user info */
		host = url;
	} else {
		host = p + 3;
	}
	slash = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(slash - host));
	if (!at) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	/* keep the last '@' as the separator (passwords may contain '@') */
	for (const char *q = at; q < slash; q++)
		if (*q == '@')
			at = q;
	snprintf(out, outlen, "%.*s***%s", (int)(host - url), url, at);
}

int sp_pyroscope_parse_server(const char *url, char **base, char **user, char **password,
			      sp_error *err)
{
	char shown[256], *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *query = NULL, *frag = NULL, *u = NULL, *pw = NULL;
	const char *sep;
	CURLU *h = NULL;
	CURLUcode uc;
	size_t plen;
	int ret = -EINVAL;

	*base = *user = *password = NULL;
	sp_pyroscope_redact_url(url, shown, sizeof(shown));
	sep = strstr(url, "://");
	if (!sep) {
		ret = sp_error_set(err, -EINVAL,
				   "PYROSCOPE_SERVER_ADDRESS '%s' has no scheme: write http://%s or https://%s",
				   shown, shown, shown);
		goto out;
	}
	if (!((sep - url == 4 && !strncasecmp(url, "http", 4)) ||
	      (sep - url == 5 && !strncasecmp(url, "https", 5)))) {
		ret = sp_error_set(err, -EINVAL,
				   "PYROSCOPE_SERVER_ADDRESS '%s': unknown scheme '%.*s' (use http:// or https://)",
				   shown, (int)(sep - url > 16 ? 16 : sep - url), url);
		goto out;
	}
	if (has_ctl(url) || strchr(url, ' ')) {
		ret = sp_error_set(err, -EINVAL,
				   "PYROSCOPE_SERVER_ADDRESS '%s' contains spaces or control characters",
				   shown);
		goto out;
	}
	ret = sp_curl_load(err);
	if (ret)
		goto out;
	ret = -EINVAL;
	h = curl_url();
	if (!h) {
		ret = sp_error_set(err, -ENOMEM, "out of memory parsing PYROSCOPE_SERVER_ADDRESS");
		goto out;
	}
	uc = curl_url_set(h, CURLUPART_URL, url, 0);
	if (uc) {
		ret = sp_error_set(err, -EINVAL, "PYROSCOPE_SERVER_ADDRESS '%s' is not a valid URL: %s",
				   shown, curl_url_strerror(uc));
		goto out;
	}
	curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(h, CURLUPART_HOST, &host, 0);
	curl_url_get(h, CURLUPART_PORT, &port, 0);
	curl_url_get(h, CURLUPART_PATH, &path, 0);
	curl_url_get(h, CURLUPART_QUERY, &query, 0);
	curl_url_get(h, CURLUPART_FRAGMENT, &frag, 0);
	curl_url_get(h, CURLUPART_USER, &u, CURLU_URLDECODE);
	curl_url_get(h, CURLUPART_PASSWORD, &pw, CURLU_URLDECODE);
	if (!host || !*host) {
		ret = sp_error_set(err, -EINVAL, "PYROSCOPE_SERVER_ADDRESS '%s' has no host name",
				   shown);
		goto out;
	}
	if ((query && *query) || (frag && *frag)) {
		ret = sp_error_set(err, -EINVAL,
				   "PYROSCOPE_SERVER_ADDRESS '%s' must not have a query or fragment; give the base address (e.g. http://host:4040)",
				   shown);
		goto out;
	}
	plen = path ? strlen(path) : 0;
	while (plen && path[plen - 1] == '/')
		plen--;
	if (asprintf(base, "%s://%s%s%s%.*s", scheme, host, port ? ":" : "", port ? port : "",
		     (int)plen, path ? path : "") < 0) {
		*base = NULL;
		ret = sp_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (u && *u) {
		*user = strdup(u);
		*password = strdup(pw ? pw : "");
	}
	ret = 0;
out:
	if (u)
		memset(u, 0, strlen(u));
	if (pw)
		memset(pw, 0, strlen(pw));
	if (h) { /* the parts exist only once libcurl is loaded and h made */
		curl_free(scheme);
		curl_free(host);
		curl_free(port);
		curl_free(path);
		curl_free(query);
		curl_free(frag);
		curl_free(u);
		curl_free(pw);
		curl_url_cleanup(h);
	}
	return ret;
}

/* ---- labels ------------------------------------------------------------ */

/* Append "k=v" to a comma-separated list. */
static int append_pair(char **list, const char *k, size_t klen, const char *v, size_t vlen)
{
	size_t old = *list ? strlen(*list) : 0;
	char *n = realloc(*list, old + klen + vlen + 3);

	if (!n)
		return -ENOMEM;
	if (old)
		n[old++] = ',';
	memcpy(n + old, k, klen);
	n[old + klen] = '=';
	memcpy(n + old + klen + 1, v, vlen);
	n[old + klen + 1 + vlen] = '\0';
	*list = n;
	return 0;
}

/* Does "k=v,k=v" hold key k? */
static bool list_has_key(const char *list, const char *k, size_t klen)
{
	const char *p = list;

	while (p && *p) {
		const char *eq = strchr(p, '='), *comma = strchr(p, ',');

		if (eq && (size_t)(eq - p) == klen && !strncmp(p, k, klen))
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

/* One rejected pair: say why, drop it, keep the rest. */
#define tag_dropped(warn, ctx, fmt, ...) sp_log_to(warn, ctx, PFX fmt, ##__VA_ARGS__)

int sp_pyroscope_parse_tags(const char *tags, const char *what, char **out, size_t *n,
			    sp_log_sink warn, void *warn_ctx, sp_error *err)
{
	const char *p = tags;

	while (p && *p) {
		const char *end = p + strcspn(p, ","), *eq, *k = p, *v;
		size_t len = (size_t)(end - p), klen, vlen;
		int shown;

		trim(&k, &len);
		shown = (int)(len > 64 ? 64 : len);
		if (len == 0)
			goto next; /* tolerate "a=b," and "a=b,,c=d" */
		eq = memchr(k, '=', len);
		if (!eq) {
			tag_dropped(warn, warn_ctx, "%s: '%.*s' is not key=value (write e.g. env=prod,region=eu); dropped",
				    what, shown, k);
			goto next;
		}
		klen = (size_t)(eq - k);
		v = eq + 1;
		vlen = len - klen - 1;
		trim(&k, &klen);
		trim(&v, &vlen);
		if (klen == 0)
			tag_dropped(warn, warn_ctx, "%s: '%.*s' has an empty key; dropped", what, shown, k);
		else if (!sp_pyroscope_valid_key(k, klen))
			tag_dropped(warn, warn_ctx, "%s: key '%.*s' may only use letters, digits, '_' and '.' (Pyroscope refuses others); dropped",
				    what, (int)(klen > 64 ? 64 : klen), k);
		else if (klen >= 2 && k[0] == '_' && k[1] == '_')
			tag_dropped(warn, warn_ctx, "%s: key '%.*s' is reserved (keys starting with '__' belong to the server); dropped",
				    what, (int)(klen > 64 ? 64 : klen), k);
		else if (memchr(v, '}', vlen) || !sp_pyroscope_valid_value(v, vlen))
			tag_dropped(warn, warn_ctx, "%s: value of '%.*s' must be valid UTF-8 of at most %d bytes without ',' or '}' (Pyroscope has no escaping); dropped",
				    what, (int)(klen > 64 ? 64 : klen), k, SP_PYRO_MAX_LABEL_VALUE);
		else if (list_has_key(*out, k, klen))
			tag_dropped(warn, warn_ctx, "%s: key '%.*s' is given twice; the first one is kept",
				    what, (int)(klen > 64 ? 64 : klen), k);
		else if (append_pair(out, k, klen, v, vlen))
			return sp_error_set(err, -ENOMEM, "out of memory");
		else
			(*n)++;
next:
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* ---- extra headers ----------------------------------------------------- */

static bool token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static int add_header(sp_pyroscope_header **out, size_t *n, const char *k, size_t klen,
		      const char *v, size_t vlen, sp_error *err)
{
	sp_pyroscope_header *a;
	size_t i;

	trim(&k, &klen);
	trim(&v, &vlen);
	if (klen == 0)
		return sp_error_set(err, -EINVAL, "PYROSCOPE_HTTP_HEADERS: a header has an empty name");
	for (i = 0; i < klen; i++)
		if (!token_char(k[i]))
			return sp_error_set(err, -EINVAL,
					    "PYROSCOPE_HTTP_HEADERS: '%.*s' is not a valid header name",
					    (int)(klen > 64 ? 64 : klen), k);
	for (i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			/* no value in the message: it may be a secret */
			return sp_error_set(err, -EINVAL,
					    "PYROSCOPE_HTTP_HEADERS: the value of '%.*s' contains control characters",
					    (int)(klen > 64 ? 64 : klen), k);
	a = realloc(*out, (*n + 1) * sizeof(*a));
	if (!a)
		return sp_error_set(err, -ENOMEM, "out of memory");
	*out = a;
	a[*n].name = strndup(k, klen);
	a[*n].value = strndup(v, vlen);
	if (!a[*n].name || !a[*n].value) {
		free(a[*n].name);
		free(a[*n].value);
		return sp_error_set(err, -ENOMEM, "out of memory");
	}
	(*n)++;
	return 0;
}

/* Minimal JSON string reader: *p at the opening quote; result malloc'd. */
static char *json_string(const char **p)
{
	const char *s = *p + 1;
	size_t cap = 32, len = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (;;) {
		char c = *s++;
		char buf[4];
		size_t add = 1;

		if (c == '\0' || (unsigned char)c < 0x20)
			goto bad;
		if (c == '"')
			break;
		buf[0] = c;
		if (c == '\\') {
			c = *s++;
			switch (c) {
			case '"': case '\\': case '/': buf[0] = c; break;
			case 'b': buf[0] = '\b'; break;
			case 'f': buf[0] = '\f'; break;
			case 'n': buf[0] = '\n'; break;
			case 'r': buf[0] = '\r'; break;
			case 't': buf[0] = '\t'; break;
			case 'u': {
				unsigned cp = 0;
				for (int i = 0; i < 4; i++) {
					if (!isxdigit((unsigned char)s[i]))
						goto bad;
					cp = cp * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0' :
								  (tolower((unsigned char)s[i]) - 'a' + 10));
				}
				s += 4;
				if (cp >= 0xd800 && cp <= 0xdfff)
					goto bad; /* surrogate pairs: not worth it for headers */
				if (cp < 0x80) {
					buf[0] = (char)cp;
				} else if (cp < 0x800) {
					buf[0] = (char)(0xc0 | (cp >> 6));
					buf[1] = (char)(0x80 | (cp & 0x3f));
					add = 2;
				} else {
					buf[0] = (char)(0xe0 | (cp >> 12));
					buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					buf[2] = (char)(0x80 | (cp & 0x3f));
					add = 3;
				}
				break;
			}
			default:
				goto bad;
			}
		}
		if (len + add + 1 > cap) {
			char *n = realloc(out, cap * 2);
			if (!n)
				goto bad;
			out = n;
			cap *= 2;
		}
		memcpy(out + len, buf, add);
		len += add;
	}
	out[len] = '\0';
	*p = s;
	return out;
bad:
	free(out);
	return NULL;
}

static const char *skip_ws(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

static int parse_headers_json(const char *s, sp_pyroscope_header **out, size_t *n,
			      sp_error *err)
{
	const char *p = skip_ws(s) + 1; /* past '{' */
	int ret;

	p = skip_ws(p);
	if (*p == '}')
		goto end;
	for (;;) {
		char *k, *v;

		p = skip_ws(p);
		if (*p != '"' || !(k = json_string(&p)))
			goto bad;
		p = skip_ws(p);
		if (*p++ != ':') {
			free(k);
			goto bad;
		}
		p = skip_ws(p);
		if (*p != '"' || !(v = json_string(&p))) {
			free(k);
			goto bad;
		}
		ret = add_header(out, n, k, strlen(k), v, strlen(v), err);
		memset(v, 0, strlen(v));
		free(k);
		free(v);
		if (ret)
			return ret;
		p = skip_ws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}')
			break;
		goto bad;
	}
end:
	if (*skip_ws(p + 1) != '\0')
		goto bad;
	return 0;
bad:
	return sp_error_set(err, -EINVAL,
			    "PYROSCOPE_HTTP_HEADERS: not a JSON object of strings (near byte %zu); write {\"Name\":\"value\"} or Name=value,Name2=value2",
			    (size_t)(p - s));
}

int sp_pyroscope_parse_headers(const char *s, sp_pyroscope_header **out, size_t *n,
			       sp_error *err)
{
	const char *p;

	if (!s)
		return 0;
	if (*skip_ws(s) == '{')
		return parse_headers_json(s, out, n, err);
	for (p = s; *p;) {
		const char *end = p + strcspn(p, ",\n"), *sep;
		size_t len = (size_t)(end - p);
		int ret;

		trim(&p, &len);
		if (len) {
			const char *eq = memchr(p, '=', len), *colon = memchr(p, ':', len);

			sep = !eq ? colon : !colon ? eq : (eq < colon ? eq : colon);
			if (!sep)
				return sp_error_set(err, -EINVAL,
						    "PYROSCOPE_HTTP_HEADERS: entry %.*s... is not Name=value",
						    (int)(len > 24 ? 24 : len), p);
			ret = add_header(out, n, p, (size_t)(sep - p), sep + 1,
					 len - (size_t)(sep - p) - 1, err);
			if (ret)
				return ret;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* ---- query string ------------------------------------------------------ */

char *sp_pyroscope_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s), i, o = 0;
	char *out = malloc(len * 3 + 1);

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		if ((c < 0x80 && isalnum(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

char *sp_pyroscope_build_query(const char *name, int64_t from_ns, int64_t until_ns,
			       long sample_rate)
{
	char *enc = sp_pyroscope_urlencode(name), *q = NULL;
	/* Seconds: a digits-only value of any length but 8/13/16/19 is read as
	 * seconds by the server (1.2). from rounds down, until up. */
	int64_t from = from_ns / 1000000000, until = (until_ns + 999999999) / 1000000000;
	char rate[32] = "";

	if (!enc)
		return NULL;
	if (until < from)
		until = from;
	if (sample_rate > 0)
		snprintf(rate, sizeof(rate), "&sampleRate=%ld", sample_rate);
	if (asprintf(&q, "name=%s&from=%" PRId64 "&until=%" PRId64 "&format=pprof&spyName=spanprof%s",
		     enc, from, until, rate) < 0)
		q = NULL;
	free(enc);
	return q;
}

/* ---- the environment ---------------------------------------------------- */

struct env {
	sp_getenv_fn get;
	void *ctx;
	sp_log_sink warn;
	void *warn_ctx;
};

static const char *env_get(const struct env *e, const char *name)
{
	const char *v = e->get(e->ctx, name);

	return v && *v ? v : NULL;
}

#define warnf(e, fmt, ...) sp_log_to((e)->warn, (e)->warn_ctx, fmt, ##__VA_ARGS__)

static void env_long(const struct env *e, const char *name, long *dst, long min, long max)
{
	const char *v = env_get(e, name);
	char *end;
	long x;

	if (!v)
		return;
	errno = 0;
	x = strtol(v, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == v || *end || x < min || x > max) {
		warnf(e, PFX "%s='%s' is not a whole number in [%ld, %ld]; using %ld", name, v,
		      min, max, *dst);
		return;
	}
	*dst = x;
}

static void env_size(const struct env *e, const char *name, size_t *dst, long min, long max)
{
	long x = (long)*dst;

	env_long(e, name, &x, min, max);
	*dst = (size_t)x;
}

static void env_bool(const struct env *e, const char *name, bool *dst)
{
	const char *v = env_get(e, name);

	if (!v)
		return;
	if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on"))
		*dst = true;
	else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
		 !strcasecmp(v, "off"))
		*dst = false;
	else
		warnf(e, PFX "%s='%s' is not a boolean (use 1 or 0); using %d", name, v, *dst);
}

/* Secrets: refuse control characters (header injection) without quoting. */
static int env_secret(const struct env *e, const char *name, char **dst, sp_error *err)
{
	const char *v = env_get(e, name);

	if (!v)
		return 0;
	if (has_ctl(v))
		return sp_error_set(err, -EINVAL, "%s contains control characters", name);
	*dst = strdup(v);
	return *dst ? 0 : sp_error_set(err, -ENOMEM, "out of memory");
}

static int build_name(sp_pyroscope_config *cfg, const char *labels)
{
	free(cfg->name);
	if (labels && *labels) {
		if (asprintf(&cfg->name, "%s{%s}", cfg->app, labels) < 0)
			cfg->name = NULL;
	} else {
		cfg->name = strdup(cfg->app);
	}
	return cfg->name ? 0 : -ENOMEM;
}

int sp_pyroscope_config_from_env(sp_pyroscope_config *cfg, sp_getenv_fn getenv_fn,
				 void *env_ctx, const char *service,
				 sp_log_sink warn, void *warn_ctx, sp_error *err)
{
	struct env e = { getenv_fn, env_ctx, warn, warn_ctx };
	const char *addr, *svc_src = NULL, *v;
	char *user = NULL, *pass = NULL, *labels = NULL, *tmp = NULL;
	bool changed, host_tag = true;
	size_t max_labels;
	int ret;

	sp_pyroscope_config_defaults(cfg);
	if (err)
		err->msg[0] = '\0';
	addr = env_get(&e, "PYROSCOPE_SERVER_ADDRESS");
	if (!addr || addr[strspn(addr, " \t\n")] == '\0')
		return 1;
	{
		size_t alen = strlen(addr);

		trim(&addr, &alen);
		tmp = strndup(addr, alen);
		if (!tmp) {
			ret = sp_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = sp_pyroscope_parse_server(tmp, &cfg->server, &user, &pass, err);
	free(tmp);
	tmp = NULL;
	if (ret)
		goto out;

	/* Service name: the tracer's service.name must match for trace links,
	 * and the local files and links use the same one (sp_service_name). */
	{
		char svc[SP_PYRO_MAX_LABEL_VALUE + 1];

		svc_src = sp_service_name(getenv_fn, env_ctx, service, NULL, svc, sizeof(svc),
					  &changed);
		cfg->app = strdup(svc);
		if (!cfg->app) {
			ret = sp_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		if (changed)
			warnf(&e, PFX "service name from %s has characters Pyroscope refuses (allowed: letters, digits, _ . / -); sending '%.100s' (trace links need the tracer's service.name to match)",
			      svc_src, cfg->app);
	}

	env_bool(&e, "SPANPROF_PYROSCOPE_SPAN_NAME", &cfg->span_name);
	if ((v = env_get(&e, "SPANPROF_PYROSCOPE_TRACE_ID"))) {
		bool on;

		if (!strcasecmp(v, "auto"))
			cfg->trace_id = SP_PYRO_TRACE_ID_AUTO;
		else if (!sp_config_parse_bool(v, &on))
			cfg->trace_id = on ? SP_PYRO_TRACE_ID_ALWAYS : SP_PYRO_TRACE_ID_NEVER;
		else
			warnf(&e, PFX "SPANPROF_PYROSCOPE_TRACE_ID='%s' is not 1, 0 or auto; using auto", v);
	}
	env_bool(&e, "SPANPROF_PYROSCOPE_THREAD_NAME", &cfg->thread_name);
	env_bool(&e, "SPANPROF_PYROSCOPE_HOSTNAME_TAG", &host_tag);

	/* PYROSCOPE_TAGS (Go, Python, Ruby SDKs) and PYROSCOPE_LABELS (Java, .NET) */
	ret = sp_pyroscope_parse_tags(env_get(&e, "PYROSCOPE_TAGS"), "PYROSCOPE_TAGS", &labels,
				      &cfg->n_labels, warn, warn_ctx, err);
	if (!ret)
		ret = sp_pyroscope_parse_tags(env_get(&e, "PYROSCOPE_LABELS"), "PYROSCOPE_LABELS",
					      &labels, &cfg->n_labels, warn, warn_ctx, err);
	if (ret)
		goto out;
	/* A service_name label wins over the name on the server (1.3): links
	 * must query what the server files the profiles under. */
	{
		const char *sn = labels ? strstr(labels, "service_name=") : NULL;

		while (sn && sn != labels && sn[-1] != ',')
			sn = strstr(sn + 1, "service_name=");
		if (sn) {
			size_t vl = strcspn(sn + 13, ",");

			free(cfg->app);
			cfg->app = strndup(sn + 13, vl);
			if (!cfg->app) {
				ret = sp_error_set(err, -ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	if (host_tag && !list_has_key(labels, "hostname", 8)) {
		char host[256] = "";
		const char *h = host;
		size_t hl;

		gethostname(host, sizeof(host) - 1);
		hl = strlen(host);
		trim(&h, &hl);
		if (hl && sp_pyroscope_valid_value(h, hl)) {
			if (append_pair(&labels, "hostname", 8, h, hl)) {
				ret = sp_error_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			cfg->n_labels++;
		}
	}
	/* Grafana's trace-to-profile query matches service_namespace too. */
	v = env_get(&e, "OTEL_RESOURCE_ATTRIBUTES");
	if (v && !list_has_key(labels, "service_namespace", 17)) {
		free(tmp);
		tmp = sp_config_otel_attr(v, "service.namespace");
		if (tmp && *tmp) {
			if (!sp_pyroscope_valid_value(tmp, strlen(tmp))) {
				ret = sp_error_set(err, -EINVAL,
						   "OTEL_RESOURCE_ATTRIBUTES: service.namespace must be valid UTF-8 without ',' or '}' for Pyroscope");
				goto out;
			}
			if (append_pair(&labels, "service_namespace", 17, tmp, strlen(tmp))) {
				ret = sp_error_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			cfg->n_labels++;
		}
	}
	/* trace_id forced on may meet a server that makes it a series label */
	max_labels = SP_PYRO_MAX_SERIES_LABELS - SP_PYRO_BASE_LABELS - (cfg->span_name ? 1 : 0) -
		     (cfg->thread_name ? 1 : 0) - (cfg->trace_id == SP_PYRO_TRACE_ID_ALWAYS ? 1 : 0);
	if (cfg->n_labels > max_labels) {
		ret = sp_error_set(err, -EINVAL,
				   "PYROSCOPE_TAGS: %zu labels (hostname included) but Pyroscope allows %zu per series; remove some",
				   cfg->n_labels, max_labels);
		goto out;
	}
	if (build_name(cfg, labels)) {
		ret = sp_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}

	/* Authentication: explicit variables win over user info in the URL. */
	if ((ret = env_secret(&e, "PYROSCOPE_BASIC_AUTH_USER", &cfg->basic_user, err)) ||
	    (ret = env_secret(&e, "PYROSCOPE_BASIC_AUTH_PASSWORD", &cfg->basic_password, err)) ||
	    (ret = env_secret(&e, "PYROSCOPE_AUTH_TOKEN", &cfg->bearer_token, err)))
		goto out;
	if (!cfg->basic_user && cfg->basic_password) {
		ret = sp_error_set(err, -EINVAL,
				   "PYROSCOPE_BASIC_AUTH_PASSWORD is set without PYROSCOPE_BASIC_AUTH_USER");
		goto out;
	}
	if (!cfg->basic_user && user) {
		cfg->basic_user = user;
		cfg->basic_password = pass;
		user = pass = NULL;
	}
	if (cfg->basic_user && !cfg->basic_password && !(cfg->basic_password = strdup(""))) {
		ret = sp_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (cfg->basic_user && cfg->bearer_token) {
		warnf(&e, PFX "both basic auth and PYROSCOPE_AUTH_TOKEN are set; using basic auth");
		memset(cfg->bearer_token, 0, strlen(cfg->bearer_token));
		free(cfg->bearer_token);
		cfg->bearer_token = NULL;
	}
	if ((v = env_get(&e, "PYROSCOPE_TENANT_ID"))) {
		if (!sp_pyroscope_valid_tenant(v)) {
			ret = sp_error_set(err, -EINVAL,
					   "PYROSCOPE_TENANT_ID '%.64s' is not a valid tenant id (1-150 of letters, digits and !-_.*'())",
					   v);
			goto out;
		}
		cfg->tenant_id = strdup(v);
	}
	ret = sp_pyroscope_parse_headers(env_get(&e, "PYROSCOPE_HTTP_HEADERS"), &cfg->headers,
					 &cfg->n_headers, err);
	if (ret)
		goto out;

	/* TLS */
	if ((v = env_get(&e, "SPANPROF_PYROSCOPE_CA_FILE"))) {
		if (access(v, R_OK)) {
			ret = sp_error_set(err, -EINVAL, "SPANPROF_PYROSCOPE_CA_FILE '%.200s': %s", v,
					   strerror(errno));
			goto out;
		}
		cfg->ca_file = strdup(v);
	}
	env_bool(&e, "SPANPROF_PYROSCOPE_INSECURE", &cfg->insecure);
	if (cfg->insecure && !strncasecmp(cfg->server, "https", 5))
		warnf(&e, PFX "SPANPROF_PYROSCOPE_INSECURE=1: the server certificate is NOT verified");

	env_long(&e, "SPANPROF_PYROSCOPE_TIMEOUT_MS", &cfg->timeout_ms, 100, 600000);
	env_long(&e, "SPANPROF_PYROSCOPE_CONNECT_TIMEOUT_MS", &cfg->connect_timeout_ms, 50, 600000);
	env_size(&e, "SPANPROF_PYROSCOPE_QUEUE_MAX", &cfg->queue_max, 2, 100000);
	env_size(&e, "SPANPROF_PYROSCOPE_QUEUE_BYTES", &cfg->queue_max_bytes, 65536, 1L << 34);
	env_long(&e, "SPANPROF_PYROSCOPE_RETRY_BASE_MS", &cfg->retry_base_ms, 1, 3600000);
	env_long(&e, "SPANPROF_PYROSCOPE_RETRY_MAX_MS", &cfg->retry_max_ms, 1, 3600000);
	if (cfg->retry_max_ms < cfg->retry_base_ms)
		cfg->retry_max_ms = cfg->retry_base_ms;
	env_long(&e, "SPANPROF_PYROSCOPE_MAX_AGE_S", &cfg->max_age_s, 10, 86400 * 7);
	env_size(&e, "SPANPROF_PYROSCOPE_MAX_SAMPLES", &cfg->max_samples, 1, 16000);
	env_size(&e, "SPANPROF_PYROSCOPE_MAX_PROFILE_BYTES", &cfg->max_profile_bytes, 1024,
		 4L << 20);
	{
		long lvl = cfg->gzip_level;
		env_long(&e, "SPANPROF_PYROSCOPE_GZIP_LEVEL", &lvl, 1, 9);
		cfg->gzip_level = (int)lvl;
	}
	if ((v = env_get(&e, "SPANPROF_PYROSCOPE_SPILL_DIR")))
		cfg->spill_dir = strdup(v);
	env_size(&e, "SPANPROF_PYROSCOPE_SPILL_MAX_BYTES", &cfg->spill_max_bytes, 65536, 1L << 40);
	{
		long rate = (long)cfg->rate_bytes, burst = (long)cfg->burst_bytes;

		env_long(&e, "SPANPROF_PYROSCOPE_RATE_BYTES", &rate, 0, 1L << 40);
		env_long(&e, "SPANPROF_PYROSCOPE_BURST_BYTES", &burst, 65536, 1L << 40);
		cfg->rate_bytes = (double)rate;
		cfg->burst_bytes = (double)burst;
	}
	ret = 0;
out:
	if (pass)
		memset(pass, 0, strlen(pass));
	free(user);
	free(pass);
	free(labels);
	free(tmp);
	if (ret)
		sp_pyroscope_config_free(cfg);
	return ret;
}
