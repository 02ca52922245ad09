// SPDX-License-Identifier: MIT
/*
 * notify.c - being told that a new snapshot exists (lib/notify.c).
 *
 * The notification descriptor with poll() and epoll on every backing; no
 * lost wake-up over 10,000 publish/wait rounds with random timing, through
 * the descriptor and through a blocking mmsync_wait(); 64 handles in 8
 * processes all woken by one publish; the kernel's inotify limits
 * exhausted (in a user namespace of their own): mmsync_reader_fd() says
 * why and mmsync_wait() falls back to polling and still keeps its
 * timeout; a writer that dies while readers wait; a publish nobody waits
 * for makes no syscall for them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"
#include "layout.h"

#define MS 1000000ll

FIXTURE(nt)
{
	struct tdir dir;
	char name[256];
	struct mmsync_writer *w;
};

FIXTURE_VARIANT(nt)
{
	uint32_t backing;
};

FIXTURE_VARIANT_ADD(nt, files){
	.backing = MMSYNC_BACKING_FILES,
};

FIXTURE_VARIANT_ADD(nt, memfd){
	.backing = MMSYNC_BACKING_MEMFD,
};

FIXTURE_SETUP(nt)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = variant->backing,
		    .grace_ns = 100 * MS);

	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "n", self->name, sizeof(self->name));
	ASSERT_EQ(0, mmsync_writer_open(self->name, &o, &self->w));
	ASSERT_EQ(0, mmsync_publish(self->w, "1", 1, NULL));
}

FIXTURE_TEARDOWN(nt)
{
	mmsync_writer_close(self->w);
	tdir_remove(&self->dir);
}

struct serve_arg {
	struct mmsync_writer *w;
	int n; /* readers to serve */
};

static void *serve_thread(void *arg)
{
	struct serve_arg *a = arg;
	int served = 0, k;

	for (k = 0; k < 100 && served < a->n; k++) {
		int ret = mmsync_writer_serve(a->w, 50 * MS);

		if (ret > 0)
			served += ret;
		if (ret == -EOPNOTSUPP)
			break;
	}
	return NULL;
}

/* Open a reader in this process, serving a memfd channel's handoff. */
static int open_served(struct mmsync_writer *w, const char *name,
		       const struct mmsync_reader_opts *o,
		       struct mmsync_reader **r)
{
	struct serve_arg a = { w, 1 };
	pthread_t th;
	int err;

	if (pthread_create(&th, NULL, serve_thread, &a))
		return -EAGAIN;
	err = mmsync_reader_open(name, o, r);
	pthread_join(th, NULL);
	return err;
}

/* Is @fd readable within @ms? */
static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

TEST_F(nt, fd_with_poll)
{
	struct mmsync_reader *r;
	int fd, fd2;

	ASSERT_EQ(0, open_served(self->w, self->name, NULL, &r));
	fd = mmsync_reader_fd(r);
	ASSERT_LE(0, fd);
	/* Owned by the handle: the same one each time, close-on-exec. */
	fd2 = mmsync_reader_fd(r);
	EXPECT_EQ(fd, fd2);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Nothing new: not readable once consumed. */
	EXPECT_EQ(0, mmsync_wait(r, 0, 0));
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 1, 0));
	EXPECT_FALSE(readable(fd, 50));
	/* A publish makes it readable; consuming makes it quiet again. */
	ASSERT_EQ(0, mmsync_publish(self->w, "2", 1, NULL));
	EXPECT_TRUE(readable(fd, 2000));
	EXPECT_EQ(0, mmsync_wait(r, 1, 0));
	EXPECT_FALSE(readable(fd, 50));
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 2, 0));
	/* ... and readable again with every publish. */
	ASSERT_EQ(0, mmsync_publish(self->w, "3", 1, NULL));
	EXPECT_TRUE(readable(fd, 2000));
	EXPECT_EQ(0, mmsync_wait(r, 2, 0));
	mmsync_reader_close(r);
	/* Closed with its handle. */
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
}

TEST_F(nt, fd_with_epoll)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct mmsync_reader *r;
	int ep, fd, i;

	ASSERT_EQ(0, open_served(self->w, self->name, NULL, &r));
	fd = mmsync_reader_fd(r);
	ASSERT_LE(0, fd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 1, 0));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 20));
	for (i = 2; i < 10; i++) {
		ASSERT_EQ(0, mmsync_publish(self->w, "x", 1, NULL));
		ASSERT_EQ(1, epoll_wait(ep, &out, 1, 2000));
		EXPECT_EQ(0, mmsync_wait(r, (uint64_t)i - 1, 0));
		EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, (uint64_t)i, 0));
		EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	}
	close(ep);
	mmsync_reader_close(r);
}

/* ---- No lost wake-up -------------------------------------------------- */

#define ROUNDS 10000
#define LOST_NS (500 * MS) /* a wake-up that late came from a timeout */

struct pingpong {
	uint64_t ack; /* the reader has seen this generation */
	uint64_t lost; /* wake-ups that never came */
	uint64_t slow; /* wake-ups later than 100 ms */
	uint64_t max_ns;
	uint64_t pub_ns; /* when the writer published the awaited one */
	int fd_mode;
	char name[256];
};

/*
 * Wait for each generation in turn, through the descriptor (poll, then
 * consume) or a blocking mmsync_wait(); tell the writer what it saw.
 */
static int waiter_main(void *arg)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .handoff_timeout_ns = 5000 * MS);
	struct pingpong *pp = arg;
	struct mmsync_reader *r;
	uint64_t g = 1, dt;
	int fd = -1, k;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mmsync_reader_open(pp->name, &ro, &r))
		return 10;
	if (pp->fd_mode) {
		fd = mmsync_reader_fd(r);
		if (fd < 0)
			return 11;
	}
	__atomic_store_n(&pp->ack, g, __ATOMIC_SEQ_CST);
	for (k = 0; k < ROUNDS; k++) {
		if (pp->fd_mode) {
			/* Consume; if nothing new, sleep on the descriptor. */
			while (mmsync_wait(r, g, 0) == -ETIMEDOUT)
				if (!readable(fd, 3000))
					break;
			if (mmsync_wait(r, g, 0)) {
				pp->lost++;
				return 12;
			}
		} else if (mmsync_wait(r, g, 3000 * MS)) {
			pp->lost++;
			return 13;
		}
		dt = now_ns() - __atomic_load_n(&pp->pub_ns, __ATOMIC_SEQ_CST);
		if (dt > (uint64_t)(100 * MS))
			pp->slow++;
		/*
		 * Woken only by a timeout (the poll's, or mmsync_wait()'s
		 * once-a-second look): the notification was lost.
		 */
		if (dt > (uint64_t)(LOST_NS))
			pp->lost++;
		if (dt > pp->max_ns)
			pp->max_ns = dt;
		g = mmsync_reader_gen(r);
		__atomic_store_n(&pp->ack, g, __ATOMIC_SEQ_CST);
	}
	mmsync_reader_close(r);
	return 0;
}

static void pingpong(struct __test_metadata *_metadata,
		     struct _test_data_nt *self, int fd_mode)
{
	struct pingpong *pp;
	uint64_t s = 42, g, t0;
	int pid, k, spin;

	pp = mmap(NULL, sizeof(*pp), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pp);
	memset(pp, 0, sizeof(*pp));
	pp->fd_mode = fd_mode;
	strcpy(pp->name, self->name);
	pid = spawn(waiter_main, pp);
	ASSERT_LT(0, pid);
	while (!__atomic_load_n(&pp->ack, __ATOMIC_SEQ_CST)) {
		mmsync_writer_serve(self->w, MS);
		ASSERT_EQ(0, reap_nohang(pid));
	}
	for (k = 0; k < ROUNDS; k++) {
		g = mmsync_writer_gen(self->w);
		t0 = now_ns();
		while (__atomic_load_n(&pp->ack, __ATOMIC_SEQ_CST) < g) {
			ASSERT_GT(5000ull * MS, now_ns() - t0)
			TH_LOG("round %d: the waiter did not see %llu", k,
			       (unsigned long long)g);
			if (now_ns() - t0 > 1000000)
				usleep(50);
		}
		/* Publish at a random moment of the waiter's arming. */
		spin = (int)(xorshift64(&s) % 4000);
		while (spin-- > 0)
			__asm__ __volatile__("" ::: "memory");
		if (xorshift64(&s) % 8 == 0)
			usleep((useconds_t)(xorshift64(&s) % 200));
		__atomic_store_n(&pp->pub_ns, now_ns(), __ATOMIC_SEQ_CST);
		ASSERT_EQ(0, mmsync_publish(self->w, "p", 1, NULL));
	}
	EXPECT_EQ(0, reap(pid));
	TH_LOG("%d rounds (%s): %llu lost (later than 500 ms), %llu later "
	       "than 100 ms, slowest "
	       "%.2f ms",
	       ROUNDS, fd_mode ? "descriptor" : "blocking wait",
	       (unsigned long long)pp->lost, (unsigned long long)pp->slow,
	       pp->max_ns / 1e6);
	EXPECT_EQ(0, pp->lost);
	munmap(pp, sizeof(*pp));
}

TEST_F_TIMEOUT(nt, no_lost_wakeup_fd, 300)
{
	pingpong(_metadata, self, 1);
}

TEST_F_TIMEOUT(nt, no_lost_wakeup_wait, 300)
{
	pingpong(_metadata, self, 0);
}

/* ---- Many waiters ----------------------------------------------------- */

#define PROCS 8
#define HANDLES 8

struct crowd {
	int ready; /* handles armed */
	int woken; /* handles woken */
	uint64_t pub_ns;
	uint64_t max_ns;
	int fallbacks; /* handles that had no descriptor */
	char name[256];
};

/* One process: HANDLES handles, their descriptors in one epoll. */
static int crowd_main(void *arg)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .handoff_timeout_ns = 10000 * MS);
	struct epoll_event ev = { .events = EPOLLIN }, out[HANDLES];
	struct mmsync_reader *r[HANDLES];
	struct crowd *c = arg;
	int ep, i, n, left = HANDLES, fd;
	uint64_t dt;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (i = 0; i < HANDLES; i++) {
		if (mmsync_reader_open(c->name, &ro, &r[i]))
			return 10;
		fd = mmsync_reader_fd(r[i]);
		if (fd < 0) {
			__atomic_fetch_add(&c->fallbacks, 1, __ATOMIC_SEQ_CST);
			return 11;
		}
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			return 12;
		if (mmsync_wait(r[i], 1, 0) != -ETIMEDOUT)
			return 13;
		__atomic_fetch_add(&c->ready, 1, __ATOMIC_SEQ_CST);
	}
	while (left > 0) {
		n = epoll_wait(ep, out, HANDLES, 5000);
		if (n <= 0)
			return 14;
		dt = now_ns() - __atomic_load_n(&c->pub_ns, __ATOMIC_SEQ_CST);
		for (i = 0; i < n; i++) {
			if (mmsync_wait(r[out[i].data.u32], 1, 0))
				return 15;
			epoll_ctl(ep, EPOLL_CTL_DEL,
				  mmsync_reader_fd(r[out[i].data.u32]), NULL);
			left--;
			__atomic_fetch_add(&c->woken, 1, __ATOMIC_SEQ_CST);
		}
		if (dt > __atomic_load_n(&c->max_ns, __ATOMIC_SEQ_CST))
			__atomic_store_n(&c->max_ns, dt, __ATOMIC_SEQ_CST);
	}
	for (i = 0; i < HANDLES; i++)
		mmsync_reader_close(r[i]);
	return 0;
}

TEST_F_TIMEOUT(nt, many_waiters_woken_by_one_publish, 120)
{
	struct mmsync_stats st = { .sz = sizeof(st) };
	int pid[PROCS], i;
	struct crowd *c;
	uint64_t t0;

	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c);
	memset(c, 0, sizeof(*c));
	strcpy(c->name, self->name);
	for (i = 0; i < PROCS; i++) {
		pid[i] = spawn(crowd_main, c);
		ASSERT_LT(0, pid[i]);
	}
	t0 = now_ns();
	while (__atomic_load_n(&c->ready, __ATOMIC_SEQ_CST) < PROCS * HANDLES) {
		mmsync_writer_serve(self->w, MS);
		ASSERT_EQ(0, c->fallbacks)
		TH_LOG("no inotify instance left for every handle");
		ASSERT_GT(30000ull * MS, now_ns() - t0);
	}
	__atomic_store_n(&c->pub_ns, now_ns(), __ATOMIC_SEQ_CST);
	ASSERT_EQ(0, mmsync_publish(self->w, "all", 3, NULL));
	for (i = 0; i < PROCS; i++)
		EXPECT_EQ(0, reap(pid[i]));
	EXPECT_EQ(PROCS * HANDLES, c->woken);
	TH_LOG("%d handles in %d processes woken by one publish; the last "
	       "after %.2f ms",
	       PROCS * HANDLES, PROCS, c->max_ns / 1e6);
	if (variant->backing == MMSYNC_BACKING_FILES) {
		/* One notifying syscall for all of them. */
		ASSERT_EQ(0, mmsync_stat(self->name, &st));
		EXPECT_EQ(1, st.notifies);
	}
	munmap(c, sizeof(*c));
}

/* ---- The writer dies while readers wait ------------------------------- */

static int dying_writer_main(void *arg)
{
	const char *name = arg;
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = 100 * MS);
	struct mmsync_writer *w;

	if (mmsync_writer_open(name, &o, &w) || mmsync_publish(w, "1", 1, NULL))
		return 10;
	pause();
	return 0;
}

static void *publish_later(void *arg)
{
	usleep(100000);
	mmsync_publish(arg, "2", 1, NULL);
	return NULL;
}

TEST(writer_dies_while_readers_wait)
{
	pthread_t th;
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = 100 * MS);
	struct mmsync_reader *r;
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;
	uint64_t t0, dt;
	int pid, i;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "d", name, sizeof(name));
	pid = spawn(dying_writer_main, name);
	ASSERT_LT(0, pid);
	for (i = 0; i < 2000 && mmsync_reader_open(name, NULL, &r); i++)
		usleep(1000);
	ASSERT_GT(2000, i);
	while (mmsync_reader_gen(r) < 1)
		usleep(1000);
	kill(pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(pid));
	/* Nothing is published: the wait keeps its timeout, no more. */
	t0 = now_ns();
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 1, 300 * MS));
	dt = now_ns() - t0;
	EXPECT_LE(300 * MS, (int64_t)dt);
	EXPECT_GT(600 * MS, (int64_t)dt);
	/* A new writer's publish wakes a reader that waits. */
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, pthread_create(&th, NULL, publish_later, w));
	t0 = now_ns();
	EXPECT_EQ(0, mmsync_wait(r, 1, 3000 * MS));
	dt = now_ns() - t0;
	/* Woken by the publish, not by the once-a-second look. */
	EXPECT_GT(800 * MS, (int64_t)dt);
	pthread_join(th, NULL);
	mmsync_writer_close(w);
	mmsync_reader_close(r);
	tdir_remove(&d);
}

/* A memfd channel's waiters hear at once that its writer is gone. */
TEST(memfd_writer_gone_wakes_waiters)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD);
	struct mmsync_reader *r;
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;
	uint64_t t0, dt;
	int pid, err;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "g", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, mmsync_publish(w, "1", 1, NULL));
	ASSERT_EQ(0, open_served(w, name, NULL, &r));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		t0 = now_ns();
		err = mmsync_wait(r, 1, 5000 * MS);
		dt = now_ns() - t0;
		if (err != -EPIPE)
			_exit(2);
		_exit(dt < (uint64_t)(800 * MS) ? 0 : 1);
	}
	usleep(100000);
	mmsync_writer_close(w);
	EXPECT_EQ(0, reap(pid));
	mmsync_reader_close(r);
	tdir_remove(&d);
}

/* ---- A forged pin in a waiter's entry ---------------------------------- */

struct waiting {
	struct mmsync_reader *r;
	uint64_t after;
	int ret;
};

static void *wait_thread(void *arg)
{
	struct waiting *wt = arg;

	wt->ret = mmsync_wait(wt->r, wt->after, 10000 * MS);
	return NULL;
}

/*
 * Someone with the readers' permissions writes a blocking pin into the
 * entry of a reader that sleeps in mmsync_wait() (a hostile process, or
 * one that restores a pin it cleared). The writer, whose grace period is
 * 3 s, pokes the waiter; the waiter clears the pin it never wrote; the
 * publish is done at once, nobody is evicted. (Without the poke or the
 * clearing the publish takes the whole grace period.)
 */
TEST(forged_pin_of_a_waiter_is_cleared)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = 3000 * MS);
	struct mmsync_publish_info info;
	struct mmsync_reader *r;
	struct mmsync_writer *w;
	struct mmsync_entry *e = NULL;
	struct waiting wt;
	char name[256], path[300];
	struct stat sb;
	pthread_t th;
	uint32_t i, n;
	uint64_t t0, dt;
	struct tdir d;
	void *tab;
	int fd;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "f", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, mmsync_publish(w, "1", 1, NULL));
	ASSERT_EQ(0, mmsync_publish(w, "2", 1, NULL));
	ASSERT_EQ(0, mmsync_reader_open(name, NULL, &r));
	snprintf(path, sizeof(path), "%s_readers", name);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &sb));
	tab = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, tab);
	n = (uint32_t)((sb.st_size - MMSYNC_TABLE_HDR) / MMSYNC_ENTRY_SIZE);
	for (i = 0; i < n && !e; i++) {
		e = mmsync_entry_at(tab, i);
		if (e->claimed != 1 || e->pid != (uint32_t)getpid())
			e = NULL;
	}
	ASSERT_NE(NULL, e);
	wt = (struct waiting){ .r = r, .after = 2, .ret = 1 };
	ASSERT_EQ(0, pthread_create(&th, NULL, wait_thread, &wt));
	for (i = 0; i < 1000 && !__atomic_load_n(&e->wait, __ATOMIC_SEQ_CST);
	     i++)
		usleep(1000);
	ASSERT_NE(0, e->wait);
	/* Generation 1 pinned: it blocks the publish of 3 (slot 1). */
	__atomic_store_n(&e->pin, 1, __ATOMIC_SEQ_CST);
	t0 = now_ns();
	ASSERT_EQ(0, mmsync_publish(w, "3", 1, &info));
	dt = now_ns() - t0;
	EXPECT_EQ(0, info.evicted);
	EXPECT_GT(500 * MS, (int64_t)dt)
	{
		TH_LOG("the publish took %.1f ms", dt / 1e6);
	}
	pthread_join(th, NULL);
	EXPECT_EQ(0, wt.ret);
	EXPECT_EQ(0, e->pin);
	munmap(tab, (size_t)sb.st_size);
	close(fd);
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	tdir_remove(&d);
}

/* ---- The inotify limits ----------------------------------------------- */

/*
 * In a user namespace of its own, with no inotify instance allowed: the
 * descriptor says why, and waits poll and keep their timeouts.
 */
static int no_inotify_main(void *arg)
{
	const char *name = arg;
	struct mmsync_reader *r;
	uint64_t t0, dt;
	char map[32];
	int fd, err;

	if (unshare(CLONE_NEWUSER))
		return 200;
	fd = open("/proc/self/uid_map", O_WRONLY);
	snprintf(map, sizeof(map), "0 0 1\n");
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		return 201;
	close(fd);
	fd = open("/proc/sys/user/max_inotify_instances", O_WRONLY);
	if (fd < 0 || write(fd, "0\n", 2) != 2)
		return 202;
	close(fd);
	if (mmsync_reader_open(name, NULL, &r))
		return 10;
	err = mmsync_reader_fd(r);
	if (err != -EMFILE)
		return 11;
	/* Polling: the timeout holds, and a publish is seen. */
	t0 = now_ns();
	if (mmsync_wait(r, 1, 100 * MS) != -ETIMEDOUT)
		return 12;
	dt = now_ns() - t0;
	if (dt < (uint64_t)(100 * MS) || dt > (uint64_t)(300 * MS))
		return 13;
	if (mmsync_wait(r, 1, 5000 * MS))
		return 14;
	mmsync_reader_close(r);
	return 0;
}

TEST(inotify_limits_fall_back_to_polling)
{
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;
	int pid, rc;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "l", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, NULL, &w));
	ASSERT_EQ(0, mmsync_publish(w, "1", 1, NULL));
	pid = spawn(no_inotify_main, name);
	ASSERT_LT(0, pid);
	usleep(300000);
	ASSERT_EQ(0, mmsync_publish(w, "2", 1, NULL));
	rc = reap(pid);
	mmsync_writer_close(w);
	tdir_remove(&d);
	if (rc >= 200 && rc < 210)
		SKIP(return,
			   "no user namespace with its own inotify limits "
			   "(step %d)",
			   rc);
	EXPECT_EQ(0, rc);
}

TEST(no_notify_flag)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .flags = MMSYNC_READ_NO_NOTIFY,
		    .poll_ns = MS);
	struct mmsync_reader *r;
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "q", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, NULL, &w));
	ASSERT_EQ(0, mmsync_reader_open(name, &ro, &r));
	EXPECT_EQ(-EOPNOTSUPP, mmsync_reader_fd(r));
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 0, 10 * MS));
	ASSERT_EQ(0, mmsync_publish(w, "1", 1, NULL));
	EXPECT_EQ(0, mmsync_wait(r, 0, 100 * MS));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	tdir_remove(&d);
}

/* Nobody waits: the publish makes no notifying syscall at all. */
TEST(publish_nobody_waits_for_is_silent)
{
	struct mmsync_stats st = { .sz = sizeof(st) };
	struct mmsync_reader *r;
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;
	int i, fd;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "s", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, NULL, &w));
	ASSERT_EQ(0, mmsync_reader_open(name, NULL, &r));
	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, mmsync_publish(w, "x", 1, NULL));
	ASSERT_EQ(0, mmsync_stat(name, &st));
	EXPECT_EQ(0, st.notifies);
	/* One descriptor handed out: every publish notifies. */
	fd = mmsync_reader_fd(r);
	ASSERT_LE(0, fd);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, mmsync_publish(w, "x", 1, NULL));
	ASSERT_EQ(0, mmsync_stat(name, &st));
	EXPECT_EQ(10, st.notifies);
	EXPECT_EQ(1, st.waiters);
	/* Closed: silent again. */
	mmsync_reader_close(r);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, mmsync_publish(w, "x", 1, NULL));
	ASSERT_EQ(0, mmsync_stat(name, &st));
	EXPECT_EQ(10, st.notifies);
	mmsync_writer_close(w);
	tdir_remove(&d);
}

TEST_HARNESS_MAIN
