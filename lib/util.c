// SPDX-License-Identifier: MIT
/* util.c - names, clocks, options and OFD-lock helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"

/*
 * A name without '/' lives in $MMSYNC_DIR (default /dev/shm); a name with '/'
 * is a path prefix, as in mmap-sync.
 */
int mmsync_prefix(const char *name, char **out)
{
	const char *dir;
	size_t n;
	int len;

	if (!name || !out)
		return -EINVAL;
	n = strlen(name);
	if (n == 0 || name[n - 1] == '/')
		return -EINVAL;
	if (n >= PATH_MAX - 32)
		return -ENAMETOOLONG;
	if (strchr(name, '/')) {
		*out = strdup(name);
		return *out ? 0 : -ENOMEM;
	}
	dir = getenv("MMSYNC_DIR");
	if (!dir || !*dir)
		dir = "/dev/shm";
	len = asprintf(out, "%s/%s", dir, name);
	if (len < 0)
		return -ENOMEM;
	if (len >= PATH_MAX - 32) {
		free(*out);
		return -ENAMETOOLONG;
	}
	return 0;
}

char *mmsync_file(const char *prefix, const char *suffix)
{
	char *p;

	if (asprintf(&p, "%s_%s", prefix, suffix) < 0)
		return NULL;
	return p;
}

/* The directory part of @path, malloc'd: ".", "/" or the part before '/'. */
char *mmsync_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

uint64_t mmsync_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mmsync_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void mmsync_sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000,
			       .tv_nsec = ns % 1000000000 };

	if (ns <= 0)
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/*
 * libbpf's rule: opts start with size_t sz; a caller built against a newer
 * header may pass a larger struct, as long as the bytes past the last
 * field we know (@known: its end offset) are zero. Fields of an older,
 * smaller struct are never read (MMSYNC_OPTS_GET).
 */
bool mmsync_opts_valid(const void *opts, size_t known)
{
	const unsigned char *p = opts;
	size_t sz, i;

	if (!opts)
		return true;
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t))
		return false;
	for (i = known; i < sz; i++)
		if (p[i])
			return false;
	return true;
}

/* A creation mode: read and write bits only (0 means the default). */
bool mmsync_mode_valid(uint32_t mode)
{
	return (mode & ~0666u) == 0;
}

static int ofd_lock(int fd, int cmd, short type, struct flock *fl, off_t off)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = off;
	fl->l_len = 1;
	return fcntl(fd, cmd, fl);
}

/* Take the write lock on byte @off; -EAGAIN when someone else holds any. */
int mmsync_lock_byte(int fd, off_t off)
{
	struct flock fl;

	if (ofd_lock(fd, F_OFD_SETLK, F_WRLCK, &fl, off) == 0)
		return 0;
	if (errno == EACCES || errno == EAGAIN)
		return -EAGAIN;
	return -errno;
}

/*
 * 1 if another open file description holds a *write* lock on byte @off,
 * 0 if not, -errno. Asking with F_RDLCK reports only locks that conflict
 * with a read lock, that is write locks: a read lock, which anyone who can
 * open the file for reading may take, proves nothing and is not seen. It
 * also works on a read-only descriptor.
 */
int mmsync_write_locked(int fd, off_t off)
{
	struct flock fl;

	if (ofd_lock(fd, F_OFD_GETLK, F_RDLCK, &fl, off) < 0)
		return -errno;
	return fl.l_type == F_WRLCK;
}

/* A new open file description of @fd, with @flags (O_RDONLY/O_RDWR). */
int mmsync_reopen_fd(int fd, int flags)
{
	char proc[48];
	int nfd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	nfd = open(proc, flags | O_CLOEXEC);
	if (nfd >= 0)
		return nfd;
	/* No /proc: nothing else gives a memfd a second file description. */
	return errno == ENOENT ? -ENOSYS : -errno;
}

uint64_t mmsync_round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

const unsigned char mmsync__empty[1];
