/* heap_semantics: the allocator's contract, printed, so a run under the
 * profiler can be compared line by line with a plain run: realloc chains,
 * alignments up to 16 MiB, calloc and reallocarray overflow, free(NULL),
 * zero sizes, blocks freed on another thread, and a fork in the middle
 * whose child goes on allocating and freeing. Exits 0 when every check
 * held, 1 otherwise. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(what, cond)                                                          \
	do {                                                                       \
		int ok_ = (cond);                                                  \
		printf("%-44s %s\n", what, ok_ ? "ok" : "FAILED");                 \
		failures += !ok_;                                                  \
	} while (0)

static int aligned(const void *p, size_t a)
{
	return p && ((uintptr_t)p & (a - 1)) == 0;
}

static void realloc_chain(void)
{
	unsigned char *p = malloc(1);
	size_t n = 1;
	int ok = p != NULL;

	if (p)
		p[0] = 0;
	for (; ok && n < (4u << 20); n *= 2) {
		unsigned char *q = realloc(p, n * 2);
		if (!q) {
			ok = 0;
			break;
		}
		for (size_t i = 0; i < n; i++)
			ok &= q[i] == (unsigned char)(i * 7);
		for (size_t i = 0; i < n * 2; i++)
			q[i] = (unsigned char)(i * 7);
		p = q;
	}
	for (; ok && n > 1; n /= 2) {
		unsigned char *q = realloc(p, n / 2);
		if (!q) {
			ok = 0;
			break;
		}
		for (size_t i = 0; i < n / 2; i++)
			ok &= q[i] == (unsigned char)(i * 7);
		p = q;
	}
	free(p);
	CHECK("realloc chain 1 B .. 8 MiB and back", ok);
	p = realloc(NULL, 100);
	CHECK("realloc(NULL, 100) allocates", p != NULL);
	errno = 0;
	p = realloc(p, 0);
	CHECK("realloc(p, 0) frees and returns NULL", p == NULL);
}

static void alignments(void)
{
	static const size_t as[] = { 8, 16, 64, 4096, 1 << 20, 1 << 24 };
	void *p = NULL;
	char what[64];

	for (size_t i = 0; i < sizeof(as) / sizeof(as[0]); i++) {
		int r = posix_memalign(&p, as[i], 1000 + i);
		snprintf(what, sizeof(what), "posix_memalign %zu", as[i]);
		CHECK(what, r == 0 && aligned(p, as[i]));
		free(p);
		p = aligned_alloc(as[i], as[i] * 2);
		snprintf(what, sizeof(what), "aligned_alloc %zu", as[i]);
		CHECK(what, aligned(p, as[i]));
		free(p);
		p = memalign(as[i], 100);
		snprintf(what, sizeof(what), "memalign %zu", as[i]);
		CHECK(what, aligned(p, as[i]));
		free(p);
	}
	p = (void *)1;
	CHECK("posix_memalign 3 is EINVAL", posix_memalign(&p, 3, 10) == EINVAL);
	CHECK("posix_memalign 0 is EINVAL", posix_memalign(&p, 0, 10) == EINVAL);
	p = valloc(100);
	CHECK("valloc is page aligned", aligned(p, 4096));
	free(p);
	p = pvalloc(100);
	CHECK("pvalloc is page aligned, a page usable",
	      aligned(p, 4096) && malloc_usable_size(p) >= 4096);
	free(p);
}

static void overflow_and_zero(void)
{
	void *p;
	unsigned char *z;
	int ok = 1;

	errno = 0;
	p = calloc(SIZE_MAX / 2, 3);
	CHECK("calloc overflow: NULL, ENOMEM", p == NULL && errno == ENOMEM);
	errno = 0;
	p = reallocarray(NULL, SIZE_MAX / 2, 3);
	CHECK("reallocarray overflow: NULL, ENOMEM", p == NULL && errno == ENOMEM);
	errno = 0;
	p = malloc(SIZE_MAX - 4096);
	CHECK("malloc(SIZE_MAX - 4096): NULL, ENOMEM", p == NULL && errno == ENOMEM);
	z = calloc(1000, 1000);
	for (size_t i = 0; z && i < 1000000; i++)
		ok &= z[i] == 0;
	CHECK("calloc 1000 x 1000 is zeroed", z && ok);
	free(z);
	free(NULL);
	CHECK("free(NULL)", 1);
	p = malloc(0);
	CHECK("malloc(0) returns a block", p != NULL);
	free(p);
	p = malloc(100);
	CHECK("malloc_usable_size >= size", p && malloc_usable_size(p) >= 100);
	free(p);
	p = reallocarray(NULL, 10, 10);
	CHECK("reallocarray 10 x 10", p != NULL);
	free(p);
}

#define HANDOFF 200000
static void *blocks[HANDOFF];

static void *free_them(void *arg)
{
	(void)arg;
	for (int i = 0; i < HANDOFF; i++)
		free(blocks[i]);
	return NULL;
}

static void other_thread(void)
{
	pthread_t th;
	int ok = 1;

	for (int i = 0; i < HANDOFF; i++) {
		blocks[i] = malloc((size_t)(16 + i % 4096));
		ok &= blocks[i] != NULL;
	}
	ok &= pthread_create(&th, NULL, free_them, NULL) == 0 && pthread_join(th, NULL) == 0;
	CHECK("200000 blocks freed on another thread", ok);
}

static void fork_middle(void)
{
	void *mine[1000];
	int status = 0;
	pid_t pid;

	for (int i = 0; i < 1000; i++)
		mine[i] = malloc((size_t)(100 + i * 37));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int ok = 1;
		for (int i = 0; i < 1000; i += 2)
			free(mine[i]);
		for (int i = 0; i < 100000; i++) {
			void *p = malloc((size_t)(i % 10000 + 1));
			ok &= p != NULL;
			free(p);
		}
		_exit(ok ? 0 : 1);
	}
	for (int i = 0; i < 1000; i++)
		free(mine[i]);
	CHECK("fork in the middle: child allocates and frees",
	      pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0);
}

int main(void)
{
	char *s, *line = NULL;
	size_t cap = 0;
	FILE *f;

	realloc_chain();
	alignments();
	overflow_and_zero();
	other_thread();
	fork_middle();
	s = strdup("through malloc");
	f = fmemopen((void *)"one line\n", 9, "r");
	CHECK("strdup and getline", s && f && getline(&line, &cap, f) == 9);
	if (f)
		fclose(f);
	free(line);
	free(s);
	printf("failures=%d\n", failures);
	return failures ? 1 : 0;
}
