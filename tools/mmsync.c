// SPDX-License-Identifier: MIT
/*
 * mmsync - publish, read and inspect libmmsync channels from the shell.
 *
 *   mmsync put NAME [FILE|-]    cmd_put.c
 *   mmsync cat|verify NAME      cmd_cat.c
 *   mmsync watch NAME           cmd_watch.c
 *   mmsync ls [DIR], rm NAME    cmd_ls.c
 *   mmsync stat|readers NAME    cmd_stat.c
 *
 * Each verb parses its own options (mmsync VERB --help). This file picks
 * the verb and answers the top-level --help, -h and --version.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmsync.h>

#include "cli.h"

#ifndef MMSYNC_TOOLS_VERSION
#define MMSYNC_TOOLS_VERSION "0.1.0"
#endif

const char *argp_program_version = "mmsync " MMSYNC_TOOLS_VERSION;

static const struct verb {
	const char *name;
	const char *args;
	const char *summary;
	int (*run)(int argc, char **argv);
} verbs[] = {
	{ "put", "NAME [FILE|-]",
	  "publish a file, or stdin, as the next snapshot", cmd_put },
	{ "cat", "NAME", "write the current snapshot to stdout", cmd_cat },
	{ "verify", "NAME", "exit 0 iff the snapshot matches its checksum",
	  cmd_verify },
	{ "watch", "NAME", "print one line per new generation", cmd_watch },
	{ "ls", "[DIR]", "list the channels in DIR", cmd_ls },
	{ "rm", "NAME...", "remove channels", cmd_rm },
	{ "stat", "NAME", "counters of a channel", cmd_stat },
	{ "readers", "NAME", "its reader table, stuck readers first",
	  cmd_readers },
};

#define NR_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const char post_doc[] =
	"\n"
	"NAME is a channel name (its files are in $MMSYNC_DIR, default\n"
	"/dev/shm) or a path prefix containing '/', as given to\n"
	"mmsync_writer_open(3). 'mmsync COMMAND --help' shows the options of\n"
	"each command.\n"
	"\n"
	"EXAMPLES:\n"
	"    mmsync put routes routes.bin      # publish a file\n"
	"    make-table | mmsync put routes    # or stdin\n"
	"    mmsync cat routes > copy.bin      # the current snapshot\n"
	"    mmsync watch routes --json        # a line per publish\n"
	"    mmsync ls                         # channels in /dev/shm\n"
	"    mmsync readers routes             # who holds the writer up?\n"
	"\n"
	"EXIT STATUS: 0 success, 1 failure (one line on stderr names the\n"
	"channel and the error), 2 usage error. See mmsync(1).\n";

static char *help_filter(int key, const char *text, void *input)
{
	char *buf = NULL;
	size_t len = 0;
	unsigned int i;
	FILE *f;

	if (key != ARGP_KEY_HELP_POST_DOC)
		return (char *)text;
	f = open_memstream(&buf, &len);
	if (!f)
		return (char *)text;
	fprintf(f, "COMMANDS:\n");
	for (i = 0; i < NR_VERBS; i++)
		fprintf(f, "    %-8s %-15s %s\n", verbs[i].name, verbs[i].args,
			verbs[i].summary);
	fputs(post_doc, f);
	fclose(f);
	return buf; /* argp frees what differs from @text */
}

static error_t top_parse(int key, char *arg, struct argp_state *state)
{
	int *verb_at = state->input;

	switch (key) {
	case ARGP_KEY_ARG:
		/* The verb: stop here, it parses the rest. */
		*verb_at = state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "a COMMAND is required");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

int main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &cli_common_argp, 0, NULL, 0 },
		{},
	};
	static const struct argp top = {
		.parser = top_parse,
		.args_doc = "COMMAND [ARG...]",
		.doc = "Publish, read and inspect libmmsync channels from the "
		       "shell.\v",
		.children = children,
		.help_filter = help_filter,
	};
	int verb_at = 0;
	unsigned int i;

	argp_err_exit_status = CLI_USAGE;
	if (argp_parse(&top, argc, argv, ARGP_IN_ORDER, NULL, &verb_at))
		return CLI_USAGE;
	for (i = 0; i < NR_VERBS; i++)
		if (!strcmp(argv[verb_at], verbs[i].name))
			return verbs[i].run(argc - verb_at, argv + verb_at);
	fprintf(stderr,
		"mmsync: unknown command '%s'\n"
		"Try 'mmsync --help' for the list of commands.\n",
		argv[verb_at]);
	return CLI_USAGE;
}
