// SPDX-License-Identifier: MIT
/*
 * plant.c - creation never adopts. Files planted by another user in a
 * shared (sticky, world-writable) directory, before or while a writer
 * creates a channel, are never opened, written or trusted: creation fails
 * with -EPERM and leaves them as they were. Bad names and bad modes fail
 * before anything is created.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define NOBODY 65534

static const char *const parts[] = { "lock", "data_0", "data_1", "readers",
				     "state" };
#define NR_PARTS 5

/* Entries in @dir other than "." and "..". */
static int count_entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

struct plant {
	char name[256];
	const char *part;
};

/* As nobody: create <name>_<part> holding "planted". */
static int plant_main(void *arg)
{
	struct plant *p = arg;
	char path[300];
	int fd;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 100;
	/* A change of credentials clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(path, sizeof(path), "%s_%s", p->name, p->part);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
	if (fd < 0)
		return 101;
	if (write(fd, "planted", 7) != 7)
		return 102;
	close(fd);
	return 0;
}

FIXTURE(plant)
{
	struct tdir dir;
	char name[256];
};

FIXTURE_SETUP(plant)
{
	if (geteuid() != 0)
		SKIP(return, "needs root, to plant files as another user");
	ASSERT_EQ(0, tdir_make(&self->dir));
	/* Like /dev/shm: anyone may create, only owners may remove. */
	ASSERT_EQ(0, chmod(self->dir.path, 01777));
	tdir_chan(&self->dir, "p", self->name, sizeof(self->name));
}

FIXTURE_TEARDOWN(plant)
{
	tdir_remove(&self->dir);
}

/* Each part planted alone: the writer refuses, the plant is untouched. */
TEST_F(plant, planted_files_are_never_adopted)
{
	struct mmsync_writer *w = NULL;
	struct plant p;
	char path[300];
	unsigned char *buf;
	struct stat st;
	int i;

	strcpy(p.name, self->name);
	for (i = 0; i < NR_PARTS; i++) {
		p.part = parts[i];
		ASSERT_EQ(0, reap(spawn(plant_main, &p)));
		EXPECT_EQ(-EPERM, mmsync_writer_open(self->name, NULL, &w))
		TH_LOG("planted %s", parts[i]);
		snprintf(path, sizeof(path), "%s_%s", self->name, parts[i]);
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_EQ(NOBODY, st.st_uid);
		ASSERT_EQ(7, slurp(path, &buf));
		EXPECT_EQ(0, memcmp(buf, "planted", 7));
		free(buf);
		/* Nothing of ours stays behind: only the plant. */
		EXPECT_EQ(1, count_entries(self->dir.path))
		TH_LOG("planted %s", parts[i]);
		ASSERT_EQ(0, unlink(path));
	}
	/* And with the directory clean again, creation works. */
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	mmsync_writer_close(w);
}

/* A channel whose files belong to another user is not continued. */
TEST_F(plant, foreign_channel_is_refused)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	char path[300];
	int i;

	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &w));
	ASSERT_EQ(0, mmsync_publish(w, "x", 1, NULL));
	mmsync_writer_close(w);
	for (i = 0; i < NR_PARTS; i++) {
		snprintf(path, sizeof(path), "%s_%s", self->name, parts[i]);
		ASSERT_EQ(0, chown(path, NOBODY, NOBODY));
		EXPECT_EQ(-EPERM, mmsync_writer_open(self->name, NULL, &w))
		TH_LOG("%s owned by nobody", parts[i]);
		ASSERT_EQ(0, chown(path, 0, 0));
	}
	/* Readers do not care who owns a channel, only that it is one. */
	ASSERT_EQ(0, mmsync_reader_open(self->name, NULL, &r));
	mmsync_reader_close(r);
}

struct race {
	char dir[128];
	int round; /* the name the writer is about to create */
	int stop;
	uint64_t plants; /* files the planter made */
};

/* As nobody: plant every part of the names the writer is about to use. */
static int planter_main(void *arg)
{
	struct race *rc = arg;
	int k, i, fd, last = -1;
	char path[300];
	uint64_t t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 100;
	/* A change of credentials clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!__atomic_load_n(&rc->stop, __ATOMIC_RELAXED)) {
		k = __atomic_load_n(&rc->round, __ATOMIC_RELAXED);
		/*
		 * A new name: wait 0, 60, 120 or 180 us before planting it, so
		 * that the writer, whose creation takes 50-150 us here,
		 * sometimes comes first (a planter in a tight loop nearly
		 * always won, and once all 2000 rounds).
		 */
		if (k != last) {
			last = k;
			t = now_ns() + (uint64_t)(k % 4) * 60000;
			while (now_ns() < t)
				;
		}
		for (i = 0; i < NR_PARTS; i++) {
			snprintf(path, sizeof(path), "%s/r%d_%s", rc->dir, k,
				 parts[(i + k) % NR_PARTS]);
			fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
			if (fd >= 0) {
				__atomic_fetch_add(&rc->plants, 1,
						   __ATOMIC_RELAXED);
				close(fd);
			}
		}
	}
	return 0;
}

/*
 * A planter racing the writer's creation 2000 times. After every
 * successful open, each file of the channel is the writer's own; after
 * every refusal (-EPERM) each plant is intact. 0 adoptions.
 */
TEST_F_TIMEOUT(plant, planter_races_creation, 120)
{
	unsigned int opened = 0, refused = 0, adopted = 0, other = 0;
	struct mmsync_writer *w;
	char name[300], path[320];
	struct race *rc;
	struct stat st;
	int k, i, pid, err;

	rc = mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rc);
	memset(rc, 0, sizeof(*rc));
	snprintf(rc->dir, sizeof(rc->dir), "%s", self->dir.path);
	pid = spawn(planter_main, rc);
	ASSERT_LT(0, pid);
	for (k = 0; k < 2000; k++) {
		__atomic_store_n(&rc->round, k, __ATOMIC_RELAXED);
		/* Give the planter a head start now and then, or none. */
		if (k % 3 == 0)
			usleep(50);
		snprintf(name, sizeof(name), "%s/r%d", self->dir.path, k);
		err = mmsync_writer_open(name, NULL, &w);
		if (err == 0) {
			opened++;
			for (i = 0; i < NR_PARTS; i++) {
				snprintf(path, sizeof(path), "%s_%s", name,
					 parts[i]);
				if (stat(path, &st) || st.st_uid != 0)
					adopted++;
			}
			if (mmsync_publish(w, "ok", 2, NULL))
				adopted++;
			mmsync_writer_close(w);
		} else if (err == -EPERM) {
			refused++;
		} else {
			other++;
			TH_LOG("round %d: %d", k, err);
		}
	}
	__atomic_store_n(&rc->stop, 1, __ATOMIC_RELAXED);
	EXPECT_EQ(0, reap(pid));
	TH_LOG("2000 rounds: %u created, %u refused (a plant came first), "
	       "%u adoptions, %llu files planted",
	       opened, refused, adopted, (unsigned long long)rc->plants);
	EXPECT_EQ(0, adopted);
	EXPECT_EQ(0, other);
	/* The race must really happen both ways. */
	EXPECT_LT(0, opened);
	EXPECT_LT(0, refused);
	munmap(rc, sizeof(*rc));
}

TEST(bad_names_create_nothing)
{
	struct mmsync_writer *w;
	char name[400], path[300];
	struct tdir d;
	int n;

	ASSERT_EQ(0, tdir_make(&d));
	/* 249 characters: NAME_state would fit in 255, NAME_readers not. */
	n = snprintf(name, sizeof(name), "%s/", d.path);
	memset(name + n, 'n', 249);
	name[n + 249] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, mmsync_writer_open(name, NULL, &w));
	EXPECT_EQ(0, count_entries(d.path));
	MMSYNC_OPTS(mmsync_writer_opts, mo, .backing = MMSYNC_BACKING_MEMFD);
	EXPECT_EQ(-ENAMETOOLONG, mmsync_writer_open(name, &mo, &w));
	EXPECT_EQ(0, count_entries(d.path));
	EXPECT_EQ(-EINVAL, mmsync_writer_open("", NULL, &w));
	snprintf(path, sizeof(path), "%s/", d.path);
	EXPECT_EQ(-EINVAL, mmsync_writer_open(path, NULL, &w));
	EXPECT_EQ(0, count_entries(d.path));
	tdir_remove(&d);
}

TEST(bad_modes_create_nothing)
{
	static const uint32_t bad[] = { 04640, 02640, 01640, 0750, 0641, 0100 };
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;
	unsigned int i;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "m", name, sizeof(name));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		MMSYNC_OPTS(mmsync_writer_opts, a, .data_mode = bad[i]);
		MMSYNC_OPTS(mmsync_writer_opts, b, .state_mode = bad[i]);
		MMSYNC_OPTS(mmsync_writer_opts, c, .table_mode = bad[i]);

		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &a, &w));
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &b, &w));
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &c, &w));
	}
	EXPECT_EQ(0, count_entries(d.path));
	tdir_remove(&d);
}

TEST_HARNESS_MAIN
