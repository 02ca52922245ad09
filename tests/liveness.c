// SPDX-License-Identifier: MIT
/*
 * liveness.c - dead readers are reclaimed at once, live ones that outstay
 * the grace period are evicted (-ESTALE) or the publish is refused
 * (-ETIMEDOUT), and a writer killed in the middle of a publish leaves
 * readers on the previous snapshot.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define MS 1000000ull

FIXTURE(live)
{
	struct tdir dir;
	char name[256];
};

FENCE_MODE_VARIANTS(live);

FIXTURE_SETUP(live)
{
	if (fence_mode_unavailable(variant->fence_mode))
		SKIP(return, "%s", fence_mode_unavailable(variant->fence_mode));
	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "l", self->name, sizeof(self->name));
}

FIXTURE_TEARDOWN(live)
{
	tdir_remove(&self->dir);
}

static int open_writer(const char *name, uint32_t mode, int64_t grace,
		       uint32_t policy, struct mmsync_writer **w)
{
	MMSYNC_OPTS(mmsync_writer_opts, wo, .fence_mode = mode,
		    .grace_ns = grace, .grace_policy = policy);

	return mmsync_writer_open(name, &wo, w);
}

/* A child that pins: it writes its generation to ready[1]. */
struct pinner {
	const char *name;
	int ready[2]; /* child -> parent: the pinned generation */
	int go[2]; /* parent -> child: one byte, "end your view now" */
};

static int pin_and_announce(struct pinner *p, struct mmsync_reader **r,
			    struct mmsync_view *v)
{
	if (mmsync_reader_open(p->name, NULL, r) || mmsync_read_begin(*r, v))
		return -1;
	if (write(p->ready[1], &v->gen, sizeof(v->gen)) != sizeof(v->gen))
		return -1;
	return 0;
}

/* Pin the current generation, say so, then wait to be killed. */
static int pin_and_hang(void *arg)
{
	struct mmsync_reader *r;
	struct mmsync_view v;

	if (pin_and_announce(arg, &r, &v))
		return 1;
	for (;;)
		pause();
}

/* Pin, say so, wait for the go, then report what read_end says. */
static int pin_and_sleep(void *arg)
{
	struct pinner *p = arg;
	struct mmsync_reader *r;
	struct mmsync_view v;
	char c;

	if (pin_and_announce(p, &r, &v))
		return 1;
	if (read(p->go[0], &c, 1) != 1)
		return 1;
	return mmsync_read_end(r, &v) == -ESTALE ? 0 : 3;
}

TEST_F(live, sigkilled_reader_is_reclaimed_at_once)
{
	struct mmsync_publish_info info;
	struct pinner p = { .name = self->name };
	struct mmsync_writer *w;
	uint64_t gen, t0;
	int pid;

	ASSERT_EQ(0, open_writer(self->name, variant->fence_mode, 10000 * MS,
				 MMSYNC_GRACE_EVICT, &w));
	ASSERT_EQ(0, mmsync_publish(w, "one", 3, NULL));
	ASSERT_EQ(0, pipe(p.ready));
	pid = spawn(pin_and_hang, &p);
	ASSERT_EQ(sizeof(gen), read(p.ready[0], &gen, sizeof(gen)));
	EXPECT_EQ(1, gen);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, reap(pid));

	ASSERT_EQ(0, mmsync_publish(w, "two", 3, NULL));
	t0 = now_ns();
	/* Generation 3 reuses the dead reader's slot. */
	ASSERT_EQ(0, mmsync_publish(w, "three", 5, &info));
	EXPECT_GT(200 * MS, now_ns() - t0);
	EXPECT_EQ(1, info.reclaimed);
	EXPECT_EQ(0, info.evicted);
	close(p.ready[0]);
	close(p.ready[1]);
	mmsync_writer_close(w);
}

TEST_F(live, live_reader_past_grace_gets_estale)
{
	struct mmsync_publish_info info;
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	char a[256], b[256];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	ASSERT_EQ(0, open_writer(self->name, variant->fence_mode, 50 * MS,
				 MMSYNC_GRACE_EVICT, &w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	ASSERT_EQ(0, mmsync_publish(w, a, sizeof(a), NULL));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	ASSERT_EQ(0, mmsync_publish(w, a, sizeof(a), NULL));
	/* Generation 3 needs our slot: bounded wait, then eviction. */
	ASSERT_EQ(0, mmsync_publish(w, b, sizeof(b), &info));
	EXPECT_EQ(1, info.evicted);
	EXPECT_EQ(0, info.reclaimed);
	EXPECT_LE(50 * MS, info.waited_ns);
	EXPECT_GT(2000 * MS, info.waited_ns);
	/* The bytes did change under the view, and we are told. */
	EXPECT_EQ('b', ((const char *)v.data)[0]);
	EXPECT_EQ(-ESTALE, mmsync_read_end(r, &v));
	/* The handle is usable again at once. */
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	EXPECT_EQ(3, v.gen);
	EXPECT_EQ(0, mmsync_read_end(r, &v));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
}

/*
 * An evicted reader stays evicted: the writer does not wait for its pin
 * again at the next reuse of the slot. And reserve/commit reports the
 * eviction its wait did, like publish.
 */
TEST_F(live, evicted_pin_is_not_waited_for_again)
{
	struct mmsync_publish_info info;
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	void *p;

	ASSERT_EQ(0, open_writer(self->name, variant->fence_mode, 50 * MS,
				 MMSYNC_GRACE_EVICT, &w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	ASSERT_EQ(0, mmsync_publish(w, "1", 1, NULL));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	ASSERT_EQ(0, mmsync_publish(w, "2", 1, NULL));
	/* Generation 3 reuses our slot, through reserve/commit. */
	ASSERT_EQ(0, mmsync_reserve(w, 1, &p));
	memcpy(p, "3", 1);
	ASSERT_EQ(0, mmsync_commit(w, 1, &info));
	EXPECT_EQ(1, info.evicted);
	EXPECT_LE(50 * MS, info.waited_ns);
	ASSERT_EQ(0, mmsync_publish(w, "4", 1, NULL));
	/* Generation 5 reuses it again: the same stale pin, no wait. */
	ASSERT_EQ(0, mmsync_publish(w, "5", 1, &info));
	EXPECT_EQ(0, info.evicted);
	EXPECT_GT(20 * MS, info.waited_ns);
	EXPECT_EQ(-ESTALE, mmsync_read_end(r, &v));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
}

TEST_F(live, live_reader_in_other_process_gets_estale)
{
	struct mmsync_publish_info info;
	struct pinner p = { .name = self->name };
	struct mmsync_writer *w;
	uint64_t gen;
	int pid;

	ASSERT_EQ(0, open_writer(self->name, variant->fence_mode, 30 * MS,
				 MMSYNC_GRACE_EVICT, &w));
	ASSERT_EQ(0, mmsync_publish(w, "x", 1, NULL));
	ASSERT_EQ(0, pipe(p.ready));
	ASSERT_EQ(0, pipe(p.go));
	pid = spawn(pin_and_sleep, &p);
	ASSERT_EQ(sizeof(gen), read(p.ready[0], &gen, sizeof(gen)));
	ASSERT_EQ(0, mmsync_publish(w, "y", 1, NULL));
	ASSERT_EQ(0, mmsync_publish(w, "z", 1, &info));
	EXPECT_EQ(1, info.evicted);
	ASSERT_EQ(1, write(p.go[1], "g", 1));
	EXPECT_EQ(0, reap(pid));
	close(p.ready[0]);
	close(p.ready[1]);
	close(p.go[0]);
	close(p.go[1]);
	mmsync_writer_close(w);
}

TEST_F(live, refuse_policy_times_out_and_changes_nothing)
{
	struct mmsync_publish_info info;
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	char a[64], b[64];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	ASSERT_EQ(0, open_writer(self->name, variant->fence_mode, 40 * MS,
				 MMSYNC_GRACE_REFUSE, &w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	ASSERT_EQ(0, mmsync_publish(w, a, sizeof(a), NULL));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	ASSERT_EQ(0, mmsync_publish(w, a, sizeof(a), NULL));
	EXPECT_EQ(-ETIMEDOUT, mmsync_publish(w, b, sizeof(b), &info));
	EXPECT_LE(40 * MS, info.waited_ns);
	EXPECT_EQ(2, mmsync_writer_gen(w));
	EXPECT_EQ(2, mmsync_reader_gen(r));
	EXPECT_EQ(0, memcmp(v.data, a, sizeof(a)));
	EXPECT_EQ(0, mmsync_read_end(r, &v));
	/* Once the reader is gone the same publish goes through. */
	ASSERT_EQ(0, mmsync_publish(w, b, sizeof(b), &info));
	EXPECT_EQ(3, info.gen);
	EXPECT_EQ(0, info.evicted);
	mmsync_reader_close(r);
	mmsync_writer_close(w);
}

static int die_as_reader(void *arg)
{
	struct mmsync_reader *r;

	if (mmsync_reader_open(arg, NULL, &r))
		return 1;
	raise(SIGKILL);
	return 2;
}

TEST_F(live, dead_readers_free_their_entries)
{
	MMSYNC_OPTS(mmsync_writer_opts, wo, .fence_mode = variant->fence_mode,
		    .max_readers = 2);
	struct mmsync_reader *r1, *r2;
	struct mmsync_writer *w;

	ASSERT_EQ(0, mmsync_writer_open(self->name, &wo, &w));
	EXPECT_EQ(128 + SIGKILL, reap(spawn(die_as_reader, self->name)));
	EXPECT_EQ(128 + SIGKILL, reap(spawn(die_as_reader, self->name)));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r1));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r2));
	mmsync_reader_close(r1);
	mmsync_reader_close(r2);
	mmsync_writer_close(w);
}

#define BIG (48u << 20)

static int publish_forever(void *arg)
{
	struct mmsync_writer *w;
	unsigned char *buf;
	uint64_t gen;

	buf = malloc(BIG);
	if (!buf || mmsync_writer_open(arg, NULL, &w))
		return 1;
	for (;;) {
		gen = mmsync_writer_gen(w) + 1;
		pattern_fill(buf, BIG - (size_t)(gen % 4096), gen);
		mmsync_publish(w, buf, BIG - (size_t)(gen % 4096), NULL);
	}
}

TEST_F_TIMEOUT(live, writer_killed_mid_publish, 120)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .flags = MMSYNC_READ_VERIFY);
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	uint64_t seed = 7, gen = 0, before;
	int round, pid, err;

	/* Start with one snapshot in place, from a clean writer. */
	ASSERT_EQ(0, open_writer(self->name, variant->fence_mode, 0, 0, &w));
	ASSERT_EQ(0, mmsync_publish(w, "seed", 4, NULL));
	mmsync_writer_close(w);
	ASSERT_EQ(0, mmsync_reader_open(self->name, &ro, &r));
	for (round = 0; round < 12; round++) {
		before = mmsync_reader_gen(r);
		pid = spawn(publish_forever, self->name);
		/* Let it get going, then kill it at a random point. */
		while (mmsync_reader_gen(r) == before && reap_nohang(pid) == 0)
			usleep(500);
		usleep(xorshift64(&seed) % 30000);
		kill(pid, SIGKILL);
		EXPECT_EQ(128 + SIGKILL, reap(pid));

		/* Readers see a complete snapshot, checksum verified. */
		err = mmsync_read_begin(r, &v);
		ASSERT_EQ(0, err);
		EXPECT_LE(gen, v.gen);
		if (v.gen > 1) {
			EXPECT_EQ(v.size, pattern_check(v.data, v.size, v.gen));
		}
		gen = v.gen;
		EXPECT_EQ(0, mmsync_read_end(r, &v));

		/* The lock died with it: a new writer continues the count. */
		ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
		EXPECT_EQ(gen, mmsync_writer_gen(w));
		mmsync_writer_close(w);
	}
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, mmsync_publish(w, "end", 3, NULL));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	EXPECT_EQ(gen + 1, v.gen);
	EXPECT_EQ(0, memcmp(v.data, "end", 3));
	EXPECT_EQ(0, mmsync_read_end(r, &v));
	mmsync_writer_close(w);
	mmsync_reader_close(r);
}

TEST_HARNESS_MAIN
