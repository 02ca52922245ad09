// SPDX-License-Identifier: MIT
/*
 * cmd_ls.c - mmsync ls [DIR]: the channels in a directory; mmsync rm
 * NAME...: remove channels.
 *
 * A channel in a directory is found by its NAME_state file (its other
 * files, NAME_data_0/1 and the like, vary with the state format); a memfd
 * channel has only its socket, NAME_sock. Everything ls shows comes from
 * mmsync_stat(): it never parses the files itself, so it stays right when
 * their format changes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mmsync.h>

#include "cli.h"
#include "fmt.h"

struct entry {
	char *name; /* as shown, and as passed to mmsync_stat() */
	bool memfd;
	int err; /* of mmsync_stat() */
	struct mmsync_stats st;
};

struct list {
	struct entry *v;
	size_t n, cap;
};

struct ls_args {
	const char *dir;
	bool json;
};

static error_t ls_parse(int key, char *arg, struct argp_state *state)
{
	struct ls_args *a = state->input;

	switch (key) {
	case 'j':
		a->json = true;
		return 0;
	case ARGP_KEY_ARG:
		if (state->arg_num > 0)
			argp_error(state, "one DIR only");
		a->dir = arg;
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_child children[] = {
	{ &cli_common_argp, 0, NULL, 0 },
	{},
};

/* @base without @suffix, or NULL if it does not end with it. */
static char *strip_suffix(const char *base, const char *suffix)
{
	size_t n = strlen(base), m = strlen(suffix);

	if (n <= m || strcmp(base + n - m, suffix))
		return NULL;
	return strndup(base, n - m);
}

static int add(struct list *l, const char *dir, const char *chan, bool memfd)
{
	struct entry *e;
	void *p;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		p = realloc(l->v, l->cap * sizeof(*l->v));
		if (!p)
			return -ENOMEM;
		l->v = p;
	}
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	/* A bare name resolves in $MMSYNC_DIR; an explicit DIR is a prefix. */
	if (!dir)
		e->name = strdup(chan);
	else if (asprintf(&e->name, "%s%s%s", dir,
			  dir[strlen(dir) - 1] == '/' ? "" : "/", chan) < 0)
		e->name = NULL;
	if (!e->name)
		return -ENOMEM;
	e->memfd = memfd;
	l->n++;
	return 0;
}

/* Every NAME_state file, and every NAME_sock socket without one. */
static int scan(const char *dir, const char *shown, struct list *l)
{
	struct dirent *de;
	struct stat st;
	char *chan;
	int dfd, err = 0;
	bool memfd;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	dfd = dirfd(d);
	while (!err && (de = readdir(d))) {
		memfd = false;
		chan = strip_suffix(de->d_name, "_state");
		if (!chan) {
			chan = strip_suffix(de->d_name, "_sock");
			memfd = true;
		}
		if (!chan)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    (memfd ? !S_ISSOCK(st.st_mode) : !S_ISREG(st.st_mode))) {
			free(chan);
			continue;
		}
		if (memfd) {
			char state[NAME_MAX + 1];

			/* With a state file too, it is listed as files. */
			snprintf(state, sizeof(state), "%s_state", chan);
			if (fstatat(dfd, state, &st, AT_SYMLINK_NOFOLLOW) ==
			    0) {
				free(chan);
				continue;
			}
		}
		err = add(l, shown, chan, memfd);
		free(chan);
	}
	closedir(d);
	return err;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		      ((const struct entry *)b)->name);
}

static uint64_t cur_size(const struct mmsync_stats *st)
{
	return st->slot_size[st->gen & 1];
}

static void print_json(const struct list *l)
{
	const struct entry *e;
	size_t i;

	printf("[");
	for (i = 0; i < l->n; i++) {
		e = &l->v[i];
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, e->name);
		printf(",\"backing\":\"%s\"", e->memfd ? "memfd" : "files");
		if (e->err) {
			printf(",\"error\":");
			json_str(stdout, strerror(-e->err));
		} else if (!e->memfd) {
			printf(",\"gen\":%llu,\"size\":%llu,\"age_ns\":%llu,"
			       "\"writer_pid\":%u,\"writer_alive\":%s,"
			       "\"readers\":%u,\"max_readers\":%u",
			       (unsigned long long)e->st.gen,
			       (unsigned long long)cur_size(&e->st),
			       (unsigned long long)e->st.pub_age_ns,
			       e->st.writer_pid,
			       e->st.writer_alive ? "true" : "false",
			       e->st.readers, e->st.max_readers);
		}
		printf("}");
	}
	printf("]\n");
}

static void print_table(const struct list *l)
{
	char size[24], age[16], writer[24];
	const struct entry *e;
	int w = 4; /* "NAME" */
	size_t i;

	for (i = 0; i < l->n; i++)
		if ((int)strlen(l->v[i].name) > w)
			w = (int)strlen(l->v[i].name);
	printf("%-*s %12s %8s %9s %-12s %s\n", w, "NAME", "SIZE", "GEN", "AGE",
	       "WRITER", "READERS");
	for (i = 0; i < l->n; i++) {
		e = &l->v[i];
		if (e->memfd) {
			printf("%-*s %12s %8s %9s %-12s %s\n", w, e->name,
			       "memfd", "-", "-", "(socket)", "-");
			continue;
		}
		if (e->err) {
			printf("%-*s invalid: %s\n", w, e->name,
			       strerror(-e->err));
			continue;
		}
		if (e->st.gen) {
			snprintf(size, sizeof(size), "%llu",
				 (unsigned long long)cur_size(&e->st));
			human_ns(e->st.pub_age_ns, age, sizeof(age));
		} else {
			snprintf(size, sizeof(size), "-");
			snprintf(age, sizeof(age), "-");
		}
		if (e->st.writer_alive)
			snprintf(writer, sizeof(writer), "pid %u",
				 e->st.writer_pid);
		else
			snprintf(writer, sizeof(writer), "-");
		printf("%-*s %12s %8llu %9s %-12s %u\n", w, e->name, size,
		       (unsigned long long)e->st.gen, age, writer,
		       e->st.readers);
	}
	if (!l->n)
		printf("(no channels)\n");
}

static int ls(const struct ls_args *a)
{
	const char *env = getenv("MMSYNC_DIR");
	const char *dir = a->dir ? a->dir : env && *env ? env : "/dev/shm";
	struct list l = { 0 };
	int err, rc = CLI_OK;
	size_t i;

	err = scan(dir, a->dir, &l);
	if (err) {
		rc = cli_error(dir, NULL, err, NULL);
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), by_name);
	for (i = 0; i < l.n; i++) {
		if (l.v[i].memfd)
			continue;
		l.v[i].st.sz = sizeof(l.v[i].st);
		l.v[i].err = mmsync_stat(l.v[i].name, &l.v[i].st);
		if (l.v[i].err)
			rc = cli_error(l.v[i].name, NULL, l.v[i].err,
				       cli_reader_hint(l.v[i].err));
	}
	if (a->json)
		print_json(&l);
	else
		print_table(&l);
out:
	for (i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	return rc;
}

int cmd_ls(int argc, char **argv)
{
	static const struct argp_option opts[] = {
		{ "json", 'j', NULL, 0, "Output a JSON array", 0 },
		{},
	};
	static const struct argp argp = {
		.options = opts,
		.parser = ls_parse,
		.args_doc = "[DIR]",
		.doc = "List the channels in DIR (default $MMSYNC_DIR, else "
		       "/dev/shm): size and generation of the current "
		       "snapshot, its age, the live writer and the live "
		       "readers. Memfd channels show as their socket.\v"
		       "The names shown are the ones the other commands take. "
		       "A channel whose files cannot be read is shown as "
		       "invalid and ls exits 1.\n"
		       "\n"
		       "EXAMPLES:\n"
		       "    mmsync ls\n"
		       "    mmsync ls /run/app --json\n",
		.children = children,
	};
	struct ls_args a = { 0 };
	int err = cli_parse(&argp, argc, argv, &a);

	return err ? err : ls(&a);
}

struct rm_args {
	char **names;
	int n;
	bool force;
};

static error_t rm_parse(int key, char *arg, struct argp_state *state)
{
	struct rm_args *a = state->input;

	switch (key) {
	case 'f':
		a->force = true;
		return 0;
	case ARGP_KEY_ARGS:
		a->names = state->argv + state->next;
		a->n = state->argc - state->next;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "a channel NAME is required");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

int cmd_rm(int argc, char **argv)
{
	static const struct argp_option opts[] = {
		{ "force", 'f', NULL, 0,
		  "A channel that does not exist is fine", 0 },
		{},
	};
	static const struct argp argp = {
		.options = opts,
		.parser = rm_parse,
		.args_doc = "NAME...",
		.doc = "Remove the files of each channel NAME "
		       "(mmsync_unlink(3)). Writers and readers that have it "
		       "open keep working on the removed files; new ones "
		       "create or find a new channel.\v"
		       "EXAMPLES:\n"
		       "    mmsync rm routes\n"
		       "    mmsync rm -f /run/app/a /run/app/b\n",
		.children = children,
	};
	struct rm_args a = { 0 };
	int i, err, rc;

	rc = cli_parse(&argp, argc, argv, &a);
	if (rc)
		return rc;
	for (i = 0; i < a.n; i++) {
		err = mmsync_unlink(a.names[i]);
		if (err == -ENOENT && a.force)
			continue;
		if (err)
			rc = cli_error(a.names[i], NULL, err,
				       err == -ENOENT ? "no such channel" :
							NULL);
	}
	return rc;
}
