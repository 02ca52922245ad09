// SPDX-License-Identifier: MIT
/*
 * corrupt.c - files that are not a valid channel: garbage, truncated, wrong
 * magic or format (format 1 included), impossible sizes, look-alike and
 * missing objects, symlinks, FIFOs. Always a negative errno, never a crash
 * or SIGBUS, and nothing written to any of the files by a side that
 * refuses them. The damage here is done as the owner (root), who may write
 * the writer-only state; what a mere reader can do is tests/hostile.c.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"
#include "layout.h" /* white box: where to damage */

#define OFF(f) offsetof(struct mmsync_hdr, f)
#define OFF_SLOT(i, f)                                   \
	(OFF(hot) + offsetof(struct mmsync__hot, slot) + \
	 (i) * sizeof(struct mmsync__slot) + offsetof(struct mmsync__slot, f))

static const char *const parts[] = { "state", "readers", "data_0", "data_1" };
#define NR_PARTS 4

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

static void part_path(const char *name, int i, char *out, size_t n)
{
	snprintf(out, n, "%s_%s", name, parts[i]);
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

/* The bytes of every file of the channel (a missing one reads as -1). */
struct snap {
	unsigned char *buf[NR_PARTS];
	long len[NR_PARTS];
};

static void snap_take(const char *name, struct snap *s)
{
	char path[300];
	int i;

	for (i = 0; i < NR_PARTS; i++) {
		part_path(name, i, path, sizeof(path));
		s->buf[i] = NULL;
		s->len[i] = slurp(path, &s->buf[i]);
	}
}

static bool snap_same(const struct snap *a, const struct snap *b)
{
	int i;

	for (i = 0; i < NR_PARTS; i++) {
		if (a->len[i] != b->len[i])
			return false;
		if (a->len[i] > 0 && memcmp(a->buf[i], b->buf[i], a->len[i]))
			return false;
	}
	return true;
}

static void snap_free(struct snap *s)
{
	int i;

	for (i = 0; i < NR_PARTS; i++)
		if (s->len[i] >= 0)
			free(s->buf[i]);
}

/* A reader refuses the channel with @want and changes no byte of it. */
static int reader_refused_untouched(const char *name, int want)
{
	struct mmsync_reader *r = NULL;
	struct snap a, b;
	int err, ok;

	snap_take(name, &a);
	err = mmsync_reader_open(name, NULL, &r);
	if (!err)
		mmsync_reader_close(r);
	snap_take(name, &b);
	ok = err == want && snap_same(&a, &b);
	if (err != want)
		fprintf(stderr, "# reader_open: %d, wanted %d\n", err, want);
	snap_free(&a);
	snap_free(&b);
	return ok;
}

/* Both sides refuse with @want (writer: @wwant) and leave it as it was. */
static int refused_untouched(const char *name, int want, int wwant)
{
	struct mmsync_writer *w = NULL;
	struct snap a, b;
	int err, ok;

	if (!reader_refused_untouched(name, want))
		return 0;
	snap_take(name, &a);
	err = mmsync_writer_open(name, NULL, &w);
	if (!err)
		mmsync_writer_close(w);
	snap_take(name, &b);
	ok = err == wwant && snap_same(&a, &b);
	if (err != wwant)
		fprintf(stderr, "# writer_open: %d, wanted %d\n", err, wwant);
	snap_free(&a);
	snap_free(&b);
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
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, empty_file)
{
	ASSERT_EQ(0, truncate(self->state, 0));
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, truncated_state)
{
	ASSERT_EQ(0, truncate(self->state, 100));
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
	ASSERT_EQ(0, truncate(self->state, MMSYNC_STATE_SIZE - 8));
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, wrong_magic)
{
	poke64(self->state, OFF(magic), 0x1122334455667788ull);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, wrong_format_version)
{
	poke32(self->state, OFF(format), 99);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

/* A format-1 state file (one file read-write for all): refused. */
TEST_F(bad, format_1_file)
{
	unsigned char v1[4096 + 256 * 64] = { 0 };
	uint64_t magic = 0x434e5953534d4d7full;
	uint32_t one = 1, hdr = 4096, esz = 64, n = 256;
	int fd;

	memcpy(v1, &magic, 8);
	memcpy(v1 + 8, &one, 4);
	memcpy(v1 + 12, &hdr, 4);
	memcpy(v1 + 16, &esz, 4);
	memcpy(v1 + 20, &n, 4);
	fd = open(self->state, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(v1), write(fd, v1, sizeof(v1)));
	close(fd);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, impossible_sizes)
{
	poke32(self->state, OFF(nr_entries), 0xffffffffu);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
	poke32(self->state, OFF(nr_entries), 0);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
	poke32(self->state, OFF(nr_entries), 256);
	poke64(self->state, OFF(table_size), 1ull << 50);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
	poke64(self->state, OFF(table_size), mmsync_table_size(256));
	poke32(self->state, OFF(entry_size), 32);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, bad_fence_mode_or_flags)
{
	poke32(self->state, OFF(fence_mode), 77);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
	poke32(self->state, OFF(fence_mode), MMSYNC_FENCE_XCHG);
	poke32(self->state, OFF(flags), 1);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, generation_out_of_range)
{
	poke64(self->state, OFF(hot.gen), ~0ull);
	EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG));
}

TEST_F(bad, state_is_a_directory_or_fifo)
{
	unlink(self->state);
	ASSERT_EQ(0, mkfifo(self->state, 0600));
	/* Never blocks on the FIFO; never takes it for a channel. */
	EXPECT_EQ(-EBADMSG, mmsync_reader_open(self->name, NULL,
					       &(struct mmsync_reader *){ 0 }));
	EXPECT_EQ(-EPERM, mmsync_writer_open(self->name, NULL,
					     &(struct mmsync_writer *){ 0 }));
	unlink(self->state);
	ASSERT_EQ(0, mkdir(self->state, 0700));
	EXPECT_GT(0, mmsync_reader_open(self->name, NULL,
					&(struct mmsync_reader *){ 0 }));
	EXPECT_GT(0, mmsync_writer_open(self->name, NULL,
					&(struct mmsync_writer *){ 0 }));
	rmdir(self->state);
}

TEST_F(bad, planted_symlinks_are_not_followed)
{
	char target[300], path[300];
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct stat st;
	int i;

	for (i = 0; i < NR_PARTS; i++) {
		part_path(self->name, i, path, sizeof(path));
		snprintf(target, sizeof(target), "%s/target", self->dir.path);
		ASSERT_EQ(0, rename(path, target));
		ASSERT_EQ(0, symlink(target, path));
		EXPECT_EQ(-ELOOP, mmsync_reader_open(self->name, NULL, &r))
		TH_LOG("%s", parts[i]);
		EXPECT_GT(0, mmsync_writer_open(self->name, NULL, &w))
		TH_LOG("%s", parts[i]);
		unlink(path);
		ASSERT_EQ(0, rename(target, path));
	}
	/* And the writer's lock file. */
	part_path(self->name, 0, path, sizeof(path));
	snprintf(path, sizeof(path), "%s_lock", self->name);
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, symlink("/etc/passwd", path));
	EXPECT_EQ(-ELOOP, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, lstat("/etc/passwd", &st));
	unlink(path);
}

/* An object swapped for a copy of itself (another inode): a look-alike. */
TEST_F(bad, look_alike_objects_are_refused)
{
	struct mmsync_reader *r;
	char path[300], tmp[300];
	unsigned char *buf;
	long n;
	int i, fd;

	for (i = 1; i < NR_PARTS; i++) {
		part_path(self->name, i, path, sizeof(path));
		snprintf(tmp, sizeof(tmp), "%s.orig", path);
		n = slurp(path, &buf);
		ASSERT_LE(0, n);
		ASSERT_EQ(0, rename(path, tmp));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
		ASSERT_LE(0, fd);
		ASSERT_EQ(n, write(fd, buf, n));
		close(fd);
		free(buf);
		EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG))
		TH_LOG("%s", parts[i]);
		ASSERT_EQ(0, rename(tmp, path));
	}
	/* All originals back: the channel works again. */
	EXPECT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	mmsync_reader_close(r);
}

TEST_F(bad, missing_objects)
{
	char path[300], tmp[300];
	int i;

	for (i = 1; i < NR_PARTS; i++) {
		part_path(self->name, i, path, sizeof(path));
		snprintf(tmp, sizeof(tmp), "%s.orig", path);
		ASSERT_EQ(0, rename(path, tmp));
		EXPECT_TRUE(refused_untouched(self->name, -EBADMSG, -EBADMSG))
		TH_LOG("%s", parts[i]);
		ASSERT_EQ(0, rename(tmp, path));
	}
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
	poke64(self->state, OFF(cap[1]), 1ull << 30);
	poke64(self->state, OFF_SLOT(1, size), 1ull << 30);
	EXPECT_EQ(-EBADMSG, mmsync_read_begin(r, &v));
	mmsync_reader_close(r);
	/* ...and one that opens now, which must not even take an entry. */
	EXPECT_TRUE(reader_refused_untouched(self->name, -EBADMSG));
	/* A shrunken data file under a stale capacity: same answers. */
	poke64(self->state, OFF_SLOT(1, size), 100);
	poke64(self->state, OFF(cap[1]), 4096);
	ASSERT_EQ(0, truncate(data, 10));
	EXPECT_TRUE(reader_refused_untouched(self->name, -EBADMSG));
}

TEST_F(bad, slot_metadata_of_another_generation)
{
	struct mmsync_reader *r;
	struct mmsync_view v;

	/* Slot 1 claims generation 5 while the channel is at 1. */
	poke64(self->state, OFF_SLOT(1, gen), 5);
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	EXPECT_EQ(-EBADMSG, mmsync_read_begin(r, &v));
	EXPECT_EQ(-EINVAL, mmsync_read_end(r, &v));
	mmsync_reader_close(r);
}

/*
 * Random damage to 1..4 words anywhere in the state page, 2000 rounds.
 * Whatever a reader accepts, its view lies inside its mapping and a
 * refusal leaves every file untouched; whatever a writer accepts, it
 * publishes, and a fresh reader then gets exactly the published bytes.
 */
TEST_F(bad, state_fuzz)
{
	struct mmsync_publish_info info;
	struct mmsync_reader *r;
	struct mmsync_writer *w;
	struct mmsync_view v;
	uint64_t s = 99, val;
	unsigned char *orig;
	int i, k, fd, err;
	unsigned int accepted = 0, published = 0;
	struct snap a, b;
	char msg[32];
	long n;

	n = slurp(self->state, &orig);
	ASSERT_EQ(MMSYNC_STATE_SIZE, n);
	for (i = 0; i < 2000; i++) {
		fd = open(self->state, O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(n, pwrite(fd, orig, n, 0));
		close(fd);
		for (k = 0; k < 1 + (int)(xorshift64(&s) % 4); k++) {
			val = xorshift64(&s);
			switch (val % 5) {
			case 0:
				val = 0;
				break;
			case 1:
				val = ~0ull;
				break;
			case 2:
				val &= 0xff;
				break;
			case 3:
				val = 1ull << (val % 64);
				break;
			}
			poke64(self->state,
			       (off_t)(xorshift64(&s) % MMSYNC_STATE_SIZE) & ~7,
			       val);
		}
		snap_take(self->name, &a);
		err = mmsync_reader_open(self->name, NULL, &r);
		if (err == 0) {
			accepted++;
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
			ASSERT_GT(0, err);
			snap_take(self->name, &b);
			EXPECT_TRUE(snap_same(&a, &b));
			snap_free(&b);
		}
		snap_free(&a);
		err = mmsync_writer_open(self->name, NULL, &w);
		if (err)
			continue;
		snprintf(msg, sizeof(msg), "round %d", i);
		ASSERT_EQ(0, mmsync_publish(w, msg, strlen(msg), &info));
		mmsync_writer_close(w);
		published++;
		ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
		ASSERT_EQ(0, mmsync_read_begin(r, &v));
		EXPECT_EQ(info.gen, v.gen);
		EXPECT_EQ(strlen(msg), v.size);
		EXPECT_EQ(0, memcmp(v.data, msg, v.size));
		EXPECT_EQ(info.checksum, v.checksum);
		EXPECT_EQ(0, mmsync_read_end(r, &v));
		mmsync_reader_close(r);
	}
	/* The test must exercise both outcomes. */
	EXPECT_LT(100, accepted);
	EXPECT_LT(100, published);
	TH_LOG("%u of 2000 damaged states accepted by readers, %u by writers",
	       accepted, published);
	free(orig);
}

TEST_HARNESS_MAIN
