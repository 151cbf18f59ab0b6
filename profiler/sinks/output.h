/* Interval files: naming, atomic writes (via sp_pprof_write_file), and
 * retention by total size and age, so a service profiled for weeks never
 * fills its disk.
 *
 * Names: <dir>/<service>-<pid>-<YYYYmmddTHHMMSSZ>-<seq>.pb.gz with the
 * profiler's start time (UTC) and seq counting from 1; the span links file
 * of the same interval is <same stem>.links.jsonl, its memory profile
 * (SPANPROF_HEAP) <same stem>.heap.pb.gz. */
#ifndef SPANPROF_OUTPUT_H
#define SPANPROF_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/atomic_file.h" /* sp_mkdir_p */
#include "base/error.h"

typedef struct sp_output {
	char dir[4096];
	char stem[512];         /* "<service>-<pid>-<start>" */
	int64_t max_bytes;      /* 0 = no bound */
	int64_t max_age_s;      /* 0 = no bound */
	bool dir_ok;
	bool fell_back;         /* dir is sp_output_fallback's */
} sp_output;

/* Create the directory (and parents) when missing. When this process may
 * not create or write it (EACCES, EPERM, EROFS), use sp_output_fallback's
 * directory and set fell_back. 0 or -errno with err. */
int sp_output_init(sp_output *o, const char *dir, const char *service, pid_t pid,
		   int64_t start_wall_ns, int64_t retention_mb, int64_t retention_hours,
		   sp_error *err);

/* The process may not write its directory (e.g. it dropped privileges
 * after start: permission is checked when each file is created, so a
 * descriptor opened earlier would not help). Switch o->dir to
 * $TMPDIR/spanprof-<euid> (/tmp when TMPDIR is unset), mode 0700, used only
 * if it is a real directory owned by this uid and writable by nobody else.
 * 0 or -errno with err. */
int sp_output_fallback(sp_output *o, sp_error *err);

/* Paths of interval `seq`: CPU profile, memory profile, span links. */
#define SP_HEAP_SUFFIX ".heap.pb.gz"
void sp_output_profile_path(const sp_output *o, unsigned seq, char *buf, size_t len);
void sp_output_heap_path(const sp_output *o, unsigned seq, char *buf, size_t len);
void sp_output_links_path(const sp_output *o, unsigned seq, char *buf, size_t len);

/* True for names this module writes (profiles, links files, temp files). */
bool sp_output_is_interval_name(const char *name);

/* The <service> and <pid> parts of an interval file name (false when it
 * is not one): what a `spanprof record` finds its command's files under. */
bool sp_output_interval_service(const char *name, char *svc, size_t len, pid_t *pid);

/* Delete the oldest interval files (any service or pid in the directory)
 * until the total size and age bounds hold; never deletes `keep`. Temp files
 * of killed writers older than 10 minutes go too.
 * Returns the number of files removed. */
int sp_output_retention(const sp_output *o, const char *keep, int64_t now_wall_ns);

#endif
