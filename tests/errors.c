// SPDX-License-Identifier: MIT
/* errors.c - every error case of the contract, and bad arguments. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

FIXTURE(err)
{
	struct tdir dir;
	char name[256];
};

FIXTURE_SETUP(err)
{
	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "e", self->name, sizeof(self->name));
}

FIXTURE_TEARDOWN(err)
{
	tdir_remove(&self->dir);
}

TEST_F(err, reader_open_of_missing_channel_is_enoent)
{
	struct mmsync_reader *r = (void *)1;

	EXPECT_EQ(-ENOENT, mmsync_reader_open(self->name, NULL, &r));
	EXPECT_EQ(NULL, r);
}

TEST_F(err, read_before_first_publish_is_enodata)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;

	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	EXPECT_EQ(-ENODATA, mmsync_read_begin(r, &v));
	EXPECT_EQ(-ENODATA, mmsync_read_begin_ool(r, &v));
	/* And no view is left open by the failure. */
	EXPECT_EQ(-EINVAL, mmsync_read_end(r, &v));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
}

TEST_F(err, second_writer_is_ebusy)
{
	struct mmsync_writer *w, *w2 = (void *)1;

	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	EXPECT_EQ(-EBUSY, mmsync_writer_open(self->name, NULL, &w2));
	EXPECT_EQ(NULL, w2);
	mmsync_writer_close(w);
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w2));
	mmsync_writer_close(w2);
}

static int child_opens_writer(void *arg)
{
	struct mmsync_writer *w;
	int err = mmsync_writer_open(arg, NULL, &w);

	mmsync_writer_close(w);
	return err == -EBUSY ? 0 : 1;
}

TEST_F(err, second_writer_in_other_process_is_ebusy)
{
	struct mmsync_writer *w;

	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	EXPECT_EQ(0, reap(spawn(child_opens_writer, self->name)));
	mmsync_writer_close(w);
}

TEST_F(err, full_reader_table_is_eusers)
{
	MMSYNC_OPTS(mmsync_writer_opts, wo, .max_readers = 4);
	struct mmsync_reader *r[5];
	struct mmsync_writer *w;
	int i;

	ASSERT_EQ(0, mmsync_writer_open(self->name, &wo, &w));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r[i]));
	EXPECT_EQ(-EUSERS, mmsync_reader_open(self->name, NULL, &r[4]));
	mmsync_reader_close(r[1]);
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r[1]));
	for (i = 0; i < 4; i++)
		mmsync_reader_close(r[i]);
	mmsync_writer_close(w);
}

TEST_F(err, null_arguments_are_einval)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	void *p;

	EXPECT_EQ(-EINVAL, mmsync_writer_open(NULL, NULL, &w));
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, NULL, NULL));
	EXPECT_EQ(-EINVAL, mmsync_reader_open(NULL, NULL, &r));
	EXPECT_EQ(-EINVAL, mmsync_reader_open(self->name, NULL, NULL));
	EXPECT_EQ(-EINVAL, mmsync_publish(NULL, "x", 1, NULL));
	EXPECT_EQ(-EINVAL, mmsync_read_begin(NULL, &v));
	EXPECT_EQ(-EINVAL, mmsync_read_end(NULL, &v));
	EXPECT_EQ(-EINVAL, mmsync_read_begin_ool(NULL, &v));
	EXPECT_EQ(-EINVAL, mmsync_read_end_ool(NULL, &v));
	EXPECT_EQ(-EINVAL, mmsync_wait(NULL, 0, 0));
	EXPECT_EQ(-EINVAL, mmsync_reserve(NULL, 1, &p));
	EXPECT_EQ(-EINVAL, mmsync_commit(NULL, 1, NULL));
	EXPECT_EQ(0, mmsync_writer_gen(NULL));
	EXPECT_EQ(0, mmsync_reader_gen(NULL));
	mmsync_writer_close(NULL);
	mmsync_reader_close(NULL);
	mmsync_abort(NULL);

	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	EXPECT_EQ(-EINVAL, mmsync_publish(w, NULL, 5, NULL));
	EXPECT_EQ(-EINVAL, mmsync_read_begin(r, NULL));
	EXPECT_EQ(-EINVAL, mmsync_reserve(w, 1, NULL));
	EXPECT_EQ(-EINVAL, mmsync_commit(w, 1, NULL));
	/* Nothing above published anything. */
	EXPECT_EQ(0, mmsync_reader_gen(r));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
}

TEST_F(err, bad_names)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	char *longname;

	EXPECT_EQ(-EINVAL, mmsync_writer_open("", NULL, &w));
	EXPECT_EQ(-EINVAL, mmsync_reader_open("", NULL, &r));
	EXPECT_EQ(-EINVAL, mmsync_writer_open("/dev/shm/", NULL, &w));
	EXPECT_EQ(-EINVAL, mmsync_unlink(""));
	longname = malloc(PATH_MAX + 10);
	ASSERT_NE(NULL, longname);
	memset(longname, 'a', PATH_MAX + 9);
	longname[PATH_MAX + 9] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, mmsync_writer_open(longname, NULL, &w));
	EXPECT_EQ(-ENAMETOOLONG, mmsync_reader_open(longname, NULL, &r));
	free(longname);
	/* A directory that does not exist. */
	EXPECT_EQ(-ENOENT,
		  mmsync_writer_open("/nonexistent-mmsync/x", NULL, &w));
}

TEST_F(err, bad_options_are_einval)
{
	struct mmsync_writer_opts wo;
	struct mmsync_reader_opts ro;
	struct {
		struct mmsync_writer_opts o;
		uint64_t future;
	} big;
	struct mmsync_writer *w;
	struct mmsync_reader *r;

	memset(&wo, 0, sizeof(wo));
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &wo, &w)); /* sz 0 */
	wo.sz = sizeof(wo);
	wo.grace_ns = -1;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &wo, &w));
	wo.grace_ns = 0;
	wo.grace_policy = 7;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &wo, &w));
	wo.grace_policy = 0;
	wo.fence_mode = 9;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &wo, &w));
	wo.fence_mode = 0;
	wo.max_readers = 1u << 30;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &wo, &w));
	wo.max_readers = 0;
	wo.state_mode = 0100000;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &wo, &w));

	/* A newer caller's larger struct: fine if the tail is zero. */
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.future = 1;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &big.o, &w));
	big.future = 0;
	ASSERT_EQ(0, mmsync_writer_open(self->name, &big.o, &w));

	memset(&ro, 0, sizeof(ro));
	EXPECT_EQ(-EINVAL, mmsync_reader_open(self->name, &ro, &r));
	ro.sz = sizeof(ro);
	ro.flags = 1u << 20;
	EXPECT_EQ(-EINVAL, mmsync_reader_open(self->name, &ro, &r));
	ro.flags = 0;
	ro.poll_ns = -5;
	EXPECT_EQ(-EINVAL, mmsync_reader_open(self->name, &ro, &r));
	mmsync_writer_close(w);
}

TEST_F(err, reopen_with_other_fence_mode_is_einval)
{
	MMSYNC_OPTS(mmsync_writer_opts, x, .fence_mode = MMSYNC_FENCE_XCHG);
	MMSYNC_OPTS(mmsync_writer_opts, m,
		    .fence_mode = MMSYNC_FENCE_MEMBARRIER);
	struct mmsync_writer *w;

	if (fence_mode_unavailable(MMSYNC_FENCE_MEMBARRIER))
		SKIP(return, "%s",
			   fence_mode_unavailable(MMSYNC_FENCE_MEMBARRIER));
	ASSERT_EQ(0, mmsync_writer_open(self->name, &x, &w));
	mmsync_writer_close(w);
	EXPECT_EQ(-EINVAL, mmsync_writer_open(self->name, &m, &w));
	/* AUTO adopts whatever the channel has. */
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	mmsync_writer_close(w);
}

TEST_F(err, commit_without_reserve_and_abort)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	void *p;

	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	EXPECT_EQ(-EINVAL, mmsync_commit(w, 0, NULL));
	ASSERT_EQ(0, mmsync_reserve(w, 100, &p));
	memset(p, 'q', 100);
	EXPECT_EQ(-EINVAL, mmsync_commit(w, 101, NULL));
	mmsync_abort(w);
	EXPECT_EQ(-EINVAL, mmsync_commit(w, 100, NULL));
	EXPECT_EQ(0, mmsync_reader_gen(r));
	ASSERT_EQ(0, mmsync_reserve(w, 100, &p));
	memset(p, 'z', 100);
	ASSERT_EQ(0, mmsync_commit(w, 50, NULL));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	EXPECT_EQ(50, v.size);
	EXPECT_EQ('z', ((const char *)v.data)[49]);
	EXPECT_EQ(0, mmsync_read_end(r, &v));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
}

TEST_F(err, wait_timeout_is_etimedout)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	uint64_t t0;

	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	t0 = now_ns();
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 0, 5000000));
	EXPECT_LE(5000000, now_ns() - t0);
	ASSERT_EQ(0, mmsync_publish(w, "a", 1, NULL));
	EXPECT_EQ(0, mmsync_wait(r, 0, 5000000));
	EXPECT_EQ(-ETIMEDOUT, mmsync_wait(r, 1, 0));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
}

TEST_HARNESS_MAIN
