/* Spill directory for the Pyroscope exporter: profiles that do not fit in
 * the in-memory queue while the server is unreachable are written here and
 * re-sent, oldest first, when it comes back (also by the next run).
 *
 * One file per request: <time_ns:20>-<counter:10>-<pid>.pspill, written to a
 * temporary name and renamed. Names sort in send order. Files of a process
 * that is still alive belong to it; files of dead processes (or our own pid,
 * e.g. a restarted container's pid 1) are claimed by renaming them. */
#ifndef SPANPROF_PYROSCOPE_SPILL_H
#define SPANPROF_PYROSCOPE_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sinks/upload_queue.h"

/* Create the directory (0700) if needed. */
int sp_spill_init(const char *dir, sp_error *err);

/* Write it's body (it->body must be set); *path malloc'd. */
int sp_spill_write(const char *dir, const sp_upload_item *it, uint32_t counter, char **path,
		   sp_error *err);

/* Read a spill file: query, body, time and kind (all malloc'd / filled). */
int sp_spill_read(const char *path, char **query, uint8_t **body, size_t *len,
		  int64_t *time_ns, char kind[8], sp_error *err);

/* Claim the directory's files (sorted) and queue them as disk items at the
 * front of q. Returns the number queued or a negative errno. */
int sp_spill_load(const char *dir, sp_upload_queue *q, sp_error *err);

#endif
