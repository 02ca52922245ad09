// SPDX-License-Identifier: MIT
/*
 * publish_fd.c - mmsync_publish_fd() from files, pipes and sockets, O_DIRECT,
 * errors that must leave the previous snapshot intact, reserve/commit/abort
 * and mmsync_publish_iov().
 *
 * Every test runs once per fixture variant: one per fill engine (io_uring
 * with the defaults, a tiny odd queue, inline reads into fixed buffers,
 * worker reads into plain ones, the read() loop) on the default backing,
 * and one per other slot backing (memfd, hugetlb memfd, files in
 * hugetlbfs) with the default engine. A new backing is one more variant:
 * its options in variant_opts(), its skip in FIXTURE_SETUP.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define MiB (1u << 20)

/* The sizes every source must get byte-exact. */
static const size_t sizes[] = {
	0, 1, 4095, 4096, 2 * MiB - 1, 2 * MiB + 1, 100 * MiB,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

enum src { SRC_FILE, SRC_PIPE, SRC_SOCK };

/* ---- helpers ------------------------------------------------------------ */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t k;

	while (len) {
		k = write(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* A file holding @buf, opened read-only with @flags. */
static int file_with(const char *path, const void *buf, size_t len, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return -errno;
	if (write_all(fd, buf, len) < 0) {
		close(fd);
		return -EIO;
	}
	close(fd);
	fd = open(path, O_RDONLY | flags);
	return fd < 0 ? -errno : fd;
}

struct feeder {
	int fd;
	int other; /* the read end: closed in the child, or EOF never comes */
	const unsigned char *buf;
	size_t len;
	size_t piece; /* write at most this much at a time */
	unsigned int pause_us; /* between pieces */
};

static int feed(void *arg)
{
	struct feeder *f = arg;
	size_t off, n;

	signal(SIGPIPE, SIG_IGN);
	close(f->other);
	for (off = 0; off < f->len; off += n) {
		n = f->len - off < f->piece ? f->len - off : f->piece;
		if (write_all(f->fd, f->buf + off, n) < 0)
			return 1;
		if (f->pause_us)
			usleep(f->pause_us);
	}
	close(f->fd);
	return 0;
}

/*
 * A pipe or socket whose other end a child fills with @buf and closes. The
 * read end is returned; the child's pid goes to *@pid.
 */
static int stream_with(enum src s, const void *buf, size_t len, size_t piece,
		       unsigned int pause_us, int *pid)
{
	struct feeder f = {
		.buf = buf, .len = len, .piece = piece, .pause_us = pause_us
	};
	int fds[2];

	if (s == SRC_PIPE ?
		    pipe2(fds, O_CLOEXEC) :
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		return -errno;
	f.fd = fds[1];
	f.other = fds[0];
	*pid = spawn(feed, &f);
	close(fds[1]);
	if (*pid < 0) {
		close(fds[0]);
		return -ECHILD;
	}
	return fds[0];
}

/* The reader sees generation @gen: @size bytes of pattern @seed. */
static void expect_snapshot(struct __test_metadata *_metadata,
			    struct mmsync_reader *r, size_t size, uint64_t seed,
			    uint64_t gen)
{
	struct mmsync_view v;

	ASSERT_EQ(0, mmsync_read_begin(r, &v));
	EXPECT_EQ(gen, v.gen);
	EXPECT_EQ(size, v.size);
	if (v.size == size)
		EXPECT_EQ(size, pattern_check(v.data, size, seed));
	EXPECT_EQ(XXH3_64bits(v.data, v.size), v.checksum);
	ASSERT_EQ(0, mmsync_read_end(r, &v));
}

/* Somewhere O_DIRECT works: not tmpfs on older kernels; a real disk. */
static int direct_dir(char *out, size_t len)
{
	const char *cand[3] = { getenv("TMPDIR"), NULL, "/var/tmp" };
	char exe[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n;
	int i, fd;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		cand[1] = dirname(exe);
	}
	for (i = 0; i < 3; i++) {
		if (!cand[i] || !*cand[i])
			continue;
		snprintf(path, sizeof(path), "%s/.mmsync-odirect-%d", cand[i],
			 getpid());
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
		if (fd < 0)
			continue;
		close(fd);
		unlink(path);
		snprintf(out, len, "%s", cand[i]);
		return 0;
	}
	return -EINVAL;
}

/* ---- backings ---------------------------------------------------------- */

/* Free 2 MiB huge pages (pool + overcommit headroom); 0 if none. */
static long huge_2m_free(void)
{
	static const char *const f[] = {
		"/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
		"/sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages",
	};
	long n = 0, v;
	unsigned int i;
	FILE *fp;

	for (i = 0; i < 2; i++) {
		fp = fopen(f[i], "r");
		if (!fp)
			return 0;
		if (fscanf(fp, "%ld", &v) == 1)
			n += v;
		fclose(fp);
	}
	return n;
}

/*
 * As root, the run reserves the 2 MiB pages the huge variants need, once,
 * in the harness's main process, and gives them back when it exits, after
 * every test child is gone and every page is free again. (Per-test deltas
 * raced with pages still being released and leaked into the pool.)
 */
#define HUGE_PAGES_NEEDED 200
static pid_t main_pid;
static long pages_added;

static void give_back_pages(void)
{
	if (getpid() == main_pid && pages_added > 0)
		hugepool_add(2 << 20, -pages_added);
	pages_added = 0;
}

__attribute__((constructor)) static void reserve_pages(void)
{
	long have;

	if (geteuid() != 0)
		return;
	main_pid = getpid();
	have = huge_2m_free();
	if (have >= HUGE_PAGES_NEEDED)
		return;
	pages_added = hugepool_add(2 << 20, HUGE_PAGES_NEEDED - have);
	if (pages_added < 0)
		pages_added = 0;
	atexit(give_back_pages);
}

/*
 * A private hugetlbfs mount (2 MiB pages) in a new mount namespace of this
 * test's process: -errno where we may not (not root, no hugetlbfs).
 */
static int hugetlbfs_mount(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/mmsync-hugetlbfs-XXXXXX");
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (!mkdtemp(dir))
		return -errno;
	if (mount("mmsync-test", dir, "hugetlbfs", 0, "pagesize=2M") < 0) {
		rmdir(dir);
		return -errno;
	}
	return 0;
}

struct serve_arg {
	struct mmsync_writer *w;
	int ret;
};

static void *serve(void *arg)
{
	struct serve_arg *a = arg;

	a->ret = mmsync_writer_serve(a->w, 10000000000ll);
	return NULL;
}

/* A reader of @name; a memfd channel is served by a thread meanwhile. */
static int open_reader(const char *name, struct mmsync_writer *w, bool memfd,
		       struct mmsync_reader **r)
{
	struct serve_arg a = { .w = w };
	pthread_t t;
	int err;

	if (!memfd)
		return mmsync_reader_open(name, NULL, r);
	if (pthread_create(&t, NULL, serve, &a))
		return -EAGAIN;
	err = mmsync_reader_open(name, NULL, r);
	pthread_join(t, NULL);
	return err ? err : a.ret == 1 ? 0 : -EPROTO;
}

/* ---- the fixture: one channel, a writer and a reader -------------------- */

FIXTURE(pfd)
{
	struct tdir dir; /* tmpfs: source files, and the channel by default */
	char hdir[64]; /* the hugetlbfs mount, if the variant has one */
	char name[256];
	char src[300];
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	unsigned char *buf;
	uint64_t gen;
	bool huge; /* slots of huge pages: a dry pool is a skip, not a bug */
};

/*
 * The huge page pool is shared with every other process: if it runs dry
 * mid-test, skip the rest of the test (the harness's ASSERT bail-out).
 */
#define SKIP_IF_POOL_DRY(self, err)                                  \
	do {                                                         \
		if ((self)->huge && (err) == -ENOMEM)                \
			SKIP(__bail(1, _metadata),                   \
			     "the huge page pool ran dry mid-test"); \
	} while (0)

/*
 * One variant per fill engine on the default backing (files on tmpfs),
 * and one per other backing with the default engine. Backings the system
 * lacks (no huge pages reserved, not root) are skipped with the reason.
 */
FIXTURE_VARIANT(pfd)
{
	uint32_t fd_flags;
	uint32_t fd_depth;
	uint64_t fd_chunk;
	uint32_t backing; /* enum mmsync_backing */
	uint64_t huge_page_size;
	bool hugetlbfs; /* FILES in a private hugetlbfs mount */
};

/* io_uring with the measured defaults. */
FIXTURE_VARIANT_ADD(pfd, uring){
	.fd_flags = 0,
};

/* 3 reads of 64 KiB in flight: many short, overlapping chunks. */
FIXTURE_VARIANT_ADD(pfd, uring_small){
	.fd_depth = 3,
	.fd_chunk = 64 << 10,
};

/* Every read at submit time, into fixed buffers, whatever the source. */
FIXTURE_VARIANT_ADD(pfd, uring_inline_fixed){
	.fd_flags = MMSYNC_FD_INLINE | MMSYNC_FD_FIXED,
};

/* Every file read in a worker; no fixed buffers, not even for O_DIRECT. */
FIXTURE_VARIANT_ADD(pfd, uring_async_nofixed){
	.fd_flags = MMSYNC_FD_ASYNC | MMSYNC_FD_NO_FIXED,
};

/* The read() loop, as on kernels without io_uring. */
FIXTURE_VARIANT_ADD(pfd, sync){
	.fd_flags = MMSYNC_FD_NO_URING,
};

/* Sealed memfds, handed to the reader over a socket. */
FIXTURE_VARIANT_ADD(pfd, memfd){
	.backing = MMSYNC_BACKING_MEMFD,
};

/* MFD_HUGETLB memfds of 2 MiB pages. */
FIXTURE_VARIANT_ADD(pfd, memfd_huge2m){
	.backing = MMSYNC_BACKING_MEMFD,
	.huge_page_size = 2 << 20,
};

/* Files in a hugetlbfs mount: no write() there, reads into the mapping. */
FIXTURE_VARIANT_ADD(pfd, hugetlbfs){
	.huge_page_size = 2 << 20,
	.hugetlbfs = true,
};

static void variant_opts(const FIXTURE_VARIANT(pfd) * variant,
			 struct mmsync_writer_opts *o)
{
	o->fd_flags = variant->fd_flags;
	o->fd_depth = variant->fd_depth;
	o->fd_chunk = variant->fd_chunk;
	o->backing = variant->backing;
	o->huge_page_size = variant->huge_page_size;
}

/* 2 slots of 128 MiB + growth steps of the 100 MiB tests, in 2 MiB pages. */

FIXTURE_SETUP(pfd)
{
	MMSYNC_OPTS(mmsync_writer_opts, wo, .grace_ns = 100000000);
	bool memfd = variant->backing == MMSYNC_BACKING_MEMFD;
	long huge;
	int err;

	variant_opts(variant, &wo);
	if (variant->huge_page_size) {
		huge = huge_2m_free();
		/*
		 * A previous test's io_uring is torn down asynchronously by
		 * the kernel and may still pin its pages: give them time.
		 */
		for (int i = 0; i < 300 && huge < HUGE_PAGES_NEEDED; i++) {
			usleep(10000);
			huge = huge_2m_free();
		}
		if (huge < HUGE_PAGES_NEEDED) {
			SKIP(return,
				   "needs %d free 2 MiB huge pages, has %ld "
				   "(echo %d > /proc/sys/vm/nr_hugepages)",
				   HUGE_PAGES_NEEDED, huge, HUGE_PAGES_NEEDED);
		}
	}
	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "c", self->name, sizeof(self->name));
	tdir_file(&self->dir, "src", self->src, sizeof(self->src));
	self->huge = variant->huge_page_size != 0;
	if (variant->hugetlbfs) {
		err = hugetlbfs_mount(self->hdir, sizeof(self->hdir));
		if (err) {
			/* No teardown after a skip in setup: clean up now. */
			self->hdir[0] = '\0';
			tdir_remove(&self->dir);
			SKIP(return, "no private hugetlbfs mount: %s",
				   strerror(-err));
		}
		snprintf(self->name, sizeof(self->name), "%s/c", self->hdir);
	}
	err = mmsync_writer_open(self->name, &wo, &self->w);
	if ((variant->backing || variant->huge_page_size) &&
	    (err == -EINVAL || err == -ENOSYS || err == -EPERM ||
	     err == -EOPNOTSUPP || err == -ENOMEM || err == -ENOBUFS)) {
		if (self->hdir[0]) {
			umount2(self->hdir, MNT_DETACH);
			rmdir(self->hdir);
		}
		tdir_remove(&self->dir);
		SKIP(return, "backing not available: %s", strerror(-err));
	}
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, open_reader(self->name, self->w, memfd, &self->r));
	self->buf = malloc(100 * MiB + 4096);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(pfd)
{
	char path[300];

	mmsync_reader_close(self->r);
	mmsync_writer_close(self->w);
	free(self->buf);
	if (self->hdir[0]) {
		mmsync_unlink(self->name);
		snprintf(path, sizeof(path), "%s/c_sock", self->hdir);
		unlink(path);
		umount2(self->hdir, MNT_DETACH);
		rmdir(self->hdir);
	}
	tdir_remove(&self->dir);
}

/*
 * Publish @size bytes of a fresh pattern from source @s, the length given
 * (@sized) or found at the end of the source, and read them back.
 */
static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(pfd) * self, enum src s, size_t size,
		       bool sized)
{
	struct mmsync_publish_info info;
	uint64_t seed = ++self->gen * 1000 + size;
	int fd, pid = -1, err, st;

	pattern_fill(self->buf, size, seed);
	if (s == SRC_FILE)
		fd = file_with(self->src, self->buf, size, 0);
	else
		fd = stream_with(s, self->buf, size, 1 * MiB, 0, &pid);
	ASSERT_LE(0, fd);
	err = mmsync_publish_fd(self->w, fd, 0, sized ? size : 0, &info);
	close(fd);
	st = pid > 0 ? reap(pid) : 0;
	SKIP_IF_POOL_DRY(self, err);
	ASSERT_EQ(0, err)
	{
		TH_LOG("source %d, size %zu, sized %d", s, size, sized);
	}
	ASSERT_EQ(0, st);
	EXPECT_EQ(self->gen, info.gen);
	EXPECT_EQ(size, info.size);
	EXPECT_EQ(XXH3_64bits(self->buf, size), info.checksum);
	expect_snapshot(_metadata, self->r, size, seed, self->gen);
}

TEST_F_TIMEOUT(pfd, content_file, 60)
{
	unsigned int i;

	for (i = 0; i < NSIZES; i++) {
		round_trip(_metadata, self, SRC_FILE, sizes[i], true);
		round_trip(_metadata, self, SRC_FILE, sizes[i], false);
	}
}

TEST_F_TIMEOUT(pfd, content_pipe, 60)
{
	unsigned int i;

	for (i = 0; i < NSIZES; i++) {
		round_trip(_metadata, self, SRC_PIPE, sizes[i], true);
		round_trip(_metadata, self, SRC_PIPE, sizes[i], false);
	}
}

TEST_F_TIMEOUT(pfd, content_socket, 60)
{
	unsigned int i;

	for (i = 0; i < NSIZES; i++) {
		round_trip(_metadata, self, SRC_SOCK, sizes[i], true);
		round_trip(_metadata, self, SRC_SOCK, sizes[i], false);
	}
}

/* Drop CAP_IPC_LOCK from this (test) process, so RLIMIT_MEMLOCK binds. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * A 64 KiB RLIMIT_MEMLOCK: pinning the slot as fixed buffers fails, the
 * fill falls back to plain reads, the bytes are the same.
 */
TEST_F(pfd, no_memlock_for_fixed_buffers)
{
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 64 << 10 };
	unsigned int i;

	ASSERT_EQ(0, drop_ipc_lock());
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	for (i = 0; i < 3; i++) {
		round_trip(_metadata, self, SRC_FILE, 8 * MiB + i, true);
		round_trip(_metadata, self, SRC_PIPE, 3 * MiB + i, false);
	}
}

/* A slow, non-blocking pipe: -EAGAIN on most reads, then poll. */
TEST_F(pfd, nonblocking_pipe)
{
	size_t size = 3 * MiB + 17;
	int fd, pid, fl, sized;

	for (sized = 0; sized < 2; sized++) {
		pattern_fill(self->buf, size, 77 + sized);
		fd = stream_with(SRC_PIPE, self->buf, size, 256 << 10, 2000,
				 &pid);
		ASSERT_LE(0, fd);
		fl = fcntl(fd, F_GETFL);
		ASSERT_EQ(0, fcntl(fd, F_SETFL, fl | O_NONBLOCK));
		ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, 0, sized ? size : 0,
					       NULL));
		close(fd);
		ASSERT_EQ(0, reap(pid));
		expect_snapshot(_metadata, self->r, size, 77 + sized,
				++self->gen);
	}
}

/* Offsets into a file, to the end and past it. */
TEST_F(pfd, file_offsets)
{
	size_t size = 5 * MiB + 333, off = 12345;
	struct mmsync_publish_info info;
	struct mmsync_view v;
	int fd;

	pattern_fill(self->buf, size, 5);
	fd = file_with(self->src, self->buf, size, 0);
	ASSERT_LE(0, fd);
	/* Unaligned offset and length. */
	ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, (off_t)off, 1 * MiB + 1,
				       &info));
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	ASSERT_EQ(1 * MiB + 1, v.size);
	EXPECT_EQ(0, memcmp(v.data, self->buf + off, v.size));
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	/* From the offset to the end of the file. */
	ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, (off_t)off, 0, &info));
	EXPECT_EQ(size - off, info.size);
	ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
	ASSERT_EQ(size - off, v.size);
	EXPECT_EQ(0, memcmp(v.data, self->buf + off, v.size));
	ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	/* At and past the end: an empty snapshot. */
	ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, (off_t)size, 0, &info));
	EXPECT_EQ(0, info.size);
	ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, (off_t)size + 9, 0, &info));
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(4, mmsync_writer_gen(self->w));
	/* The fd's own offset is neither used nor moved. */
	EXPECT_EQ(0, lseek(fd, 0, SEEK_CUR));
	close(fd);
}

/* O_DIRECT sources: aligned, unaligned head and tail, to the end. */
TEST_F_TIMEOUT(pfd, odirect, 60)
{
	static const struct {
		size_t off, len;
	} cases[] = {
		{ 0, 4096 },	  { 0, 8 * MiB }, { 0, 3 * MiB + 5 },
		{ 512, 2 * MiB }, { 4095, 1 },	  { 12345, 2 * MiB + 1 },
		{ 1 * MiB, 0 },	  { 777, 0 },	  { 0, 0 },
	};
	size_t size = 10 * MiB + 100, want;
	char dir[PATH_MAX], path[PATH_MAX + 64];
	struct mmsync_publish_info info;
	struct mmsync_view v;
	unsigned int i;
	int fd;

	if (direct_dir(dir, sizeof(dir)))
		SKIP(return, "no file system here takes O_DIRECT "
			     "(tried $TMPDIR, the test's directory, /var/tmp)");
	snprintf(path, sizeof(path), "%s/.mmsync-odirect-src-%d", dir,
		 getpid());
	pattern_fill(self->buf, size, 9);
	fd = file_with(path, self->buf, size, O_DIRECT);
	unlink(path);
	ASSERT_LE(0, fd)
	{
		TH_LOG("%s: %s", path, strerror(-fd));
	}
	ASSERT_TRUE(fcntl(fd, F_GETFL) & O_DIRECT);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		want = cases[i].len ? cases[i].len : size - cases[i].off;
		ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, (off_t)cases[i].off,
					       cases[i].len, &info))
		{
			TH_LOG("case %u: off %zu len %zu", i, cases[i].off,
			       cases[i].len);
		}
		EXPECT_EQ(want, info.size);
		ASSERT_EQ(0, mmsync_read_begin(self->r, &v));
		ASSERT_EQ(want, v.size);
		EXPECT_EQ(0, memcmp(v.data, self->buf + cases[i].off, want))
		{
			TH_LOG("case %u: off %zu len %zu", i, cases[i].off,
			       cases[i].len);
		}
		EXPECT_EQ(XXH3_64bits(v.data, v.size), v.checksum);
		ASSERT_EQ(0, mmsync_read_end(self->r, &v));
	}
	/* Past the end of an O_DIRECT file: not enough bytes. */
	EXPECT_EQ(-ENODATA, mmsync_publish_fd(self->w, fd, 4096, size, NULL));
	close(fd);
}

TEST_F(pfd, bad_fds)
{
	int fds[2], fd;

	EXPECT_EQ(-EBADF, mmsync_publish_fd(self->w, -1, 0, 10, NULL));
	fd = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EBADF, mmsync_publish_fd(self->w, fd, 0, 10, NULL));
	EXPECT_EQ(-EBADF, mmsync_publish_fd(self->w, 1 << 20, 0, 10, NULL));
	fd = open(self->src, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, mmsync_publish_fd(self->w, fd, 0, 0, NULL));
	close(fd);
	fd = open(self->src, O_PATH);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, mmsync_publish_fd(self->w, fd, 0, 0, NULL));
	close(fd);
	fd = open(self->dir.path, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EISDIR, mmsync_publish_fd(self->w, fd, 0, 0, NULL));
	close(fd);
	ASSERT_EQ(0, pipe(fds));
	EXPECT_EQ(-ESPIPE, mmsync_publish_fd(self->w, fds[0], 5, 1, NULL));
	close(fds[0]);
	close(fds[1]);
	fd = open(self->src, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, mmsync_publish_fd(self->w, fd, -1, 1, NULL));
	EXPECT_EQ(-EINVAL, mmsync_publish_fd(NULL, fd, 0, 1, NULL));
	EXPECT_EQ(-EFBIG, mmsync_publish_fd(self->w, fd, 0, SIZE_MAX, NULL));
	close(fd);
	EXPECT_EQ(0, mmsync_writer_gen(self->w));
}

/* Publish a first snapshot that every failed publish must leave alone. */
static void publish_first(struct __test_metadata *_metadata,
			  FIXTURE_DATA(pfd) * self, size_t size)
{
	pattern_fill(self->buf, size, 4242);
	ASSERT_EQ(0, mmsync_publish(self->w, self->buf, size, NULL));
	self->gen = 1;
}

TEST_F(pfd, short_file_keeps_previous)
{
	size_t size = 3 * MiB;
	int fd;

	publish_first(_metadata, self, 1 * MiB);
	/* The other slot is written and fails; then the same slot again. */
	pattern_fill(self->buf, size, 1);
	fd = file_with(self->src, self->buf, size, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENODATA, mmsync_publish_fd(self->w, fd, 0, size + 1, NULL));
	EXPECT_EQ(-ENODATA, mmsync_publish_fd(self->w, fd, 4096, size, NULL));
	EXPECT_EQ(-ENODATA,
		  mmsync_publish_fd(self->w, fd, (off_t)size, 1, NULL));
	EXPECT_EQ(1, mmsync_writer_gen(self->w));
	EXPECT_EQ(1, mmsync_reader_gen(self->r));
	expect_snapshot(_metadata, self->r, 1 * MiB, 4242, 1);
	/* And the channel goes on. */
	ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, 0, size, NULL));
	close(fd);
	expect_snapshot(_metadata, self->r, size, 1, 2);
}

TEST_F(pfd, stream_closed_early_keeps_previous)
{
	size_t size = 2 * MiB + 5;
	enum src s;
	int fd, pid;

	publish_first(_metadata, self, 4095);
	for (s = SRC_PIPE; s <= SRC_SOCK; s++) {
		pattern_fill(self->buf, size, 3);
		fd = stream_with(s, self->buf, size, 64 << 10, 0, &pid);
		ASSERT_LE(0, fd);
		EXPECT_EQ(-ENODATA,
			  mmsync_publish_fd(self->w, fd, 0, size + 1, NULL));
		close(fd);
		ASSERT_EQ(0, reap(pid));
		/* Nothing at all. */
		fd = stream_with(s, self->buf, 0, 1, 0, &pid);
		ASSERT_LE(0, fd);
		EXPECT_EQ(-ENODATA, mmsync_publish_fd(self->w, fd, 0, 1, NULL));
		close(fd);
		ASSERT_EQ(0, reap(pid));
		expect_snapshot(_metadata, self->r, 4095, 4242, 1);
	}
	EXPECT_EQ(1, mmsync_writer_gen(self->w));
}

/* A stream of unknown length far beyond the slot: it grows as bytes come. */
TEST_F(pfd, stream_grows_slot)
{
	size_t size = 40 * MiB + 3;
	int fd, pid, err;

	publish_first(_metadata, self, 10);
	ASSERT_EQ(0, mmsync_publish(self->w, self->buf, 10, NULL));
	pattern_fill(self->buf, size, 8);
	fd = stream_with(SRC_SOCK, self->buf, size, 3 * MiB + 1, 0, &pid);
	ASSERT_LE(0, fd);
	err = mmsync_publish_fd(self->w, fd, 0, 0, NULL);
	close(fd);
	reap(pid);
	SKIP_IF_POOL_DRY(self, err);
	ASSERT_EQ(0, err);
	expect_snapshot(_metadata, self->r, size, 8, 3);
}

/* A reservation is void once publish_fd reuses the slot. */
TEST_F(pfd, publish_fd_voids_reservation)
{
	void *p;
	int fd;

	pattern_fill(self->buf, 8192, 6);
	fd = file_with(self->src, self->buf, 8192, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsync_reserve(self->w, 100, &p));
	ASSERT_EQ(0, mmsync_publish_fd(self->w, fd, 0, 8192, NULL));
	EXPECT_EQ(-EINVAL, mmsync_commit(self->w, 10, NULL));
	close(fd);
	expect_snapshot(_metadata, self->r, 8192, 6, 1);
}

/* ---- reserve / commit / abort ------------------------------------------ */

TEST_F(pfd, reserve_commit)
{
	struct mmsync_publish_info info;
	size_t size = 3 * MiB + 1;
	void *p;

	EXPECT_EQ(-EINVAL, mmsync_commit(self->w, 0, NULL));
	ASSERT_EQ(0, mmsync_reserve(self->w, size, &p));
	ASSERT_NE(NULL, p);
	pattern_fill(p, size, 11);
	EXPECT_EQ(-EINVAL, mmsync_commit(self->w, size + 1, NULL));
	ASSERT_EQ(0, mmsync_commit(self->w, size - 1, &info));
	EXPECT_EQ(1, info.gen);
	EXPECT_EQ(size - 1, info.size);
	/* Commit consumed the reservation. */
	EXPECT_EQ(-EINVAL, mmsync_commit(self->w, 1, NULL));
	expect_snapshot(_metadata, self->r, size - 1, 11, 1);
	EXPECT_EQ(-EINVAL, mmsync_reserve(NULL, 1, &p));
	EXPECT_EQ(-EINVAL, mmsync_reserve(self->w, 1, NULL));
}

TEST_F(pfd, abort_publishes_nothing)
{
	void *p;

	publish_first(_metadata, self, 5000);
	ASSERT_EQ(0, mmsync_reserve(self->w, 1 * MiB, &p));
	memset(p, 0xab, 1 * MiB);
	mmsync_abort(self->w);
	mmsync_abort(NULL);
	EXPECT_EQ(-EINVAL, mmsync_commit(self->w, 1, NULL));
	EXPECT_EQ(1, mmsync_writer_gen(self->w));
	expect_snapshot(_metadata, self->r, 5000, 4242, 1);
	/* A new reservation after an abort publishes normally. */
	ASSERT_EQ(0, mmsync_reserve(self->w, 64, &p));
	pattern_fill(p, 64, 12);
	ASSERT_EQ(0, mmsync_commit(self->w, 64, NULL));
	expect_snapshot(_metadata, self->r, 64, 12, 2);
}

/* ---- gather publish ---------------------------------------------------- */

TEST_F(pfd, publish_iov)
{
	static const size_t cuts[] = { 0, 1, 4095, 0, 70000, 3 * MiB, 7 };
	struct iovec iov[16];
	struct mmsync_publish_info info;
	size_t total = 0, off = 0;
	unsigned int i, n = 0;

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		total += cuts[i];
	pattern_fill(self->buf, total, 21);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		iov[n].iov_base = cuts[i] ? self->buf + off : NULL;
		iov[n++].iov_len = cuts[i];
		off += cuts[i];
	}
	ASSERT_EQ(0, mmsync_publish_iov(self->w, iov, (int)n, &info));
	EXPECT_EQ(total, info.size);
	EXPECT_EQ(XXH3_64bits(self->buf, total), info.checksum);
	expect_snapshot(_metadata, self->r, total, 21, 1);
	/* Small (the one-shot path): the first three pieces. */
	ASSERT_EQ(0, mmsync_publish_iov(self->w, iov, 3, &info));
	expect_snapshot(_metadata, self->r, 4096, 21, 2);
	/* Nothing. */
	ASSERT_EQ(0, mmsync_publish_iov(self->w, NULL, 0, &info));
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(XXH3_64bits(NULL, 0), info.checksum);
}

TEST_F(pfd, publish_iov_bad_args)
{
	struct iovec iov[3] = {
		{ .iov_base = self->buf, .iov_len = 10 },
		{ .iov_base = NULL, .iov_len = 1 },
		{ .iov_base = self->buf, .iov_len = SIZE_MAX },
	};
	static struct iovec many[1025];

	EXPECT_EQ(-EINVAL, mmsync_publish_iov(NULL, iov, 1, NULL));
	EXPECT_EQ(-EINVAL, mmsync_publish_iov(self->w, NULL, 1, NULL));
	EXPECT_EQ(-EINVAL, mmsync_publish_iov(self->w, iov, -1, NULL));
	EXPECT_EQ(-EINVAL, mmsync_publish_iov(self->w, many, 1025, NULL));
	EXPECT_EQ(-EINVAL, mmsync_publish_iov(self->w, iov, 2, NULL));
	/* 10 + SIZE_MAX overflows. */
	iov[1] = iov[0];
	EXPECT_EQ(-EINVAL, mmsync_publish_iov(self->w, iov, 3, NULL));
	/* Fits in size_t, not in a slot. */
	iov[2].iov_len = (size_t)1 << 41;
	EXPECT_EQ(-EFBIG, mmsync_publish_iov(self->w, iov, 3, NULL));
	EXPECT_EQ(0, mmsync_writer_gen(self->w));
	/* 1024 empty pieces are fine. */
	EXPECT_EQ(0, mmsync_publish_iov(self->w, many, 1024, NULL));
}

/* ---- options ----------------------------------------------------------- */

TEST(fd_opts_checked)
{
	struct mmsync_writer *w = NULL;
	struct tdir d;
	char name[256];

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "o", name, sizeof(name));
	{
		MMSYNC_OPTS(mmsync_writer_opts, o, .fd_depth = 1025);
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	}
	{
		MMSYNC_OPTS(mmsync_writer_opts, o, .fd_chunk = 1000);
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	}
	{
		MMSYNC_OPTS(mmsync_writer_opts, o, .fd_chunk = 128u << 20);
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	}
	{
		MMSYNC_OPTS(mmsync_writer_opts, o, .fd_flags = 1u << 31);
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	}
	{
		MMSYNC_OPTS(mmsync_writer_opts, o,
			    .fd_flags = MMSYNC_FD_ASYNC | MMSYNC_FD_INLINE);
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	}
	{
		MMSYNC_OPTS(mmsync_writer_opts, o,
			    .fd_flags = MMSYNC_FD_FIXED | MMSYNC_FD_NO_FIXED);
		EXPECT_EQ(-EINVAL, mmsync_writer_open(name, &o, &w));
	}
	{
		/* A caller built before the fd fields existed. */
		MMSYNC_OPTS(mmsync_writer_opts, o, .fd_depth = 0);
		o.sz = offsetof(struct mmsync_writer_opts, fd_depth);
		ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
		mmsync_writer_close(w);
	}
	{
		MMSYNC_OPTS(mmsync_writer_opts, o, .fd_depth = 1024,
			    .fd_chunk = 64u << 20,
			    .fd_flags = MMSYNC_FD_ASYNC | MMSYNC_FD_NO_FIXED |
					MMSYNC_FD_NO_URING);
		ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
		mmsync_writer_close(w);
	}
	tdir_remove(&d);
}

TEST_HARNESS_MAIN
