/* Each exec form the library wraps, after burning CPU so samples are due:
 *   exec_forms l|lp|le|v|vp|bad
 * Prints what the exec'd program prints; "bad" prints exec's failure. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "burn.h"

NOIPA void burn(double seconds)
{
	burn_cpu(seconds);
}

int main(int argc, char **argv)
{
	char *env[] = { "X=from-execle", NULL };
	char *args[] = { "echo", "execv", NULL };
	const char *m = argc > 1 ? argv[1] : "";

	burn(0.2);
	if (!strcmp(m, "l"))
		execl("/bin/echo", "echo", "execl", "a", "b", (char *)NULL);
	else if (!strcmp(m, "lp"))
		execlp("echo", "echo", "execlp", (char *)NULL);
	else if (!strcmp(m, "le"))
		execle("/usr/bin/env", "env", (char *)NULL, env);
	else if (!strcmp(m, "v"))
		execv("/bin/echo", args);
	else if (!strcmp(m, "vp"))
		execvp("echo", args);
	else if (!strcmp(m, "bad")) {
		int r = execl("/nonexistent", "x", (char *)NULL);
		printf("execl returned %d: %s\n", r, strerror(errno));
		burn(0.2); /* sampling goes on after a failed exec */
		return 0;
	}
	return 1;
}
