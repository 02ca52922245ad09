// SPDX-License-Identifier: MIT
/*
 * cmd_cat.c - mmsync cat NAME [--verify], mmsync verify NAME.
 *
 * Both join the channel as a reader. A view pins its slot, and a pinned
 * slot holds the writer up (for at most the grace period, then the view
 * is evicted), so cat never leaves a view open while a slow consumer
 * drains a pipe: it copies the snapshot out and ends the view first.
 * Only a regular file as stdout, which takes the bytes at memory speed,
 * gets them straight from the shared mapping. An evicted view
 * (read_end: -ESTALE) is never passed on as a snapshot: cat reads the new
 * one again, or fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmsync.h>

#include "cli.h"
#include "fmt.h"

/* Evicted views in a row before giving up (each waited a grace period). */
#define MAX_TRIES 5

struct cat_args {
	const char *name;
	bool verify;
	bool quiet;
};

static error_t cat_parse(int key, char *arg, struct argp_state *state)
{
	struct cat_args *a = state->input;

	switch (key) {
	case 'c':
		a->verify = true;
		return 0;
	case 'q':
		a->quiet = true;
		return 0;
	}
	return cli_one_name(key, arg, state, &a->name);
}

static const struct argp_child children[] = {
	{ &cli_common_argp, 0, NULL, 0 },
	{},
};

/* Where stdout stands, if it is a regular file we may rewind; else -1. */
static off_t rewindable_stdout(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) || !S_ISREG(st.st_mode))
		return -1;
	return lseek(STDOUT_FILENO, 0, SEEK_CUR);
}

static int cat(const struct cat_args *a)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	off_t start = rewindable_stdout();
	void *copy = NULL;
	int err, end, tries;

	if (cli_open_reader(a->name, a->verify, &r))
		return CLI_FAIL;
	for (tries = 0; tries < MAX_TRIES; tries++) {
		err = mmsync_read_begin(r, &v);
		if (err) {
			mmsync_reader_close(r);
			return cli_begin_error(a->name, err);
		}
		if (start >= 0) {
			/* Straight from the mapping: no copy. */
			err = write_all(STDOUT_FILENO, v.data, v.size);
			end = mmsync_read_end(r, &v);
			if (err || end != -ESTALE)
				break;
			/* Evicted mid-write: take the bytes back, read anew. */
			if (ftruncate(STDOUT_FILENO, start) ||
			    lseek(STDOUT_FILENO, start, SEEK_SET) != start) {
				err = -errno;
				break;
			}
			continue;
		}
		copy = v.size ? malloc(v.size) : NULL;
		if (v.size && !copy) {
			mmsync_read_end(r, &v);
			mmsync_reader_close(r);
			return cli_error(a->name, NULL, -ENOMEM, NULL);
		}
		if (v.size)
			memcpy(copy, v.data, v.size);
		end = mmsync_read_end(r, &v);
		if (end == -ESTALE) {
			free(copy);
			copy = NULL;
			continue;
		}
		err = write_all(STDOUT_FILENO, copy, v.size);
		break;
	}
	free(copy);
	mmsync_reader_close(r);
	if (tries == MAX_TRIES)
		return cli_errorf(
			a->name,
			"%s (the snapshot was replaced under the view %d times in a row)",
			strerror(ESTALE), MAX_TRIES);
	if (err)
		return cli_error(a->name, "stdout", err, NULL);
	return end ? cli_error(a->name, NULL, end, NULL) : CLI_OK;
}

static int verify(const struct cat_args *a)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	uint64_t gen;
	int err = 0, tries;

	if (cli_open_reader(a->name, true, &r))
		return CLI_FAIL;
	for (tries = 0; tries < MAX_TRIES; tries++) {
		/* MMSYNC_READ_VERIFY: read_begin hashes the bytes. */
		err = mmsync_read_begin(r, &v);
		if (err)
			break;
		/* -ESTALE: the slot was reused while hashing; check anew. */
		err = mmsync_read_end(r, &v);
		if (err != -ESTALE)
			break;
	}
	gen = mmsync_reader_gen(r);
	mmsync_reader_close(r);
	if (err == -EIO)
		return cli_errorf(a->name,
				  "generation %llu: %s (checksum mismatch)",
				  (unsigned long long)gen, strerror(EIO));
	if (err)
		return cli_begin_error(a->name, err);
	if (!a->quiet)
		printf("%s: generation %llu, %zu bytes, checksum %016llx: ok\n",
		       cli_name(a->name), (unsigned long long)v.gen, v.size,
		       (unsigned long long)v.checksum);
	return CLI_OK;
}

int cmd_cat(int argc, char **argv)
{
	static const struct argp_option opts[] = {
		{ "verify", 'c', NULL, 0,
		  "Check the snapshot against its XXH3-64 checksum first; "
		  "a mismatch writes nothing and exits 1",
		  0 },
		{},
	};
	static const struct argp argp = {
		.options = opts,
		.parser = cat_parse,
		.args_doc = "NAME",
		.doc = "Write the current snapshot of channel NAME to stdout, "
		       "byte for byte.\v"
		       "A snapshot replaced while it is being written out "
		       "(the reader was evicted after the writer's grace "
		       "period) is never passed on: cat reads the new one, "
		       "or fails.\n"
		       "\n"
		       "EXAMPLES:\n"
		       "    mmsync cat routes > routes.bin\n"
		       "    mmsync cat --verify features | xxd | head\n",
		.children = children,
	};
	struct cat_args a = { 0 };
	int err = cli_parse(&argp, argc, argv, &a);

	return err ? err : cat(&a);
}

int cmd_verify(int argc, char **argv)
{
	static const struct argp_option opts[] = {
		{ "quiet", 'q', NULL, 0, "Print nothing; only the exit status",
		  0 },
		{},
	};
	static const struct argp argp = {
		.options = opts,
		.parser = cat_parse,
		.args_doc = "NAME",
		.doc = "Check the current snapshot of channel NAME against its "
		       "XXH3-64 checksum: exit 0 if it matches, 1 if not (or "
		       "if there is no snapshot).\v"
		       "EXAMPLES:\n"
		       "    mmsync verify routes\n"
		       "    mmsync verify -q routes || alert\n",
		.children = children,
	};
	struct cat_args a = { 0 };
	int err = cli_parse(&argp, argc, argv, &a);

	return err ? err : verify(&a);
}
