// SPDX-License-Identifier: MIT
/*
 * corrupt.c - files that are not a valid channel: garbage, truncated, wrong
 * magic or version, impossible sizes, symlinks. Always a negative errno,
 * never a crash or SIGBUS, and nothing written to the files.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

/* Offsets in the state header (lib/layout.h, format 1). */
#define OFF_MAGIC 0
#define OFF_FORMAT 8
#define OFF_NR_ENTRIES 20
#define OFF_FILE_SIZE 32
#define OFF_FENCE 40
#define OFF_SLOT0 128
#define SLOT_SIZE 32

FIXTURE(bad)
{
	struct tdir dir;
	char name[256];
	char state[300];
};

FIXTURE_SETUP(bad)
{
	struct mmsync_writer *w;
	char buf[100];

	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "b", self->name, sizeof(self->name));
	snprintf(self->state, sizeof(self->state), "%s_state", self->name);
	/* A valid channel with one snapshot, which each test then damages. */
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	memset(buf, 'v', sizeof(buf));
	ASSERT_EQ(0, mmsync_publish(w, buf, sizeof(buf), NULL));
	mmsync_writer_close(w);
}

FIXTURE_TEARDOWN(bad)
{
	tdir_remove(&self->dir);
}

static void poke(const char *path, off_t off, const void *val, size_t len)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (pwrite(fd, val, len, off) != (ssize_t)len)
			abort();
		close(fd);
	}
}

static void poke32(const char *path, off_t off, uint32_t v)
{
	poke(path, off, &v, sizeof(v));
}

static void poke64(const char *path, off_t off, uint64_t v)
{
	poke(path, off, &v, sizeof(v));
}

/*
 * Both sides must refuse the file with @want and leave it byte-identical.
 */
static int refused_untouched(const char *name, const char *state, int want)
{
	unsigned char *before, *after;
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	long nb, na;
	int ok = 1;

	nb = slurp(state, &before);
	if (nb < 0)
		return 0;
	if (mmsync_reader_open(name, NULL, &r) != want) {
		mmsync_reader_close(r);
		ok = 0;
	}
	if (mmsync_writer_open(name, NULL, &w) != want) {
		mmsync_writer_close(w);
		ok = 0;
	}
	na = slurp(state, &after);
	if (na != nb || memcmp(before, after, nb))
		ok = 0;
	free(before);
	if (na >= 0)
		free(after);
	return ok;
}

TEST_F(bad, garbage)
{
	unsigned char junk[20480];
	uint64_t s = 12345;
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)xorshift64(&s);
	fd = open(self->state, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(junk), write(fd, junk, sizeof(junk)));
	close(fd);
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, empty_file)
{
	ASSERT_EQ(0, truncate(self->state, 0));
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, truncated_header)
{
	ASSERT_EQ(0, truncate(self->state, 100));
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, truncated_table)
{
	ASSERT_EQ(0, truncate(self->state, 4096 + 64));
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, wrong_magic)
{
	poke64(self->state, OFF_MAGIC, 0x1122334455667788ull);
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, wrong_format_version)
{
	poke32(self->state, OFF_FORMAT, 99);
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, impossible_sizes)
{
	poke32(self->state, OFF_NR_ENTRIES, 0xffffffffu);
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
	poke32(self->state, OFF_NR_ENTRIES, 0);
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
	poke32(self->state, OFF_NR_ENTRIES, 256);
	poke64(self->state, OFF_FILE_SIZE, 1ull << 50);
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, bad_fence_mode)
{
	poke32(self->state, OFF_FENCE, 77);
	EXPECT_TRUE(refused_untouched(self->name, self->state, -EBADMSG));
}

TEST_F(bad, state_is_a_directory_or_fifo)
{
	unlink(self->state);
	ASSERT_EQ(0, mkfifo(self->state, 0600));
	/* O_NOFOLLOW|O_RDWR on a FIFO would block without a peer: refused. */
	EXPECT_GT(0, mmsync_writer_open(self->name, NULL,
					&(struct mmsync_writer *){ 0 }));
	unlink(self->state);
	ASSERT_EQ(0, mkdir(self->state, 0700));
	EXPECT_GT(0, mmsync_reader_open(self->name, NULL,
					&(struct mmsync_reader *){ 0 }));
	rmdir(self->state);
}

TEST_F(bad, planted_symlinks_are_not_followed)
{
	char target[300], data[300];
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct stat st;

	snprintf(target, sizeof(target), "%s/target", self->dir.path);
	ASSERT_EQ(0, rename(self->state, target));
	ASSERT_EQ(0, symlink(target, self->state));
	EXPECT_EQ(-ELOOP, mmsync_reader_open(self->name, NULL, &r));
	EXPECT_EQ(-ELOOP, mmsync_writer_open(self->name, NULL, &w));
	unlink(self->state);
	ASSERT_EQ(0, rename(target, self->state));

	/* A data file swapped for a symlink: the writer refuses it too. */
	snprintf(data, sizeof(data), "%s_data_0", self->name);
	ASSERT_EQ(0, unlink(data));
	ASSERT_EQ(0, symlink("/etc/passwd", data));
	EXPECT_EQ(-ELOOP, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, lstat("/etc/passwd", &st));
	unlink(data);
}

/* Metadata claims more bytes than the data file has: no SIGBUS. */
static int reader_refused_untouched(const char *name, const char *state)
{
	unsigned char *before, *after;
	struct mmsync_reader *r;
	long nb, na;
	int ok;

	nb = slurp(state, &before);
	if (nb < 0)
		return 0;
	ok = mmsync_reader_open(name, NULL, &r) == -EBADMSG;
	na = slurp(state, &after);
	ok = ok && na == nb && !memcmp(before, after, nb);
	free(before);
	if (na >= 0)
		free(after);
	return ok;
}

/* Metadata claims more bytes than the data file has: no SIGBUS. */
TEST_F(bad, slot_bigger_than_its_file)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	char data[300];

	snprintf(data, sizeof(data), "%s_data_1", self->name);
	/* A reader that opened while the channel was fine... */
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	/* gen 1 lives in slot 1; claim a 1 GiB capacity and size. */
	poke64(self->state, OFF_SLOT0 + SLOT_SIZE + 8, 1ull << 30);
	poke64(self->state, OFF_SLOT0 + SLOT_SIZE + 24, 1ull << 30);
	EXPECT_EQ(-EBADMSG, mmsync_read_begin(r, &v));
	mmsync_reader_close(r);
	/* ...and one that opens now, which must not even take an entry. */
	EXPECT_TRUE(reader_refused_untouched(self->name, self->state));
	/* A shrunken data file under a stale capacity: same answers. */
	poke64(self->state, OFF_SLOT0 + SLOT_SIZE + 8, 100);
	poke64(self->state, OFF_SLOT0 + SLOT_SIZE + 24, 4096);
	ASSERT_EQ(0, truncate(data, 10));
	EXPECT_TRUE(reader_refused_untouched(self->name, self->state));
}

TEST_F(bad, missing_data_file)
{
	char data[300];

	snprintf(data, sizeof(data), "%s_data_1", self->name);
	ASSERT_EQ(0, unlink(data));
	EXPECT_TRUE(reader_refused_untouched(self->name, self->state));
}

TEST_F(bad, slot_metadata_of_another_generation)
{
	struct mmsync_reader *r;
	struct mmsync_view v;

	/* Slot 1 claims generation 5 while the channel is at 1. */
	poke64(self->state, OFF_SLOT0 + SLOT_SIZE, 5);
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	EXPECT_EQ(-EBADMSG, mmsync_read_begin(r, &v));
	EXPECT_EQ(-EINVAL, mmsync_read_end(r, &v));
	mmsync_reader_close(r);
}

/* Random single-word damage anywhere in the header: never a crash. */
TEST_F(bad, header_fuzz)
{
	unsigned char *orig;
	struct mmsync_reader *r;
	struct mmsync_writer *w;
	struct mmsync_view v;
	uint64_t s = 99, val;
	long n;
	int i, fd, err;

	n = slurp(self->state, &orig);
	ASSERT_LT(0, n);
	for (i = 0; i < 2000; i++) {
		fd = open(self->state, O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(n, pwrite(fd, orig, n, 0));
		close(fd);
		val = xorshift64(&s);
		switch (val % 4) {
		case 0:
			val = 0;
			break;
		case 1:
			val = ~0ull;
			break;
		case 2:
			val &= 0xff;
			break;
		}
		poke64(self->state, (off_t)(xorshift64(&s) % 512) & ~7, val);
		err = mmsync_reader_open(self->name, NULL, &r);
		if (err == 0) {
			if (mmsync_read_begin(r, &v) == 0) {
				/* Whatever it says, the bytes are mapped. */
				if (v.size)
					(void)*(volatile const char
							*)((const char *)
								   v.data +
							   v.size - 1);
				mmsync_read_end(r, &v);
			}
			mmsync_reader_close(r);
		} else {
			EXPECT_GT(0, err);
		}
		err = mmsync_writer_open(self->name, NULL, &w);
		if (err == 0) {
			EXPECT_EQ(0, mmsync_publish(w, "abc", 3, NULL));
			mmsync_writer_close(w);
		}
	}
	free(orig);
}

TEST_HARNESS_MAIN
