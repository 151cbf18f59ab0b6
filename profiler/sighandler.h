/* The sampling signal: picking a real-time signal nobody handles, installing
 * the copy-only handler, and the handler's optional self-timing. */
#ifndef SPANPROF_SIGHANDLER_H
#define SPANPROF_SIGHANDLER_H

#include <stdbool.h>
#include <stdint.h>

/* A real-time signal with the default disposition (no application handler),
 * preferring `wanted` when non-zero. Returns 0 when none is free. */
int sp_signal_pick(int wanted);

/* Install the handler for signo (SA_SIGINFO | SA_RESTART). 0 or -errno. */
int sp_signal_install(int signo);

/* The application asked for a handler on our signal: keep ours, and pass
 * it every signal that is not one of our samples. get: the stored action
 * (false when none), to report as the "old" action. */
struct sigaction;
void sp_signal_set_chain(const struct sigaction *act);
bool sp_signal_get_chain(struct sigaction *out);

/* Unblock signo in the calling thread (threads inherit their creator's mask). */
void sp_signal_unblock(int signo);

/* Time the handler into the arena's histogram (SPANPROF_DEBUG_COUNTS). */
extern bool sp_handler_timing;

#endif
