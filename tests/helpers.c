// SPDX-License-Identifier: MIT
/* helpers.c - shared bits of the libmmsync tests (not the harness). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/*
 * tests/run.sh exports MMSYNC_TEST_RUN, a tag of its own run, so that it
 * checks for leftovers of its own tests only, whatever else runs.
 */
int tdir_make(struct tdir *d)
{
	const char *run = getenv("MMSYNC_TEST_RUN");

	if (run && *run && strlen(run) < 32)
		snprintf(d->path, sizeof(d->path),
			 "/dev/shm/mmsync-test-%s-XXXXXX", run);
	else
		snprintf(d->path, sizeof(d->path),
			 "/dev/shm/mmsync-test-XXXXXX");
	return mkdtemp(d->path) ? 0 : -errno;
}

void tdir_remove(struct tdir *d)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	if (!d->path[0])
		return;
	dir = opendir(d->path);
	if (dir) {
		while ((de = readdir(dir))) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", d->path, de->d_name);
			unlink(p);
		}
		closedir(dir);
	}
	rmdir(d->path);
	d->path[0] = '\0';
}

void tdir_chan(const struct tdir *d, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", d->path, name);
}

void tdir_file(const struct tdir *d, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", d->path, name);
}

uint64_t pattern_word(uint64_t gen, uint64_t idx)
{
	uint64_t x =
		gen * 0x9e3779b97f4a7c15ull ^ (idx + 1) * 0xc2b2ae3d27d4eb4full;

	return x ^ (x >> 29);
}

void pattern_fill(void *buf, size_t len, uint64_t gen)
{
	uint64_t *w = buf, last;
	size_t i, n = len / 8;

	for (i = 0; i < n; i++)
		w[i] = pattern_word(gen, i);
	if (len % 8) {
		last = pattern_word(gen, n);
		memcpy((char *)buf + n * 8, &last, len % 8);
	}
}

size_t pattern_check(const void *buf, size_t len, uint64_t gen)
{
	const uint64_t *w = buf;
	size_t i, n = len / 8;
	uint64_t last;

	for (i = 0; i < n; i++)
		if (w[i] != pattern_word(gen, i))
			return i * 8;
	if (len % 8) {
		last = pattern_word(gen, n);
		if (memcmp((const char *)buf + n * 8, &last, len % 8))
			return n * 8;
	}
	return len;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

int spawn(int (*fn)(void *), void *arg)
{
	int pid = fork();

	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int reap(int pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int reap_nohang(int pid)
{
	int st, r = waitpid(pid, &st, WNOHANG);

	if (r <= 0)
		return r < 0 ? -errno : 0;
	if (WIFEXITED(st))
		return 1000 + WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

long slurp(const char *path, unsigned char **out)
{
	struct stat st;
	long n = 0;
	ssize_t k;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !(*out = malloc(st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while (n < st.st_size && (k = read(fd, *out + n, st.st_size - n)) > 0)
		n += k;
	close(fd);
	return n;
}

/*
 * Add @delta pages (negative: remove) to the pool of @page bytes. Returns
 * how many were really added (the kernel may find fewer), or -errno.
 */
long hugepool_add(uint64_t page, long delta)
{
	char path[128], buf[32];
	long cur, now;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
		 (unsigned long long)(page >> 10));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	flock(fd, LOCK_EX);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	cur = strtol(buf, NULL, 10);
	n = snprintf(buf, sizeof(buf), "%ld\n",
		     cur + delta < 0 ? 0 : cur + delta);
	if (pwrite(fd, buf, (size_t)n, 0) < 0 && errno != ENOMEM) {
		now = -errno;
		goto out;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	now = strtol(buf, NULL, 10) - cur;
out:
	flock(fd, LOCK_UN);
	close(fd);
	return now;
}

int have_membarrier(void)
{
	long mask = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return mask > 0 && (mask & MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}

const char *fence_mode_unavailable(uint32_t mode)
{
	if (mode != MMSYNC_FENCE_MEMBARRIER)
		return NULL;
#if defined(__SANITIZE_THREAD__)
	return "TSan build: fence (xchg) mode only";
#endif
	if (!have_membarrier())
		return "kernel lacks membarrier(GLOBAL_EXPEDITED)";
	return NULL;
}
