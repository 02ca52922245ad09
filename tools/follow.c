// SPDX-License-Identifier: MIT
/*
 * follow.c - mmsync follow NAME FILE, mmsync follow NAME --etcd URL KEY:
 * keep channel NAME in step with a file that gets replaced or an etcd
 * key, for as long as the follower runs.
 *
 * The follower is the channel's writer: it holds the writer lock from
 * start to exit, so a second follower (or a put) gets -EBUSY. A source
 * (follow.h) delivers versions; this file publishes them:
 * - a file through mmsync_publish_fd() (read straight into the slot),
 *   bytes through mmsync_publish();
 * - not at all when the content's XXH3-64 equals the current snapshot's
 *   (read once from a reader at start, then kept from each
 *   mmsync_publish_info). Sizes are compared first, so a file is read
 *   twice only when its size did not change;
 * - one line on stderr per publish (generation, source revision or
 *   inode, size, checksum), so that a journal tells what went out when.
 *
 * SIGTERM, SIGINT and SIGHUP are taken through a signalfd that every
 * source sleeps on: a publish in progress always completes (the library
 * call is never interrupted), then follow exits 0. A publish that fails
 * is logged and tried again a second later with the newest value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include <mmsync.h>

#include "cli.h"
#include "follow.h"

#define RETRY_MS 1000
#define HASH_CHUNK (1u << 20)

/* The sources; the first whose options chose it, else the default. */
static const struct follow_kind *const kinds[] = {
	&follow_etcd_kind,
	&follow_file_kind,
};
#define NR_KINDS (sizeof(kinds) / sizeof(kinds[0]))

struct follow_args {
	struct follow_ctx c;
	bool exit_on_delete;
	struct mmsync_writer_opts o;
};

/* The channel's state as the follower knows it. */
struct follower {
	const struct follow_args *a;
	struct mmsync_writer *w;
	bool have_cur; /* a snapshot exists and cur_* describe it */
	uint64_t cur_gen, cur_size, cur_sum;
	void *hash_buf;
};

void follow_log(const char *name, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "mmsync: %s: ", cli_name(name));
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* One write per line: lines of concurrent followers never mix. */
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	write_all(STDERR_FILENO, line, (size_t)n);
}

int64_t follow_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

enum {
	OPT_EXIT_ON_DELETE = 0x100,
};

static error_t follow_parse(int key, char *arg, struct argp_state *state)
{
	struct follow_args *a = state->input;

	switch (key) {
	case 'o':
		a->c.once = true;
		return 0;
	case 'v':
		a->c.verbose = true;
		return 0;
	case OPT_EXIT_ON_DELETE:
		a->exit_on_delete = true;
		return 0;
	case ARGP_KEY_INIT:
		/*
		 * children[0] of cmd_follow(): the shared writer options. The
		 * sources' options parse into their own statics.
		 */
		state->child_inputs[0] = &a->o;
		return 0;
	case ARGP_KEY_ARG:
		if (state->arg_num == 0)
			a->c.name = arg;
		else if (state->arg_num == 1)
			a->c.target = arg;
		else
			argp_error(state, "one NAME and one FILE or KEY");
		return 0;
	case ARGP_KEY_END:
		if (!a->c.name)
			argp_error(state, "a channel NAME is required");
		else if (!a->c.target)
			argp_error(state, "a FILE (or, with --etcd, a KEY) to "
					  "follow is required");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

/* The source kind the options chose. */
static const struct follow_kind *chosen_kind(void)
{
	const struct follow_kind *dflt = NULL;
	unsigned int i;

	for (i = 0; i < NR_KINDS; i++) {
		if (!kinds[i]->chosen)
			dflt = kinds[i];
		else if (kinds[i]->chosen())
			return kinds[i];
	}
	return dflt;
}

static int open_error(const char *name, int err)
{
	return cli_error(name, NULL, err,
			 err == -EBUSY ? "another writer holds the channel: "
					 "one follower per channel" :
					 cli_writer_hint(err));
}

/* What the channel holds now, to skip publishing the same bytes again. */
static void read_current(struct follower *f)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	int tries;

	if (mmsync_reader_open(f->a->c.name, NULL, &r))
		return; /* no skipping the first publish, that is all */
	for (tries = 0; tries < 5; tries++) {
		if (mmsync_read_begin(r, &v))
			break;
		f->cur_gen = v.gen;
		f->cur_size = v.size;
		f->cur_sum = v.checksum;
		if (mmsync_read_end(r, &v) == 0) {
			f->have_cur = true;
			break;
		}
	}
	mmsync_reader_close(r);
}

/* XXH3-64 of the first @len bytes of @fd, as the library computes it. */
static int hash_fd(struct follower *f, int fd, size_t len, uint64_t *sum)
{
	XXH3_state_t *st = XXH3_createState();
	size_t off = 0;
	ssize_t n;
	int err = 0;

	if (!st)
		return -ENOMEM;
	if (!f->hash_buf && !(f->hash_buf = malloc(HASH_CHUNK))) {
		XXH3_freeState(st);
		return -ENOMEM;
	}
	XXH3_64bits_reset(st);
	while (off < len) {
		n = pread(fd, f->hash_buf,
			  len - off < HASH_CHUNK ? len - off : HASH_CHUNK,
			  (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -ENODATA; /* it shrank */
			break;
		}
		XXH3_64bits_update(st, f->hash_buf, (size_t)n);
		off += (size_t)n;
	}
	*sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return err;
}

/*
 * Publish @v unless the channel holds the same bytes already.
 * 0 (published or skipped), or the -errno of the publish.
 */
static int publish(struct follower *f, const struct follow_version *v)
{
	struct mmsync_publish_info info = { 0 };
	const char *name = f->a->c.name;
	uint64_t sum;
	int err;

	if (f->have_cur && v->len == f->cur_size) {
		if (v->fd >= 0)
			err = hash_fd(f, v->fd, v->len, &sum);
		else
			err = 0, sum = XXH3_64bits(v->data, v->len);
		if (err == 0 && sum == f->cur_sum) {
			if (f->a->c.verbose)
				follow_log(name,
					   "%s: unchanged (checksum %016llx), "
					   "gen %llu stays",
					   v->what, (unsigned long long)sum,
					   (unsigned long long)f->cur_gen);
			return 0;
		}
		if (err == -ENODATA)
			return err;
	}
	/* publish_fd's length 0 means "to the end": an empty file is "". */
	if (v->fd >= 0 && v->len)
		err = mmsync_publish_fd(f->w, v->fd, 0, v->len, &info);
	else
		err = mmsync_publish(f->w, v->fd >= 0 ? "" : v->data,
				     v->fd >= 0 ? 0 : v->len, &info);
	if (err)
		return err;
	f->have_cur = true;
	f->cur_gen = info.gen;
	f->cur_size = info.size;
	f->cur_sum = info.checksum;
	follow_log(name, "gen %llu: %s: %llu bytes, checksum %016llx",
		   (unsigned long long)info.gen, v->what,
		   (unsigned long long)info.size,
		   (unsigned long long)info.checksum);
	return 0;
}

static void publish_failed(const struct follower *f,
			   const struct follow_version *v, int err)
{
	const char *why;

	switch (err) {
	case -ENODATA:
		why = "it shrank while it was read (nothing published; it "
		      "is published once written)";
		break;
	case -ETIMEDOUT:
		why = "a reader held the slot past the grace period "
		      "(--refuse); nothing published";
		break;
	case -ENOSPC:
	case -ENOMEM:
	case -EFBIG:
		why = "the slot cannot grow; nothing published";
		break;
	default:
		why = "nothing published";
	}
	follow_log(f->a->c.name, "%s: %s (%s)%s", v->what, strerror(-err), why,
		   f->a->c.once ? "" : "; trying again");
}

static void report_gone(const struct follower *f,
			const struct follow_version *v)
{
	if (f->have_cur)
		follow_log(f->a->c.name, "%s; gen %llu stays current", v->what,
			   (unsigned long long)f->cur_gen);
	else
		follow_log(f->a->c.name, "%s; nothing to publish yet", v->what);
}

/* The signals that stop the follower, as a descriptor the sources poll. */
static int stop_fd_open(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* Sleep @ms, or less if a stop signal comes: true if it did. */
static bool stop_wait(int stop_fd, int ms)
{
	struct pollfd p = { .fd = stop_fd, .events = POLLIN };

	while (poll(&p, 1, ms) < 0)
		if (errno != EINTR)
			return false;
	return p.revents != 0;
}

static void report_stop(const struct follower *f, int stop_fd)
{
	struct signalfd_siginfo si;
	const char *sig = "a signal";

	if (read(stop_fd, &si, sizeof(si)) == sizeof(si) &&
	    sigabbrev_np((int)si.ssi_signo))
		sig = sigabbrev_np((int)si.ssi_signo);
	follow_log(f->a->c.name, "SIG%s: stopped at gen %llu", sig,
		   (unsigned long long)(f->have_cur ? f->cur_gen : 0));
}

/* The follow loop: CLI_OK after a stop signal (or --once), else CLI_FAIL. */
static int run(struct follower *f, struct follow_source *src, int stop_fd)
{
	const struct follow_args *a = f->a;
	struct follow_version v;
	int n, err;

	for (;;) {
		memset(&v, 0, sizeof(v));
		v.fd = -1;
		n = src->ops->next(src, stop_fd, &v);
		if (n == 0) {
			report_stop(f, stop_fd);
			return CLI_OK;
		}
		if (n < 0)
			return CLI_FAIL;
		if (v.gone) {
			report_gone(f, &v);
			src->ops->done(src, &v);
			if (a->c.once || a->exit_on_delete)
				return CLI_FAIL;
			continue;
		}
		err = publish(f, &v);
		if (err)
			publish_failed(f, &v, err);
		src->ops->done(src, &v);
		if (a->c.once)
			return err ? CLI_FAIL : CLI_OK;
		/* -ENODATA: the writer is not done; its close brings it back. */
		if (err && err != -ENODATA) {
			if (stop_wait(stop_fd, RETRY_MS))
				continue; /* next() sees the stop */
			src->ops->again(src);
		}
	}
}

static int follow(struct follow_args *a)
{
	const struct follow_kind *kind = chosen_kind();
	struct follower f = { .a = a };
	struct follow_source *src;
	int stop_fd, err, rc;

	/* Logging into a closed pipe must not kill the writer. */
	signal(SIGPIPE, SIG_IGN);
	stop_fd = stop_fd_open();
	if (stop_fd < 0)
		return cli_error(a->c.name, "signalfd", stop_fd, NULL);
	/* The source first: one that cannot start creates no channel. */
	if (kind->open(&a->c, &src)) {
		close(stop_fd);
		return CLI_FAIL;
	}
	a->o.sz = sizeof(a->o);
	err = mmsync_writer_open(a->c.name, &a->o, &f.w);
	if (err) {
		rc = open_error(a->c.name, err);
	} else {
		read_current(&f);
		rc = run(&f, src, stop_fd);
		mmsync_writer_close(f.w);
	}
	src->ops->close(src);
	free(f.hash_buf);
	close(stop_fd);
	return rc;
}

int cmd_follow(int argc, char **argv)
{
	static const struct argp_option opts[] = {
		{ "once", 'o', NULL, 0,
		  "Publish the current value, then exit (1 if there is none)",
		  0 },
		{ "exit-on-delete", OPT_EXIT_ON_DELETE, NULL, 0,
		  "Exit 1 when FILE or KEY is deleted (default: keep the "
		  "snapshot and wait for a new one)",
		  0 },
		{ "verbose", 'v', NULL, 0,
		  "Also log the values skipped as unchanged, and connections",
		  0 },
		{},
	};
	static struct argp_child children[NR_KINDS + 3];
	static const struct argp argp = {
		.options = opts,
		.parser = follow_parse,
		.args_doc = "NAME FILE\nNAME --etcd URL[,URL...] KEY",
		.doc = "Keep channel NAME in step with FILE, or with an etcd "
		       "KEY: publish its value now, then again each time it "
		       "changes, until stopped.\v"
		       "FILE: publishes it again when it is renamed over, "
		       "rewritten in place (once closed after writing: never "
		       "half-written), or when a symlink anywhere on its path "
		       "is swapped (a Kubernetes ConfigMap volume). inotify on "
		       "the directories of its path; never polls.\n"
		       "KEY: reads it through etcd's v3 JSON gateway, then "
		       "watches it; a lost connection is resumed from the next "
		       "revision, on any URL, with backoff.\n"
		       "\n"
		       "A value equal to the current snapshot is not published. "
		       "One line per publish on stderr: generation, inode or "
		       "revision, size, checksum. A deleted FILE or KEY keeps "
		       "the last snapshot (a line says so). SIGTERM lets a "
		       "publish in progress finish, then exits 0.\n"
		       "\n"
		       "EXAMPLES:\n"
		       "    mmsync follow routes /etc/routes/routes.bin\n"
		       "    mmsync follow features --etcd "
		       "http://10.0.0.1:2379,http://10.0.0.2:2379 "
		       "/fleet/features\n"
		       "    mmsync follow cfg --etcd https://etcd:2379 --cacert "
		       "ca.pem --cert me.pem --key me-key.pem /cfg\n"
		       "    mmsync follow --once routes routes.bin\n",
		.children = children,
	};
	struct follow_args a = { 0 };
	unsigned int i, n = 0;

	/* First: follow_parse() hands it a->o as child_inputs[0]. */
	children[n++] = (struct argp_child){ &cli_writer_argp, 0, NULL, 0 };
	for (i = 0; i < NR_KINDS; i++)
		if (kinds[i]->argp)
			children[n++] = (struct argp_child){ kinds[i]->argp, 0,
							     NULL, 2 + (int)i };
	children[n] = (struct argp_child){ &cli_common_argp, 0, NULL, 0 };
	i = (unsigned int)cli_parse(&argp, argc, argv, &a);
	return i ? (int)i : follow(&a);
}
