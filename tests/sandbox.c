// SPDX-License-Identifier: MIT
/*
 * sandbox.c - containers, and file systems that are full.
 *
 * Docker's default seccomp profile denies io_uring (moby #46762), some
 * profiles deny membarrier, and /dev/shm is a 64 MiB tmpfs there. Every
 * such denial must fall back (a read() loop instead of io_uring, fence
 * mode instead of membarrier) or fail with a documented errno, never
 * worse. The contract, torture and publish_fd suites run again here, as
 * they are, under a seccomp filter that denies io_uring_setup and
 * membarrier with EPERM, and on a 64 MiB tmpfs mounted over /dev/shm in a
 * private mount namespace. A full tmpfs gives -ENOSPC from open and
 * publish, never SIGBUS.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

/* Deny io_uring_setup and membarrier with EPERM; allow everything else. */
static int deny_uring_and_membarrier(void)
{
#ifdef ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

/* A private mount namespace with a tmpfs of @size over /dev/shm. */
static int small_shm(const char *size)
{
	char opt[64];

	if (unshare(CLONE_NEWNS))
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	snprintf(opt, sizeof(opt), "size=%s,mode=1777", size);
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, opt))
		return -errno;
	return 0;
}

enum box { BOX_SECCOMP, BOX_SHM64 };

/*
 * Run the test binary @suite (next to this one) inside @box. Returns its
 * exit status (0: every test passed or skipped), or -errno / 200+ when
 * the box could not be built. Its output goes to our stderr, indented.
 */
static int run_boxed(enum box box, const char *suite, int *failed)
{
	char self[PATH_MAX], bin[PATH_MAX + 16], line[1024];
	int pfd[2], pid, st, n;
	char *slash;
	FILE *in;

	*failed = 0;
	n = (int)readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(bin, sizeof(bin), "%s/%s", self, suite);
	if (access(bin, X_OK))
		return -errno;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (box == BOX_SECCOMP && deny_uring_and_membarrier())
			_exit(201);
		if (box == BOX_SHM64 && small_shm("64m"))
			_exit(202);
		execl(bin, bin, (char *)NULL);
		_exit(203);
	}
	close(pfd[1]);
	in = fdopen(pfd[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		if (!strncmp(line, "not ok", 6))
			(*failed)++;
		if (!strncmp(line, "ok", 2) || !strncmp(line, "not ok", 6) ||
		    strstr(line, "Totals") || strstr(line, "measured") ||
		    strstr(line, "torture"))
			fprintf(stderr, "#   %s", line);
	}
	if (in)
		fclose(in);
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void boxed(struct __test_metadata *_metadata, enum box box,
		  const char *suite)
{
	int failed, rc;

	if (geteuid() != 0 && box == BOX_SHM64)
		SKIP(return, "needs root, to mount a tmpfs in a namespace");
	rc = run_boxed(box, suite, &failed);
	if (rc == 201)
		SKIP(return, "no seccomp filter on this architecture/kernel");
	ASSERT_NE(202, rc) TH_LOG("could not mount a 64 MiB /dev/shm");
	ASSERT_NE(203, rc) TH_LOG("could not run %s", suite);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, rc);
}

/* The suites in a box take a while: a fixture, for the timeout. */
FIXTURE(box)
{
	int unused;
};

FIXTURE_SETUP(box)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(box)
{
}

TEST_F_TIMEOUT(box, contract_without_uring_and_membarrier, 300)
{
	boxed(_metadata, BOX_SECCOMP, "basic");
}

TEST_F_TIMEOUT(box, errors_without_uring_and_membarrier, 300)
{
	boxed(_metadata, BOX_SECCOMP, "errors");
}

TEST_F_TIMEOUT(box, torture_without_uring_and_membarrier, 300)
{
	boxed(_metadata, BOX_SECCOMP, "torture");
}

TEST_F_TIMEOUT(box, publish_fd_without_uring, 400)
{
	boxed(_metadata, BOX_SECCOMP, "publish_fd");
}

TEST_F_TIMEOUT(box, contract_on_64m_shm, 300)
{
	boxed(_metadata, BOX_SHM64, "basic");
}

TEST_F_TIMEOUT(box, torture_on_64m_shm, 300)
{
	boxed(_metadata, BOX_SHM64, "torture");
}

/* The sandbox itself: what the library picks and refuses in it. */
static int in_seccomp_box(void *arg)
{
	const char *name = arg;
	MMSYNC_OPTS(mmsync_writer_opts, mb,
		    .fence_mode = MMSYNC_FENCE_MEMBARRIER);
	struct mmsync_stats st = { .sz = sizeof(st) };
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	char fresh[300];
	int p[2];

	if (deny_uring_and_membarrier())
		return 201;
	/* A membarrier channel made outside: readers fall back to xchg... */
	if (mmsync_reader_open(name, NULL, &r) || mmsync_read_begin(r, &v) ||
	    v.gen != 1 || memcmp(v.data, "outside", 8) ||
	    mmsync_read_end(r, &v))
		return 10;
	mmsync_reader_close(r);
	/* ...writers cannot keep its promise and say so. */
	if (mmsync_writer_open(name, NULL, &w) != -EOPNOTSUPP)
		return 11;
	snprintf(fresh, sizeof(fresh), "%s_new", name);
	if (mmsync_writer_open(fresh, &mb, &w) != -EOPNOTSUPP)
		return 12;
	/* A new channel picks fence mode by itself. */
	if (mmsync_writer_open(fresh, NULL, &w))
		return 13;
	if (mmsync_stat(fresh, &st) || st.fence_mode != MMSYNC_FENCE_XCHG)
		return 14;
	/* publish_fd without io_uring: the read() loop. */
	if (pipe(p) || write(p[1], "piped bytes", 11) != 11)
		return 15;
	close(p[1]);
	if (mmsync_publish_fd(w, p[0], 0, 0, NULL))
		return 16;
	if (mmsync_reader_open(fresh, NULL, &r) || mmsync_read_begin(r, &v) ||
	    v.size != 11 || memcmp(v.data, "piped bytes", 11) ||
	    mmsync_read_end(r, &v))
		return 17;
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	return 0;
}

TEST(seccomp_fallbacks_and_errors)
{
	MMSYNC_OPTS(mmsync_writer_opts, mb,
		    .fence_mode = MMSYNC_FENCE_MEMBARRIER);
	struct mmsync_writer *w;
	char name[256];
	struct tdir d;
	int rc;

	if (fence_mode_unavailable(MMSYNC_FENCE_MEMBARRIER))
		SKIP(return, "%s",
			   fence_mode_unavailable(MMSYNC_FENCE_MEMBARRIER));
	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "s", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, &mb, &w));
	ASSERT_EQ(0, mmsync_publish(w, "outside", 8, NULL));
	mmsync_writer_close(w);
	rc = reap(spawn(in_seccomp_box, name));
	if (rc == 201) {
		tdir_remove(&d);
		SKIP(return, "no seccomp filter on this architecture/kernel");
	}
	EXPECT_EQ(0, rc);
	tdir_remove(&d);
}

/* A tmpfs of @size in a private namespace, at @dir. */
static int private_tmpfs(const char *dir, const char *size)
{
	char opt[64];

	if (unshare(CLONE_NEWNS))
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	snprintf(opt, sizeof(opt), "size=%s", size);
	if (mount("tmpfs", dir, "tmpfs", 0, opt))
		return -errno;
	return 0;
}

/* Fill the file system of @dir but @keep bytes; returns the filler's fd. */
static int fill(const char *dir, off_t keep)
{
	char path[PATH_MAX];
	off_t off = 0, step = 1 << 20;
	int fd;

	snprintf(path, sizeof(path), "%s/filler", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		return -1;
	while (step >= 4096) {
		if (fallocate(fd, 0, off, step) == 0)
			off += step;
		else
			step /= 2;
	}
	if (keep &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, keep))
		return -1;
	return fd;
}

static int count_files(const char *dir)
{
	char cmd[PATH_MAX + 32];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static int full_fs_main(void *arg)
{
	const char *dir = arg;
	struct mmsync_stats st = { .sz = sizeof(st) };
	static char big[1 << 20];
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	char name[PATH_MAX];
	int fd;

	if (private_tmpfs(dir, "4m"))
		return 200;
	snprintf(name, sizeof(name), "%s/c", dir);
	/* Completely full: nothing can be created, nothing is left. */
	fd = fill(dir, 0);
	if (fd < 0)
		return 201;
	if (mmsync_writer_open(name, NULL, &w) != -ENOSPC)
		return 10;
	if (count_files(dir) != 1)
		return 11;
	/* Room for the channel, not for a big snapshot. */
	close(fd);
	unlink(name);
	snprintf(name, sizeof(name), "%s/filler", dir);
	unlink(name);
	fd = fill(dir, 256 << 10);
	snprintf(name, sizeof(name), "%s/c", dir);
	if (fd < 0 || mmsync_writer_open(name, NULL, &w))
		return 12;
	if (mmsync_publish(w, "small", 6, NULL))
		return 13;
	if (mmsync_reader_open(name, NULL, &r))
		return 14;
	memset(big, 'b', sizeof(big));
	if (mmsync_publish(w, big, sizeof(big), NULL) != -ENOSPC)
		return 15;
	/* The old snapshot stays current and whole; stat and reads work. */
	if (mmsync_read_begin(r, &v) || v.gen != 1 || v.size != 6 ||
	    memcmp(v.data, "small", 6) || mmsync_read_end(r, &v))
		return 16;
	if (mmsync_stat(name, &st) || st.gen != 1 || st.readers != 1)
		return 17;
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	/* A full file system when a reader opens: still no SIGBUS. */
	if (mmsync_reader_open(name, NULL, &r) || mmsync_read_begin(r, &v) ||
	    mmsync_read_end(r, &v))
		return 18;
	mmsync_reader_close(r);
	return 0;
}

TEST(full_tmpfs_gives_enospc)
{
	char dir[] = "/tmp/mmsync-full-XXXXXX";
	int rc;

	if (geteuid() != 0)
		SKIP(return, "needs root, to mount a tmpfs in a namespace");
	ASSERT_NE(NULL, mkdtemp(dir));
	rc = reap(spawn(full_fs_main, dir));
	rmdir(dir);
	if (rc == 200)
		SKIP(return, "cannot mount a tmpfs in a private namespace");
	EXPECT_EQ(0, rc);
}

/* Docker's 64 MiB /dev/shm: what fits works, what does not is -ENOSPC. */
static int shm64_main(void *arg)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	unsigned char *buf;
	struct tdir d;
	char name[256];

	(void)arg;
	if (small_shm("64m"))
		return 200;
	buf = malloc(40 << 20);
	if (!buf || tdir_make(&d))
		return 201;
	tdir_chan(&d, "big", name, sizeof(name));
	if (mmsync_writer_open(name, NULL, &w) ||
	    mmsync_reader_open(name, NULL, &r))
		return 10;
	/* Two slots of 28 MiB fit in 64 MiB. */
	pattern_fill(buf, 28 << 20, 1);
	if (mmsync_publish(w, buf, 28 << 20, NULL))
		return 11;
	pattern_fill(buf, 28 << 20, 2);
	if (mmsync_publish(w, buf, 28 << 20, NULL))
		return 12;
	/* Slot 1 cannot grow to 40 MiB: -ENOSPC, generation 2 intact. */
	pattern_fill(buf, 40 << 20, 3);
	if (mmsync_publish(w, buf, 40 << 20, NULL) != -ENOSPC)
		return 13;
	if (mmsync_read_begin(r, &v) || v.gen != 2 ||
	    pattern_check(v.data, v.size, 2) != v.size ||
	    mmsync_read_end(r, &v))
		return 14;
	/* And the channel goes on with what fits. */
	pattern_fill(buf, 1 << 20, 3);
	if (mmsync_publish(w, buf, 1 << 20, NULL))
		return 15;
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	tdir_remove(&d);
	free(buf);
	return 0;
}

TEST(docker_shm_64m_limits)
{
	int rc;

	if (geteuid() != 0)
		SKIP(return, "needs root, to mount a tmpfs in a namespace");
	rc = reap(spawn(shm64_main, NULL));
	if (rc == 200)
		SKIP(return, "cannot mount a tmpfs in a private namespace");
	EXPECT_EQ(0, rc);
}

TEST_HARNESS_MAIN
