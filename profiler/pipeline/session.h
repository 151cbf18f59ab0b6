/* One profiled process image, as the consumer sees it: its shared arena
 * (rings, slots, module table, config), its process model (executable
 * mappings, from the module table and /proc/PID/maps while it lives), and
 * its interval pipeline (aggregator, span times, files + links, Pyroscope).
 * Driven by the consumer's drain thread only. */
#ifndef SPANPROF_SESSION_H
#define SPANPROF_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "abi/shm.h"
#include "symbolizer/symbolizer.h"

typedef struct sp_session sp_session;

/* Takes ownership of the mapping. sym: the consumer's shared symbolizer.
 * output_dir: where its files go instead of the process's SPANPROF_OUTPUT
 * (NULL: there). NULL + err on failure (the mapping is then the caller's to
 * unmap). */
sp_session *sp_session_new(sp_shm_header *h, size_t len, pid_t pid, sp_symbolizer *sym,
			   const char *output_dir, sp_error *err);
void sp_session_free(sp_session *s);

pid_t sp_session_pid(const sp_session *s);

/* Drain every ring. *next_ns is lowered to when the fastest-filling ring
 * should be drained again. */
void sp_session_drain(sp_session *s, int64_t now_mono, int64_t *next_ns);

/* Interval cut when due. Returns true when the host says this image is
 * done (spanprof_stop, exit): the caller finishes, acks and frees it. */
bool sp_session_tick(sp_session *s, int64_t now_mono);

/* The process is gone, exec'd into a new image that registered, or said it
 * is done: drain, write the last interval. */
void sp_session_finish(sp_session *s);

/* Finish the uploads within what is left of the host's flush deadline
 * (a slow server delays this drain pass by at most that much). */
void sp_session_close_exports(sp_session *s);

/* Tell the host, waiting in its stop or exit path, that the last interval
 * is written. */
void sp_session_ack(sp_session *s);

/* Interval files written so far (their sequence number); set_files
 * continues a previous session's numbering in the same process, so a
 * restarted profiler never reuses a file name. */
unsigned sp_session_files(const sp_session *s);
void sp_session_set_files(sp_session *s, unsigned seq);
/* The image stopped profiling (spanprof_stop) but lives on. */
bool sp_session_stopped(const sp_session *s);

#endif
