// SPDX-License-Identifier: MIT
/*
 * model.c - model-check the protocol (state format 2) with spin. The models
 * and what they abstract are described at the top of tests/model/mmsync.pml.
 *
 * The real protocol must verify, with and without a hostile process that
 * writes what it likes into the reader table: no assertion fails (no torn
 * view reported clean; without the hostile process also no slot written
 * under a reader's view and -ESTALE only after an eviction), no process
 * gets stuck (the writer never waits forever on a dead reader) and no
 * execution runs forever. The mutants must not verify, or the assertions
 * would prove nothing: Cloudflare mmap-sync's protocol tears a read;
 * libmmsync without the re-read after the pin, or with a late claim, hands
 * honest readers -ESTALE without an eviction; without reclaim it hangs on a
 * dead reader; without read_end's slot check the hostile process tears a
 * view. With a waiting reader (-DWAITER) no wake-up is ever lost, and the
 * two mutants of notification's ordering (the writer reads the waiters
 * count before its store of the generation; the waiter arms after it
 * looked) each lose one.
 *
 * The models are read from $MMSYNC_MODEL_DIR, else from tests/model (make
 * check runs the tests from the repository root). $MMSYNC_MODEL_FLAGS adds
 * -D options to the runs of the real protocol, for deeper checks by hand:
 *
 *	MMSYNC_MODEL_FLAGS="-DLASTGEN=6 -DDEATHS1=1" build/default/tests/model
 *
 * (that one: 3.8e7 states, 44 s safe; 7.6e7 states, 133 s for the cycle
 * search, close to MODEL_TIMEOUT). The default bounds take ~5 s each.
 *
 * Needs spin (Debian package "spin") and cc; skipped without them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define MAX_ARGS 24
#define MAX_FLAGS 8

/* The bounded state spaces take seconds; leave room for a slow VM. */
#define MODEL_TIMEOUT 180

struct cmd {
	const char *dir; /* working directory */
	const char *log; /* stdout and stderr go here */
	char *argv[MAX_ARGS];
	int argc;
};

/* What ./pan reported. */
struct pan_result {
	long errors; /* -1: no "errors:" line at all */
	double states; /* states stored */
	double transitions;
	long depth;
	bool truncated; /* the depth bound cut the search short */
	double secs; /* wall time of ./pan */
	char what[200]; /* the first "pan:1: ..." line: the violation */
};

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	const char *p, *end;
	size_t n;

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		if (n == 0 || n + strlen(prog) + 2 > sizeof(buf))
			continue;
		memcpy(buf, p, n);
		snprintf(buf + n, sizeof(buf) - n, "/%s", prog);
		if (access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

static void cmd_init(struct cmd *c, const char *dir, const char *log)
{
	memset(c, 0, sizeof(*c));
	c->dir = dir;
	c->log = log;
}

static void cmd_arg(struct cmd *c, const char *arg)
{
	if (c->argc < MAX_ARGS - 1)
		c->argv[c->argc++] = (char *)arg;
}

static int cmd_child(void *arg)
{
	struct cmd *c = arg;
	int fd;

	/* Do not outlive the test if the harness kills it on timeout. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (chdir(c->dir) < 0)
		return 126;
	fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return 126;
	execvp(c->argv[0], c->argv);
	return 127;
}

/* Run @c, wait for it; returns its exit code (128 + signal if killed). */
static int cmd_run(struct cmd *c)
{
	int pid;

	fflush(NULL);
	pid = spawn(cmd_child, c);
	if (pid < 0)
		return -errno;
	return reap(pid);
}

/* Read a whole file as a NUL-terminated string; NULL on error. */
static char *read_text(const char *path)
{
	unsigned char *buf = NULL;
	long n = slurp(path, &buf);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return (char *)buf;
}

/* Print the tail of a log, to explain a failure. */
static void show_log(const char *path)
{
	char *text = read_text(path);
	size_t n;

	if (!text)
		return;
	n = strlen(text);
	fprintf(stderr, "# ---- %s (last 2000 bytes)\n%s\n", path,
		text + (n > 2000 ? n - 2000 : 0));
	free(text);
}

static int copy_file(const char *from, const char *to)
{
	unsigned char *buf = NULL;
	long n = slurp(from, &buf);
	ssize_t k;
	int fd, err = 0;

	if (n < 0)
		return (int)n;
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	k = write(fd, buf, (size_t)n);
	if (k != n)
		err = k < 0 ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	free(buf);
	return err;
}

/* The number just before @key in @text (pan prints "N states, stored"). */
static double num_before(const char *text, const char *key)
{
	const char *p = strstr(text, key), *q;

	if (!p)
		return -1;
	q = p;
	while (q > text && q[-1] != ' ' && q[-1] != '\n' && q[-1] != '\t')
		q--;
	return q < p ? strtod(q, NULL) : -1;
}

static void parse_pan(const char *out, struct pan_result *r)
{
	const char *p, *end;
	size_t n;

	p = strstr(out, "errors: ");
	r->errors = p ? strtol(p + 8, NULL, 10) : -1;
	p = strstr(out, "depth reached ");
	r->depth = p ? strtol(p + 14, NULL, 10) : -1;
	r->states = num_before(out, " states, stored");
	r->transitions = num_before(out, " transitions (= ");
	r->truncated = strstr(out, "max search depth too small") != NULL;
	r->what[0] = '\0';
	p = strstr(out, "pan:1: ");
	if (p) {
		end = strchrnul(p, '\n');
		n = (size_t)(end - p);
		if (n >= sizeof(r->what))
			n = sizeof(r->what) - 1;
		memcpy(r->what, p, n);
		r->what[n] = '\0';
	}
}

/*
 * $MMSYNC_MODEL_FLAGS, split on blanks into @flags (at most MAX_FLAGS).
 * @buf holds the strings. Returns how many.
 */
static int user_flags(char *buf, size_t len, char **flags)
{
	const char *env = getenv("MMSYNC_MODEL_FLAGS");
	char *tok, *save;
	int n = 0;

	if (!env || !*env)
		return 0;
	snprintf(buf, len, "%s", env);
	for (tok = strtok_r(buf, " \t", &save); tok && n < MAX_FLAGS;
	     tok = strtok_r(NULL, " \t", &save))
		flags[n++] = tok;
	return n;
}

FIXTURE(model)
{
	struct tdir dir; /* scratch directory under /tmp */
	char models[PATH_MAX]; /* directory holding the .pml files */
};

FIXTURE_SETUP(model)
{
	const char *env = getenv("MMSYNC_MODEL_DIR");
	const char *where = env && *env ? env : "tests/model";

	if (!on_path("spin"))
		SKIP(return,
			   "spin is not on PATH (Debian: apt-get install spin)");
	if (!on_path("cc"))
		SKIP(return,
			   "cc is not on PATH: cannot compile spin's verifier");
	ASSERT_NE(NULL, realpath(where, self->models))
	TH_LOG("no model directory %s (%s): run from the repository root or set MMSYNC_MODEL_DIR",
	       where, strerror(errno));
	snprintf(self->dir.path, sizeof(self->dir.path),
		 "/tmp/mmsync-model-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir.path))
	TH_LOG("mkdtemp: %s", strerror(errno));
}

FIXTURE_TEARDOWN(model)
{
	tdir_remove(&self->dir);
}

/*
 * Verify @pml: spin -a with the -D options in @defs (NULL-terminated, may
 * be NULL) and, if @user, those of $MMSYNC_MODEL_FLAGS after them (so they
 * win); cc pan.c; ./pan. @np: search for non-progress cycles (the models
 * have no progress labels, so for any cycle at all) instead of a safety
 * search. @r gets pan's report; a trail, if pan wrote one, stays in the
 * scratch directory for expect_violation().
 */
static void verify(struct __test_metadata *_metadata,
		   FIXTURE_DATA(model) * self, const char *pml,
		   const char *const *defs, bool user, bool np,
		   struct pan_result *r)
{
	char src[PATH_MAX], copy[PATH_MAX], log[PATH_MAX], fbuf[512];
	char label[256];
	char *flags[MAX_FLAGS];
	int i, nflags, rc;
	struct cmd c;
	uint64_t t0;
	char *out;

	memset(r, 0, sizeof(*r));
	snprintf(src, sizeof(src), "%s/%s", self->models, pml);
	snprintf(copy, sizeof(copy), "%s/%s", self->dir.path, pml);
	/* Work on a copy: spin -t looks for the trail next to the model. */
	ASSERT_EQ(0, copy_file(src, copy)) TH_LOG("copy %s", src);
	nflags = user ? user_flags(fbuf, sizeof(fbuf), flags) : 0;

	snprintf(log, sizeof(log), "%s/spin.log", self->dir.path);
	cmd_init(&c, self->dir.path, log);
	cmd_arg(&c, "spin");
	cmd_arg(&c, "-a");
	for (i = 0; defs && defs[i]; i++)
		cmd_arg(&c, defs[i]);
	for (i = 0; i < nflags; i++)
		cmd_arg(&c, flags[i]);
	cmd_arg(&c, pml);
	snprintf(label, sizeof(label), "%s", pml);
	for (i = 2; i < c.argc - 1; i++)
		snprintf(label + strlen(label), sizeof(label) - strlen(label),
			 " %s", c.argv[i]);
	rc = cmd_run(&c);
	if (rc)
		show_log(log);
	ASSERT_EQ(0, rc) TH_LOG("spin -a %s failed", label);

	snprintf(log, sizeof(log), "%s/cc.log", self->dir.path);
	cmd_init(&c, self->dir.path, log);
	cmd_arg(&c, "cc");
	cmd_arg(&c, "-O2");
	cmd_arg(&c, "-w");
	cmd_arg(&c, np ? "-DNP" : "-DSAFETY");
	cmd_arg(&c, "-o");
	cmd_arg(&c, "pan");
	cmd_arg(&c, "pan.c");
	rc = cmd_run(&c);
	if (rc)
		show_log(log);
	ASSERT_EQ(0, rc) TH_LOG("cc pan.c failed");

	snprintf(log, sizeof(log), "%s/pan.log", self->dir.path);
	cmd_init(&c, self->dir.path, log);
	cmd_arg(&c, "./pan");
	cmd_arg(&c, "-n"); /* no unreached-state listing */
	cmd_arg(&c, "-m100000"); /* depth bound: far beyond the models' */
	if (np)
		cmd_arg(&c, "-l");
	t0 = now_ns();
	rc = cmd_run(&c);
	r->secs = (double)(now_ns() - t0) / 1e9;
	out = read_text(log);
	ASSERT_NE(NULL, out) TH_LOG("no output from pan");
	parse_pan(out, r);
	free(out);
	/* pan exits 0 whether or not it found errors; a crash is a failure. */
	if (rc || r->errors < 0)
		show_log(log);
	ASSERT_EQ(0, rc) TH_LOG("./pan exited %d", rc);
	ASSERT_LE(0, r->errors) TH_LOG("pan printed no \"errors:\" line");
	fprintf(stderr,
		"#  measured spin %s%s: %.0f states, %.0f transitions, depth %ld, %.2f s, errors: %ld\n",
		label, np ? " (cycles)" : "", r->states, r->transitions,
		r->depth, r->secs, r->errors);
}

/* The protocol must verify: no violation, and a complete search. */
static void expect_clean(struct __test_metadata *_metadata,
			 const struct pan_result *r)
{
	EXPECT_EQ(0, r->errors) TH_LOG("%s", r->what);
	EXPECT_FALSE(r->truncated)
	TH_LOG("search cut short by the depth bound");
	EXPECT_LT(0, r->states);
}

/*
 * A mutant must fail with @want in pan's report, and spin must be able to
 * replay the trail it wrote (a real counterexample, not a pan artefact).
 */
static void expect_violation(struct __test_metadata *_metadata,
			     FIXTURE_DATA(model) * self, const char *pml,
			     const char *const *defs,
			     const struct pan_result *r, const char *want)
{
	char log[PATH_MAX];
	struct cmd c;
	char *out;
	int i, rc;

	ASSERT_LT(0, r->errors) TH_LOG("spin found no violation in a mutant");
	ASSERT_NE(NULL, strstr(r->what, want))
	TH_LOG("expected \"%s\", pan said \"%s\"", want, r->what);

	snprintf(log, sizeof(log), "%s/trail.log", self->dir.path);
	cmd_init(&c, self->dir.path, log);
	cmd_arg(&c, "spin");
	cmd_arg(&c, "-t");
	for (i = 0; defs && defs[i]; i++)
		cmd_arg(&c, defs[i]);
	cmd_arg(&c, pml);
	rc = cmd_run(&c);
	out = read_text(log);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(out, "trail ends after"))
	{
		show_log(log);
	}
	fprintf(stderr, "#  %s\n", r->what);
	free(out);
}

TEST_F_TIMEOUT(model, protocol_is_safe, MODEL_TIMEOUT)
{
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", NULL, true, false, &r);
	expect_clean(_metadata, &r);
}

/*
 * No cycle at all in the state graph: every execution ends. With no
 * invalid end state (protocol_is_safe), every process reaches its end.
 * The cycle search costs ~8x the safety search per state, so it runs one
 * generation shorter; a livelock would show at any bound.
 */
TEST_F_TIMEOUT(model, protocol_terminates, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DLASTGEN=4", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, true, true, &r);
	expect_clean(_metadata, &r);
}

/* A process writing what it likes into the table tears nobody's view. */
TEST_F_TIMEOUT(model, hostile_reader_harms_nobody, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DHOSTILE", "-DLASTGEN=4",
					    "-DHACTS=2", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, true, false, &r);
	expect_clean(_metadata, &r);
}

/* ... nor keeps the writer waiting forever: every execution ends. */
TEST_F_TIMEOUT(model, hostile_reader_bounds_writer_wait, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DHOSTILE", "-DLASTGEN=4",
					    "-DHACTS=2", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, true, true, &r);
	expect_clean(_metadata, &r);
}

TEST_F_TIMEOUT(model, mmap_sync_protocol_tears, MODEL_TIMEOUT)
{
	struct pan_result r;

	verify(_metadata, self, "mmap_sync.pml", NULL, false, false, &r);
	expect_violation(_metadata, self, "mmap_sync.pml", NULL, &r,
			 "assertion violated  !(torn)");
}

/*
 * Without the re-load of gen after the pin, a reader can pin a slot the
 * writer's scan already found free: the slot check still reports it
 * (-ESTALE), but an honest reader got -ESTALE with no eviction, which the
 * pins exist to prevent.
 */
TEST_F_TIMEOUT(model, no_recheck_fails, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DNO_RECHECK", "-DTORN_ONLY",
					    NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, false, false, &r);
	expect_violation(_metadata, self, "mmsync.pml", defs, &r,
			 "assertion violated (gone[r]==g)");
}

TEST_F_TIMEOUT(model, no_reclaim_hangs, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DNO_RECLAIM", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, false, false, &r);
	expect_violation(_metadata, self, "mmsync.pml", defs, &r,
			 "invalid end state");
}

/* Without read_end's slot check, the hostile process tears a view. */
TEST_F_TIMEOUT(model, no_slot_check_tears_under_hostile, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DNO_SLOT_CHECK", "-DHOSTILE",
					    NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, false, false, &r);
	expect_violation(_metadata, self, "mmsync.pml", defs, &r,
			 "assertion violated  !(torn)");
}

/*
 * A reader that raises the claimed count only once its view is open: a
 * writer that read the count as 0 skips its scan and rewrites the slot
 * under the view.
 */
TEST_F_TIMEOUT(model, late_claim_fails, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DLATE_CLAIM", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, false, false, &r);
	expect_violation(_metadata, self, "mmsync.pml", defs, &r,
			 "assertion violated");
}

/*
 * A reader that raises the high-water mark only once its view is open: a
 * writer that read the mark below its entry leaves it out of the scan and
 * rewrites the slot under the view.
 */
TEST_F_TIMEOUT(model, late_high_fails, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DLATE_HIGH", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, false, false, &r);
	expect_violation(_metadata, self, "mmsync.pml", defs, &r,
			 "assertion violated");
}

/* A reader waiting for every generation in turn is woken each time. */
TEST_F_TIMEOUT(model, waiter_is_never_lost, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DWAITER", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, true, false, &r);
	expect_clean(_metadata, &r);
}

/* ... and no execution runs forever (a fair scheduler wakes it). */
TEST_F_TIMEOUT(model, waiter_terminates, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DWAITER", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, true, true, &r);
	expect_clean(_metadata, &r);
}

/* The writer reads the waiters count before it stores the generation. */
TEST_F_TIMEOUT(model, notify_before_gen_loses_a_wakeup, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DWAITER", "-DNOTIFY_BEFORE_GEN",
					    NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, false, false, &r);
	expect_violation(_metadata, self, "mmsync.pml", defs, &r,
			 "invalid end state");
}

/* The waiter arms after it looked at the generation, and sleeps. */
TEST_F_TIMEOUT(model, late_arm_loses_a_wakeup, MODEL_TIMEOUT)
{
	static const char *const defs[] = { "-DWAITER", "-DLATE_ARM", NULL };
	struct pan_result r;

	verify(_metadata, self, "mmsync.pml", defs, false, false, &r);
	expect_violation(_metadata, self, "mmsync.pml", defs, &r,
			 "invalid end state");
}

TEST_HARNESS_MAIN
