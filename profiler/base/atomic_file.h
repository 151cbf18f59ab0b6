/* Writing a file so that a reader sees either the old file or the whole new
 * one, never a part: write a temp file beside the target, fsync it, rename
 * it over the target, fsync the directory. The one way every output of
 * spanprof (profiles, links files, SVGs, spill files, debug counts) is
 * written. Not for signal handlers (malloc, stdio).
 *
 * Temp names are "<path>.tmp.<pid>.<n>", created O_EXCL: two writers never
 * share one, and output.c's retention knows the pattern and removes temp
 * files a killed process left behind. */
#ifndef SPANPROF_ATOMIC_FILE_H
#define SPANPROF_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct sp_atomic_file {
	FILE *f;    /* the temp file: write here */
	char *tmp;  /* its name */
	char *path; /* the target */
} sp_atomic_file;

/* Create the temp file for path with mode (& ~umask, like open(2)).
 * Returns 0 or -errno (af then holds nothing to release). */
int sp_atomic_file_open(sp_atomic_file *af, const char *path, mode_t mode);

/* Flush, fsync, close, rename over the target. Returns 0 or -errno (-EIO
 * when a write to af->f failed); either way af is released, and on failure
 * the temp file is removed and the target is untouched. */
int sp_atomic_file_commit(sp_atomic_file *af);

/* Give up: close and remove the temp file, release af. */
void sp_atomic_file_abort(sp_atomic_file *af);

/* open + one write of buf + commit. Returns 0 or -errno. */
int sp_atomic_file_write(const char *path, mode_t mode, const void *buf, size_t len);

/* mkdir -p: the directories it creates get mode (& ~umask). Returns 0 or
 * -errno. */
int sp_mkdir_p(const char *dir, mode_t mode);

#endif
