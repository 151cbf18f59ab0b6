/* JSON string escaping; see json_escape.h. */
#include "base/json_escape.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void sp_json_escape(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	fputc('"', f);
	while (n > 0) {
		size_t len;

		switch (*p) {
		case '"':  fputs("\\\"", f); p++; n--; continue;
		case '\\': fputs("\\\\", f); p++; n--; continue;
		case '\n': fputs("\\n", f); p++; n--; continue;
		case '\r': fputs("\\r", f); p++; n--; continue;
		case '\t': fputs("\\t", f); p++; n--; continue;
		default: break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
			p++;
			n--;
			continue;
		}
		len = utf8_seq_len(p, n);
		if (len == 0) {
			fputs("\\ufffd", f);
			p++;
			n--;
			continue;
		}
		fwrite(p, 1, len, f);
		p += len;
		n -= len;
	}
	fputc('"', f);
}
