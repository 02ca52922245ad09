// SPDX-License-Identifier: MIT
/*
 * trace.c - observability: the USDT probes seen by mmsync-trace, by bpftool
 * through the pinned maps and by bpftrace, and `mmsync stat/readers`.
 *
 * Every test that loads BPF needs root and skips, with the reason, when it
 * can't: not root, tools not built (no kernel BTF or clang), no BPF.
 *
 * One workload with known counts drives them all (see workload()):
 *   pins 103 (100 quick + 1 by a reader that dies pinned + 1 evicted
 *   + 1 still open), unpins 101 (1 of them -ESTALE), publishes 5,
 *   grace waits 1, evictions 1, reclaims 1; one view left open at gen 5.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define GRACE_NS 60000000ll
#define QUICK_PINS 100
#define LONG_PIN_MS "25"

enum {
	X_PINS = QUICK_PINS + 3,
	X_UNPINS = QUICK_PINS + 1,
	X_STALE = 1,
	X_PUBLISHES = 5,
	X_GRACE_WAITS = 1,
	X_EVICTIONS = 1,
	X_RECLAIMS = 1,
	X_LAST_GEN = 5,
};

struct chan {
	struct tdir dir;
	char name[256];
	struct mmsync_writer *w;
	struct mmsync_reader *a, *b;
	struct mmsync_view va;
	uint64_t id;
};

/* ---- processes ----------------------------------------------------------- */

struct proc {
	pid_t pid;
	int out, err;
};

/* <build>/tests/trace -> <build>/tools/@tool */
static void tool_path(const char *tool, char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, len, "%s/../tools/%s", self, tool);
}

static int proc_start(struct proc *p, char *const argv[])
{
	int o[2], e[2];

	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -errno;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	p->out = o[0];
	p->err = e[0];
	return 0;
}

/*
 * Append what @fd has to @buf until @needle shows up (0), EOF (-EPIPE) or
 * @timeout_ms passes (-ETIMEDOUT). @needle NULL: read to EOF.
 */
static int read_until(int fd, const char *needle, char *buf, size_t len,
		      int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000;
	size_t have = strlen(buf);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		if (needle && strstr(buf, needle))
			return 0;
		if (now_ns() >= end)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (have + 1 >= len)
			return -ENOBUFS;
		n = read(fd, buf + have, len - have - 1);
		if (n <= 0)
			return needle ? -EPIPE : 0;
		have += n;
		buf[have] = '\0';
	}
}

static int proc_wait(struct proc *p)
{
	int rc = reap(p->pid);

	close(p->out);
	close(p->err);
	return rc;
}

/* Run @argv to completion; its stdout in @out. Returns the exit code. */
static int run(char *const argv[], char *out, size_t len)
{
	char err[4096] = "";
	struct proc p;

	out[0] = '\0';
	if (proc_start(&p, argv))
		return -1;
	read_until(p.out, NULL, out, len, 20000);
	read_until(p.err, NULL, err, sizeof(err), 1000);
	if (err[0])
		fprintf(stderr, "# %s: %s", argv[0], err);
	return proc_wait(&p);
}

/* ---- tiny JSON lookups (the producers are ours and bpftool) -------------- */

/*
 * Copy what follows "@key":@id in @s up to the @depth-th '}' to @out: the
 * flat object holding it (depth 1), or for bpftool's {"key":{...},
 * "value":{...}} also the value that follows a struct key (depth 2).
 */
static int json_obj_n(const char *s, const char *key, unsigned long long id,
		      char *out, size_t len, int depth)
{
	char pat[96];
	const char *p, *end;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":%llu", key, id);
	for (p = strstr(s, pat); p; p = strstr(p + 1, pat)) {
		if (p[strlen(pat)] >= '0' && p[strlen(pat)] <= '9')
			continue; /* a longer number */
		end = strchr(p, '}');
		while (end && --depth > 0)
			end = strchr(end + 1, '}');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - p);
		if (n >= len)
			n = len - 1;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

static int json_obj(const char *s, const char *key, unsigned long long id,
		    char *out, size_t len)
{
	return json_obj_n(s, key, id, out, len, 1);
}

static unsigned long long json_num(const char *s, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	if (!p)
		return ~0ull;
	return strtoull(p + strlen(pat), NULL, 10);
}

static int count_str(const char *s, const char *needle)
{
	int n = 0;

	for (s = strstr(s, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

/* ---- the workload ------------------------------------------------------------ */

/* Channels a test opened, for the fixture's teardown (static storage). */
static struct chan *open_chans[4];

static void chan_close(struct chan *c)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (open_chans[i] == c)
			open_chans[i] = NULL;
	mmsync_reader_close(c->a);
	mmsync_reader_close(c->b);
	mmsync_writer_close(c->w);
	c->a = c->b = NULL;
	c->w = NULL;
	tdir_remove(&c->dir);
}

static void chan_open(struct __test_metadata *_metadata, struct chan *c,
		      const char *tag)
{
	unsigned int i;

	MMSYNC_OPTS(mmsync_writer_opts, wo, .grace_ns = GRACE_NS);
	MMSYNC_OPTS(mmsync_stats, st);

	memset(c, 0, sizeof(*c));
	for (i = 0; i < 4 && open_chans[i]; i++)
		;
	ASSERT_GT(4, i);
	open_chans[i] = c;
	ASSERT_EQ(0, tdir_make(&c->dir));
	tdir_chan(&c->dir, tag, c->name, sizeof(c->name));
	ASSERT_EQ(0, mmsync_writer_open(c->name, &wo, &c->w));
	ASSERT_EQ(0, mmsync_reader_open(c->name, NULL, &c->a));
	ASSERT_EQ(0, mmsync_reader_open(c->name, NULL, &c->b));
	ASSERT_EQ(0, mmsync_stat(c->name, &st));
	ASSERT_NE(0, st.chan_id);
	c->id = st.chan_id;
}

/* A reader in a child that pins and then is SIGKILLed, still pinned. */
static void die_pinned(struct __test_metadata *_metadata, const char *name)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	int p[2], pid;
	char ok = 0;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[0]);
		if (mmsync_reader_open(name, NULL, &r) ||
		    mmsync_read_begin(r, &v))
			_exit(1);
		ok = 1;
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &ok, 1));
	close(p[0]);
	kill(pid, SIGKILL);
	ASSERT_EQ(128 + SIGKILL, reap(pid));
}

static void workload(struct __test_metadata *_metadata, struct chan *c)
{
	struct mmsync_publish_info info;
	struct mmsync_view v;
	uint64_t x = 42;
	int i;

	ASSERT_EQ(0, mmsync_publish(c->w, &x, sizeof(x), NULL)); /* gen 1 */
	for (i = 0; i < QUICK_PINS; i++) {
		ASSERT_EQ(0, mmsync_read_begin(c->a, &v));
		ASSERT_EQ(0, mmsync_read_end(c->a, &v));
	}
	die_pinned(_metadata, c->name); /* pins gen 1 */
	ASSERT_EQ(0, mmsync_publish(c->w, &x, sizeof(x), NULL)); /* gen 2 */
	/* gen 3 reuses gen 1's slot: the dead pin is reclaimed at once. */
	ASSERT_EQ(0, mmsync_publish(c->w, &x, sizeof(x), &info));
	ASSERT_EQ(1, info.reclaimed);
	ASSERT_EQ(0, mmsync_read_begin(c->b, &v)); /* pins gen 3 */
	ASSERT_EQ(3, v.gen);
	ASSERT_EQ(0, mmsync_publish(c->w, &x, sizeof(x), NULL)); /* gen 4 */
	/* gen 5 reuses gen 3's slot: waits the grace period, evicts b. */
	ASSERT_EQ(0, mmsync_publish(c->w, &x, sizeof(x), &info));
	ASSERT_EQ(1, info.evicted);
	ASSERT_LE(GRACE_NS, (int64_t)info.waited_ns);
	ASSERT_EQ(-ESTALE, mmsync_read_end(c->b, &v));
	/* Left open: shows up as pinned now, at gen 5. */
	ASSERT_EQ(0, mmsync_read_begin(c->a, &c->va));
	ASSERT_EQ(5, c->va.gen);
}

/* ---- the tracer ---------------------------------------------------------- */

struct tracer {
	struct proc p;
	char pin_dir[128];
	char err[8192];
};

static void need_root_and_tool(struct __test_metadata *_metadata,
			       const char *tool, char *path, size_t len)
{
	if (geteuid() != 0)
		SKIP(return, "needs root to load BPF programs");
	tool_path(tool, path, len);
	if (access(path, X_OK))
		SKIP(return, "%s not built (no kernel BTF, clang or bpftool)",
			   tool);
}

/* SKIP unless this kernel lets us trace (mmsync-trace --check says why). */
static int need_bpf(struct __test_metadata *_metadata, const char *tool)
{
	char out[1024] = "", err[1024] = "";
	char *argv[] = { (char *)tool, "--check", NULL };
	struct proc p;
	int rc;

	ASSERT_EQ(0, proc_start(&p, argv));
	read_until(p.out, NULL, out, sizeof(out), 10000);
	read_until(p.err, NULL, err, sizeof(err), 1000);
	rc = proc_wait(&p);
	if (rc != 0)
		SKIP(return 1, "BPF unavailable: %s", err);
	return 0;
}

/*
 * Start mmsync-trace on this build's libmmsync and wait until it attached.
 * Returns 0, or 1 after SKIP when BPF is not available here.
 */
static int tracer_start(struct __test_metadata *_metadata, struct tracer *t,
			const char *extra)
{
	char path[PATH_MAX];
	char *argv[16];
	int i = 0, err;

	need_root_and_tool(_metadata, "mmsync-trace", path, sizeof(path));
	if (_metadata->exit_code == KSFT_SKIP || need_bpf(_metadata, path))
		return 1;
	t->err[0] = '\0';
	argv[i++] = path;
	argv[i++] = "--json";
	argv[i++] = "--events";
	argv[i++] = "-T";
	argv[i++] = LONG_PIN_MS;
	argv[i++] = "--pin-path";
	argv[i++] = t->pin_dir;
	argv[i++] = "-d"; /* should this test die, the tracer ends anyway */
	argv[i++] = "60";
	if (extra)
		argv[i++] = (char *)extra;
	argv[i] = NULL;
	ASSERT_EQ(0, proc_start(&t->p, argv));
	err = read_until(t->p.err, "attached", t->err, sizeof(t->err), 20000);
	if (err) {
		kill(t->p.pid, SIGKILL);
		proc_wait(&t->p);
		/* Absent features say so; anything else is a failure. */
		if (strstr(t->err, "cannot run") || strstr(t->err, "lacks") ||
		    strstr(t->err, "not permitted") ||
		    strstr(t->err, "Permission denied") ||
		    strstr(t->err, "bpffs"))
			SKIP(return 1, "BPF unavailable: %s", t->err);
		TH_LOG("mmsync-trace did not attach: %s", t->err);
		ASSERT_EQ(0, err);
	}
	return 0;
}

/* SIGINT, then its whole output (the final stats line last). */
static void tracer_stop(struct __test_metadata *_metadata, struct tracer *t,
			char *out, size_t len)
{
	out[0] = '\0';
	kill(t->p.pid, SIGINT);
	read_until(t->p.out, NULL, out, len, 20000);
	read_until(t->p.err, NULL, t->err, sizeof(t->err), 2000);
	EXPECT_EQ(0, proc_wait(&t->p));
	t->p.pid = 0;
}

/* rm -r for the pin directory (two levels: links/, progs/). */
static void remove_tree(const char *dir, int depth)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (depth > 0 && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(p, depth - 1);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/*
 * Whatever happens in a test, no tracer, no pinned object and no channel
 * survive it.
 */
FIXTURE(obs)
{
	struct tracer t;
};

FIXTURE_SETUP(obs)
{
	self->t.p.pid = 0;
	snprintf(self->t.pin_dir, sizeof(self->t.pin_dir),
		 "/sys/fs/bpf/mmsync-test-%d", (int)getpid());
}

FIXTURE_TEARDOWN(obs)
{
	unsigned int i;

	if (self->t.p.pid > 0) {
		kill(self->t.p.pid, SIGKILL);
		proc_wait(&self->t.p);
	}
	remove_tree(self->t.pin_dir, 2);
	for (i = 0; i < 4; i++)
		if (open_chans[i])
			chan_close(open_chans[i]);
}

static void expect_counts(struct __test_metadata *_metadata, const char *o)
{
	EXPECT_EQ(X_PINS, json_num(o, "pins"));
	EXPECT_EQ(X_UNPINS, json_num(o, "unpins"));
	EXPECT_EQ(X_STALE, json_num(o, "stale"));
	EXPECT_EQ(X_PUBLISHES, json_num(o, "publishes"));
	EXPECT_EQ(X_GRACE_WAITS, json_num(o, "grace_waits"));
	EXPECT_EQ(X_EVICTIONS, json_num(o, "evictions"));
	EXPECT_EQ(X_RECLAIMS, json_num(o, "reclaims"));
	EXPECT_EQ(X_LAST_GEN, json_num(o, "last_gen"));
	EXPECT_LE(GRACE_NS, (int64_t)json_num(o, "grace_ns"));
}

static unsigned long long hist_total(const char *s, const char *key)
{
	unsigned long long sum = 0;
	char pat[64];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\":[", key);
	p = strstr(s, pat);
	if (!p)
		return ~0ull;
	p += strlen(pat);
	while (*p && *p != ']') {
		sum += strtoull(p, &end, 10);
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p != ']')
			break;
	}
	return sum;
}

/*
 * mmsync-trace counts exactly what the workload did; bpftool reads the
 * same numbers from the maps pinned under the tracer's bpffs directory.
 */
TEST_F(obs, tracer_and_bpftool_count_the_workload)
{
	static char out[1 << 16], dump[1 << 16], obj[2048];
	struct tracer *t = &self->t;
	char path[PATH_MAX], *argv[8];
	const char *stats;
	static struct chan c;

	if (tracer_start(_metadata, t, NULL))
		return;
	chan_open(_metadata, &c, "counted");
	workload(_metadata, &c);

	/* bpftool, while the tracer runs: the counters of our channel. */
	snprintf(path, sizeof(path), "%s/chans", t->pin_dir);
	argv[0] = "bpftool";
	argv[1] = "-j";
	argv[2] = "map";
	argv[3] = "dump";
	argv[4] = "pinned";
	argv[5] = path;
	argv[6] = NULL;
	if (access("/usr/sbin/bpftool", X_OK) == 0)
		argv[0] = "/usr/sbin/bpftool";
	ASSERT_EQ(0, run(argv, dump, sizeof(dump)));
	ASSERT_EQ(0, json_obj(dump, "key", c.id, obj, sizeof(obj)));
	TH_LOG("bpftool: %.300s", obj);
	expect_counts(_metadata, obj);
	EXPECT_NE(NULL, strstr(obj, c.name));

	/* The reader still pinned, as bpftool sees it. */
	snprintf(path, sizeof(path), "%s/pinned", t->pin_dir);
	ASSERT_EQ(0, run(argv, dump, sizeof(dump)));
	ASSERT_EQ(0, json_obj_n(dump, "chan", c.id, obj, sizeof(obj), 2));
	TH_LOG("bpftool: %.300s", obj);
	EXPECT_EQ(5, json_num(obj, "gen"));
	EXPECT_EQ(getpid(), (pid_t)json_num(obj, "pid"));

	tracer_stop(_metadata, t, out, sizeof(out));
	ASSERT_EQ(0, mmsync_read_end(c.a, &c.va));
	chan_close(&c);

	/* Its own final report says the same. */
	stats = strstr(out, "{\"type\":\"stats\",\"final\":true");
	ASSERT_NE(NULL, stats);
	ASSERT_EQ(0, json_obj(stats, "id", c.id, obj, sizeof(obj)));
	expect_counts(_metadata, obj);
	ASSERT_EQ(0, json_obj(stats, "chan", c.id, obj, sizeof(obj)));
	EXPECT_EQ(5, json_num(obj, "gen"));
	/* Every pin that ended was timed; the one grace wait too. */
	EXPECT_EQ(X_UNPINS, hist_total(stats, "hold_hist"));
	EXPECT_EQ(X_GRACE_WAITS, hist_total(stats, "grace_hist"));

	/* Events: one eviction of b, one reclaim, b's long pin. */
	EXPECT_EQ(1, count_str(out, "\"event\":\"evict\""));
	EXPECT_EQ(1, count_str(out, "\"event\":\"reclaim\""));
	EXPECT_LE(1, count_str(out, "\"event\":\"long_pin\""));
	EXPECT_NE(NULL, strstr(out, "\"event\":\"evict\",\"ts_ns\""));

	/* Not --pin: nothing is left in bpffs. */
	EXPECT_NE(0, access(t->pin_dir, F_OK));
}

/*
 * --pin leaves the probes attached and the maps pinned after the tracer
 * exits: pins made afterwards still show up in bpftool. --unpin removes
 * everything.
 */

/* The value bpftrace printed for map @key ("@name: N"), or -1 if none. */
static long long bpftrace_value(const char *out, const char *key)
{
	char pat[64];
	const char *e;

	snprintf(pat, sizeof(pat), "%s: ", key);
	e = strstr(out, pat);
	return e ? strtoll(e + strlen(pat), NULL, 10) : -1;
}
TEST_F(obs, pin_outlives_the_tracer_and_unpin_removes_it)
{
	static char out[1 << 16], dump[1 << 16], obj[2048];
	char path[PATH_MAX], tool[PATH_MAX], *argv[8];
	struct tracer *t = &self->t;
	struct mmsync_view v;
	static struct chan c;
	int i;

	if (tracer_start(_metadata, t, "--pin"))
		return;
	tracer_stop(_metadata, t, out, sizeof(out));
	snprintf(path, sizeof(path), "%s/chans", t->pin_dir);
	ASSERT_EQ(0, access(path, F_OK));

	chan_open(_metadata, &c, "pinned");
	ASSERT_EQ(0, mmsync_publish(c.w, "x", 1, NULL));
	for (i = 0; i < 7; i++) {
		ASSERT_EQ(0, mmsync_read_begin(c.b, &v));
		ASSERT_EQ(0, mmsync_read_end(c.b, &v));
	}
	argv[0] = access("/usr/sbin/bpftool", X_OK) ? "bpftool" :
						      "/usr/sbin/bpftool";
	argv[1] = "-j";
	argv[2] = "map";
	argv[3] = "dump";
	argv[4] = "pinned";
	argv[5] = path;
	argv[6] = NULL;
	ASSERT_EQ(0, run(argv, dump, sizeof(dump)));
	ASSERT_EQ(0, json_obj(dump, "key", c.id, obj, sizeof(obj)));
	EXPECT_EQ(7, json_num(obj, "pins"));
	EXPECT_EQ(1, json_num(obj, "publishes"));
	chan_close(&c);

	tool_path("mmsync-trace", tool, sizeof(tool));
	argv[0] = tool;
	argv[1] = "--unpin";
	argv[2] = "--pin-path";
	argv[3] = t->pin_dir;
	argv[4] = NULL;
	EXPECT_EQ(0, run(argv, out, sizeof(out)));
	EXPECT_NE(0, access(t->pin_dir, F_OK));
}

/*
 * bpftrace, a client this project did not write, sees the workload on the
 * USDT probes. The pin probe is semaphore-gated: bpftrace must have raised
 * the semaphore for pins to fire at all, so the first pin it reports on a
 * side channel says it is ready.
 */
TEST_F_TIMEOUT(obs, bpftrace_sees_the_probes, 60)
{
	static char out[1 << 16], prog[4096];
	char rel[PATH_MAX], lib[PATH_MAX], bt[PATH_MAX], tool[PATH_MAX];
	char *argv[8];
	static struct chan c, sync;
	struct mmsync_view v;
	struct proc *p = &self->t.p; /* the teardown kills it */
	int err = -ETIMEDOUT, i;

	need_root_and_tool(_metadata, "mmsync-trace", tool, sizeof(tool));
	if (_metadata->exit_code == KSFT_SKIP || need_bpf(_metadata, tool))
		return;
	snprintf(bt, sizeof(bt), "/usr/bin/bpftrace");
	if (access(bt, X_OK))
		SKIP(return, "bpftrace is not installed");
	tool_path("../libmmsync.so", rel, sizeof(rel));
	ASSERT_NE(NULL, realpath(rel, lib));

	chan_open(_metadata, &c, "bt");
	chan_open(_metadata, &sync, "sync");
	ASSERT_EQ(0, mmsync_publish(sync.w, "s", 1, NULL));
	snprintf(
		prog, sizeof(prog),
		"usdt:%s:mmsync:pin /arg0 == %llu && @ready == 0/ "
		"{ @ready = 1; printf(\"ready\\n\"); }\n"
		"usdt:%s:mmsync:pin /arg0 == %llu/ { @pins = count(); }\n"
		"usdt:%s:mmsync:unpin /arg0 == %llu && arg3 != 0/ "
		"{ @stale = count(); }\n"
		"usdt:%s:mmsync:publish_end /arg0 == %llu/ "
		"{ @publishes = count(); @bytes = sum(arg2); }\n"
		"usdt:%s:mmsync:grace_end /arg0 == %llu/ "
		"{ @grace_waits = count(); }\n"
		"usdt:%s:mmsync:evict /arg0 == %llu/ { @evictions = count(); }\n"
		"usdt:%s:mmsync:reclaim /arg0 == %llu/ { @reclaims = count(); }\n"
		"interval:s:60 { exit(); }\n",
		lib, (unsigned long long)sync.id, lib, (unsigned long long)c.id,
		lib, (unsigned long long)c.id, lib, (unsigned long long)c.id,
		lib, (unsigned long long)c.id, lib, (unsigned long long)c.id,
		lib, (unsigned long long)c.id);
	argv[0] = bt;
	argv[1] = "-B";
	argv[2] = "line";
	argv[3] = "-e";
	argv[4] = prog;
	argv[5] = NULL;
	ASSERT_EQ(0, proc_start(p, argv));
	out[0] = '\0';
	/* Pin on the side channel until bpftrace has the probes on. */
	for (i = 0; i < 300 && err; i++) {
		ASSERT_EQ(0, mmsync_read_begin(sync.a, &v));
		ASSERT_EQ(0, mmsync_read_end(sync.a, &v));
		err = read_until(p->out, "ready", out, sizeof(out), 100);
		if (err == -EPIPE)
			break;
	}
	if (err) {
		char msg[4096] = "";

		kill(p->pid, SIGKILL);
		read_until(p->err, NULL, msg, sizeof(msg), 1000);
		proc_wait(p);
		p->pid = 0;
		TH_LOG("bpftrace: %s", msg);
		ASSERT_EQ(0, err);
	}
	workload(_metadata, &c);
	ASSERT_EQ(0, mmsync_read_end(c.a, &c.va));
	kill(p->pid, SIGINT);
	read_until(p->out, NULL, out, sizeof(out), 20000);
	proc_wait(p);
	p->pid = 0;
	TH_LOG("bpftrace said: %s", out);
	EXPECT_EQ(X_PINS, bpftrace_value(out, "@pins"));
	EXPECT_EQ(X_PUBLISHES, bpftrace_value(out, "@publishes"));
	EXPECT_EQ(X_PUBLISHES * 8, bpftrace_value(out, "@bytes"));
	EXPECT_EQ(X_STALE, bpftrace_value(out, "@stale"));
	EXPECT_EQ(X_GRACE_WAITS, bpftrace_value(out, "@grace_waits"));
	EXPECT_EQ(X_EVICTIONS, bpftrace_value(out, "@evictions"));
	EXPECT_EQ(X_RECLAIMS, bpftrace_value(out, "@reclaims"));
	chan_close(&sync);
	chan_close(&c);
}

/* ---- without BPF --------------------------------------------------------- */

/* `mmsync stat --json` and mmsync_stat() after the workload: known state. */
TEST_F(obs, stat_json_matches_known_state)
{
	static char out[8192];
	char tool[PATH_MAX], *argv[6];
	MMSYNC_OPTS(mmsync_stats, st);
	static struct chan c;

	tool_path("mmsync", tool, sizeof(tool));
	if (access(tool, X_OK))
		SKIP(return, "tools/mmsync not built");
	chan_open(_metadata, &c, "stat");
	workload(_metadata, &c);
	ASSERT_EQ(0, mmsync_stat(c.name, &st));
	EXPECT_EQ(X_PUBLISHES, st.publishes);
	EXPECT_EQ(X_GRACE_WAITS, st.grace_waits);
	EXPECT_EQ(X_EVICTIONS, st.evictions);
	EXPECT_EQ(X_RECLAIMS, st.reclaims);
	EXPECT_EQ(5, st.gen);
	EXPECT_EQ(2, st.readers);
	EXPECT_EQ(1, st.pinned);

	argv[0] = tool;
	argv[1] = "stat";
	argv[2] = c.name;
	argv[3] = "--json";
	argv[4] = NULL;
	ASSERT_EQ(0, run(argv, out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_EQ(c.id, json_num(out, "chan_id"));
	EXPECT_EQ(5, json_num(out, "gen"));
	EXPECT_EQ(X_PUBLISHES, json_num(out, "publishes"));
	EXPECT_EQ(X_GRACE_WAITS, json_num(out, "grace_waits"));
	EXPECT_EQ(X_EVICTIONS, json_num(out, "evictions"));
	EXPECT_EQ(X_RECLAIMS, json_num(out, "reclaims"));
	EXPECT_EQ(0, json_num(out, "refusals"));
	EXPECT_EQ(1, json_num(out, "writer_opens"));
	EXPECT_EQ(getpid(), (pid_t)json_num(out, "writer_pid"));
	EXPECT_NE(NULL, strstr(out, "\"writer_alive\":true"));
	EXPECT_EQ(256, json_num(out, "max_readers"));
	EXPECT_EQ(2, json_num(out, "readers"));
	EXPECT_EQ(1, json_num(out, "pinned"));
	EXPECT_EQ(0, json_num(out, "dead"));
	EXPECT_EQ(0, json_num(out, "max_lag"));
	EXPECT_LE(GRACE_NS, (int64_t)json_num(out, "waited_ns"));
	EXPECT_NE(NULL, strstr(out, "{\"gen\":4,\"size\":8,"));
	EXPECT_NE(NULL, strstr(out, "{\"gen\":5,\"size\":8,"));

	/* Read-only: looking took no reader entry and changed nothing. */
	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	ASSERT_EQ(0, mmsync_stat(c.name, &st));
	EXPECT_EQ(2, st.readers);
	ASSERT_EQ(0, mmsync_read_end(c.a, &c.va));
	chan_close(&c);
}

struct seen {
	int n, dead, alive, stuck_pid;
	uint64_t dead_pin;
};

static int note_reader(const struct mmsync_reader_info *ri, void *arg)
{
	struct seen *s = arg;

	s->n++;
	if (ri->alive == 0) {
		s->dead++;
		s->dead_pin = ri->pinned_gen | (ri->evicted ? 1ull << 63 : 0);
	} else if (ri->alive == 1) {
		s->alive++;
	}
	return 0;
}

/*
 * `mmsync readers` names the reader that holds the writer up: the live one
 * whose view is a generation old, by pid and comm. The dead reader that
 * died pinned is listed as dead, not stuck: the writer does not wait for
 * it (its entry has no write lock).
 */
TEST_F(obs, readers_name_the_stuck_reader)
{
	static char out[8192];
	char tool[PATH_MAX], *argv[6], line[256];
	struct mmsync_view v;
	struct seen s = { 0 };
	static struct chan c;
	const char *p;

	tool_path("mmsync", tool, sizeof(tool));
	if (access(tool, X_OK))
		SKIP(return, "tools/mmsync not built");
	chan_open(_metadata, &c, "stuck");
	ASSERT_EQ(0, mmsync_publish(c.w, "1", 1, NULL));
	die_pinned(_metadata, c.name);
	ASSERT_EQ(0, mmsync_read_begin(c.b, &v)); /* gen 1 */
	ASSERT_EQ(0, mmsync_publish(c.w, "2", 1, NULL)); /* b: lag 1 */

	ASSERT_EQ(3, mmsync_foreach_reader(c.name, note_reader, &s));
	EXPECT_EQ(2, s.alive);
	EXPECT_EQ(1, s.dead);
	EXPECT_EQ(1, s.dead_pin); /* not reclaimed yet */

	argv[0] = tool;
	argv[1] = "readers";
	argv[2] = c.name;
	argv[3] = NULL;
	ASSERT_EQ(0, run(argv, out, sizeof(out)));
	TH_LOG("\n%s", out);
	/* Stuck ones first: b, pinning gen 1; the dead one is not. */
	p = strchr(out, '\n');
	ASSERT_NE(NULL, p);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
	EXPECT_NE(NULL, strstr(line, "stuck"));
	snprintf(line, sizeof(line), " %d ", (int)getpid());
	EXPECT_NE(NULL, strstr(out, line));
	EXPECT_EQ(1, count_str(out, "<- stuck"));
	EXPECT_EQ(1, count_str(out, " dead "));

	argv[3] = "--json";
	argv[4] = NULL;
	ASSERT_EQ(0, run(argv, out, sizeof(out)));
	EXPECT_EQ(1, count_str(out, "\"stuck\":true"));
	EXPECT_EQ(1, count_str(out, "\"alive\":false"));
	EXPECT_EQ(2, count_str(out, "\"lag\":1,"));

	ASSERT_EQ(0, mmsync_read_end(c.b, &v));
	chan_close(&c);
}

/* The library carries every probe, each with a semaphore. */
TEST_F(obs, library_has_every_probe)
{
	static const char *const probes[] = {
		"pin",		 "unpin",     "publish_begin", "publish_end",
		"grace_begin",	 "grace_end", "reclaim",       "evict",
		"csum_mismatch", "remap",
	};
	static char out[16384];
	char tool[PATH_MAX], lib[PATH_MAX], pat[64], *argv[6];
	unsigned int i;

	tool_path("mmsync-trace", tool, sizeof(tool));
	if (access(tool, X_OK))
		SKIP(return, "mmsync-trace not built (no kernel BTF or clang)");
	tool_path("../libmmsync.so", lib, sizeof(lib));
	argv[0] = tool;
	argv[1] = "--list";
	argv[2] = "--json";
	argv[3] = "--binary";
	argv[4] = lib;
	argv[5] = NULL;
	ASSERT_EQ(0, run(argv, out, sizeof(out)));
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		snprintf(pat, sizeof(pat), "{\"probe\":\"%s\",", probes[i]);
		EXPECT_NE(NULL, strstr(out, pat))
		TH_LOG("no probe %s", probes[i]);
	}
	EXPECT_EQ(0, count_str(out, "\"sema_off\":0,"));
	EXPECT_EQ(0, count_str(out, "\"traceable\":false"));
}

TEST_HARNESS_MAIN
