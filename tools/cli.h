/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the verbs of the mmsync command share: exit codes, the one
 * error line, argument parsing helpers and the verb entry points.
 *
 * Exit codes (mmsync(1), EXIT STATUS): 0 success, 1 failure, 2 usage
 * error. A verb killed by a signal dies of it (the shell shows 128 + N).
 */
#ifndef MMSYNC_TOOLS_CLI_H
#define MMSYNC_TOOLS_CLI_H

#include <argp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/*
 * Print "mmsync: NAME: [PATH: ]strerror(-err)[ (HINT)]" on stderr and
 * return CLI_FAIL. @err is a -errno; @path and @hint may be NULL.
 */
int cli_error(const char *name, const char *path, int err, const char *hint);
/* "mmsync: NAME: MESSAGE" for failures that have no errno. */
int cli_errorf(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A channel name as the user can read it back ('' for the empty name). */
const char *cli_name(const char *name);
/* The hint for an error of mmsync_reader_open(), or NULL. */
const char *cli_reader_hint(int err);
/* The hint for an error of mmsync_writer_open(), or NULL. */
const char *cli_writer_hint(int err);

struct mmsync_reader;
/* mmsync_reader_open() (MMSYNC_READ_VERIFY if @verify); 0 or CLI_FAIL. */
int cli_open_reader(const char *name, bool verify, struct mmsync_reader **r);
/* The error line for a failed mmsync_read_begin(); returns CLI_FAIL. */
int cli_begin_error(const char *name, int err);

/* Parse helpers: 0, or -EINVAL (the caller reports a usage error). */
int parse_duration(const char *s, int64_t *ns); /* 10ms, 1.5s, 2m, 1 (=1s) */
int parse_size(const char *s, uint64_t *bytes); /* 4096, 4K, 2M, 1G, 1GiB */
int parse_u32(const char *s, uint32_t *v);
int parse_mode(const char *s, uint32_t *mode); /* octal, e.g. 0640 */

/*
 * The arguments of a verb that takes one channel NAME: for ARGP_KEY_ARG
 * (a second one is a usage error) and ARGP_KEY_NO_ARGS (none is), sets
 * *name and returns 0; ARGP_ERR_UNKNOWN for any other @key. A verb's
 * parser ends with: return cli_one_name(key, arg, state, &a->name);
 */
error_t cli_one_name(int key, char *arg, struct argp_state *state,
		     const char **name);

/* write() all of @buf, retrying short writes and EINTR; 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/*
 * Options every verb has: -h (the same as --help). Added to a verb's argp
 * as a child so that its --help lists it.
 */
extern const struct argp cli_common_argp;

/*
 * The writer options of put and follow (cli_writer_opts.c): --grace,
 * --refuse, --max-readers, --data-mode, --state-mode, --table-mode,
 * listed in --help group CLI_WRITER_GROUP. A child whose input, set at
 * the verb's ARGP_KEY_INIT, is the verb's struct mmsync_writer_opts.
 */
#define CLI_WRITER_GROUP 1
extern const struct argp cli_writer_argp;

/*
 * Run argp over a verb's arguments: argv[0] is the verb; messages and
 * --help show "mmsync VERB". Usage errors exit with CLI_USAGE.
 */
int cli_parse(const struct argp *argp, int argc, char **argv, void *input);

/* The verbs: each parses its own arguments (argv[0] is the verb's name). */
int cmd_put(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_readers(int argc, char **argv);
int cmd_follow(int argc, char **argv); /* follow.c */

#endif
