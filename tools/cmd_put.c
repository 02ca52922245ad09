// SPDX-License-Identifier: MIT
/*
 * cmd_put.c - mmsync put NAME [FILE|-]: publish a file, or stdin, as the
 * next snapshot, through mmsync_publish_fd() (io_uring reads straight into
 * the slot).
 *
 * Nothing is ever half-published. The library commits a generation only
 * after its last byte is in and hashed, and a writer that dies before
 * that leaves the previous snapshot current. What put adds:
 * - A regular file is published with its size at open as the length, so
 *   a file that shrinks while it is read fails (-ENODATA) instead of
 *   publishing its remains. --size does the same for a pipe: a producer
 *   that dies early cannot be told from one that finished otherwise.
 * - SIGINT, SIGTERM, SIGHUP and SIGPIPE end the process before the
 *   publish can commit. Their handler only prints one line and dies of
 *   the signal; it runs in this thread (the feeder's threads block them)
 *   at the first return to user space, before any completion the signal
 *   raced with is looked at. That matters for `producer | mmsync put`
 *   under Ctrl-C: the terminal signals both, the producer's exit closes
 *   the pipe, and that end of file must not be published.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmsync.h>

#include "cli.h"
#include "fmt.h"
#include "put.h"

struct put_args {
	const char *name;
	const char *file; /* NULL or "-": stdin */
	uint64_t size; /* --size; 0: not given */
	bool size_set;
	bool progress; /* --progress: a bar even if stderr is no terminal */
	bool quiet;
	bool verbose;
	struct mmsync_writer_opts o;
};

enum {
	OPT_HUGE = 0x100,
	OPT_CAPACITY,
};

static error_t put_parse(int key, char *arg, struct argp_state *state)
{
	struct put_args *a = state->input;

	switch (key) {
	case 's':
		if (parse_size(arg, &a->size))
			argp_error(state, "bad size '%s'", arg);
		a->size_set = true;
		return 0;
	case 'P':
		a->progress = true;
		return 0;
	case 'q':
		a->quiet = true;
		return 0;
	case 'v':
		a->verbose = true;
		return 0;
	case ARGP_KEY_INIT:
		/* children[0] of cmd_put(): the shared writer options. */
		state->child_inputs[0] = &a->o;
		return 0;
	case 'f':
		if (!strcmp(arg, "auto"))
			a->o.fence_mode = MMSYNC_FENCE_AUTO;
		else if (!strcmp(arg, "membarrier"))
			a->o.fence_mode = MMSYNC_FENCE_MEMBARRIER;
		else if (!strcmp(arg, "xchg") || !strcmp(arg, "fence"))
			a->o.fence_mode = MMSYNC_FENCE_XCHG;
		else
			argp_error(state, "bad fence mode '%s'", arg);
		return 0;
	case OPT_HUGE:
		if (parse_size(arg, &a->o.huge_page_size) ||
		    !a->o.huge_page_size)
			argp_error(state, "bad page size '%s'", arg);
		return 0;
	case OPT_CAPACITY:
		if (parse_size(arg, &a->o.initial_capacity))
			argp_error(state, "bad capacity '%s'", arg);
		return 0;
	case ARGP_KEY_ARG:
		if (state->arg_num == 0)
			a->name = arg;
		else if (state->arg_num == 1)
			a->file = arg;
		else
			argp_error(state, "one NAME and one FILE at most");
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "a channel NAME is required");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

/* Open what to publish; 0 or -errno. */
static int open_input(const struct put_args *a, struct put_input *in)
{
	struct stat st;
	off_t pos;

	memset(in, 0, sizeof(*in));
	if (!a->file || !strcmp(a->file, "-")) {
		in->path = "stdin";
		in->fd = STDIN_FILENO;
	} else {
		in->path = a->file;
		in->fd = open(a->file, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0)
			return -errno;
	}
	if (fstat(in->fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	in->len = a->size;
	if (S_ISREG(st.st_mode)) {
		/* stdin redirected from a file: from where it stands. */
		if (in->fd == STDIN_FILENO) {
			pos = lseek(in->fd, 0, SEEK_CUR);
			in->off = pos > 0 ? pos : 0;
		}
		/*
		 * The size at open is the length: a file that shrinks
		 * while it is read fails rather than publishing a mix.
		 */
		if (!a->size_set)
			in->len = st.st_size > in->off ?
					  (uint64_t)(st.st_size - in->off) :
					  0;
	} else if (!S_ISBLK(st.st_mode)) {
		in->stream = true;
	}
	return 0;
}

static int publish_error(const char *name, const struct put_args *a,
			 const struct put_input *in, int err)
{
	char hint[PATH_MAX + 96];

	switch (err) {
	case -ENODATA:
		if (a->size_set)
			snprintf(hint, sizeof(hint),
				 "%s ended before %llu bytes; nothing was "
				 "published",
				 in->path, (unsigned long long)a->size);
		else
			snprintf(hint, sizeof(hint),
				 "%s shrank while it was read; nothing was "
				 "published",
				 in->path);
		return cli_error(name, NULL, err, hint);
	case -ETIMEDOUT:
		return cli_error(name, NULL, err,
				 "a reader held the slot past the grace period "
				 "(--refuse); nothing was published");
	case -ENOSPC:
	case -ENOMEM:
	case -EFBIG:
		return cli_error(name, NULL, err,
				 "the slot cannot grow; nothing was published");
	}
	return cli_error(name, in->path, err, "nothing was published");
}

/* ---- interruption ------------------------------------------------------ */

static const int intr_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
#define NR_INTR (sizeof(intr_sigs) / sizeof(intr_sigs[0]))
static char intr_msg[NR_INTR][320];

static void on_intr(int sig)
{
	unsigned int i;

	if (put_bar_on)
		write_all(STDERR_FILENO, "\r\033[K", 4);
	for (i = 0; i < NR_INTR; i++)
		if (intr_sigs[i] == sig)
			write_all(STDERR_FILENO, intr_msg[i],
				  strlen(intr_msg[i]));
	/* SA_RESETHAND: die of it as soon as the handler returns. */
	raise(sig);
}

/*
 * Catch the interrupting signals while publishing (@on), or give them their
 * default action back. A signal ignored when we started (nohup, a
 * background job's SIGINT) stays ignored, as a shell would have it.
 */
static void catch_interrupts(const char *name, bool on)
{
	static bool ignored[NR_INTR];
	struct sigaction sa = { .sa_handler = on ? on_intr : SIG_DFL,
				.sa_flags = on ? SA_RESETHAND : 0 };
	struct sigaction old;
	unsigned int i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NR_INTR; i++) {
		if (on) {
			sigaction(intr_sigs[i], NULL, &old);
			ignored[i] = old.sa_handler == SIG_IGN;
			snprintf(intr_msg[i], sizeof(intr_msg[i]),
				 "mmsync: %.256s: interrupted by SIG%s\n",
				 cli_name(name), sigabbrev_np(intr_sigs[i]));
		}
		if (!ignored[i])
			sigaction(intr_sigs[i], &sa, NULL);
	}
}

static int put(struct put_args *a)
{
	struct mmsync_publish_info info = { 0 };
	struct mmsync_writer *w;
	struct put_input in;
	char sz[16];
	int err;

	/* The input first: a missing file creates no channel. */
	err = open_input(a, &in);
	if (err) {
		cli_error(a->name, in.path, err, NULL);
		goto out_in;
	}
	a->o.sz = sizeof(a->o);
	err = mmsync_writer_open(a->name, &a->o, &w);
	if (err) {
		cli_error(a->name, NULL, err, cli_writer_hint(err));
		goto out_in;
	}
	catch_interrupts(a->name, true);
	/* publish_fd's length 0 means "to the end"; --size 0 means empty. */
	if (a->size_set && a->size == 0)
		err = mmsync_publish(w, "", 0, &info);
	else if (!a->quiet && (a->progress || isatty(STDERR_FILENO)))
		err = put_feed(w, a->name, &in, &info);
	else
		err = mmsync_publish_fd(w, in.fd, in.off, in.len, &info);
	catch_interrupts(a->name, false);
	mmsync_writer_close(w);
	if (err) {
		publish_error(a->name, a, &in, err);
		goto out_in;
	}
	if (a->verbose)
		printf("%s: generation %llu, %llu bytes (%s), checksum %016llx\n",
		       cli_name(a->name), (unsigned long long)info.gen,
		       (unsigned long long)info.size,
		       human_bytes(info.size, sz, sizeof(sz)),
		       (unsigned long long)info.checksum);
out_in:
	if (in.fd > STDIN_FILENO)
		close(in.fd);
	return err ? CLI_FAIL : CLI_OK;
}

int cmd_put(int argc, char **argv)
{
	static const struct argp_option opts[] = {
		{ "size", 's', "BYTES", 0,
		  "Publish exactly BYTES bytes: an input that ends sooner "
		  "publishes nothing (4096, 64K, 2M, 1G)",
		  0 },
		{ "progress", 'P', NULL, 0,
		  "A progress bar on stderr even if it is not a terminal", 0 },
		{ "quiet", 'q', NULL, 0, "No progress bar", 0 },
		{ "verbose", 'v', NULL, 0,
		  "Print the generation, size and checksum published", 0 },
		/* Beside the shared writer options (cli_writer_argp). */
		{ "fence", 'f', "MODE", 0,
		  "* auto, membarrier or xchg (mmsync(7))", CLI_WRITER_GROUP },
		{ "huge-pages", OPT_HUGE, "SIZE", 0,
		  "The channel's directory is a hugetlbfs mount of SIZE pages "
		  "(2M, 1G)",
		  CLI_WRITER_GROUP },
		{ "capacity", OPT_CAPACITY, "BYTES", 0,
		  "* Initial bytes of each slot (slots grow as needed)",
		  CLI_WRITER_GROUP },
		{},
	};
	static const struct argp_child children[] = {
		/* First: put_parse() hands it a->o as child_inputs[0]. */
		{ &cli_writer_argp, 0, NULL, 0 },
		{ &cli_common_argp, 0, NULL, 0 },
		{},
	};
	static const struct argp argp = {
		.options = opts,
		.parser = put_parse,
		.args_doc = "NAME [FILE|-]",
		.doc = "Publish FILE, or stdin, as the next snapshot of channel "
		       "NAME, creating the channel if needed.\v"
		       "Nothing is ever half-published: a put that fails or is "
		       "interrupted (Ctrl-C, a signal, an input shorter than "
		       "--size or a file that shrinks) leaves the previous "
		       "snapshot current. From a pipe, put cannot tell a "
		       "producer that died from one that finished: give "
		       "--size to be sure.\n"
		       "\n"
		       "EXAMPLES:\n"
		       "    mmsync put routes routes.bin\n"
		       "    make-routes | mmsync put routes\n"
		       "    mmsync put routes - --size 4096 < /dev/urandom\n"
		       "    mmsync put -g 50ms --refuse features features.f32\n"
		       "    mmsync put /mnt/huge/model model.bin "
		       "--huge-pages 2M\n",
		.children = children,
	};
	struct put_args a = { 0 };
	int err = cli_parse(&argp, argc, argv, &a);

	return err ? err : put(&a);
}
