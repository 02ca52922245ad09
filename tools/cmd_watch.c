// SPDX-License-Identifier: MIT
/*
 * cmd_watch.c - mmsync watch NAME [--json] [--exec CMD]: one line per new
 * generation (gen, size, checksum, age), and optionally a command run
 * with the snapshot on its stdin.
 *
 * Waiting: where mmsync_reader_fd() gives a notification descriptor,
 * poll() sleeps on it and mmsync_wait(r, last, 0) says what happened
 * (spurious wake-ups are allowed); elsewhere mmsync_wait() sleep-polls,
 * in slices of a second so that --timeout is kept. A snapshot can be
 * replaced before watch looks at it: the line says how many generations
 * were missed, never pretends to have seen them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmsync.h>

#include "cli.h"
#include "fmt.h"

#define SLICE_NS 1000000000ll

struct watch_args {
	const char *name;
	const char *exec;
	int64_t timeout_ns; /* <0: none */
	uint64_t count; /* 0: forever */
	bool json;
	bool new_only;
	bool verify;
};

enum { OPT_NEW = 0x100 };

static error_t watch_parse(int key, char *arg, struct argp_state *state)
{
	struct watch_args *a = state->input;
	uint32_t n;

	switch (key) {
	case 'j':
		a->json = true;
		return 0;
	case 'x':
		a->exec = arg;
		return 0;
	case 'n':
		if (parse_u32(arg, &n) || !n)
			argp_error(state, "bad count '%s'", arg);
		a->count = n;
		return 0;
	case 't':
		if (parse_duration(arg, &a->timeout_ns))
			argp_error(state, "bad duration '%s'", arg);
		return 0;
	case 'c':
		a->verify = true;
		return 0;
	case OPT_NEW:
		a->new_only = true;
		return 0;
	}
	return cli_one_name(key, arg, state, &a->name);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/*
 * Wait up to @left_ns for a generation > @after: 0, -ETIMEDOUT, or
 * mmsync_wait()'s -errno.
 */
static int wait_slice(struct mmsync_reader *r, uint64_t after, int64_t left_ns)
{
	struct pollfd p = { .fd = mmsync_reader_fd(r), .events = POLLIN };
	int err;

	if (p.fd < 0)
		return mmsync_wait(r, after, left_ns);
	/* Consumes the notifications; arms the fd if there was none. */
	err = mmsync_wait(r, after, 0);
	if (err != -ETIMEDOUT)
		return err;
	if (poll(&p, 1, (int)((left_ns + 999999) / 1000000)) < 0 &&
	    errno != EINTR)
		return -errno;
	return mmsync_wait(r, after, 0);
}

/* The id of the files NAME names now (0: none, or a memfd channel). */
static uint64_t chan_id(const char *name)
{
	MMSYNC_OPTS(mmsync_stats, st);

	return mmsync_stat(name, &st) ? 0 : st.chan_id;
}

struct snap {
	uint64_t gen;
	uint64_t checksum;
	size_t size;
	void *copy; /* --exec: the bytes, for the command's stdin */
};

/* Read the current snapshot's metadata (and bytes for --exec). */
static int take(struct mmsync_reader *r, bool want_bytes, struct snap *s)
{
	struct mmsync_view v;
	int err, tries;

	for (tries = 0; tries < 5; tries++) {
		err = mmsync_read_begin(r, &v);
		if (err)
			return err;
		s->gen = v.gen;
		s->size = v.size;
		s->checksum = v.checksum;
		free(s->copy);
		s->copy = NULL;
		if (want_bytes && v.size) {
			s->copy = malloc(v.size);
			if (!s->copy) {
				mmsync_read_end(r, &v);
				return -ENOMEM;
			}
			memcpy(s->copy, v.data, v.size);
		}
		err = mmsync_read_end(r, &v);
		if (err != -ESTALE)
			return err;
	}
	return -ESTALE;
}

static void print_line(const struct watch_args *a, const struct snap *s,
		       uint64_t missed)
{
	MMSYNC_OPTS(mmsync_stats, st);
	char age[16];
	bool have_age;

	/* Best effort: memfd channels have no state file to stat. */
	have_age = mmsync_stat(a->name, &st) == 0 && st.gen == s->gen;
	if (a->json) {
		printf("{\"name\":");
		json_str(stdout, a->name);
		printf(",\"gen\":%llu,\"size\":%zu,\"checksum\":\"%016llx\","
		       "\"age_ns\":",
		       (unsigned long long)s->gen, s->size,
		       (unsigned long long)s->checksum);
		if (have_age)
			printf("%llu", (unsigned long long)st.pub_age_ns);
		else
			printf("null");
		printf(",\"missed\":%llu}\n", (unsigned long long)missed);
	} else {
		printf("gen %llu: %zu bytes, checksum %016llx",
		       (unsigned long long)s->gen, s->size,
		       (unsigned long long)s->checksum);
		if (have_age)
			printf(", published %s ago",
			       human_ns(st.pub_age_ns, age, sizeof(age)));
		if (missed)
			printf(" (%llu generation%s missed)",
			       (unsigned long long)missed,
			       missed > 1 ? "s" : "");
		printf("\n");
	}
	/* One line per generation, as it happens, even into a pipe. */
	fflush(stdout);
}

/* Run --exec's command with the snapshot on its stdin; its exit status. */
static int run_exec(const struct watch_args *a, const struct snap *s)
{
	char num[3][32];
	int p[2], pid, status, err;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		snprintf(num[0], sizeof(num[0]), "%llu",
			 (unsigned long long)s->gen);
		snprintf(num[1], sizeof(num[1]), "%zu", s->size);
		snprintf(num[2], sizeof(num[2]), "%016llx",
			 (unsigned long long)s->checksum);
		setenv("MMSYNC_NAME", a->name, 1);
		setenv("MMSYNC_GEN", num[0], 1);
		setenv("MMSYNC_SIZE", num[1], 1);
		setenv("MMSYNC_CHECKSUM", num[2], 1);
		if (dup2(p[0], STDIN_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", a->exec, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	/* A command that does not read its stdin is fine: EPIPE, ignored. */
	write_all(p[1], s->copy ? s->copy : "", s->size);
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

static int watch(const struct watch_args *a)
{
	int64_t deadline = -1, left;
	struct mmsync_reader *r, *r2;
	struct snap s = { 0 };
	uint64_t last = 0, seen = 0, id, now_id;
	MMSYNC_OPTS(mmsync_reader_opts, ro,
		    .flags = a->verify ? MMSYNC_READ_VERIFY : 0);
	int err, status;

	if (cli_open_reader(a->name, a->verify, &r))
		return CLI_FAIL;
	id = chan_id(a->name);
	if (a->exec)
		signal(SIGPIPE, SIG_IGN);
	if (a->new_only)
		last = mmsync_reader_gen(r);
	if (a->timeout_ns >= 0)
		deadline = mono_ns() + a->timeout_ns;
	for (;;) {
		left = deadline < 0 ? SLICE_NS : deadline - mono_ns();
		err = wait_slice(r, last,
				 left < 0	 ? 0 :
				 left < SLICE_NS ? left :
						   SLICE_NS);
		if (err == -ETIMEDOUT) {
			if (deadline >= 0 && mono_ns() >= deadline) {
				err = cli_error(a->name, NULL, err,
						"no new generation in time");
				break;
			}
			/*
			 * Removed and created again (mmsync rm, then put):
			 * the handle still reads the old, unlinked files.
			 * Follow the name, as tail -F does.
			 */
			now_id = chan_id(a->name);
			if (id && now_id && now_id != id &&
			    mmsync_reader_open(a->name, &ro, &r2) == 0) {
				mmsync_reader_close(r);
				r = r2;
				id = now_id;
				last = 0;
			}
			continue;
		}
		if (err == -EPIPE) {
			err = cli_error(a->name, NULL, err,
					"the memfd writer is gone");
			break;
		}
		if (!err)
			err = take(r, a->exec != NULL, &s);
		if (err) {
			err = cli_begin_error(a->name, err);
			break;
		}
		print_line(a, &s,
			   last && s.gen > last + 1 ? s.gen - last - 1 : 0);
		last = s.gen;
		if (a->exec) {
			status = run_exec(a, &s);
			if (status < 0)
				cli_error(a->name, "--exec", status, NULL);
			else if (status)
				cli_errorf(a->name,
					   "--exec: the command exited with "
					   "status %d",
					   WIFEXITED(status) ?
						   WEXITSTATUS(status) :
						   128 + WTERMSIG(status));
		}
		if (a->count && ++seen == a->count) {
			err = CLI_OK;
			break;
		}
		if (a->timeout_ns >= 0)
			deadline = mono_ns() + a->timeout_ns;
	}
	free(s.copy);
	mmsync_reader_close(r);
	return err;
}

int cmd_watch(int argc, char **argv)
{
	static const struct argp_option opts[] = {
		{ "json", 'j', NULL, 0, "One JSON object per line", 0 },
		{ "exec", 'x', "CMD", 0,
		  "Run CMD (with /bin/sh) for each generation, the snapshot "
		  "on its stdin and MMSYNC_NAME, MMSYNC_GEN, MMSYNC_SIZE, "
		  "MMSYNC_CHECKSUM in its environment",
		  0 },
		{ "count", 'n', "N", 0, "Exit 0 after N generations", 0 },
		{ "timeout", 't', "DURATION", 0,
		  "Exit 1 when no new generation comes within DURATION "
		  "(10s, 500ms, ...)",
		  0 },
		{ "new", OPT_NEW, NULL, 0,
		  "Only generations published from now on (default: the "
		  "current one first)",
		  0 },
		{ "verify", 'c', NULL, 0,
		  "Check each snapshot against its checksum (exit 1 on a "
		  "mismatch)",
		  0 },
		{},
	};
	static const struct argp_child children[] = {
		{ &cli_common_argp, 0, NULL, 0 },
		{},
	};
	static const struct argp argp = {
		.options = opts,
		.parser = watch_parse,
		.args_doc = "NAME",
		.doc = "Print one line per new generation of channel NAME: "
		       "generation, size, checksum and how long ago it was "
		       "published. The current generation comes first.\v"
		       "A line says how many generations were published too "
		       "quickly to be seen (only the latest snapshot can be "
		       "read).\n"
		       "\n"
		       "EXAMPLES:\n"
		       "    mmsync watch routes\n"
		       "    mmsync watch routes --json | jq .gen\n"
		       "    mmsync watch routes --new -n 1 -t 30s   # the "
		       "next publish\n"
		       "    mmsync watch routes --exec 'reload < /dev/stdin'\n",
		.children = children,
	};
	struct watch_args a = { .timeout_ns = -1 };
	int err = cli_parse(&argp, argc, argv, &a);

	return err ? err : watch(&a);
}
