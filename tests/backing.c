// SPDX-License-Identifier: MIT
/*
 * backing.c - the contract on every backing (files in tmpfs, files in a
 * hugetlbfs mount, memfds, memfds of 2 MiB and 1 GiB huge pages), plus
 * the memfd handoff (SO_PEERCRED), read-only slots, seals, symlinks and
 * hugepage exhaustion.
 *
 * Huge pages, as root: a hugetlb fixture adds 2 MiB pages to the pool and
 * mounts hugetlbfs on a private mkdtemp() directory, in its own mount
 * namespace where it can; the teardown runs in the parent (so a crashed
 * test cleans up too), unmounts and takes its pages back out of the pool.
 * Pool changes are deltas made under flock() of the sysfs file, so that
 * runs side by side each take back only what they added. 1 GiB pages
 * take seconds to gather, so main() adds them once per run and removes
 * them at exit. Without root, or when the kernel says no (ENOMEM, EINVAL,
 * ENOSYS, EPERM, EOPNOTSUPP, ENOBUFS), the hugetlb variants skip.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define HP_2M (2ull << 20)
#define HP_1G (1ull << 30)
#define POOL_2M 64 /* 2 MiB pages a hugetlb fixture adds: 128 MiB */
#define POOL_1G 2 /* 1 GiB pages main() adds, one per slot */
#define NOBODY 65534
#define TORTURE_NS 2000000000ull
#define TORTURE_READERS 2

/* ---- Huge page pools -------------------------------------------------- */

static void pool_file(char *buf, size_t n, uint64_t page, const char *what)
{
	snprintf(buf, n, "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
		 (unsigned long long)(page >> 10), what);
}

static long pool_read(uint64_t page, const char *what)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	pool_file(path, sizeof(path), page, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static pid_t main_pid;
static long main_1g; /* 1 GiB pages main() added */

static void give_back_1g(void)
{
	if (getpid() == main_pid && main_1g > 0) {
		hugepool_add(HP_1G, -main_1g);
		main_1g = 0;
	}
}

static void on_signal(int sig)
{
	give_back_1g();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- Channels on any backing ------------------------------------------ */

FIXTURE(bk)
{
	struct tdir dir;
	char mnt[64]; /* hugetlbfs mount point, "" if none */
	int global_mount; /* mounted in the parent's namespace */
	long pages; /* 2 MiB pages this fixture added to the pool */
	char name[256];
	struct mmsync_writer *w;
	struct mmsync_reader *r;
};

FIXTURE_VARIANT(bk)
{
	uint32_t backing; /* enum mmsync_backing */
	uint64_t huge; /* huge page size, 0: none */
	bool abstract; /* memfd: "@name" instead of NAME_sock */
};

FIXTURE_VARIANT_ADD(bk, tmpfs){
	.backing = MMSYNC_BACKING_FILES,
};

FIXTURE_VARIANT_ADD(bk, hugetlbfs){
	.backing = MMSYNC_BACKING_FILES,
	.huge = HP_2M,
};

FIXTURE_VARIANT_ADD(bk, memfd){
	.backing = MMSYNC_BACKING_MEMFD,
};

FIXTURE_VARIANT_ADD(bk, memfd_huge2m){
	.backing = MMSYNC_BACKING_MEMFD,
	.huge = HP_2M,
	.abstract = true,
};

FIXTURE_VARIANT_ADD(bk, memfd_huge1g){
	.backing = MMSYNC_BACKING_MEMFD,
	.huge = HP_1G,
	.abstract = true,
};

/* Errors that mean "this system has no such thing": skip, not fail. */
static bool absent(int err)
{
	return err == -ENOMEM || err == -EINVAL || err == -ENOSYS ||
	       err == -EPERM || err == -EOPNOTSUPP || err == -ENOBUFS ||
	       err == -ENODEV;
}

static bool is_memfd(const FIXTURE_VARIANT(bk) * variant)
{
	return variant->backing == MMSYNC_BACKING_MEMFD;
}

/* Undo what setup did; safe on a half-done setup, in parent or child. */
static void bk_cleanup(FIXTURE_DATA(bk) * self)
{
	if (self->mnt[0]) {
		/* Not mounted here when the child had its own namespace. */
		umount2(self->mnt, MNT_DETACH);
		rmdir(self->mnt);
		self->mnt[0] = '\0';
	}
	if (self->pages > 0) {
		hugepool_add(HP_2M, -self->pages);
		self->pages = 0;
	}
	tdir_remove(&self->dir);
}

/* Pages and a mount for a hugetlb variant; 0 or a reason in @why. */
static int huge_setup(FIXTURE_DATA(bk) * self,
		      const FIXTURE_VARIANT(bk) * variant, char *why, size_t n)
{
	char opts[64];
	long got;

	if (!variant->huge)
		return 0;
	if (geteuid() != 0) {
		snprintf(why, n, "needs root to reserve huge pages");
		return -EPERM;
	}
	if (variant->huge == HP_1G) {
		if (pool_read(HP_1G, "free_hugepages") < POOL_1G) {
			snprintf(why, n, "no %d free 1 GiB pages", POOL_1G);
			return -ENOMEM;
		}
		return 0;
	}
	got = hugepool_add(HP_2M, POOL_2M);
	if (got < 0) {
		snprintf(why, n, "cannot grow the 2 MiB pool: %s",
			 strerror((int)-got));
		return (int)got;
	}
	self->pages = got;
	if (got < POOL_2M) {
		snprintf(why, n, "the kernel found %ld of %d 2 MiB pages", got,
			 POOL_2M);
		return -ENOMEM;
	}
	if (variant->backing != MMSYNC_BACKING_FILES)
		return 0;
	snprintf(self->mnt, sizeof(self->mnt), "/tmp/mmsync-htlb-XXXXXX");
	if (!mkdtemp(self->mnt)) {
		self->mnt[0] = '\0';
		snprintf(why, n, "mkdtemp: %s", strerror(errno));
		return -errno;
	}
	/* A namespace of our own: nobody else sees the mount, ever. */
	self->global_mount = unshare(CLONE_NEWNS) < 0 ||
			     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	/* A quota of exactly our pages: exhaustion is ours to measure. */
	snprintf(opts, sizeof(opts), "pagesize=2M,size=%llu,mode=0700",
		 (unsigned long long)POOL_2M * HP_2M);
	if (mount("mmsync-test", self->mnt, "hugetlbfs",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0) {
		snprintf(why, n, "mount hugetlbfs: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

struct server {
	struct mmsync_writer *w;
	int stop;
	int served;
	int err;
};

/* Serve memfd handoffs until told to stop (a reader_open in progress). */
static void *serve_thread(void *arg)
{
	struct server *s = arg;
	int n;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		n = mmsync_writer_serve(s->w, 20000000);
		if (n < 0) {
			s->err = n;
			break;
		}
		s->served += n;
	}
	return NULL;
}

/* mmsync_reader_open(), with the writer @w serving meanwhile if memfd. */
static int open_served(struct mmsync_writer *w, const char *name,
		       const struct mmsync_reader_opts *ro,
		       struct mmsync_reader **r)
{
	struct server s = { .w = w };
	pthread_t th;
	int err;

	if (!w || mmsync_writer_handoff_fd(w) < 0)
		return mmsync_reader_open(name, ro, r);
	if (pthread_create(&th, NULL, serve_thread, &s))
		return -EAGAIN;
	err = mmsync_reader_open(name, ro, r);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	return err;
}

/* Wait for child @pid, serving @w's handoffs meanwhile. */
static int reap_serving(struct mmsync_writer *w, pid_t pid)
{
	int st;

	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (w && mmsync_writer_handoff_fd(w) >= 0)
			mmsync_writer_serve(w, 10000000);
		else
			usleep(5000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int bk_writer(FIXTURE_DATA(bk) * self,
		     const FIXTURE_VARIANT(bk) * variant,
		     struct mmsync_writer **w)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = variant->backing,
		    .huge_page_size = variant->huge, .grace_ns = 100000000);

	return mmsync_writer_open(self->name, &o, w);
}

FIXTURE_SETUP(bk)
{
	char why[160];
	int err;

	err = huge_setup(self, variant, why, sizeof(why));
	if (err) {
		bk_cleanup(self);
		if (absent(err))
			SKIP(return, "%s", why);
		ASSERT_EQ(0, err) TH_LOG("%s", why);
	}
	if (tdir_make(&self->dir)) {
		bk_cleanup(self);
		ASSERT_TRUE(0) TH_LOG("tdir_make: %s", strerror(errno));
	}
	if (variant->abstract)
		snprintf(self->name, sizeof(self->name), "@mmsync-test-%d-%s",
			 getpid(), strrchr(self->dir.path, '-') + 1);
	else if (self->mnt[0])
		snprintf(self->name, sizeof(self->name), "%s/c", self->mnt);
	else
		tdir_chan(&self->dir, "c", self->name, sizeof(self->name));
	err = bk_writer(self, variant, &self->w);
	if (err && variant->huge && absent(err)) {
		bk_cleanup(self);
		SKIP(return, "huge pages: %s", strerror(-err));
	}
	if (!err)
		err = open_served(self->w, self->name, NULL, &self->r);
	if (err) {
		mmsync_writer_close(self->w);
		bk_cleanup(self);
		ASSERT_EQ(0, err);
	}
}

FIXTURE_TEARDOWN_PARENT(bk)
{
	/* The handles died with the test's process; the rest is global. */
	bk_cleanup(self);
}

TEST_F(bk, round_trip)
{
	static const char msg[] = "hello, backing";
	struct mmsync_publish_info info;
	struct mmsync_view v;

	ASSERT_EQ(-ENODATA, mmsync_read_begin(self->r, &v));
	ASSERT_EQ(0, mmsync_publish(self->w, msg, sizeof(msg), &info));
	EXPECT_EQ(1, info.gen);
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(1, v.gen);
	EXPECT_EQ(sizeof(msg), v.size);
	EXPECT_EQ(0, memcmp(v.data, msg, sizeof(msg)));
	EXPECT_EQ(XXH3_64bits(msg, sizeof(msg)), v.checksum);
	EXPECT_EQ(info.checksum, v.checksum);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	ASSERT_EQ(0, mmsync_publish(self->w, NULL, 0, NULL));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(2, v.gen);
	EXPECT_EQ(0, v.size);
	EXPECT_NE(NULL, v.data);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
}

/* Slots grow (across huge pages too) under readers mapped small. */
TEST_F(bk, growth)
{
	static const size_t sizes[] = { 10,	 5000, 1 << 20,	     100,
					9 << 20, 3,    (3 << 20) + 1 };
	struct mmsync_reader *late;
	struct mmsync_view v;
	unsigned int i;
	void *buf;

	buf = malloc(9 << 20);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pattern_fill(buf, sizes[i], i + 1);
		ASSERT_EQ(0, mmsync_publish(self->w, buf, sizes[i], NULL));
		ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
		EXPECT_EQ(i + 1, v.gen);
		EXPECT_EQ(sizes[i], v.size);
		EXPECT_EQ(sizes[i], pattern_check(v.data, v.size, i + 1));
		ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	}
	/* A reader that comes late maps grown slots at once. */
	ASSERT_EQ(0, open_served(self->w, self->name, NULL, &late));
	ASSERT_EQ(0, mmsync_read_begin(late, &v));
	EXPECT_EQ(i, v.gen);
	EXPECT_EQ(sizes[i - 1], pattern_check(v.data, v.size, i));
	ASSERT_EQ(0, mmsync_read_end(late, &v));
	mmsync_reader_close(late);
	free(buf);
}

/* Pinned bytes never change; past the grace period, -ESTALE says so. */
TEST_F(bk, pin_stability)
{
	struct mmsync_publish_info info;
	struct mmsync_reader *r2;
	struct mmsync_view v, v2;
	char a[5000], b[5000], c[5000];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	memset(c, 'c', sizeof(c));
	ASSERT_EQ(0, mmsync_publish(self->w, a, sizeof(a), NULL));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	/* gen 2 goes to the other slot: no wait. */
	ASSERT_EQ(0, mmsync_publish(self->w, b, sizeof(b), &info));
	EXPECT_EQ(0, info.evicted);
	EXPECT_EQ(0, memcmp(v.data, a, sizeof(a)));
	ASSERT_EQ(0, open_served(self->w, self->name, NULL, &r2));
	ASSERT_EQ(0, mmsync_read_begin(r2, &v2));
	EXPECT_EQ(2, v2.gen);
	EXPECT_EQ(0, memcmp(v2.data, b, sizeof(b)));
	EXPECT_EQ(0, mmsync_read_end(r2, &v2));
	mmsync_reader_close(r2);
	EXPECT_EQ(0, memcmp(v.data, a, sizeof(a)));
	/* gen 3 reuses our slot: 100 ms grace, then eviction. */
	ASSERT_EQ(0, mmsync_publish(self->w, c, sizeof(c), &info));
	EXPECT_EQ(1, info.evicted);
	EXPECT_LE(90000000, info.waited_ns);
	EXPECT_EQ(-ESTALE, mmsync_read_end(self->r, &v));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(3, v.gen);
	EXPECT_EQ(0, memcmp(v.data, c, sizeof(c)));
	EXPECT_EQ(0, mmsync_read_end(self->r, &v));
}

/*
 * Files: a new writer continues the generation sequence. Memfds: the
 * channel dies with its writer; its readers keep the last snapshot and
 * learn -EPIPE; a new writer starts a new channel at generation 1.
 */
TEST_F(bk, writer_restart)
{
	/* Memfd: one slot per channel, two channels: two 1 GiB pages. */
	int x = 1, i, n = is_memfd(variant) ? 1 : 3;
	struct mmsync_reader *r2;
	struct mmsync_view v;

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	mmsync_writer_close(self->w);
	self->w = NULL;
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(n, v.gen);
	EXPECT_EQ(1, *(const int *)v.data);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	if (is_memfd(variant)) {
		EXPECT_EQ(-EPIPE, mmsync_wait(self->r, n, 0));
		EXPECT_EQ(-ENOENT, mmsync_reader_open(self->name, NULL, &r2));
	} else {
		EXPECT_EQ(-ETIMEDOUT, mmsync_wait(self->r, 3, 0));
	}
	ASSERT_EQ(0, bk_writer(self, variant, &self->w));
	x = 9;
	ASSERT_EQ(0, mmsync_publish(self->w, &x, sizeof(x), NULL));
	if (is_memfd(variant)) {
		EXPECT_EQ(1, mmsync_writer_gen(self->w));
		/* The old channel's reader still reads its last snapshot. */
		ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
		EXPECT_EQ(n, v.gen);
		ASSERT_EQ(0, mmsync_read_end(self->r, &v));
		EXPECT_EQ(-EPIPE, mmsync_wait(self->r, n, 1000000));
		ASSERT_EQ(0, open_served(self->w, self->name, NULL, &r2));
		ASSERT_EQ(0, mmsync_read_begin(r2, &v));
		EXPECT_EQ(1, v.gen);
		EXPECT_EQ(9, *(const int *)v.data);
		ASSERT_EQ(0, mmsync_read_end(r2, &v));
		mmsync_reader_close(r2);
	} else {
		EXPECT_EQ(4, mmsync_writer_gen(self->w));
		EXPECT_EQ(0, mmsync_wait(self->r, 3, 0));
		ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
		EXPECT_EQ(4, v.gen);
		EXPECT_EQ(9, *(const int *)v.data);
		ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	}
}

struct torture_stats {
	uint64_t reads;
	uint64_t stale;
	uint64_t torn;
	uint64_t bad_sum;
	int err;
};

struct torture {
	const char *name;
	int *stop;
	int *ready; /* readers that opened the channel */
	struct torture_stats *st;
};

/* A forked reader: check every word and the checksum of every view. */
static int torture_reader(void *arg)
{
	struct torture *t = arg;
	struct torture_stats *st = t->st;
	struct mmsync_reader *r;
	struct mmsync_view v;
	bool ok, sum_ok;
	int err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	err = mmsync_reader_open(t->name, NULL, &r);
	if (err) {
		st->err = err;
		return 1;
	}
	__atomic_fetch_add(t->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(t->stop, __ATOMIC_ACQUIRE)) {
		err = mmsync_read_begin(r, &v);
		if (err == -ENODATA)
			continue;
		if (err) {
			st->err = err;
			break;
		}
		ok = pattern_check(v.data, v.size, v.gen) == v.size;
		sum_ok = XXH3_64bits(v.data, v.size) == v.checksum;
		err = mmsync_read_end(r, &v);
		st->reads++;
		/* Evicted (-ESTALE): the bytes may have changed; say nothing. */
		if (err == -ESTALE)
			st->stale++;
		else if (err)
			st->err = err;
		else if (!ok)
			st->torn++; /* changed under a pin that held: a bug */
		else if (!sum_ok)
			st->bad_sum++;
	}
	mmsync_reader_close(r);
	return st->err ? 1 : 0;
}

/*
 * Forked readers check every word of every view while the writer
 * publishes as fast as it can, alternating publish and reserve/commit
 * over sizes that cross (huge) page boundaries. 0 torn views.
 */
TEST_F_TIMEOUT(bk, torture, 30)
{
	static const size_t sizes[] = {
		8, 4096, 65536 + 24, 1 << 20, (2 << 20) + 8, 100, (3 << 20) + 16
	};
	struct torture t[TORTURE_READERS];
	struct torture_stats *st;
	uint64_t end, gens = 0, reads = 0;
	int pid[TORTURE_READERS], i, err, *stop, *ready;
	size_t n;
	void *buf, *p;

	st = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st);
	stop = (int *)(st + TORTURE_READERS);
	ready = stop + 1;
	buf = malloc(4 << 20);
	ASSERT_NE(NULL, buf);
	memset(buf, 0, 4 << 20);
	for (i = 0; i < TORTURE_READERS; i++) {
		t[i] = (struct torture){ self->name, stop, ready, &st[i] };
		pid[i] = spawn(torture_reader, &t[i]);
		ASSERT_LT(0, pid[i]);
	}
	/* The clock starts when every reader is in (memfd: served). */
	end = now_ns() + 10 * TORTURE_NS;
	while (__atomic_load_n(ready, __ATOMIC_ACQUIRE) < TORTURE_READERS &&
	       now_ns() < end)
		if (is_memfd(variant))
			mmsync_writer_serve(self->w, 1000000);
		else
			usleep(1000);
	EXPECT_EQ(TORTURE_READERS, __atomic_load_n(ready, __ATOMIC_ACQUIRE));
	end = now_ns() + TORTURE_NS;
	while (now_ns() < end) {
		if (is_memfd(variant))
			mmsync_writer_serve(self->w, 0);
		n = sizes[gens % (sizeof(sizes) / sizeof(sizes[0]))];
		if (gens & 1) {
			err = mmsync_reserve(self->w, n, &p);
			if (!err) {
				pattern_fill(p, n, gens + 1);
				err = mmsync_commit(self->w, n, NULL);
			}
		} else {
			pattern_fill(buf, n, gens + 1);
			err = mmsync_publish(self->w, buf, n, NULL);
		}
		if (err) {
			__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
			ASSERT_EQ(0, err);
		}
		gens++;
	}
	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < TORTURE_READERS; i++) {
		EXPECT_EQ(0, reap_serving(self->w, pid[i]))
		TH_LOG("reader %d: %s", i, strerror(-st[i].err));
		EXPECT_EQ(0, st[i].torn);
		EXPECT_EQ(0, st[i].bad_sum);
		EXPECT_LT(0, st[i].reads);
		reads += st[i].reads;
		TH_LOG("reader %d: %llu reads, %llu stale", i,
		       (unsigned long long)st[i].reads,
		       (unsigned long long)st[i].stale);
	}
	ksft_print_msg("torture %s%s: %llu generations, %llu reads, 0 torn\n",
		       is_memfd(variant) ? "memfd" : "files",
		       variant->huge == HP_1G ? " 1 GiB pages" :
		       variant->huge	      ? " 2 MiB pages" :
						"",
		       (unsigned long long)gens, (unsigned long long)reads);
	free(buf);
	munmap(st, 4096);
}

/*
 * Out of huge pages, publish says -ENOMEM and changes nothing: the old
 * snapshot stays readable, and the pages taken on the way are given back.
 */
TEST_F(bk, hugepage_exhaustion)
{
	const size_t len = 64ull << 30; /* more than this machine has */
	struct statfs before, after;
	struct mmsync_view v;
	char msg[100];
	void *huge;

	if (!variant->huge)
		SKIP(return, "not hugetlb");
	memset(msg, 'm', sizeof(msg));
	ASSERT_EQ(0, mmsync_publish(self->w, msg, sizeof(msg), NULL));
	huge = mmap(NULL, len, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, huge);
	if (self->mnt[0])
		ASSERT_EQ(0, statfs(self->mnt, &before));
	EXPECT_EQ(-ENOMEM, mmsync_publish(self->w, huge, len, NULL));
	EXPECT_EQ(-ENOMEM, mmsync_publish(self->w, huge, len, NULL));
	if (self->mnt[0]) {
		/* The mount's quota is ours alone: exact accounting. */
		ASSERT_EQ(0, statfs(self->mnt, &after));
		EXPECT_EQ(before.f_bfree, after.f_bfree);
	}
	munmap(huge, len);
	EXPECT_EQ(1, mmsync_writer_gen(self->w));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(1, v.gen);
	EXPECT_EQ(sizeof(msg), v.size);
	EXPECT_EQ(0, memcmp(v.data, msg, sizeof(msg)));
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	/* And the channel goes on. */
	msg[0] = 'n';
	ASSERT_EQ(0, mmsync_publish(self->w, msg, sizeof(msg), NULL));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	EXPECT_EQ(2, v.gen);
	EXPECT_EQ('n', *(const char *)v.data);
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
}

struct probe_args {
	const char *name;
	bool memfd;
};

/* This process's descriptors whose target's name contains @what. */
static int fds_named(const char *what, int *fds, int max)
{
	char link[64], target[256];
	struct dirent *de;
	int n = 0, fd;
	ssize_t k;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		k = readlink(link, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (strstr(target, what))
			fds[n++] = fd;
	}
	closedir(d);
	return n;
}

/*
 * In a process that holds nothing but a reader: the data slots are
 * read-only descriptors, mapped PROT_READ. Writable mappings and
 * mprotect() get EACCES; ftruncate() of a read-only descriptor EINVAL.
 * Memfds: sealed, so even a writable reopen (the owner or root may)
 * cannot shrink them (EPERM) nor seal them against the writer.
 */
static int probe_read_only(void *arg)
{
	struct probe_args *a = arg;
	int fds[8], n, i, fd, seals;
	struct mmsync_reader *r;
	struct mmsync_view v;
	char proc[48];
	void *p;

	close_range(3, ~0u, 0); /* the writer's descriptors stay outside */
	if (mmsync_reader_open(a->name, NULL, &r))
		return 10;
	if (mmsync_read_begin(r, &v))
		return 11;
	p = (void *)((uintptr_t)v.data & ~4095ul);
	if (mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
		return 12;
	n = fds_named("data_", fds, 8);
	if (n != 2)
		return 13;
	for (i = 0; i < n; i++) {
		if ((fcntl(fds[i], F_GETFL) & O_ACCMODE) != O_RDONLY)
			return 14;
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i],
			 0);
		if (p != MAP_FAILED || (errno != EACCES && errno != EPERM))
			return 15;
		if (ftruncate(fds[i], 0) == 0 || errno != EINVAL)
			return 16;
		if (!a->memfd)
			continue;
		seals = fcntl(fds[i], F_GET_SEALS);
		if (seals != (F_SEAL_SHRINK | F_SEAL_SEAL) &&
		    seals != (F_SEAL_SHRINK | F_SEAL_SEAL | 0x20 /* EXEC */))
			return 17;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fds[i]);
		/* The writer's uid (0640) and root may: the seals hold. */
		fd = open(proc, O_RDWR);
		if (fd < 0)
			return 18;
		if (ftruncate(fd, 0) == 0 || errno != EPERM)
			return 19;
		if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0 || errno != EPERM)
			return 20;
		close(fd);
	}
	/* Still readable: nothing above changed the slot. */
	if (pattern_check(v.data, v.size, v.gen) != v.size)
		return 21;
	if (mmsync_read_end(r, &v))
		return 22;
	mmsync_reader_close(r);
	return 0;
}

TEST_F(bk, data_slots_are_read_only)
{
	struct probe_args a = { self->name, is_memfd(variant) };
	char buf[6000];
	int pid;

	pattern_fill(buf, sizeof(buf), 1);
	ASSERT_EQ(0, mmsync_publish(self->w, buf, sizeof(buf), NULL));
	pattern_fill(buf, sizeof(buf), 2);
	ASSERT_EQ(0, mmsync_publish(self->w, buf, sizeof(buf), NULL));
	pid = spawn(probe_read_only, &a);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, reap_serving(self->w, pid));
}

/*
 * Default modes, on all backings: 0640 data and state (only the writer
 * writes them), 0660 reader table and socket. Memfds are handed over with
 * no write bit at all for state and data, so nobody reopens them writable.
 */
static int probe_modes(void *arg)
{
	struct probe_args *a = arg;
	mode_t ro = a->memfd ? 0440 : 0640;
	struct mmsync_reader *r;
	struct stat st;
	int fds[8], i;

	close_range(3, ~0u, 0);
	if (mmsync_reader_open(a->name, NULL, &r))
		return 10;
	if (fds_named("state", fds, 8) != 1 || fstat(fds[0], &st) ||
	    (st.st_mode & 0777) != ro)
		return 11;
	if (fds_named("data_", fds, 8) != 2)
		return 12;
	for (i = 0; i < 2; i++)
		if (fstat(fds[i], &st) || (st.st_mode & 0777) != ro)
			return 13;
	if (fds_named("readers", fds, 8) != 1 || fstat(fds[0], &st) ||
	    (st.st_mode & 0777) != 0660)
		return 14;
	mmsync_reader_close(r);
	return 0;
}

TEST_F(bk, modes)
{
	struct probe_args a = { self->name, is_memfd(variant) };
	char path[300];
	struct stat st;
	int pid;

	ASSERT_EQ(0, mmsync_publish(self->w, "x", 1, NULL));
	ASSERT_EQ(0, mmsync_publish(self->w, "y", 1, NULL));
	if (!variant->abstract) {
		snprintf(path, sizeof(path), "%s_%s", self->name,
			 is_memfd(variant) ? "sock" : "readers");
		ASSERT_EQ(0, lstat(path, &st));
		EXPECT_EQ(0660, st.st_mode & 0777);
		EXPECT_TRUE(is_memfd(variant) ? S_ISSOCK(st.st_mode) :
						S_ISREG(st.st_mode));
	}
	if (!is_memfd(variant)) {
		snprintf(path, sizeof(path), "%s_state", self->name);
		ASSERT_EQ(0, lstat(path, &st));
		EXPECT_EQ(0640, st.st_mode & 0777);
	}
	pid = spawn(probe_modes, &a);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, reap_serving(self->w, pid));
}

/* ---- The handoff -------------------------------------------------------- */

static void abstract_name(char *buf, size_t n, const char *what)
{
	static int seq;

	snprintf(buf, n, "@mmsync-test-%d-%s-%d", getpid(), what, seq++);
}

struct peer {
	const char *name;
	uid_t uid;
	gid_t gid;
	gid_t group; /* supplementary group, or 0 */
};

/*
 * Become another user, then open the channel. Returns the errno of
 * reader_open; 0 means it read generation 1 ("ok"). An allowed peer then
 * checks that it cannot make its read-only slot writable (EACCES) nor
 * shrink the state it holds read-write (EPERM: sealed).
 */
static int peer_open(void *arg)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .handoff_timeout_ns = 5000000000);
	struct peer *p = arg;
	struct mmsync_reader *r;
	struct mmsync_view v;
	int err, fds[8], fd;
	char proc[48];

	close_range(3, ~0u, 0);
	if (setgroups(p->group ? 1 : 0, &p->group) || setgid(p->gid) ||
	    setuid(p->uid))
		return 100;
	err = mmsync_reader_open(p->name, &ro, &r);
	if (err)
		return -err;
	if (mmsync_read_begin(r, &v) || v.gen != 1 || memcmp(v.data, "ok", 3) ||
	    mmsync_read_end(r, &v))
		return 101;
	if (fds_named("data_", fds, 8) != 2)
		return 102;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fds[0]);
	fd = open(proc, O_RDWR);
	if (fd >= 0 || errno != EACCES)
		return 103;
	/* The state: read-only, and no way to make it writable. */
	if (fds_named("state", fds, 8) != 1 ||
	    (fcntl(fds[0], F_GETFL) & O_ACCMODE) != O_RDONLY ||
	    ftruncate(fds[0], 0) == 0)
		return 104;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fds[0]);
	fd = open(proc, O_RDWR);
	if (fd >= 0 || errno != EACCES)
		return 105;
	/* The table: ours to write, but sealed against shrinking. */
	if (fds_named("readers", fds, 8) != 1 || ftruncate(fds[0], 0) == 0 ||
	    errno != EPERM)
		return 106;
	mmsync_reader_close(r);
	return 0;
}

static int run_peer(struct mmsync_writer *w, struct peer *p)
{
	int pid = spawn(peer_open, p);

	return pid < 0 ? -1 : reap_serving(w, pid);
}

TEST(handoff_refuses_other_uid)
{
	struct peer p = { .uid = NOBODY, .gid = NOBODY };
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD);
	struct mmsync_writer *w;
	char name[96];

	if (geteuid() != 0)
		SKIP(return, "needs root to setuid()");
	abstract_name(name, sizeof(name), "refuse");
	p.name = name;
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, mmsync_publish(w, "ok", 3, NULL));
	/* Default allow-list: the writer's own uid (root), not nobody. */
	EXPECT_EQ(EACCES, run_peer(w, &p));
	mmsync_writer_close(w);
}

TEST(handoff_allows_listed_uid_only)
{
	static const uid_t uids[] = { NOBODY };
	struct peer p = { .uid = NOBODY, .gid = NOBODY };
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD,
		    .allow_uids = uids, .nr_allow_uids = 1);
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	char name[96];

	if (geteuid() != 0)
		SKIP(return, "needs root to setuid()");
	abstract_name(name, sizeof(name), "uid");
	p.name = name;
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, mmsync_publish(w, "ok", 3, NULL));
	EXPECT_EQ(0, run_peer(w, &p));
	/* A list replaces the default: the writer's own uid is out now. */
	EXPECT_EQ(-EACCES, open_served(w, name, NULL, &r));
	mmsync_writer_close(w);
}

TEST(handoff_allows_listed_group)
{
	static const gid_t gids[] = { 4242 };
	struct peer p = { .uid = NOBODY, .gid = NOBODY, .group = 4242 };
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD,
		    .allow_gids = gids, .nr_allow_gids = 1);
	struct mmsync_writer *w;
	struct tdir d;
	char name[256];

	if (geteuid() != 0)
		SKIP(return, "needs root to setuid()");
	/* A path socket this time; nobody may search a 0700 directory. */
	ASSERT_EQ(0, tdir_make(&d));
	ASSERT_EQ(0, chmod(d.path, 0711));
	tdir_chan(&d, "g", name, sizeof(name));
	p.name = name;
	o.table_mode = 0666; /* the socket's mode: let the peer connect */
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, mmsync_publish(w, "ok", 3, NULL));
	EXPECT_EQ(0, run_peer(w, &p)); /* by its supplementary group */
	p.group = 0;
	EXPECT_EQ(EACCES, run_peer(w, &p)); /* without it */
	mmsync_writer_close(w);
	tdir_remove(&d);
}

TEST(handoff_api)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD);
	MMSYNC_OPTS(mmsync_reader_opts, ro, .handoff_timeout_ns = 50000000);
	struct mmsync_writer *w, *w2;
	struct mmsync_reader *r;
	char name[256], path[300];
	struct pollfd pfd;
	struct stat st;
	struct tdir d;

	EXPECT_EQ(-EINVAL, mmsync_writer_handoff_fd(NULL));
	EXPECT_EQ(-EINVAL, mmsync_writer_serve(NULL, 0));
	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "f", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, NULL, &w));
	EXPECT_EQ(-EOPNOTSUPP, mmsync_writer_handoff_fd(w));
	EXPECT_EQ(-EOPNOTSUPP, mmsync_writer_serve(w, 0));
	/* A memfd channel may not hide behind a file one of the same name. */
	EXPECT_EQ(-EEXIST, mmsync_writer_open(name, &o, &w2));
	mmsync_writer_close(w);

	tdir_chan(&d, "m", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	EXPECT_EQ(-EBUSY, mmsync_writer_open(name, &o, &w2));
	pfd.fd = mmsync_writer_handoff_fd(w);
	pfd.events = POLLIN;
	ASSERT_LE(0, pfd.fd);
	/* The second writer's probe connected, and left at once. */
	EXPECT_EQ(0, mmsync_writer_serve(w, 0));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, mmsync_writer_serve(w, 1000000));
	/* Nobody serves: the reader gives up after its timeout. */
	EXPECT_EQ(-ETIMEDOUT, mmsync_reader_open(name, &ro, &r));
	/* Its connection was left behind; serving it finds it gone. */
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(0, mmsync_writer_serve(w, 0));
	EXPECT_EQ(0, mmsync_publish(w, "ok", 3, NULL));
	ASSERT_EQ(0, open_served(w, name, NULL, &r));
	mmsync_reader_close(r);
	/* unlink removes the socket: no new readers, the old ones stay. */
	snprintf(path, sizeof(path), "%s_sock", name);
	ASSERT_EQ(0, lstat(path, &st));
	EXPECT_EQ(0, mmsync_unlink(name));
	EXPECT_EQ(-ENOENT, mmsync_reader_open(name, &ro, &r));
	mmsync_writer_close(w);
	tdir_remove(&d);
}

static int crash_writer(void *arg)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD);
	struct mmsync_writer *w;

	if (mmsync_writer_open(arg, &o, &w) || mmsync_publish(w, "x", 1, NULL))
		return 1;
	return 0; /* _exit() without close: the socket file stays behind */
}

TEST(stale_socket_is_reclaimed)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD);
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	char name[256], path[300];
	struct stat st;
	struct tdir d;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "s", name, sizeof(name));
	ASSERT_EQ(0, reap(spawn(crash_writer, name)));
	snprintf(path, sizeof(path), "%s_sock", name);
	ASSERT_EQ(0, lstat(path, &st));
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	/* Nobody listens there: as if the channel did not exist. */
	EXPECT_EQ(-ENOENT, mmsync_reader_open(name, NULL, &r));
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, open_served(w, name, NULL, &r));
	EXPECT_EQ(-ENODATA, mmsync_read_begin(r, &v));
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	EXPECT_EQ(-1, lstat(path, &st)); /* close removed its socket */
	tdir_remove(&d);
}

/* Symlinks planted in a shared directory are refused, never followed. */
TEST(planted_symlinks)
{
	MMSYNC_OPTS(mmsync_writer_opts, mo, .backing = MMSYNC_BACKING_MEMFD);
	char name[256], path[300], victim[300];
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	unsigned char *buf;
	struct tdir d;
	int fd;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_file(&d, "victim", victim, sizeof(victim));
	fd = open(victim, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(6, write(fd, "victim", 6));
	close(fd);

	/* A socket name that is a symlink: writer and reader refuse it. */
	tdir_chan(&d, "s", name, sizeof(name));
	snprintf(path, sizeof(path), "%s_sock", name);
	ASSERT_EQ(0, symlink(victim, path));
	EXPECT_EQ(-EEXIST, mmsync_writer_open(name, &mo, &w));
	EXPECT_EQ(-ELOOP, mmsync_reader_open(name, NULL, &r));

	/* A data file swapped for a symlink while no writer runs. */
	tdir_chan(&d, "f", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, NULL, &w));
	ASSERT_EQ(0, mmsync_publish(w, "data", 4, NULL));
	mmsync_writer_close(w);
	snprintf(path, sizeof(path), "%s_data_0", name);
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, symlink(victim, path));
	EXPECT_EQ(-ELOOP, mmsync_writer_open(name, NULL, &w));
	snprintf(path, sizeof(path), "%s_state", name);
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, symlink(victim, path));
	EXPECT_EQ(-ELOOP, mmsync_reader_open(name, NULL, &r));
	EXPECT_EQ(-ELOOP, mmsync_writer_open(name, NULL, &w));
	ASSERT_EQ(6, slurp(victim, &buf));
	EXPECT_EQ(0, memcmp(buf, "victim", 6));
	free(buf);
	tdir_remove(&d);
}

struct fake {
	int lfd;
	int mode; /* what the fake writer sends */
};

/* A fake writer: accepts one reader and sends it something wrong. */
static void *fake_writer(void *arg)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} u;
	struct {
		uint64_t magic;
		uint32_t version;
		int32_t status;
		uint32_t nr_fds;
		uint32_t flags;
	} m = { 0x4f48434e59534d4dull, 2, 0, 4, 0 }; /* format 2: 4 fds */
	struct fake *f = arg;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int c, fds[4], i;

	c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return NULL;
	for (i = 0; i < 4; i++) {
		fds[i] = memfd_create("fake", MFD_CLOEXEC);
		if (ftruncate(fds[i], 1 << 16))
			break;
	}
	switch (f->mode) {
	case 0: /* wrong magic */
		m.magic = 1;
		break;
	case 1: /* unsealed memfds: a reader could take SIGBUS */
	case 2: /* a short message */
		break;
	case 3: /* a refusal with a nonsense errno */
		m.status = -100000;
		m.nr_fds = 0;
		break;
	case 4: /* nothing at all */
		close(c);
		goto out;
	}
	if (f->mode != 3) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	}
	if (f->mode == 2)
		iov.iov_len = 8;
	sendmsg(c, &mh, MSG_NOSIGNAL);
	close(c);
out:
	for (i = 0; i < 4; i++)
		close(fds[i]);
	return NULL;
}

static int count_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n++;
	closedir(d);
	return n;
}

/* Whatever a socket hands over, the reader fails cleanly and leaks nothing. */
TEST(bad_handoff_peer)
{
	static const int want[] = { -EBADMSG, -EBADMSG, -EBADMSG, -EPROTO,
				    -ECONNRESET };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mmsync_reader *r;
	char name[96];
	struct fake f;
	pthread_t th;
	socklen_t len;
	int mode, before;

	abstract_name(name, sizeof(name), "fake");
	memcpy(sa.sun_path + 1, name + 1, strlen(name + 1));
	len = offsetof(struct sockaddr_un, sun_path) + strlen(name);
	f.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, f.lfd);
	ASSERT_EQ(0, bind(f.lfd, (struct sockaddr *)&sa, len));
	ASSERT_EQ(0, listen(f.lfd, 4));
	for (mode = 0; mode < 5; mode++) {
		f.mode = mode;
		before = count_fds();
		ASSERT_EQ(0, pthread_create(&th, NULL, fake_writer, &f));
		EXPECT_EQ(want[mode], mmsync_reader_open(name, NULL, &r))
		TH_LOG("mode %d", mode);
		pthread_join(th, NULL);
		EXPECT_EQ(before, count_fds());
	}
	close(f.lfd);
}

TEST(huge_page_options)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD);
	static const uid_t uid = 0;
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "h", name, sizeof(name));
	o.huge_page_size = 3 << 20;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	o.huge_page_size = 4 << 20; /* a power of two x86 does not have */
	EXPECT_EQ(-EOPNOTSUPP, mmsync_writer_open(name, &o, &w));
	/* Files: huge pages come from a hugetlbfs directory; not /dev/shm. */
	o.backing = MMSYNC_BACKING_FILES;
	o.huge_page_size = HP_2M;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	o.huge_page_size = 0;
	o.allow_uids = &uid;
	o.nr_allow_uids = 1;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	o.backing = 7;
	o.nr_allow_uids = 0;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	o.backing = MMSYNC_BACKING_MEMFD;
	o.nr_allow_uids = 1;
	o.allow_uids = NULL;
	EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	tdir_remove(&d);
}

/* No huge pages reserved at all: a clear -ENOBUFS at open. */
TEST(no_huge_pages_reserved)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .backing = MMSYNC_BACKING_MEMFD,
		    .huge_page_size = HP_2M);
	struct mmsync_writer *w;
	char name[96], path[128];
	int fd, err;

	pool_file(path, sizeof(path), HP_2M, "nr_hugepages");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "no 2 MiB huge pages in this kernel");
	/* Hold off other runs' fixtures while we look at the pool. */
	flock(fd, LOCK_EX);
	if (pool_read(HP_2M, "nr_hugepages") != 0 ||
	    pool_read(HP_2M, "nr_overcommit_hugepages") != 0) {
		close(fd);
		SKIP(return, "2 MiB huge pages are reserved on this system");
	}
	abstract_name(name, sizeof(name), "nobufs");
	err = mmsync_writer_open(name, &o, &w);
	close(fd);
	EXPECT_EQ(-ENOBUFS, err);
}

int main(int argc, char **argv)
{
	bool listing = false;
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "-h"))
			listing = true;
	main_pid = getpid();
	if (!listing && geteuid() == 0 &&
	    pool_read(HP_1G, "nr_hugepages") >= 0) {
		atexit(give_back_1g);
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		main_1g = hugepool_add(HP_1G, POOL_1G);
		if (main_1g < POOL_1G)
			give_back_1g(); /* memory too fragmented: skip 1 GiB */
	}
	return test_harness_run(argc, argv);
}
