/* The per-thread span slot and the public span API (include/spanprof.h).
 *
 * Why two slots: the only reader is the sampler's signal handler running on
 * the same thread, which can interrupt a writer at any instruction. The
 * writer fills the slot the reader is NOT looking at, then publishes it with
 * a single aligned store of the index. A handler therefore sees either the
 * old context or the new one, never a mix, with no retry loop and no atomics
 * beyond compiler ordering (same thread: a signal fence is enough). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "spanprof.h"
#include "abi/span.h"

struct span_tls {
	sp_span_snapshot slot[2];
	volatile uint32_t current; /* index of the published slot */
};

/* initial-exec: %fs-relative access, no __tls_get_addr (which may malloc) in
 * the signal handler. ~170 bytes: fits glibc's static TLS surplus even when
 * the library is dlopen'ed rather than preloaded. */
static __thread struct span_tls span_tls __attribute__((tls_model("initial-exec")));

_Static_assert(sizeof(spanprof_span_ctx) == sizeof(sp_span_snapshot),
	       "public span context and internal snapshot must match");
_Static_assert(SPANPROF_SPAN_NAME_MAX == SP_SPAN_NAME_MAX, "span name bound");

static inline sp_span_snapshot *span_back_slot(void)
{
	return &span_tls.slot[span_tls.current ^ 1u];
}

static inline void span_publish(void)
{
	/* The slot's bytes must be in memory before the index flips, as seen
	 * by a handler on this thread. */
	__atomic_signal_fence(__ATOMIC_RELEASE);
	span_tls.current ^= 1u;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static void span_write(const uint8_t *trace_id, const uint8_t *span_id, const char *name)
{
	sp_span_snapshot *s = span_back_slot();
	size_t len = 0;

	memcpy(s->trace_id, trace_id, sizeof(s->trace_id));
	memcpy(s->span_id, span_id, sizeof(s->span_id));
	if (name) {
		len = strnlen(name, SP_SPAN_NAME_MAX - 1);
		memcpy(s->name, name, len);
	}
	s->name[len] = '\0';
	s->active = 1;
	span_publish();
}

bool sp_span_read_current(sp_span_snapshot *out)
{
	uint32_t idx = span_tls.current;

	__atomic_signal_fence(__ATOMIC_ACQUIRE);
	if (!span_tls.slot[idx].active) {
		out->active = 0;
		return false;
	}
	/* Plain byte copy: memcpy is async-signal-safe in practice but not on
	 * POSIX's list, and this is 80 bytes. */
	const volatile uint8_t *src = (const volatile uint8_t *)&span_tls.slot[idx];
	uint8_t *dst = (uint8_t *)out;
	for (size_t i = 0; i < sizeof(*out); i++)
		dst[i] = src[i];
	return true;
}

static void to_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

void sp_span_trace_hex(const sp_span_snapshot *s, char out[33])
{
	to_hex(s->trace_id, sizeof(s->trace_id), out);
}

void sp_span_id_hex(const sp_span_snapshot *s, char out[17])
{
	to_hex(s->span_id, sizeof(s->span_id), out);
}

/* ---- W3C traceparent ---------------------------------------------------- */

static int lhex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is invalid per the spec (HEXDIGLC) */
}

static bool parse_lhex(const char *s, size_t nbytes, uint8_t *out)
{
	for (size_t i = 0; i < nbytes; i++) {
		int hi = lhex_value(s[2 * i]), lo = lhex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

#define TRACEPARENT_V00_LEN 55

int spanprof_traceparent_parse(const char *header, uint8_t trace_id[16], uint8_t span_id[8],
			       uint8_t *flags)
{
	uint8_t version, tid[16], sid[8], fl;
	size_t len;

	if (!header)
		return SPANPROF_EINVAL;
	/* Optional whitespace around the value is tolerated (RFC 7230 OWS). */
	while (*header == ' ' || *header == '\t')
		header++;
	len = strlen(header);
	while (len > 0 && (header[len - 1] == ' ' || header[len - 1] == '\t'))
		len--;

	if (len < TRACEPARENT_V00_LEN)
		return SPANPROF_EINVAL;
	if (!parse_lhex(header, 1, &version) || version == 0xff)
		return SPANPROF_EINVAL;
	if (header[2] != '-' || header[35] != '-' || header[52] != '-')
		return SPANPROF_EINVAL;
	if (!parse_lhex(header + 3, 16, tid) || !parse_lhex(header + 36, 8, sid) ||
	    !parse_lhex(header + 53, 1, &fl))
		return SPANPROF_EINVAL;
	if (version == 0 && len != TRACEPARENT_V00_LEN)
		return SPANPROF_EINVAL;
	/* A future version may append fields, always after a '-'. */
	if (version > 0 && len > TRACEPARENT_V00_LEN && header[TRACEPARENT_V00_LEN] != '-')
		return SPANPROF_EINVAL;
	if (all_zero(tid, sizeof(tid)) || all_zero(sid, sizeof(sid)))
		return SPANPROF_EINVAL;

	if (trace_id)
		memcpy(trace_id, tid, sizeof(tid));
	if (span_id)
		memcpy(span_id, sid, sizeof(sid));
	if (flags)
		*flags = fl;
	return SPANPROF_OK;
}

/* ---- public API ---------------------------------------------------------- */

int spanprof_span_set(const uint8_t *trace_id, const uint8_t *span_id, const char *name)
{
	if (!trace_id || !span_id || all_zero(trace_id, 16) || all_zero(span_id, 8))
		return SPANPROF_EINVAL;
	span_write(trace_id, span_id, name);
	return SPANPROF_OK;
}

int spanprof_span_set_traceparent(const char *traceparent, const char *name)
{
	uint8_t tid[16], sid[8];
	int rc = spanprof_traceparent_parse(traceparent, tid, sid, NULL);

	if (rc)
		return rc;
	span_write(tid, sid, name);
	return SPANPROF_OK;
}

void spanprof_span_clear(void)
{
	span_back_slot()->active = 0;
	span_publish();
}

void spanprof_span_get(spanprof_span_ctx *out)
{
	if (!out)
		return;
	memcpy(out, &span_tls.slot[span_tls.current], sizeof(*out));
	if (!out->active)
		memset(out, 0, sizeof(*out));
}

int spanprof_span_push(const uint8_t *trace_id, const uint8_t *span_id, const char *name,
		       spanprof_span_ctx *saved)
{
	spanprof_span_ctx prev;

	spanprof_span_get(&prev);
	int rc = spanprof_span_set(trace_id, span_id, name);
	if (rc == SPANPROF_OK && saved)
		*saved = prev;
	return rc;
}

void spanprof_span_pop(const spanprof_span_ctx *saved)
{
	if (!saved || !saved->active) {
		spanprof_span_clear();
		return;
	}
	span_write(saved->trace_id, saved->span_id, saved->name);
}
