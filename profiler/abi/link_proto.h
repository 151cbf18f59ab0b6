/* What the host library and the consumer agree on besides the arena
 * (shm.h): the consumer's address variable, the registration messages, and
 * the engine hint both sides print. Both sides include this; the consumer
 * includes nothing else of the capture layer. */
#ifndef SPANPROF_LINK_PROTO_H
#define SPANPROF_LINK_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SP_CONSUMER_ENV "SPANPROF_CONSUMER"
/* Where a running `spanprof agent` of this uid serves preloaded processes
 * (abstract socket; the agent's network namespace only). */
#define SP_AGENT_ADDRESS_FMT "@spanprof-agent-%u"

/* Wire format of the registration (SOCK_SEQPACKET, one message each way). */
#define SP_LINK_MAGIC 0x6b6e696c70737073ull
typedef struct sp_link_request {
	uint64_t magic;
	uint32_t version;   /* SP_SHM_VERSION */
	int32_t pid;
	uint64_t arena_bytes; /* + SCM_RIGHTS: the arena memfd */
} sp_link_request;
typedef struct sp_link_reply {
	uint64_t magic;
	int32_t status;     /* 0, or -errno: refused */
	int32_t consumer_pid; /* + SCM_RIGHTS: the control page memfd */
} sp_link_reply;

/* Both ends, syscalls only (the host calls them in fork children).
 *
 * The socket address for "ADDR" (a path) or "@NAME" (abstract: no file,
 * gone with the consumer). Returns its length, 0 when it does not fit. */
socklen_t sp_link_address(const char *addr, struct sockaddr_un *sa);
/* One message of len bytes with at most one descriptor (fd < 0: none).
 * 0, or -errno (-EIO on a short send). */
int sp_link_send(int s, const void *msg, size_t len, int fd);
/* One message into buf (its bytes, or -errno); *fd gets the first
 * descriptor that came with it (close-on-exec) or -1; any others are closed. */
ssize_t sp_link_recv(int s, void *buf, size_t len, int *fd);

/* The perf engine counted user time only: how to get system time into perf
 * profiles, for log lines and comments. */
#define SP_PERF_USER_ONLY_HINT \
	"system time is missing (kernel.perf_event_paranoid >= 2); " \
	"sysctl kernel.perf_event_paranoid=1 or CAP_PERFMON includes it"

#endif
