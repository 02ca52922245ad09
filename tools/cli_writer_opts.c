// SPDX-License-Identifier: MIT
/*
 * cli_writer_opts.c - the writer options of the verbs that publish (put,
 * follow), once: an argp child that parses into the verb's struct
 * mmsync_writer_opts. The verb hands that struct over as the child's
 * input at ARGP_KEY_INIT (state->child_inputs[i] = &opts); options only
 * one verb has (put's --fence, --huge-pages, --capacity) stay in the
 * verb's own parser, in the same --help group.
 */
#include <mmsync.h>

#include "cli.h"

enum {
	OPT_DATA_MODE = 0x180, /* past the verbs' own keys (0x100...) */
	OPT_STATE_MODE,
	OPT_TABLE_MODE,
};

static error_t writer_parse(int key, char *arg, struct argp_state *state)
{
	struct mmsync_writer_opts *o = state->input;
	uint32_t *mode;

	switch (key) {
	case 'g':
		if (parse_duration(arg, &o->grace_ns) || !o->grace_ns)
			argp_error(state, "bad grace period '%s'", arg);
		return 0;
	case 'r':
		o->grace_policy = MMSYNC_GRACE_REFUSE;
		return 0;
	case 'm':
		if (parse_u32(arg, &o->max_readers) || !o->max_readers)
			argp_error(state, "bad reader count '%s'", arg);
		return 0;
	case OPT_DATA_MODE:
	case OPT_STATE_MODE:
	case OPT_TABLE_MODE:
		mode = key == OPT_DATA_MODE  ? &o->data_mode :
		       key == OPT_STATE_MODE ? &o->state_mode :
					       &o->table_mode;
		if (parse_mode(arg, mode))
			argp_error(state, "bad mode '%s'", arg);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_option writer_opts[] = {
	{ NULL, 0, NULL, 0,
	  "Writer options (those marked * only when the channel is created):",
	  CLI_WRITER_GROUP },
	{ "grace", 'g', "DURATION", 0,
	  "How long to wait for readers of the slot being reused (default "
	  "1s)",
	  CLI_WRITER_GROUP },
	{ "refuse", 'r', NULL, 0,
	  "Past the grace period, do not publish rather than evict the "
	  "readers (put exits 1, follow tries again a second later)",
	  CLI_WRITER_GROUP },
	{ "max-readers", 'm', "N", 0, "* Reader-table entries (256)",
	  CLI_WRITER_GROUP },
	{ "data-mode", OPT_DATA_MODE, "MODE", 0,
	  "* Mode of the data files (0640)", CLI_WRITER_GROUP },
	{ "state-mode", OPT_STATE_MODE, "MODE", 0,
	  "* Mode of the state file (0640)", CLI_WRITER_GROUP },
	{ "table-mode", OPT_TABLE_MODE, "MODE", 0,
	  "* Mode of the reader table, which readers write (0660)",
	  CLI_WRITER_GROUP },
	{},
};

const struct argp cli_writer_argp = {
	.options = writer_opts,
	.parser = writer_parse,
};
