// SPDX-License-Identifier: MIT
/*
 * torture.c - one writer and several reader processes, payloads of random
 * sizes (0 B to 8 MiB) in which every 8-byte word encodes (generation,
 * offset). Readers check every byte of every view before they unpin: a
 * mismatch on a view whose read_end returned 0 is a torn read, and there
 * must be none. Meanwhile short-lived readers are SIGKILLed while pinned;
 * the writer must reclaim them without waiting out the grace period.
 *
 * Runs for at least MIN_SECONDS and until the readers did TARGET_READS
 * reads (at most MAX_SECONDS).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define NR_READERS 4
#define MIN_SECONDS 5
#define MAX_SECONDS 150
#define TARGET_READS 10000000ull
#define MAX_PAYLOAD (8u << 20)

struct counters {
	uint64_t reads;
	uint64_t torn; /* mismatch and read_end said 0: must stay 0 */
	uint64_t stale; /* mismatch or not, read_end said -ESTALE */
	uint64_t backwards; /* generation went down: must stay 0 */
	uint64_t bad_sum; /* checksum mismatch on a clean read: must stay 0 */
	uint64_t errors; /* unexpected return codes */
	uint64_t bytes;
} __attribute__((aligned(64)));

struct shared {
	int stop;
	char name[256];
	struct counters rd[NR_READERS + 1]; /* last one: killed readers */
	uint64_t publishes;
	uint64_t publish_errors;
	uint64_t max_publish_ns;
	uint64_t reclaimed;
	uint64_t evicted;
	uint64_t killed;
};

static struct shared *sh;

static void check_view(const struct mmsync_view *v, uint64_t *last,
		       struct counters *c, int full_sum, int *mismatch)
{
	*mismatch = pattern_check(v->data, v->size, v->gen) != v->size;
	if (!*mismatch && full_sum &&
	    XXH3_64bits(v->data, v->size) != v->checksum)
		*mismatch = 2;
	if (v->gen < *last)
		c->backwards++;
	*last = v->gen;
	c->bytes += v->size;
}

static void read_loop(int idx)
{
	struct counters c = { 0 }, *out = &sh->rd[idx];
	struct mmsync_reader *r;
	struct mmsync_view v;
	uint64_t last = 0, n = 0;
	int err, mismatch;

	if (mmsync_reader_open(sh->name, NULL, &r))
		_exit(2);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		err = mmsync_read_begin(r, &v);
		if (err == -ENODATA)
			continue;
		if (err) {
			c.errors++;
			continue;
		}
		check_view(&v, &last, &c, (n & 63) == 0, &mismatch);
		err = mmsync_read_end(r, &v);
		if (err == -ESTALE)
			c.stale++;
		else if (err)
			c.errors++;
		else if (mismatch == 1)
			c.torn++;
		else if (mismatch == 2)
			c.bad_sum++;
		c.reads++;
		if (idx == NR_READERS &&
		    (c.torn || c.bad_sum || c.backwards || c.errors)) {
			/* A victim may die any moment: report at once. */
			__atomic_fetch_add(&out->torn, c.torn,
					   __ATOMIC_SEQ_CST);
			__atomic_fetch_add(&out->bad_sum, c.bad_sum,
					   __ATOMIC_SEQ_CST);
			__atomic_fetch_add(&out->backwards, c.backwards,
					   __ATOMIC_SEQ_CST);
			__atomic_fetch_add(&out->errors, c.errors,
					   __ATOMIC_SEQ_CST);
			c.torn = c.bad_sum = c.backwards = c.errors = 0;
		}
		if ((++n & 1023) == 0 && idx < NR_READERS)
			*out = c; /* only this process writes its slot */
		/*
		 * Four spinning readers on two CPUs would starve the writer
		 * (and preempt readers while pinned, stretching every
		 * publish to a time slice): yield now and then so that many
		 * publishes race with many reads.
		 */
		if ((n & 255) == 0)
			sched_yield();
	}
	if (idx < NR_READERS)
		*out = c;
	mmsync_reader_close(r);
}

static int reader_main(void *arg)
{
	read_loop((int)(long)arg);
	return 0;
}

/* A reader that will be SIGKILLed at a random point, likely pinned. */
static int victim_main(void *arg)
{
	read_loop(NR_READERS);
	return 0;
}

static size_t pick_size(uint64_t *s)
{
	uint64_t x = xorshift64(s) % 1000;

	if (x < 900)
		return xorshift64(s) % 257;
	if (x < 990)
		return xorshift64(s) % 65537;
	return xorshift64(s) % (MAX_PAYLOAD + 1);
}

static int writer_main(void *arg)
{
	MMSYNC_OPTS(mmsync_writer_opts, wo, .fence_mode = (uint32_t)(long)arg,
		    .grace_ns = 10000000000ll);
	struct mmsync_publish_info info;
	uint64_t s = 0x1234567 ^ (uint64_t)getpid(), t0, dt, gen;
	struct mmsync_writer *w;
	size_t len;
	void *buf, *p;
	int err;

	buf = malloc(MAX_PAYLOAD);
	if (!buf || mmsync_writer_open(sh->name, &wo, &w))
		return 2;
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		len = pick_size(&s);
		gen = mmsync_writer_gen(w) + 1;
		t0 = now_ns();
		if (xorshift64(&s) & 3) {
			pattern_fill(buf, len, gen);
			err = mmsync_publish(w, buf, len, &info);
		} else {
			/* Serialize in place through reserve/commit. */
			err = mmsync_reserve(w, len, &p);
			if (!err) {
				pattern_fill(p, len, gen);
				err = mmsync_commit(w, len, &info);
			}
		}
		dt = now_ns() - t0;
		if (err) {
			sh->publish_errors++;
			continue;
		}
		if (dt > sh->max_publish_ns)
			sh->max_publish_ns = dt;
		sh->reclaimed += info.reclaimed;
		sh->evicted += info.evicted;
		sh->publishes++;
	}
	mmsync_writer_close(w);
	free(buf);
	return 0;
}

static uint64_t total_reads(void)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < NR_READERS; i++)
		n += __atomic_load_n(&sh->rd[i].reads, __ATOMIC_RELAXED);
	return n;
}

FIXTURE(torture)
{
	struct tdir dir;
};

FENCE_MODE_VARIANTS(torture);

FIXTURE_SETUP(torture)
{
	if (fence_mode_unavailable(variant->fence_mode))
		SKIP(return, "%s", fence_mode_unavailable(variant->fence_mode));
	ASSERT_EQ(0, tdir_make(&self->dir));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	tdir_chan(&self->dir, "t", sh->name, sizeof(sh->name));
}

FIXTURE_TEARDOWN(torture)
{
	if (sh && sh != MAP_FAILED)
		munmap(sh, sizeof(*sh));
	sh = NULL;
	tdir_remove(&self->dir);
}

TEST_F_TIMEOUT(torture, no_torn_reads, MAX_SECONDS + 60)
{
	int writer, readers[NR_READERS], i, victim, rc;
	uint64_t t0, elapsed, seed = 42, reads, bytes = 0;
	struct counters sum = { 0 };

	writer = spawn(writer_main, (void *)(long)variant->fence_mode);
	ASSERT_LT(0, writer);
	while (!sh->publishes && reap_nohang(writer) == 0)
		usleep(1000);
	for (i = 0; i < NR_READERS; i++) {
		readers[i] = spawn(reader_main, (void *)(long)i);
		ASSERT_LT(0, readers[i]);
	}
	t0 = now_ns();
	for (;;) {
		elapsed = now_ns() - t0;
		reads = total_reads();
		if (elapsed > MAX_SECONDS * 1000000000ull ||
		    (elapsed > MIN_SECONDS * 1000000000ull &&
		     reads >= TARGET_READS))
			break;
		/* Kill a reader at a random point of its loop. */
		victim = spawn(victim_main, NULL);
		usleep(1000 + xorshift64(&seed) % 20000);
		kill(victim, SIGKILL);
		reap(victim);
		sh->killed++;
		usleep(20000);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NR_READERS; i++)
		EXPECT_EQ(0, reap(readers[i]));
	rc = reap(writer);
	EXPECT_EQ(0, rc);

	for (i = 0; i <= NR_READERS; i++) {
		sum.reads += i < NR_READERS ? sh->rd[i].reads : 0;
		sum.torn += sh->rd[i].torn;
		sum.stale += sh->rd[i].stale;
		sum.backwards += sh->rd[i].backwards;
		sum.bad_sum += sh->rd[i].bad_sum;
		sum.errors += sh->rd[i].errors;
		bytes += sh->rd[i].bytes;
	}
	ksft_print_msg(
		"torture (%s): %llu reads, %llu torn, %llu stale, %llu backwards, %llu bad checksums, %llu errors, %.1f GiB checked, %llu publishes (max %.1f ms), %llu readers SIGKILLed, %llu pins reclaimed, %llu evicted, %.1f s\n",
		variant->fence_mode == MMSYNC_FENCE_XCHG ? "xchg" :
							   "membarrier",
		(unsigned long long)sum.reads, (unsigned long long)sum.torn,
		(unsigned long long)sum.stale,
		(unsigned long long)sum.backwards,
		(unsigned long long)sum.bad_sum, (unsigned long long)sum.errors,
		bytes / 1073741824.0, (unsigned long long)sh->publishes,
		sh->max_publish_ns / 1e6, (unsigned long long)sh->killed,
		(unsigned long long)sh->reclaimed,
		(unsigned long long)sh->evicted, (now_ns() - t0) / 1e9);
	EXPECT_EQ(0, sum.torn);
	EXPECT_EQ(0, sum.backwards);
	EXPECT_EQ(0, sum.bad_sum);
	EXPECT_EQ(0, sum.errors);
	EXPECT_EQ(0, sh->publish_errors);
	/* Grace is 10 s: no live reader is evicted, no stale view. */
	EXPECT_EQ(0, sh->evicted);
	EXPECT_EQ(0, sum.stale);
	/* Killed readers were reclaimed, never waited out. */
	EXPECT_GT(1000000000ull, sh->max_publish_ns);
	EXPECT_LE(TARGET_READS, sum.reads);
	EXPECT_LT(100, sh->publishes);
}

TEST_HARNESS_MAIN
