/* Value formatting the way `go tool pprof` does it (internal/measurement):
 * time units scale to ns/us/ms/s/hrs, byte units to B/kB/MB/GB/TB/PB (1024
 * steps), count-like units stay plain numbers. "%.2f" with ".00" trimmed,
 * so 1230000000 ns prints "1.23s" and 13107200 bytes "12.50MB". */
#ifndef SPANPROF_UNITS_H
#define SPANPROF_UNITS_H

#include <stddef.h>
#include <stdint.h>

enum sp_unit_kind {
	SP_UNIT_COUNT = 0, /* count, samples, objects, unknown units: plain numbers */
	SP_UNIT_TIME,
	SP_UNIT_BYTES,
};

/* Kind of a pprof unit string ("nanoseconds", "bytes", "count", ...). */
enum sp_unit_kind sp_units_kind(const char *unit);

/* Auto-scaled label of one value, e.g. "1.23s", "12.50MB", "1234".
 * Unknown units are appended as pprof does ("12widgets"). */
void sp_units_label(int64_t value, const char *unit, char *buf, size_t len);

/* The single output unit pprof's text reports use for a table whose smallest
 * non-zero entry is min_value and whose total is max_value
 * (report.selectOutputUnit). Returns a static canonical name ("s", "ms",
 * "MB", ...) or NULL for count-like units. */
const char *sp_units_pick(int64_t min_value, int64_t max_value, const char *unit);

/* Format value converted to out_unit (from sp_units_pick; NULL = plain). */
void sp_units_label_in(int64_t value, const char *unit, const char *out_unit,
		       char *buf, size_t len);

/* pprof's Percentage(): "  100%", "12.34%", " 0.5%". */
void sp_units_percent(int64_t value, int64_t total, char *buf, size_t len);

/* Integer with thousands separators: 1234567 -> "1,234,567". */
void sp_units_grouped(int64_t value, char *buf, size_t len);

#endif
