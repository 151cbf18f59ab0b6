/* `spanprof consumer`: the detached consumer a preloaded library starts
 * when no consumer is named in SPANPROF_CONSUMER (see consumer.h). Not for
 * people to run by hand; it ends by itself once its processes are gone. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pipeline/consumer.h"
#include "base/env.h"
#include "base/log.h"

int cli_consumer(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	sp_consumer_options o = { NULL };
	sp_error err = { "" };
	sp_consumer *c;
	int ready = -1, ch;
	const char *log = getenv("SPANPROF_LOG");

	while ((ch = getopt_long(argc, argv, ":s:r:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.address = optarg;
			break;
		case 'r':
			ready = atoi(optarg);
			break;
		case 'h':
			printf("usage: spanprof consumer --socket ADDRESS [--ready-fd FD]\n"
			       "Serve the processes that preload libspanprof.so and name ADDRESS in\n"
			       "SPANPROF_CONSUMER; started by the library itself.\n");
			return 0;
		default:
			return cli_bad_option("consumer", ch, argv);
		}
	}
	sp_log_set_enabled(log && !strcmp(log, "1"));
	/* A service's consumer writes nowhere but its output directory unless
	 * told: its HOME may be the service's data or web root. */
	{
		const char *dc = sp_getenv("SPANPROF_DEBUG_CACHE");

		o.debug_cache = dc && dc[0] ? NULL : "off";
	}
	/* What it writes (profiles of the user's processes) is the user's only. */
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	c = sp_consumer_start(&o, &err);
	if (!c) {
		sp_log("consumer: %s", err.msg);
		return CLI_RUNTIME_ERROR;
	}
	if (ready >= 0) {
		if (write(ready, "ok\n", 3) < 0) {
			/* the library times out and runs unprofiled */
		}
		close(ready);
	}
	sp_consumer_wait_idle(c);
	sp_consumer_finish(c);
	return 0;
}
