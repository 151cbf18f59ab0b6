/* pprof-compatible value formatting; mirrors internal/measurement so that
 * `spanprof top` prints the same strings as `go tool pprof -top`. */
#include "base/units.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct unit_def {
	const char *name;
	const char *aliases[4];
	double factor;
};

struct unit_family {
	enum sp_unit_kind kind;
	const struct unit_def *def; /* default unit when nothing scales */
	const struct unit_def *units;
	size_t n_units;
};

static const struct unit_def byte_units[] = {
	{ "B", { "b", "byte" }, 1 },
	{ "kB", { "kb", "kbyte", "kilobyte" }, 1024.0 },
	{ "MB", { "mb", "mbyte", "megabyte" }, 1024.0 * 1024 },
	{ "GB", { "gb", "gbyte", "gigabyte" }, 1024.0 * 1024 * 1024 },
	{ "TB", { "tb", "tbyte", "terabyte" }, 1024.0 * 1024 * 1024 * 1024 },
	{ "PB", { "pb", "pbyte", "petabyte" }, 1024.0 * 1024 * 1024 * 1024 * 1024 },
};

static const struct unit_def time_units[] = {
	{ "ns", { "ns", "nanosecond" }, 1 },
	{ "us", { "\xce\xbcs", "us", "microsecond" }, 1e3 },
	{ "ms", { "ms", "millisecond" }, 1e6 },
	{ "s", { "s", "sec", "second" }, 1e9 },
	{ "hrs", { "hour", "hr" }, 3600e9 },
};

static const struct unit_def time_default = { "s", { NULL }, 1e9 };

static const struct unit_family families[] = {
	{ SP_UNIT_BYTES, &byte_units[0], byte_units,
	  sizeof(byte_units) / sizeof(byte_units[0]) },
	{ SP_UNIT_TIME, &time_default, time_units,
	  sizeof(time_units) / sizeof(time_units[0]) },
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

/* pprof's sniffUnit: lower-case, drop one trailing 's' from names longer
 * than two characters, then match an alias. */
static const struct unit_def *sniff(const struct unit_family *f, const char *unit)
{
	char low[32];
	size_t n = 0;

	if (!unit)
		return NULL;
	for (; unit[n] && n < sizeof(low) - 1; n++)
		low[n] = (char)tolower((unsigned char)unit[n]);
	if (unit[n])
		return NULL;
	low[n] = '\0';
	if (n > 2 && low[n - 1] == 's')
		low[n - 1] = '\0';
	for (size_t i = 0; i < f->n_units; i++)
		for (size_t a = 0; a < 4 && f->units[i].aliases[a]; a++)
			if (!strcmp(low, f->units[i].aliases[a]))
				return &f->units[i];
	return NULL;
}

enum sp_unit_kind sp_units_kind(const char *unit)
{
	for (size_t i = 0; i < N_FAMILIES; i++)
		if (sniff(&families[i], unit))
			return families[i].kind;
	return SP_UNIT_COUNT;
}

static int is_auto(const char *to)
{
	return !strcmp(to, "auto") || !strcmp(to, "minimum");
}

/* measurement.Scale: value in `from` expressed in `to` ("auto"/"minimum"
 * pick the largest unit keeping the value >= 1). Returns the unit suffix. */
static const char *scale(int64_t value, const char *from, const char *to, double *out)
{
	if (value < 0 && -value > 0) {
		const char *u = scale(-value, from, to, out);
		*out = -*out;
		return u;
	}
	for (size_t i = 0; i < N_FAMILIES; i++) {
		const struct unit_family *f = &families[i];
		const struct unit_def *fu = sniff(f, from), *tu;
		double v;

		if (!fu)
			continue;
		v = (double)value * fu->factor;
		if (is_auto(to)) {
			double best = 0;
			const char *name = NULL;

			for (size_t k = 0; k < f->n_units; k++) {
				if (f->units[k].factor >= best && v / f->units[k].factor >= 1.0) {
					best = f->units[k].factor;
					name = f->units[k].name;
				}
			}
			if (name) {
				*out = v / best;
				return name;
			}
			*out = v / f->def->factor;
			return f->def->name;
		}
		tu = sniff(f, to);
		if (!tu)
			tu = f->def;
		*out = v / tu->factor;
		return tu->name;
	}
	*out = (double)value;
	if (is_auto(to) || !strcmp(to, "count") || !strcmp(to, "sample") ||
	    !strcmp(to, "unit"))
		return "";
	return to;
}

static void scaled_label(int64_t value, const char *from, const char *to,
			 char *buf, size_t len)
{
	char num[64];
	double v;
	const char *u = scale(value, from ? from : "", to, &v);
	size_t n;

	snprintf(num, sizeof(num), "%.2f", v);
	n = strlen(num);
	if (n > 3 && !strcmp(num + n - 3, ".00"))
		num[n - 3] = '\0';
	if (!strcmp(num, "0") || !strcmp(num, "-0")) {
		snprintf(buf, len, "0");
		return;
	}
	snprintf(buf, len, "%s%s", num, u);
}

void sp_units_label(int64_t value, const char *unit, char *buf, size_t len)
{
	scaled_label(value, unit, "auto", buf, len);
}

const char *sp_units_pick(int64_t min_value, int64_t max_value, const char *unit)
{
	const char *min_u, *max_u, *u;
	double ignored;

	if (!unit)
		unit = "";
	if (min_value == 0)
		min_value = max_value;
	min_u = scale(min_value, unit, "minimum", &ignored);
	max_u = scale(max_value, unit, "minimum", &ignored);
	u = min_u;
	/* Scale the minimum by 100 so small entries may print as 0.01. */
	if (strcmp(min_u, max_u) && min_value < INT64_MAX / 100 &&
	    min_value * 100 < max_value)
		u = scale(100 * min_value, unit, "minimum", &ignored);
	return *u ? u : NULL;
}

void sp_units_label_in(int64_t value, const char *unit, const char *out_unit,
		       char *buf, size_t len)
{
	scaled_label(value, unit, out_unit ? out_unit : (unit ? unit : ""), buf, len);
}

void sp_units_percent(int64_t value, int64_t total, char *buf, size_t len)
{
	double r = 0;

	if (total != 0)
		r = (double)value / (double)total * 100;
	if (r < 0)
		r = -r;
	if (r >= 99.95 && r <= 100.05)
		snprintf(buf, len, "  100%%");
	else if (r >= 1.0)
		snprintf(buf, len, "%5.2f%%", r);
	else
		snprintf(buf, len, "%5.2g%%", r);
}

void sp_units_grouped(int64_t value, char *buf, size_t len)
{
	char digits[32], out[48];
	uint64_t u = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)u);
	size_t o = 0;

	if (value < 0)
		out[o++] = '-';
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}
