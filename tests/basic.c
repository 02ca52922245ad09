// SPDX-License-Identifier: MIT
/* basic.c - publish/read round trips, growth, generations, wait. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "kselftest_harness.h"
#include "helpers.h"

FIXTURE(chan)
{
	struct tdir dir;
	char name[256];
	struct mmsync_writer *w;
	struct mmsync_reader *r;
};

FENCE_MODE_VARIANTS(chan);

FIXTURE_SETUP(chan)
{
	MMSYNC_OPTS(mmsync_writer_opts, wo, .fence_mode = variant->fence_mode);

	if (fence_mode_unavailable(variant->fence_mode))
		SKIP(return, "%s", fence_mode_unavailable(variant->fence_mode));
	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "c", self->name, sizeof(self->name));
	ASSERT_EQ(0, mmsync_writer_open(self->name, &wo, &self->w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &self->r));
}

FIXTURE_TEARDOWN(chan)
{
	mmsync_reader_close(self->r);
	mmsync_writer_close(self->w);
	tdir_remove(&self->dir);
}

TEST_F(chan, round_trip)
{
	static const char msg[] = "hello, mmsync";
	struct mmsync_publish_info info;
	struct mmsync_view v;

	ASSERT_EQ(-ENODATA, mmsync_read_begin(self->r, &v));
	ASSERT_EQ(0, mmsync_publish(self->w, msg, sizeof(msg), &info));
	EXPECT_EQ(1, info.gen);
	EXPECT_EQ(XXH3_64bits(msg, sizeof(msg)), info.checksum);
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(1, v.gen);
	EXPECT_EQ(sizeof(msg), v.size);
	EXPECT_EQ(0, memcmp(v.data, msg, sizeof(msg)));
	EXPECT_EQ(info.checksum, v.checksum);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
}

TEST_F(chan, generations_count_up)
{
	struct mmsync_view v;
	uint64_t g, x;

	for (g = 1; g <= 50; g++) {
		x = g * 3;
		ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
		EXPECT_EQ(g, mmsync_writer_gen(self->w));
		EXPECT_EQ(g, mmsync_reader_gen(self->r));
		ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
		EXPECT_EQ(g, v.gen);
		EXPECT_EQ(x, *(const uint64_t *)v.data);
		ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	}
}

TEST_F(chan, empty_payload)
{
	struct mmsync_view v;

	ASSERT_EQ(0, mmsync_publish(self->w, NULL, 0, NULL));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(0, v.size);
	EXPECT_NE(NULL, v.data);
	EXPECT_EQ(XXH3_64bits(NULL, 0), v.checksum);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
}

/* A slot grows under a reader that mapped it small; it remaps lazily. */
TEST_F(chan, slot_grows_and_reader_remaps)
{
	static const size_t sizes[] = { 10, 5000, 1 << 20, 100, 9 << 20, 3 };
	struct mmsync_view v;
	unsigned int i;
	void *buf;

	buf = malloc(9 << 20);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pattern_fill(buf, sizes[i], i + 1);
		ASSERT_EQ(0, mmsync_publish(self->w, buf, sizes[i], NULL));
		ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
		EXPECT_EQ(sizes[i], v.size);
		EXPECT_EQ(sizes[i], pattern_check(v.data, v.size, i + 1));
		ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	}
	free(buf);
}

/* The view's bytes do not change while it is open, across publishes. */
TEST_F(chan, view_is_stable_while_pinned)
{
	struct mmsync_view v, v2;
	struct mmsync_reader *r2;
	char a[64], b[64];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	ASSERT_EQ(0, mmsync_publish(self->w, a, sizeof(a), NULL));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	/* gen 2 goes to the other slot: no wait. */
	ASSERT_EQ(0, mmsync_publish(self->w, b, sizeof(b), NULL));
	EXPECT_EQ(0, memcmp(v.data, a, sizeof(a)));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r2));
	ASSERT_EQ(0, mmsync_read_begin(r2, &v2));
	EXPECT_EQ(2, v2.gen);
	EXPECT_EQ(0, memcmp(v2.data, b, sizeof(b)));
	EXPECT_EQ(0, mmsync_read_end(r2, &v2));
	mmsync_reader_close(r2);
	EXPECT_EQ(0, mmsync_read_end(self->r, &v));
}

TEST_F(chan, double_begin_is_ebusy)
{
	struct mmsync_view v, v2;
	int x = 1;

	ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(-EBUSY, mmsync_read_begin(self->r, &v2));
	EXPECT_EQ(-EBUSY, mmsync_read_begin_ool(self->r, &v2));
	EXPECT_EQ(0, mmsync_read_end(self->r, &v));
	EXPECT_EQ(-EINVAL, mmsync_read_end(self->r, &v));
}

/* The exported out-of-line symbols behave like the inline ones. */
TEST_F(chan, out_of_line_symbols)
{
	struct mmsync_view v;
	int x = 42;

	ASSERT_EQ(-ENODATA, mmsync_read_begin_ool(self->r, &v));
	ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	ASSERT_EQ(0, mmsync_read_begin_ool(self->r, &v));
	EXPECT_EQ(42, *(const int *)v.data);
	EXPECT_EQ(0, mmsync_read_end_ool(self->r, &v));
	EXPECT_EQ(-EINVAL, mmsync_read_end_ool(self->r, &v));
}

TEST_F(chan, verify_flag_checks_checksum)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .flags = MMSYNC_READ_VERIFY);
	struct mmsync_reader *vr;
	struct mmsync_view v;
	char path[300], buf[4096];
	int fd;

	memset(buf, 7, sizeof(buf));
	ASSERT_EQ(0, mmsync_reader_open(self->name, &ro, &vr));
	ASSERT_EQ(0, mmsync_publish(self->w, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, mmsync_read_begin(vr, &v));
	ASSERT_EQ(0, mmsync_read_end(vr, &v));

	/* Flip a byte of slot 1 (generation 1) behind the writer's back. */
	snprintf(path, sizeof(path), "%s_data_1", self->name);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "x", 1, 100));
	close(fd);
	EXPECT_EQ(-EIO, mmsync_read_begin(vr, &v));
	/* A reader without the flag does not hash: it sees the bytes. */
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ('x', ((const char *)v.data)[100]);
	EXPECT_EQ(0, mmsync_read_end(self->r, &v));
	mmsync_reader_close(vr);
}

/*
 * The checksum of every publishing path is XXH3-64 of the bytes, at the
 * sizes where lib/hash.c and the chunked copy change how they hash (1 KiB,
 * the 64 KiB chunk, several chunks and a tail), and a verifying reader
 * agrees. The expected value comes from libxxhash's default entry point.
 */
TEST_F(chan, checksums_of_every_path_and_size)
{
	static const size_t sizes[] = { 1, 1023, 1024, 1025, 65535, 65536,
					65537, 262144 + 3, (1u << 20) + 7,
					3u << 20 };
	MMSYNC_OPTS(mmsync_reader_opts, ro, .flags = MMSYNC_READ_VERIFY);
	struct mmsync_publish_info info;
	struct mmsync_reader *vr;
	struct mmsync_view v;
	struct iovec iov[3];
	unsigned char *buf;
	size_t i, n, k;
	uint64_t want;
	void *p;

	buf = malloc(3u << 20);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < (3u << 20); i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	ASSERT_EQ(0, mmsync_reader_open(self->name, &ro, &vr));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = sizes[i];
		want = XXH3_64bits(buf, n);
		for (k = 0; k < 3; k++) {
			if (k == 0) {
				ASSERT_EQ(0, mmsync_publish(self->w, buf, n,
							    &info));
			} else if (k == 1) {
				iov[0] = (struct iovec){ buf, n / 3 };
				iov[1] = (struct iovec){ buf + n / 3, 0 };
				iov[2] = (struct iovec){ buf + n / 3,
							 n - n / 3 };
				ASSERT_EQ(0, mmsync_publish_iov(self->w, iov, 3,
								&info));
			} else {
				ASSERT_EQ(0, mmsync_reserve(self->w, n, &p));
				memcpy(p, buf, n);
				ASSERT_EQ(0, mmsync_commit(self->w, n, &info));
			}
			EXPECT_EQ(want, info.checksum)
			{
				TH_LOG("size %zu, path %zu", n, k);
			}
			ASSERT_EQ(0, mmsync_read_begin(vr, &v));
			EXPECT_EQ(n, v.size);
			EXPECT_EQ(want, v.checksum);
			EXPECT_EQ(0, memcmp(v.data, buf, n));
			ASSERT_EQ(0, mmsync_read_end(vr, &v));
		}
	}
	mmsync_reader_close(vr);
	free(buf);
}

struct delayed {
	struct mmsync_writer *w;
	int delay_ms;
};

static void *publish_later(void *arg)
{
	struct delayed *d = arg;
	int x = 5;

	usleep(d->delay_ms * 1000);
	mmsync_publish(d->w, &x, sizeof(x), NULL);
	return NULL;
}

TEST_F(chan, wait_sees_publish)
{
	struct delayed d = { .w = self->w, .delay_ms = 30 };
	uint64_t t0;
	pthread_t th;

	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(self->r, 0, 0));
	t0 = now_ns();
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(self->r, 0, 20000000));
	EXPECT_LE(20000000, now_ns() - t0);
	ASSERT_EQ(0, pthread_create(&th, NULL, publish_later, &d));
	t0 = now_ns();
	EXPECT_EQ(0, mmsync_wait(self->r, 0, 5000000000ll));
	EXPECT_GT(1000000000ull, now_ns() - t0);
	pthread_join(th, NULL);
	EXPECT_EQ(0, mmsync_wait(self->r, 0, 0));
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(self->r, 1, 1000000));
}

TEST_F(chan, writer_restart_continues_generation)
{
	struct mmsync_view v;
	int x = 1, i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	mmsync_writer_close(self->w);
	self->w = NULL;
	/* Readers keep reading the last snapshot while no writer runs. */
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(3, v.gen);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &self->w));
	EXPECT_EQ(3, mmsync_writer_gen(self->w));
	x = 9;
	ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(4, v.gen);
	EXPECT_EQ(9, *(const int *)v.data);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
}

TEST_F(chan, many_handles_in_one_process)
{
	struct mmsync_reader *rs[8];
	struct mmsync_view vs[8];
	int i, x = 3;

	ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &rs[i]));
		ASSERT_EQ(0, mmsync_read_begin(rs[i], &vs[i]));
	}
	/* gen 2 takes the free slot; gen 3 would need them to unpin. */
	ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(1, vs[i].gen);
		EXPECT_EQ(0, mmsync_read_end(rs[i], &vs[i]));
		mmsync_reader_close(rs[i]);
	}
	ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
}

TEST(modes_and_permissions)
{
	char name[256], path[300];
	struct mmsync_writer *w;
	struct tdir d;
	struct stat st;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "m", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, NULL, &w));
	/* Format 2: only the reader table is writable by readers. */
	snprintf(path, sizeof(path), "%s_state", name);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0640, st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s_readers", name);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0660, st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s_lock", name);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s_data_0", name);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0640, st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s_data_1", name);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0640, st.st_mode & 07777);
	mmsync_writer_close(w);
	EXPECT_EQ(0, mmsync_unlink(name));
	EXPECT_EQ(-ENOENT, mmsync_unlink(name));
	tdir_remove(&d);
}

/*
 * MMSYNC_FENCE_AUTO and publish_rate: a writer that expects
 * MMSYNC_AUTO_XCHG_RATE publishes a second or more gets an xchg channel;
 * below that, membarrier where the kernel has it; an explicit mode wins;
 * a channel that exists keeps its mode.
 */
TEST(publish_rate_picks_the_fence_mode)
{
	struct mmsync_stats st = { .sz = sizeof(st) };
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;
	uint32_t slow = fence_mode_unavailable(MMSYNC_FENCE_MEMBARRIER) ?
				MMSYNC_FENCE_XCHG :
				MMSYNC_FENCE_MEMBARRIER;
	static const struct {
		uint32_t mode, rate;
		int want; /* -1: slow */
	} cases[] = {
		{ MMSYNC_FENCE_AUTO, 0, -1 },
		{ MMSYNC_FENCE_AUTO, MMSYNC_AUTO_XCHG_RATE - 1, -1 },
		{ MMSYNC_FENCE_AUTO, MMSYNC_AUTO_XCHG_RATE, MMSYNC_FENCE_XCHG },
		{ MMSYNC_FENCE_AUTO, 100000, MMSYNC_FENCE_XCHG },
		{ MMSYNC_FENCE_XCHG, 1, MMSYNC_FENCE_XCHG },
		{ MMSYNC_FENCE_MEMBARRIER, 100000, -1 },
	};
	unsigned int i;

	ASSERT_EQ(0, tdir_make(&d));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		MMSYNC_OPTS(mmsync_writer_opts, o, .fence_mode = cases[i].mode,
			    .publish_rate = cases[i].rate);
		uint32_t want = cases[i].want < 0 ? slow :
						     (uint32_t)cases[i].want;

		if (cases[i].mode == MMSYNC_FENCE_MEMBARRIER &&
		    fence_mode_unavailable(MMSYNC_FENCE_MEMBARRIER))
			continue;
		snprintf(name, sizeof(name), "%s/r%u", d.path, i);
		ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
		ASSERT_EQ(0, mmsync_stat(name, &st));
		EXPECT_EQ(want, st.fence_mode)
		{
			TH_LOG("case %u", i);
		}
		mmsync_writer_close(w);
	}
	/* Reopened with another rate: the channel keeps its mode. */
	{
		MMSYNC_OPTS(mmsync_writer_opts, o, .publish_rate = 100000);

		snprintf(name, sizeof(name), "%s/r0", d.path);
		ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
		ASSERT_EQ(0, mmsync_stat(name, &st));
		EXPECT_EQ(slow, st.fence_mode);
		mmsync_writer_close(w);
	}
	tdir_remove(&d);
}

TEST(mmsync_dir_env_is_used)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	char path[300];
	struct tdir d;

	ASSERT_EQ(0, tdir_make(&d));
	setenv("MMSYNC_DIR", d.path, 1);
	ASSERT_EQ(0, mmsync_writer_open("envchan", NULL, &w));
	snprintf(path, sizeof(path), "%s/envchan_state", d.path);
	EXPECT_EQ(0, access(path, F_OK));
	ASSERT_EQ(0, mmsync_reader_open("envchan", NULL, &r));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	EXPECT_EQ(0, mmsync_unlink("envchan"));
	unsetenv("MMSYNC_DIR");
	tdir_remove(&d);
}

TEST_HARNESS_MAIN
