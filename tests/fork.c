// SPDX-License-Identifier: MIT
/*
 * fork.c - handles across fork() (no exec), and lock holders that prove
 * nothing.
 *
 * A child forked by a reader must never keep its parent's entry alive: the
 * parent SIGKILLed while pinned, the writer reclaims at once although the
 * child (which shares the parent's open file descriptions) lives on. The
 * child may go on reading through its inherited handle, with an entry of
 * its own. A writer's child keeps neither the writer lock nor the channel
 * and cannot publish. And a read lock, which anyone who may read the table
 * can take, never makes a dead reader look alive nor keeps a writer out.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define LONG_GRACE 10000000000ll
#define QUICK_NS 500000000ull /* "at once", with room for a loaded VM */
#define NOBODY 65534

/* The parts of a fixture the helpers below use. */
#define FIXTURE_FIELDS           \
	struct tdir dir;         \
	char name[256];          \
	struct mmsync_writer *w; \
	int pid, child_pid;      \
	int ready[2], go[2]

struct fx {
	FIXTURE_FIELDS;
};

static int fx_setup(struct fx *f, const struct mmsync_writer_opts *o)
{
	f->pid = f->child_pid = -1;
	if (tdir_make(&f->dir))
		return -1;
	tdir_chan(&f->dir, "f", f->name, sizeof(f->name));
	if (mmsync_writer_open(f->name, o, &f->w) ||
	    mmsync_publish(f->w, "one", 4, NULL) ||
	    pipe2(f->ready, O_CLOEXEC) || pipe2(f->go, O_CLOEXEC))
		return -1;
	return 0;
}

static void fx_teardown(struct fx *f)
{
	if (f->child_pid > 0)
		kill(f->child_pid, SIGKILL);
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		reap(f->pid);
	}
	mmsync_writer_close(f->w);
	tdir_remove(&f->dir);
}

FIXTURE(fk)
{
	struct fx f;
};

FIXTURE_VARIANT(fk)
{
	uint32_t backing;
};

FIXTURE_VARIANT_ADD(fk, files){
	.backing = MMSYNC_BACKING_FILES,
};

FIXTURE_VARIANT_ADD(fk, memfd){
	.backing = MMSYNC_BACKING_MEMFD,
};

FIXTURE_SETUP(fk)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = LONG_GRACE,
		    .backing = variant->backing,
		    .fence_mode = MMSYNC_FENCE_XCHG);

	ASSERT_EQ(0, fx_setup(&self->f, &o));
}

FIXTURE_TEARDOWN(fk)
{
	fx_teardown(&self->f);
}

struct serve_arg {
	struct mmsync_writer *w;
};

static void *serve_thread(void *arg)
{
	struct serve_arg *a = arg;

	mmsync_writer_serve(a->w, 2000000000);
	return NULL;
}

/* Open a reader in this process, serving a memfd channel's handoff. */
static int open_served(struct mmsync_writer *w, const char *name,
		       struct mmsync_reader **r)
{
	struct serve_arg a = { w };
	pthread_t th;
	int err;

	if (pthread_create(&th, NULL, serve_thread, &a))
		return -EAGAIN;
	err = mmsync_reader_open(name, NULL, r);
	pthread_join(th, NULL);
	return err;
}

struct pinner {
	const char *name;
	int ready_fd; /* gets 'k' (or 'x') and the child's pid */
	int go_fd; /* the child waits on this */
	bool child_reads; /* the child reads through the inherited handle */
};

/*
 * Open a reader, pin a view, fork a child that lives on (reading through
 * the inherited handle if asked), tell the test, then wait to be killed.
 * The test process serves a memfd channel's handoff meanwhile.
 */
static int pinner_main(void *arg)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .handoff_timeout_ns = 5000000000);
	struct pinner *p = arg;
	char c, msg[1 + sizeof(int)];
	struct mmsync_reader *r;
	struct mmsync_view v;
	int child, ok, cp[2];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mmsync_reader_open(p->name, &ro, &r) || mmsync_read_begin(r, &v))
		return 10;
	if (pipe(cp))
		return 12;
	child = fork();
	if (child == 0) {
		/* Outlives the pinner on purpose, but not a failed test. */
		alarm(60);
		ok = 1;
		if (p->child_reads) {
			/* The view opened before fork ends as usual... */
			ok = mmsync_read_end(r, &v) == 0;
			/* ...and new ones work, with an entry of our own. */
			ok = ok && mmsync_read_begin(r, &v) == 0 &&
			     v.gen == 1 && mmsync_read_end(r, &v) == 0;
		}
		if (write(cp[1], ok ? "k" : "x", 1) != 1)
			_exit(1);
		/* Live on, holding copies of every descriptor. */
		if (read(p->go_fd, &c, 1) < 0)
			_exit(2);
		if (p->child_reads)
			ok = mmsync_read_begin(r, &v) == 0 && v.gen == 3 &&
			     mmsync_read_end(r, &v) == 0;
		mmsync_reader_close(r);
		if (write(p->ready_fd, ok ? "k" : "x", 1) != 1)
			_exit(4);
		_exit(ok ? 0 : 3);
	}
	/* The child's word, then its pid, in one write. */
	if (read(cp[0], msg, 1) != 1)
		return 13;
	memcpy(msg + 1, &child, sizeof(child));
	if (write(p->ready_fd, msg, sizeof(msg)) != sizeof(msg))
		return 11;
	pause();
	return 0;
}

/* Read @len bytes of @fd, serving a memfd channel's handoff meanwhile. */
static void serve_until_read(struct mmsync_writer *w, int fd, void *buf,
			     size_t len)
{
	struct stat st;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (read(fd, buf, len) <= 0) {
		if (fstat(fd, &st))
			break;
		mmsync_writer_serve(w, 1000000);
	}
	fcntl(fd, F_SETFL, 0);
}

/* Start the pinner; returns with its child's pid known. */
static int start_pinner(struct fx *self, struct pinner *p)
{
	char c = 0;

	self->pid = spawn(pinner_main, p);
	if (self->pid < 0)
		return -1;
	serve_until_read(self->w, self->ready[0], &c, 1);
	if (c != 'k')
		return -2;
	if (read(self->ready[0], &self->child_pid, sizeof(int)) != sizeof(int))
		return -3;
	return 0;
}

/* SIGKILL the pinner, then publish twice: gen 3 reuses its slot. */
static uint64_t kill_and_publish(struct fx *self,
				 struct mmsync_publish_info *info)
{
	uint64_t t0;

	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		reap(self->pid);
		self->pid = -1;
	}
	t0 = now_ns();
	if (mmsync_publish(self->w, "two", 4, NULL) ||
	    mmsync_publish(self->w, "three", 6, info))
		return ~0ull;
	return now_ns() - t0;
}

TEST_F(fk, child_does_not_keep_parent_entry)
{
	struct fx *f = &self->f;
	struct pinner p = { f->name, f->ready[1], f->go[0], false };
	struct mmsync_publish_info info;
	char c;

	ASSERT_EQ(0, start_pinner(f, &p));
	/* The pinner dies; its child lives on with copies of its fds. */
	EXPECT_GT(QUICK_NS, kill_and_publish(f, &info));
	EXPECT_EQ(1, info.reclaimed);
	EXPECT_EQ(0, info.evicted);
	ASSERT_EQ(1, write(f->go[1], "g", 1));
	ASSERT_EQ(1, read(f->ready[0], &c, 1));
	EXPECT_EQ('k', c);
	f->child_pid = -1;
}

TEST_F(fk, child_reads_with_an_entry_of_its_own)
{
	struct fx *f = &self->f;
	struct pinner p = { f->name, f->ready[1], f->go[0], true };
	struct mmsync_publish_info info;
	char c;

	ASSERT_EQ(0, start_pinner(f, &p));
	/* The child's view of gen 1 ended, its own entry holds nothing. */
	EXPECT_GT(QUICK_NS, kill_and_publish(f, &info));
	EXPECT_EQ(1, info.reclaimed);
	/* The child still reads, and sees generation 3. */
	ASSERT_EQ(1, write(f->go[1], "g", 1));
	ASSERT_EQ(1, read(f->ready[0], &c, 1));
	EXPECT_EQ('k', c);
	f->child_pid = -1;
}

/* A writer's child: no publish, no lock, no channel kept alive. */
TEST_F(fk, writer_child_holds_nothing)
{
	struct fx *f = &self->f;
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = variant->backing,
		    .fence_mode = MMSYNC_FENCE_XCHG);
	struct mmsync_reader *r = NULL;
	struct mmsync_writer *w2;
	void *ptr;
	int child, sv[2], ok;
	char c;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	/* A reader of the channel, to see whether it ends. */
	ASSERT_EQ(0, open_served(f->w, f->name, &r));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		ok = mmsync_publish(f->w, "no", 3, NULL) == -EBADFD &&
		     mmsync_reserve(f->w, 8, &ptr) == -EBADFD &&
		     mmsync_writer_serve(f->w, 0) == -EBADFD;
		if (write(sv[1], ok ? "k" : "x", 1) != 1)
			_exit(1);
		/* Live on until the test is done with the parent's handle. */
		if (read(sv[1], &c, 1) < 0)
			_exit(2);
		mmsync_writer_close(f->w);
		_exit(0);
	}
	ASSERT_EQ(1, read(sv[0], &c, 1));
	EXPECT_EQ('k', c);
	/* The parent still publishes; then it closes its writer. */
	ASSERT_EQ(0, mmsync_publish(f->w, "two", 4, NULL));
	mmsync_writer_close(f->w);
	f->w = NULL;
	/*
	 * With the child alive, the channel is over: memfd readers are told
	 * (-EPIPE); and a new writer takes the name at once.
	 */
	if (variant->backing == MMSYNC_BACKING_MEMFD) {
		EXPECT_EQ(-EPIPE, mmsync_wait(r, 2, 0));
	} else {
		EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 2, 0));
	}
	mmsync_reader_close(r);
	ASSERT_EQ(0, mmsync_writer_open(f->name, &o, &w2));
	if (variant->backing == MMSYNC_BACKING_FILES)
		EXPECT_EQ(2, mmsync_writer_gen(w2));
	mmsync_writer_close(w2);
	ASSERT_EQ(1, write(sv[0], "g", 1));
	EXPECT_EQ(0, reap(child));
	close(sv[0]);
	close(sv[1]);
}

/*
 * A process that may only read the table read-locks all of it (a dead
 * reader's entry byte included) and all of the state: the writer still
 * reclaims at once, and a new writer still gets in.
 */
static int read_locker_main(void *arg)
{
	struct pinner *p = arg;
	struct flock fl = { .l_type = F_RDLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 0,
			    .l_len = 0 };
	char path[300];
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 100;
	/* A change of credentials clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(path, sizeof(path), "%s_readers", p->name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 101;
	if (fcntl(fd, F_OFD_SETLK, &fl))
		return 102;
	/* The state: all of it but byte 0, which the live writer holds... */
	snprintf(path, sizeof(path), "%s_state", p->name);
	fd = open(path, O_RDONLY);
	fl.l_start = 1;
	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl))
		return 103;
	if (write(p->ready_fd, "k", 1) != 1)
		return 104;
	/* ...and byte 0 too, as soon as the writer is gone. */
	fl.l_start = 0;
	fl.l_len = 1;
	while (fcntl(fd, F_OFD_SETLK, &fl))
		usleep(1000);
	if (write(p->ready_fd, "k", 1) != 1)
		return 105;
	pause();
	return 0;
}

/*
 * Files only: a process that may only read opens the files by name (a
 * memfd channel's table comes only with a handoff, read-write).
 */
FIXTURE(rl)
{
	struct fx f;
};

FIXTURE_SETUP(rl)
{
	/* A channel others may read (the table only readable here). */
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = LONG_GRACE,
		    .state_mode = 0644, .data_mode = 0644, .table_mode = 0644,
		    .fence_mode = MMSYNC_FENCE_XCHG);

	self->f.pid = self->f.child_pid = -1;
	self->f.w = NULL;
	self->f.dir.path[0] = '\0';
	if (geteuid() != 0)
		SKIP(return, "needs root, to run the lock holder as nobody");
	ASSERT_EQ(0, fx_setup(&self->f, &o));
	ASSERT_EQ(0, chmod(self->f.dir.path, 0711));
}

FIXTURE_TEARDOWN(rl)
{
	fx_teardown(&self->f);
}

TEST_F(rl, read_locks_prove_nothing)
{
	struct fx *f = &self->f;
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = LONG_GRACE,
		    .state_mode = 0644, .data_mode = 0644, .table_mode = 0644,
		    .fence_mode = MMSYNC_FENCE_XCHG);
	struct pinner p = { f->name, f->ready[1], f->go[0], false };
	struct mmsync_stats st = { .sz = sizeof(st) };
	struct mmsync_publish_info info;
	struct mmsync_writer *w2;
	int locker;
	char c;

	(void)o;
	ASSERT_EQ(0, start_pinner(f, &p));
	/* Both dead first: their write lock would stop the read locks. */
	kill(f->child_pid, SIGKILL);
	f->child_pid = -1;
	kill(f->pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(f->pid));
	f->pid = -1;
	usleep(100000); /* the child is not ours to reap: let it go */
	locker = spawn(read_locker_main, &p);
	ASSERT_LT(0, locker);
	ASSERT_EQ(1, read(f->ready[0], &c, 1));
	ASSERT_EQ('k', c);
	EXPECT_GT(QUICK_NS, kill_and_publish(f, &info));
	EXPECT_EQ(1, info.reclaimed);
	/* Nor do they keep a new writer out: the writer lock is elsewhere. */
	mmsync_writer_close(f->w);
	f->w = NULL;
	ASSERT_EQ(1, read(f->ready[0], &c, 1));
	ASSERT_EQ('k', c);
	ASSERT_EQ(0, mmsync_writer_open(f->name, &o, &w2));
	EXPECT_EQ(3, mmsync_writer_gen(w2));
	ASSERT_EQ(0, mmsync_publish(w2, "four", 5, NULL));
	/* All the read lock on byte 0 can do: hide the "alive" advert. */
	ASSERT_EQ(0, mmsync_stat(f->name, &st));
	EXPECT_EQ(4, st.gen);
	EXPECT_EQ(0, st.writer_alive);
	mmsync_writer_close(w2);
	kill(locker, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(locker));
}

TEST_HARNESS_MAIN
