/* Drop libunwind's per-frame signal blocking on the unwinding thread.
 * Private to unwind.c. */
#ifndef SPANPROF_UNWIND_SIGMASK_H
#define SPANPROF_UNWIND_SIGMASK_H

/* Set while this thread runs inside sp_unwind: sigprocmask calls made by
 * libunwind are then skipped. */
extern __thread int sp_unwind_quiet __attribute__((tls_model("initial-exec")));

/* Redirect the sigprocmask/pthread_sigmask PLT slots of the libunwind
 * library `handle` (from dlopen) to a shim that skips the call while
 * sp_unwind_quiet is set and forwards it otherwise. Returns the number of
 * slots patched (0 = none found, libunwind then keeps blocking). */
int sp_unwind_sigmask_patch(void *handle);

#endif
