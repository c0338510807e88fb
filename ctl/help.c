// SPDX-License-Identifier: Apache-2.0
/* help.c - see help.h. The verb texts live in one table so that the
 * overview and `help VERB` cannot drift apart. */
#include "ctl/help.h"

#include <errno.h>
#include <string.h>

struct verb_help {
	const char *name, *synopsis, *summary, *details;
};

static const struct verb_help verbs[] = {
	{ "status", "status [NAME|GLOB|all]",
	  "servers with health, CPU and traffic (exit 3 if one is not running)",
	  "One row per server. With the exact name of one server, every field of\n"
	  "that server instead, one \"key: value\" per line. --json prints the\n"
	  "supervisor's reply as is; -w SECS repeats every SECS seconds.\n"
	  "Exit 0 when every matched server is running, 3 when one is not,\n"
	  "1 when nothing matches.\n" },
	{ "start", "start NAME|GLOB|all", "start stopped servers; returns once they settled",
	  "Starts the matching servers and waits until each is running or has\n"
	  "given up (then exit 1). Needs root, the daemon's user or its\n"
	  "control_group.\n" },
	{ "stop", "stop NAME|GLOB|all", "stop servers; returns once they settled",
	  "Stops the matching servers gracefully (SIGTERM, then SIGKILL after\n"
	  "stop_timeout_ms) and waits for them (exit 1 if one does not stop).\n"
	  "Their UDP ports stay bound.\n"
	  "Needs root, the daemon's user or its control_group.\n" },
	{ "restart", "restart NAME|GLOB|all", "restart servers; returns once they settled",
	  "Stops and starts the matching servers and waits until they run again\n"
	  "(exit 1 if one does not).\n"
	  "Clients stay in the table, so traffic resumes without them noticing.\n"
	  "Needs root, the daemon's user or its control_group.\n" },
	{ "reload", "reload", "re-read the configuration; returns once applied",
	  "Applies the configuration file again: starts added servers, stops\n"
	  "removed ones, restarts changed ones. All or nothing: an invalid file\n"
	  "changes nothing and exits 1. Same as SIGHUP to ringfleetd.\n" },
	{ "allocate", "allocate [OPTIONS]",
	  "give a ready server to a match; prints where to connect",
	  "Options: [--selector K=V]... [--meta K=V]... [--policy packed|distributed]\n"
	  "         [--players ID,...]\n"
	  "Picks one server whose session is ready and whose labels match every\n"
	  "--selector, marks it allocated and prints its name, address, port,\n"
	  "labels and meta (--json: the reply as JSON). --meta pairs are handed to\n"
	  "the game; --policy packed (default) fills the CPU with the most\n"
	  "allocated servers first, distributed spreads matches over CPUs.\n"
	  "--players asks for one connect token per player (admission = token).\n"
	  "Keys: 1-32 of a-z 0-9 _ . -; values: printable, at most 128 bytes;\n"
	  "at most 16 of each. Exit 6 when no ready server matches, 1 when the\n"
	  "host is draining. Needs root, the daemon's user or its control_group.\n" },
	{ "release", "release NAME", "end the match on a server and recycle it",
	  "Ends the allocated session of NAME as if its game had: the server\n"
	  "restarts with an empty client table (or, for a game that resets\n"
	  "itself, is ready at once) and is ready for the next match.\n"
	  "Needs root, the daemon's user or its control_group.\n" },
	{ "upgrade", "upgrade",
	  "re-execute ringfleetd from its binary on disk, keeping every server",
	  "Makes ringfleetd execute the binary now at its path (after a package\n"
	  "upgrade: the new version) in place: same pid, same sockets, every\n"
	  "worker and client untouched, states, restart counters and allocations\n"
	  "kept; the configuration on disk is applied as by reload. The new\n"
	  "binary is first asked, in a child, whether it can take over; if not\n"
	  "(missing, not executable, a state it does not read) the running one\n"
	  "goes on and this exits 1 with the reason. Also the safe way to\n"
	  "restart the supervisor. Needs root, the daemon's user or its\n"
	  "control_group.\n" },
	{ "events", "events", "print every state change as it happens, until interrupted",
	  "Subscribes on the control socket and prints one line per event:\n"
	  "TIME SERVER KIND FROM -> TO REASON, KIND being process (a worker's\n"
	  "lifecycle), session (allocation) or host (draining); --json prints\n"
	  "each event's JSON line as is. Runs until interrupted (exit 0) or the\n"
	  "supervisor closes the stream or drops this reader for not keeping up\n"
	  "(exit 1); --timeout does not apply. At most 16 readers at once.\n" },
	{ "drain", "drain [-t SECS]", "take the host out of service; returns once no match is left",
	  "Refuses new allocations, stops every server without an allocated\n"
	  "session (and each one whose session ends later), and waits until no\n"
	  "allocated session is left or --timeout SECS (default 300; 0: do not\n"
	  "wait) passes. Exit 0 when none is left, 7 when some still are at the\n"
	  "timeout (they are listed; they keep running). The host stays draining\n"
	  "until undrain. Needs root, the daemon's user or its control_group.\n" },
	{ "undrain", "undrain", "end a drain: allow allocations, restart what drain stopped",
	  "Needs root, the daemon's user or its control_group.\n" },
	{ "roll", "roll [NAME|GLOB|all]",
	  "move servers onto the worker and module on disk, never under a match",
	  "Options: [--wait [--timeout SECS]]\n"
	  "Restarts the matching running servers (default all) one at a time, the\n"
	  "next once the previous one's new worker is ready (or failed), through\n"
	  "the usual lossless restart: clients stay. A server carrying a match\n"
	  "(session allocated) waits until its match ends: the recycle that\n"
	  "follows starts a fresh worker, which counts; a game that resets itself\n"
	  "is restarted once ready again. Stopped and fatal servers are skipped.\n"
	  "Replies at once with how many servers were queued; status shows the\n"
	  "progress. --wait then prints one line per server as it is done\n"
	  "(\"rolled NAME (pid A -> B)\", skipped, failed, dropped) and exits 0\n"
	  "when the roll is over, 1 if a new worker failed, 5 if --timeout SECS\n"
	  "passes first (the roll goes on; default: no limit). Only one roll at a\n"
	  "time: another is refused (exit 1) until it ends.\n"
	  "Needs root, the daemon's user or its control_group.\n" },
	{ "shutdown", "shutdown", "stop every server and the supervisor",
	  "Stops every server gracefully, then ringfleetd exits 0.\n" },
	{ "ping", "ping", "check the supervisor answers",
	  "Exit 0 when ringfleetd answers, 4 when it cannot be reached, 5 when it\n"
	  "does not answer within --timeout.\n" },
	{ "version", "version", "print the supervisor's version", "" },
	{ "help", "help [VERB]", "this text, or the usage of one verb",
	  "Also: ringfleetctl VERB --help.\n" },
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

void help_usage(FILE *out, const char *default_socket)
{
	fprintf(out,
		"Usage: ringfleetctl [-s SOCKET | -c CONFIG] [--json] [-w SECS] [-t SECS] VERB "
		"[ARG|OPTIONS]\n"
		"\nVerbs:\n");
	for (size_t i = 0; i < N_VERBS; i++)
		fprintf(out, "  %-24s%s\n", verbs[i].synopsis, verbs[i].summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  -s, --socket PATH   control socket (default $RINGFLEET_SOCKET or %s)\n"
		"  -c, --config FILE   take the control socket from this configuration\n"
		"  -j, --json          print the supervisor's JSON reply as is\n"
		"  -w, --watch SECS    repeat status every SECS seconds\n"
		"  -t, --timeout SECS  give up (exit 5) when no reply comes within SECS;\n"
		"                      default 5, 120 for start/stop/restart/reload\n"
		"                      (they wait for the servers); 0 waits forever;\n"
		"                      drain: its own deadline (default 300);\n"
		"                      roll --wait: the whole wait (default none)\n"
		"      --wait          roll: follow the roll until it is over\n"
		"  -h, --help          this text; after a verb, that verb's usage\n"
		"\n"
		"Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 a server is not running,\n"
		"4 cannot reach the supervisor, 5 no reply within --timeout,\n"
		"6 allocate: no ready server matches, 7 drain left allocated sessions\n"
		"at its timeout; roll --wait not done within --timeout: 5.\n",
		default_socket);
}

int help_verb(FILE *out, const char *verb)
{
	for (size_t i = 0; i < N_VERBS; i++) {
		if (strcmp(verbs[i].name, verb) != 0)
			continue;
		fprintf(out, "Usage: ringfleetctl [-s SOCKET | -c CONFIG] [--json] %s\n\n%s.\n%s%s",
			verbs[i].synopsis, verbs[i].summary, *verbs[i].details ? "\n" : "",
			verbs[i].details);
		return 0;
	}
	return -ENOENT;
}
