/* The host's link to the consumer: the shared arena (rings, slots, module
 * table) and its registration over the consumer's Unix socket.
 *
 * The consumer's address travels in SPANPROF_CONSUMER (a Unix socket path,
 * or an abstract name written "@name"), so fork and exec children find the
 * same consumer. Without one, the library starts a detached consumer: the
 * spanprof executable (SPANPROF_EXE, else next to libspanprof.so, else
 * ../bin/spanprof), double-forked so it is never the application's child.
 *
 * The host keeps no descriptor: the memfd and the socket are closed once the
 * consumer has mapped the arena. */
#ifndef SPANPROF_CAPTURE_LINK_H
#define SPANPROF_CAPTURE_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "abi/link_proto.h"
#include "abi/shm.h"


/* Create the arena for `slots` threads, fill its header from cfg, publish
 * the loaded modules, and register (starting a consumer when none is
 * named and spawning is allowed). 0 or -errno with err set. */
int sp_link_start(const sp_config *cfg, uint32_t slots, sp_error *err);
bool sp_link_active(void);
sp_shm_header *sp_link_arena(void);

/* Async-signal-safe: ask the consumer to drain (a ring passed its mark). */
void sp_link_wake(void);
/* Async-signal-safe: the consumer stopped heartbeating. Reports it once on
 * stderr, then stays true. */
bool sp_link_consumer_lost(void);

/* Async-signal-safe: pid is our consumer's (its nudges come by tgkill). */
bool sp_link_is_consumer(pid_t pid);

/* Publish objects loaded since the last scan (dl_iterate_phdr; not in a
 * signal handler). */
void sp_link_scan_modules(void);
/* Before dlclose: make sure the module is in the table, so its samples
 * still symbolize after it is gone. */
void sp_link_before_dlclose(void);

/* Arena state changes (enum sp_shm_state). STOPPED and EXITED wait up to
 * timeout_ms for the consumer to write the final interval. */
void sp_link_set_state(int state, int timeout_ms);

/* fork child: a fresh arena (copying the parent's module table), registered
 * with the same consumer. The parent's arena is unmapped. 0 or -errno.
 * Async-signal-safe (syscalls and memcpy only). */
int sp_link_atfork_child(void);

/* Drop the mapping (the process stops profiling for good). */
void sp_link_stop(void);

#endif
