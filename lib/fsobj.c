// SPDX-License-Identifier: MIT
/*
 * fsobj.c - a channel's objects as files in a directory that other users
 * may share (/dev/shm is world-writable and sticky).
 *
 * Creation never adopts: an object is built complete in an unnamed file
 * (O_TMPFILE, or a uniquely named temporary one where the file system has
 * no O_TMPFILE) and linked into place with link(2), which fails with EEXIST
 * rather than replacing what is there. So a file planted under the name,
 * before or during creation, is never opened, written or trusted: creation
 * fails instead. Objects of an existing channel are opened with O_NOFOLLOW
 * (a symlink is -ELOOP) and must be regular files owned by us (-EPERM).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"

/* The longest suffix a channel's files get: "_readers", or "_t" + 6. */
#define LONGEST_SUFFIX 8

/*
 * Do all file names of channel @prefix fit? Checked before anything is
 * created, so a name that is too long leaves nothing behind.
 */
int mmsync_names_fit(const char *prefix)
{
	const char *base = strrchr(prefix, '/');

	base = base ? base + 1 : prefix;
	if (!*base)
		return -EINVAL;
	if (strlen(base) + LONGEST_SUFFIX > NAME_MAX ||
	    strlen(prefix) + LONGEST_SUFFIX >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* An open object must be a regular file of ours: -EPERM otherwise. */
int mmsync_obj_check_own(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	return 0;
}

/*
 * Open an object of an existing channel. O_NONBLOCK: a planted FIFO must
 * not hang us (open of a FIFO for reading blocks without it).
 */
int mmsync_obj_open_own(const char *path, int flags)
{
	int fd, err;

	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	err = mmsync_obj_check_own(fd);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* A random-enough suffix for a temporary name. */
static void tmp_suffix(char out[7])
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static unsigned int seq;
	uint64_t x = mmsync_now_ns() ^ ((uint64_t)getpid() << 32) ^
		     __atomic_fetch_add(&seq, 0x9e3779b9u, __ATOMIC_RELAXED);
	int i;

	for (i = 0; i < 6; i++) {
		out[i] = set[x % (sizeof(set) - 1)];
		x /= sizeof(set) - 1;
	}
	out[6] = '\0';
}

/*
 * An unnamed file next to channel @prefix's files; *tmp is set when it had
 * to get a name: "<prefix>_tXXXXXX", a NAME_* name as the contract says.
 */
static int open_unnamed(const char *prefix, mode_t mode, char **tmp)
{
	char *dir, sfx[7];
	int fd, tries;

	*tmp = NULL;
	dir = mmsync_dirname(prefix);
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	free(dir);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	for (tries = 0; tries < 16; tries++) {
		tmp_suffix(sfx);
		if (asprintf(tmp, "%s_t%s", prefix, sfx) < 0) {
			*tmp = NULL;
			return -ENOMEM;
		}
		fd = open(*tmp,
			  O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  mode);
		if (fd >= 0)
			return fd;
		fd = -errno;
		free(*tmp);
		*tmp = NULL;
		if (fd != -EEXIST)
			return fd;
	}
	return -EEXIST;
}

static int link_into_place(int fd, const char *tmp, const char *path)
{
	char proc[64];
	int err = 0;

	if (tmp) {
		if (link(tmp, path) < 0)
			err = -errno;
		unlink(tmp);
		return err;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

/*
 * Create object <prefix>_<suffix> complete: an unnamed file of @mode,
 * filled by @fill (space reserved, header written, locks taken), then
 * linked into place. Returns its descriptor (read-write); -EEXIST if the
 * name exists (whatever it is: nothing of it is used), -errno.
 */
int mmsync_obj_create(const char *prefix, const char *suffix, mode_t mode,
		      int (*fill)(int fd, void *arg), void *arg)
{
	char *tmp, *path;
	int fd, err;

	path = mmsync_file(prefix, suffix);
	if (!path)
		return -ENOMEM;
	fd = open_unnamed(prefix, mode, &tmp);
	if (fd < 0) {
		free(path);
		return fd;
	}
	/* The umask must not decide who may read the channel. */
	err = fchmod(fd, mode) < 0 ? -errno : 0;
	if (!err && fill)
		err = fill(fd, arg);
	if (!err)
		err = link_into_place(fd, tmp, path);
	else if (tmp)
		unlink(tmp);
	free(tmp);
	free(path);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Unlink @path if it still names the file open as @fd (and only then). */
int mmsync_obj_unlink_if(const char *path, int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return -errno;
	if (lstat(path, &b) < 0)
		return -errno;
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return -ESTALE;
	return unlink(path) < 0 ? -errno : 0;
}
