/* pprof encoding: sp_profile <-> perftools.profiles.Profile protobuf,
 * gzip-wrapped on disk (single member). */
#ifndef SPANPROF_PPROF_H
#define SPANPROF_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/profile.h"

/* Serialize; *out is malloc'd. gzip=1 wraps it in one gzip member. */
int sp_pprof_encode(const sp_profile *p, int gzip, uint8_t **out, size_t *len,
		    sp_error *err);

/* Write atomically: temp file in the same directory, fsync, rename. */
int sp_pprof_write_file(const sp_profile *p, const char *path, sp_error *err);

/* Parse gzip'd or raw pprof. Malformed input gives -EINVAL and a message that
 * names the problem (e.g. "truncated gzip stream", "sample has 1 values but
 * the profile has 2 sample types"); never crashes. */
int sp_pprof_decode(const uint8_t *buf, size_t len, sp_profile **out, sp_error *err);

/* Read a file; errors are prefixed with the path. */
int sp_pprof_read_file(const char *path, sp_profile **out, sp_error *err);

#endif
