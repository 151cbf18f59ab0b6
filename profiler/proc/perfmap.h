/* Names of JIT code from /tmp/perf-<pid>.map, the file JIT runtimes write
 * for perf (node --perf-basic-prof, the JVM's perf-map-agent, LuaJIT):
 * one "START SIZE name" line per code object, START and SIZE in hex. The
 * file only grows while the process runs; each refresh parses what was
 * appended. A later entry for an overlapping range wins (code moved or
 * replaced). */
#ifndef SPANPROF_PERFMAP_H
#define SPANPROF_PERFMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sp_perfmap_entry {
	uint64_t start, end;
	uint32_t name;          /* offset in names */
	uint32_t seq;           /* line number: later wins */
} sp_perfmap_entry;

typedef struct sp_perfmap {
	pid_t pid;
	dev_t dev;
	ino_t ino;
	off_t parsed;           /* bytes of the file consumed */
	sp_perfmap_entry *v;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	int sorted;
} sp_perfmap;

/* Read what is new in /tmp/perf-<pid>.map (from the start when the file
 * was replaced or pid changed). A file not owned by this user is ignored
 * (anyone can create names in /tmp). 0, or -errno (state kept). */
int sp_perfmap_refresh(sp_perfmap *m, pid_t pid);
/* The name of the code at addr, or NULL. */
const char *sp_perfmap_find(sp_perfmap *m, uint64_t addr);
void sp_perfmap_free(sp_perfmap *m);

#endif
