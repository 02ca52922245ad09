// SPDX-License-Identifier: MIT
/*
 * replay.c - the fuzz harnesses without libFuzzer, for make check: every
 * seed, every regression input (tests/fuzz/regressions/reader|writer/),
 * and inputs mutated from the seeds by a fixed-seed generator, through
 * the same harness code, built with the tree's compiler in every variant
 * (ASan, UBSan and TSan builds included). Each group runs in a child of
 * its own, so that a crash is a failed test with its input saved next to
 * this binary (fuzz_replay-GROUP.crash), not the end of the run.
 *
 *   fuzz_replay                          the TAP suite (tests/run.sh)
 *   fuzz_replay reader|writer FILE...    run inputs here, in this process
 *
 * MMSYNC_FUZZ_REPLAY_N: mutated inputs per harness (default 1500).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FZ_SRC
#define FZ_SRC "tests/fuzz"
#endif
#define FZ_MAX_INPUT (1 + FZ_MAX_RECORDS * FZ_RECORD)
#define MAX_SEEDS 512
#define GROUP_TIMEOUT 300

/* The input being run, where the parent can read it after a crash. */
struct current {
	size_t n;
	uint8_t buf[FZ_MAX_INPUT];
};

struct input {
	uint8_t *p;
	size_t n;
};

struct group {
	const char *name;
	int ops;
	struct input *in; /* a list of inputs, or: */
	int nr_in;
	int mutated; /* mutate this many from the seeds */
	const char *known; /* a known bug's description (KNOWN) */
};

static struct current *cur;
static char known_tags[1024]; /* the TAG column of KNOWN, comma-separated */
static struct input seeds[2][MAX_SEEDS];
static int nr_seeds[2];
static char here[PATH_MAX];

static void add_seed(const char *name, const uint8_t *p, size_t n, void *arg)
{
	int k = *(int *)arg;
	struct input *in = &seeds[k][nr_seeds[k]];

	(void)name;
	if (nr_seeds[k] == MAX_SEEDS)
		return;
	in->p = malloc(n);
	if (!in->p)
		abort();
	memcpy(in->p, p, n);
	in->n = n;
	nr_seeds[k]++;
}

static void run_one(const uint8_t *p, size_t n, int ops)
{
	cur->n = n < FZ_MAX_INPUT ? n : FZ_MAX_INPUT;
	memcpy(cur->buf, p, cur->n);
	fz_run(p, n, ops);
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A seed with a few random changes, record-aware. */
static size_t mutate(uint8_t *out, const struct input *seed, uint64_t *s)
{
	size_t n = seed->n, at, i;
	int k, edits = 1 + (int)(rng(s) % 8);

	memcpy(out, seed->p, n);
	for (k = 0; k < edits; k++) {
		at = n > 1 ? 1 + (rng(s) % ((n - 1) / FZ_RECORD + 1)) *
					     FZ_RECORD :
			     1;
		switch (rng(s) % 5) {
		case 0: /* a random byte */
			if (n)
				out[rng(s) % n] = (uint8_t)rng(s);
			break;
		case 1: /* a random record */
			if (at <= n && n + FZ_RECORD <= FZ_MAX_INPUT) {
				memmove(out + at + FZ_RECORD, out + at, n - at);
				for (i = 0; i < FZ_RECORD; i++)
					out[at + i] = (uint8_t)rng(s);
				n += FZ_RECORD;
			}
			break;
		case 2: /* a record dropped */
			if (at + FZ_RECORD <= n) {
				memmove(out + at, out + at + FZ_RECORD,
					n - at - FZ_RECORD);
				n -= FZ_RECORD;
			}
			break;
		case 3: /* a small value */
			if (n > 4)
				out[1 + (rng(s) % (n - 1))] ^=
					(uint8_t)(1u << (rng(s) % 8));
			break;
		default: /* another template */
			if (n)
				out[0] = (uint8_t)rng(s);
			break;
		}
	}
	return n;
}

static void run_group(const struct group *g)
{
	static uint8_t buf[FZ_MAX_INPUT];
	int k = g->ops == OP_NR_ALL, i;
	uint64_t s = 0x6d6d73796e63ull + (uint64_t)k;
	size_t n;

	alarm(GROUP_TIMEOUT);
	/* Mutated inputs may meet a known bug too: only the others fail. */
	if (g->mutated && known_tags[0])
		setenv("MMSYNC_FUZZ_KNOWN", known_tags, 1);
	for (i = 0; i < g->nr_in; i++)
		run_one(g->in[i].p, g->in[i].n, g->ops);
	for (i = 0; i < g->mutated && nr_seeds[k]; i++) {
		n = mutate(buf, &seeds[k][i % nr_seeds[k]], &s);
		run_one(buf, n, g->ops);
	}
}

static void save_crash(const char *group)
{
	char path[2 * PATH_MAX], name[64];
	size_t i;
	FILE *f;

	snprintf(name, sizeof(name), "%s", group);
	for (i = 0; name[i]; i++)
		if (name[i] == '/' || name[i] == ' ')
			name[i] = '-';
	snprintf(path, sizeof(path), "%s/fuzz_replay-%s.crash", here, name);
	f = fopen(path, "wb");
	if (f) {
		fwrite(cur->buf, 1, cur->n, f);
		fclose(f);
		printf("# the failing input is in %s\n", path);
	}
	printf("# input (%zu bytes):", cur->n);
	for (i = 0; i < cur->n; i++)
		printf("%s%02x", i % 32 ? "" : "\n#   ", cur->buf[i]);
	printf("\n");
}

static int test(int nr, const struct group *g)
{
	pid_t pid;
	int st;

	fflush(stdout);
	cur->n = 0;
	pid = fork();
	if (pid < 0) {
		printf("not ok %d %s # fork: %s\n", nr, g->name,
		       strerror(errno));
		return 1;
	}
	if (pid == 0) {
		run_group(g);
		exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	fz_remove_dir_of(pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		printf("ok %d %s\n", nr, g->name);
		if (g->known)
			printf("# %s passes now: the bug is fixed, remove its "
			       "line from %s/regressions/KNOWN\n",
			       g->name, FZ_SRC);
		return 0;
	}
	if (g->known) {
		printf("ok %d %s # SKIP known library bug, reported: %s\n", nr,
		       g->name, g->known);
		return 0;
	}
	if (WIFSIGNALED(st))
		printf("# %s: killed by signal %d%s\n", g->name, WTERMSIG(st),
		       WTERMSIG(st) == SIGALRM ? " (timed out)" : "");
	else
		printf("# %s: exit status %d\n", g->name, WEXITSTATUS(st));
	save_crash(g->name);
	printf("not ok %d %s\n", nr, g->name);
	return 1;
}

/* tests/fuzz/regressions/KNOWN: INPUT TAG WHAT, one line each. */
static char known_lines[32][512];
static int nr_known;

static void read_known(void)
{
	char path[PATH_MAX], tag[64], *l, *sp;
	FILE *f;

	snprintf(path, sizeof(path), "%s/regressions/KNOWN", FZ_SRC);
	f = fopen(path, "r");
	if (!f)
		return;
	while (nr_known < 32 &&
	       fgets(known_lines[nr_known], sizeof(known_lines[0]), f)) {
		l = known_lines[nr_known];
		l[strcspn(l, "\n")] = '\0';
		if (l[0] == '#' || sscanf(l, "%*s %63s", tag) != 1)
			continue;
		if (known_tags[0])
			strncat(known_tags, ",",
				sizeof(known_tags) - strlen(known_tags) - 1);
		strncat(known_tags, tag,
			sizeof(known_tags) - strlen(known_tags) - 1);
		/* "INPUT\0TAG WHAT": the input, then what the bug is. */
		sp = strchr(l, ' ');
		*sp = '\0';
		nr_known++;
	}
	fclose(f);
}

/* What KNOWN says of regression @h/@name, or NULL. */
static const char *known_bug(const char *h, const char *name)
{
	char input[300];
	const char *what;
	int i;

	snprintf(input, sizeof(input), "%s/%s", h, name);
	for (i = 0; i < nr_known; i++) {
		if (strcmp(known_lines[i], input))
			continue;
		what = strchr(known_lines[i] + strlen(known_lines[i]) + 1, ' ');
		return what ? what + 1 : "";
	}
	return NULL;
}

/* The regression inputs of a harness, one test each. */
static int regressions(const char *h, struct group *out, int max, int ops)
{
	static char names[256][300];
	static struct input ins[256];
	static int used;
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *de;
	FILE *f;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/regressions/%s", FZ_SRC, h);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max && used < 256) {
		struct input *in = &ins[used];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		in->p = malloc(FZ_MAX_INPUT);
		f = fopen(path, "rb");
		if (!in->p || !f)
			abort();
		in->n = fread(in->p, 1, FZ_MAX_INPUT, f);
		fclose(f);
		snprintf(names[used], sizeof(names[used]), "regression %s/%s",
			 h, de->d_name);
		out[n] = (struct group){ .name = names[used],
					 .ops = ops,
					 .in = in,
					 .nr_in = 1,
					 .known = known_bug(h, de->d_name) };
		used++;
		n++;
	}
	closedir(d);
	return n;
}

static int suite(void)
{
	struct group g[64];
	const char *env = getenv("MMSYNC_FUZZ_REPLAY_N");
	int nr = env ? atoi(env) : 1500, n = 0, i, failed = 0;

	g[n++] = (struct group){ .name = "seeds reader",
				 .ops = OP_NR_READER,
				 .in = seeds[0],
				 .nr_in = nr_seeds[0] };
	g[n++] = (struct group){ .name = "seeds writer",
				 .ops = OP_NR_ALL,
				 .in = seeds[1],
				 .nr_in = nr_seeds[1] };
	n += regressions("reader", g + n, 24, OP_NR_READER);
	n += regressions("writer", g + n, 24, OP_NR_ALL);
	g[n++] = (struct group){ .name = "mutated reader",
				 .ops = OP_NR_READER,
				 .mutated = nr };
	g[n++] = (struct group){ .name = "mutated writer",
				 .ops = OP_NR_ALL,
				 .mutated = nr };
	printf("1..%d\n", n);
	for (i = 0; i < n; i++)
		failed += test(i + 1, &g[i]);
	printf("# %d of %d failed\n", failed, n);
	return failed ? 1 : 0;
}

static int replay_files(const char *h, char **files, int n)
{
	int ops = strcmp(h, "reader") ? OP_NR_ALL : OP_NR_READER, i;
	static uint8_t buf[1 << 16];
	size_t len;
	FILE *f;

	for (i = 0; i < n; i++) {
		f = fopen(files[i], "rb");
		if (!f) {
			perror(files[i]);
			return 1;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		run_one(buf, len, ops);
		printf("ok %s\n", files[i]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	int k;

	/*
	 * UBSan only reports and goes on unless told to stop, and reads its
	 * options when the process starts: start again with them, so that
	 * undefined behaviour fails the test as a crash does.
	 */
	if (!getenv("MMSYNC_FUZZ_REEXEC")) {
		const char *u = getenv("UBSAN_OPTIONS");
		char opts[1024];

		snprintf(opts, sizeof(opts),
			 "%s%shalt_on_error=1:print_stacktrace=1", u ? u : "",
			 u && *u ? ":" : "");
		setenv("UBSAN_OPTIONS", opts, 1);
		setenv("MMSYNC_FUZZ_REEXEC", "1", 1);
		execv("/proc/self/exe", argv);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	cur = mmap(NULL, sizeof(*cur), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cur == MAP_FAILED)
		return 1;
	for (k = 0; k < 2; k++)
		fz_seeds(k ? OP_NR_ALL : OP_NR_READER, add_seed, &k);
	if (argc >= 3)
		return replay_files(argv[1], argv + 2, argc - 2);
	read_known();
	if (argc != 1) {
		fprintf(stderr, "usage: %s [reader|writer FILE...]\n", argv[0]);
		return 2;
	}
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(here, sizeof(here), "%s", dirname(self));
	return suite();
}
