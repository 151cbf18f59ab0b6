/* A daemon's start: chdir("/"), then fork a worker that drops privileges
 * to UID/GID (nobody) and works; the parent works too.
 *   drop_priv UID GID SECONDS
 * Each burns SECONDS of its own CPU (parent_work / child_work). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burn.h"

volatile unsigned long sink;

NOIPA void burn(double secs)
{
	burn_cpu(secs);
}

/* Not tail calls: each stays on the stack under burn. */
NOIPA void parent_work(double secs) { burn(secs); sink++; }
NOIPA void child_work(double secs) { burn(secs); sink++; }

int main(int argc, char **argv)
{
	pid_t pid;
	int st;

	if (argc != 4) {
		fprintf(stderr, "usage: drop_priv UID GID SECONDS\n");
		return 2;
	}
	if (chdir("/") < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (setgid((gid_t)atoi(argv[2])) < 0 || setuid((uid_t)atoi(argv[1])) < 0) {
			perror("drop privileges");
			_exit(1);
		}
		child_work(atof(argv[3]));
		printf("child %d ok\n", (int)getpid());
		return 0;
	}
	parent_work(atof(argv[3]));
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	printf("parent %d ok\n", (int)getpid());
	return 0;
}
