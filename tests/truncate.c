// SPDX-License-Identifier: MIT
/*
 * truncate.c - a data file truncated under a mapped reader (mmap-sync's
 * readers die of SIGBUS there). The reader survives, its read_end says
 * -ESTALE, read_begin says -EBADMSG while the file is short, and the next
 * publish into that slot heals the channel.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define SIZE (256u << 10)

FIXTURE(trunc)
{
	struct tdir dir;
	char name[256];
	char data1[300];
	struct mmsync_writer *w;
	void *buf;
};

FIXTURE_SETUP(trunc)
{
#if defined(__SANITIZE_ADDRESS__)
	SKIP(return, "ASan build: ASan owns SIGBUS");
#endif
	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "t", self->name, sizeof(self->name));
	snprintf(self->data1, sizeof(self->data1), "%s_data_1", self->name);
	self->buf = malloc(SIZE);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &self->w));
	pattern_fill(self->buf, SIZE, 1);
	/* Generation 1 lives in slot 1. */
	ASSERT_EQ(0, mmsync_publish(self->w, self->buf, SIZE, NULL));
}

FIXTURE_TEARDOWN(trunc)
{
	mmsync_writer_close(self->w);
	free(self->buf);
	tdir_remove(&self->dir);
}

static unsigned int touch_all(const void *p, size_t len)
{
	const volatile unsigned char *c = p;
	unsigned int sum = 0;
	size_t i;

	for (i = 0; i < len; i += 512)
		sum += c[i];
	return sum;
}

TEST_F(trunc, reader_survives_and_is_told)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	uint64_t gen;

	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	ASSERT_EQ(1, v.gen);
	ASSERT_EQ(0, truncate(self->data1, 0));
	/* Every page past the new end would be SIGBUS: reads as zeros. */
	EXPECT_EQ(0, touch_all(v.data, v.size));
	EXPECT_EQ(-ESTALE, mmsync_read_end(r, &v));
	/* The file is still short: refused, not mapped, not silent. */
	EXPECT_EQ(-EBADMSG, mmsync_read_begin(r, &v));

	/* Generation 2 goes to the other slot: readable at once. */
	pattern_fill(self->buf, SIZE, 2);
	ASSERT_EQ(0, mmsync_publish(self->w, self->buf, SIZE, NULL));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	EXPECT_EQ(2, v.gen);
	EXPECT_EQ(SIZE, pattern_check(v.data, v.size, 2));
	EXPECT_EQ(0, mmsync_read_end(r, &v));

	/* Generation 3 reuses the truncated slot: the writer heals it. */
	gen = 3;
	pattern_fill(self->buf, SIZE, gen);
	ASSERT_EQ(0, mmsync_publish(self->w, self->buf, SIZE, NULL));
	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	EXPECT_EQ(gen, v.gen);
	EXPECT_EQ(SIZE, pattern_check(v.data, v.size, gen));
	EXPECT_EQ(0, mmsync_read_end(r, &v));
	mmsync_reader_close(r);
}

/*
 * The writer's own copy into a truncated slot: guarded (no SIGBUS, no
 * fstat per publish), the slot repaired and the bytes copied again, for
 * each way of publishing. A reservation the truncation hit is void.
 */
TEST_F(trunc, writer_heals_every_way_of_publishing)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	struct iovec iov[2];
	uint64_t gen = 1;
	char path[300];
	void *p;
	int fd, k;

	snprintf(path, sizeof(path), "%s/src", self->dir.path);
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	for (k = 0; k < 4; k++) {
		/* The next generation's slot loses its pages. */
		ASSERT_EQ(0, mmsync_publish(self->w, "x", 1, NULL));
		gen += 2;
		snprintf(self->data1, sizeof(self->data1), "%s_data_%d",
			 self->name, (int)(gen & 1));
		ASSERT_EQ(0, truncate(self->data1, 0));
		pattern_fill(self->buf, SIZE, gen);
		switch (k) {
		case 0:
			ASSERT_EQ(0, mmsync_publish(self->w, self->buf, SIZE,
						    NULL));
			break;
		case 1:
			iov[0].iov_base = self->buf;
			iov[0].iov_len = SIZE / 2;
			iov[1].iov_base = (char *)self->buf + SIZE / 2;
			iov[1].iov_len = SIZE / 2;
			ASSERT_EQ(0, mmsync_publish_iov(self->w, iov, 2, NULL));
			break;
		case 2:
			ASSERT_EQ(0, mmsync_reserve(self->w, SIZE, &p));
			memcpy(p, self->buf, SIZE);
			/* Written into a truncated file: void, not torn. */
			EXPECT_EQ(-EIO, mmsync_commit(self->w, SIZE, NULL));
			ASSERT_EQ(0, mmsync_publish(self->w, self->buf, SIZE,
						    NULL));
			break;
		case 3:
			fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
			ASSERT_LE(0, fd);
			ASSERT_EQ(SIZE, write(fd, self->buf, SIZE));
			ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, 0, SIZE,
						       NULL));
			close(fd);
			break;
		}
		ASSERT_EQ(0, mmsync_read_begin(r, &v)) TH_LOG("way %d", k);
		EXPECT_EQ(gen, v.gen);
		EXPECT_EQ(SIZE, pattern_check(v.data, v.size, gen))
		TH_LOG("way %d", k);
		EXPECT_EQ(0, mmsync_read_end(r, &v));
	}
	mmsync_reader_close(r);
}

struct child_args {
	const char *name;
	const char *data;
	const char *other; /* a file of our own to truncate, or NULL */
	uint32_t flags;
};

/* Sanitizer runtimes report the fault themselves, with their exit code. */
#if defined(__SANITIZE_THREAD__)
#define DIED_OF_SIGBUS 66
#else
#define DIED_OF_SIGBUS (128 + SIGBUS)
#endif

static int touch_after_truncate(void *arg)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro);
	struct child_args *a = arg;
	struct mmsync_reader *r;
	struct mmsync_view v;
	const void *p;
	int fd;

	ro.flags = a->flags;
	if (mmsync_reader_open(a->name, &ro, &r) || mmsync_read_begin(r, &v))
		return 1;
	p = v.data;
	if (a->other) {
		/* A mapping that is not the library's. */
		fd = open(a->other, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, SIZE) < 0)
			return 2;
		p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0) < 0)
			return 3;
	} else if (truncate(a->data, 0) < 0) {
		return 4;
	}
	touch_all(p, SIZE);
	return 0; /* only if nothing faulted */
}

TEST_F(trunc, opt_out_gets_sigbus)
{
	struct child_args a = { .name = self->name,
				.data = self->data1,
				.flags = MMSYNC_READ_NO_SIGBUS_GUARD };

	EXPECT_EQ(DIED_OF_SIGBUS, reap(spawn(touch_after_truncate, &a)));
}

TEST_F(trunc, other_mappings_still_fault)
{
	char other[300];
	struct child_args a = { .name = self->name,
				.data = self->data1,
				.other = other };

	tdir_file(&self->dir, "other", other, sizeof(other));
	EXPECT_EQ(DIED_OF_SIGBUS, reap(spawn(touch_after_truncate, &a)));
}

TEST_F(trunc, guarded_child_exits_cleanly)
{
	struct child_args a = { .name = self->name, .data = self->data1 };

	EXPECT_EQ(0, reap(spawn(touch_after_truncate, &a)));
}

static int sent_sigbus(void *arg)
{
	struct mmsync_reader *r;

	if (mmsync_reader_open(arg, NULL, &r))
		return 1;
	kill(getpid(), SIGBUS); /* not a fault: must not be swallowed */
	return 0;
}

TEST_F(trunc, sent_sigbus_is_not_swallowed)
{
	EXPECT_EQ(DIED_OF_SIGBUS, reap(spawn(sent_sigbus, self->name)));
}

TEST_HARNESS_MAIN
