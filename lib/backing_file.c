// SPDX-License-Identifier: MIT
/*
 * backing_file.c - a channel as files NAME_state, NAME_data_0 and
 * NAME_data_1 in a directory: tmpfs (/dev/shm, the default), any other
 * file system, or a hugetlbfs mount, whose files hold huge pages.
 *
 * Every file is opened with O_NOFOLLOW and created with O_EXCL (or as an
 * O_TMPFILE linked into place), so a symlink planted in a shared directory
 * is refused (-ELOOP), never followed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing.h"

/*
 * An unnamed file in @dir that we can link into place once it is complete,
 * so that nobody ever sees a half-initialised state file. Falls back to a
 * uniquely named temporary file where O_TMPFILE is not supported.
 */
static int open_unnamed(const char *path, mode_t mode, char **tmp)
{
	static unsigned int seq;
	char *dir;
	int fd;

	*tmp = NULL;
	dir = mmsync_dirname(path);
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	free(dir);
	if (fd >= 0)
		return fd;
	if (asprintf(tmp, "%s.tmp.%d.%u", path, getpid(),
		     __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED)) < 0) {
		*tmp = NULL;
		return -ENOMEM;
	}
	fd = open(*tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0) {
		fd = -errno;
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
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
 * Create a complete state file and link it to @path, holding the writer
 * lock from before it has a name. -EEXIST: somebody else was faster.
 *
 * On hugetlbfs a file is sized in whole huge pages, and they are taken
 * now (fallocate): an untaken page would be SIGBUS at the first touch.
 */
static int create_state(const char *path, const struct mmsync_create *a,
			int *out_fd)
{
	uint64_t size = mmsync_state_size(a->nr_entries), len, page;
	struct mmsync_hdr *h;
	bool huge;
	char *tmp;
	int fd, err;

	fd = open_unnamed(path, a->state_mode, &tmp);
	if (fd < 0)
		return fd;
	page = mmsync_fd_granule(fd, &huge);
	len = huge ? mmsync_round_up(size, page) : size;
	if (huge) {
		err = mmsync_huge_pool_check(page);
		if (err)
			goto fail;
	}
	if (fchmod(fd, a->state_mode) < 0 || ftruncate(fd, (off_t)len) < 0) {
		err = -errno;
		goto fail;
	}
	if (huge && fallocate(fd, 0, 0, (off_t)len) < 0) {
		err = errno == ENOSPC ? -ENOMEM : -errno;
		goto fail;
	}
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	mmsync_init_hdr(h, a);
	munmap(h, len);
	err = mmsync_lock_byte(fd, MMSYNC_WRITER_LOCK_OFF);
	if (err)
		goto fail;
	err = link_into_place(fd, tmp, path);
	if (err)
		goto fail_nounlink;
	free(tmp);
	*out_fd = fd;
	return 0;
fail:
	if (tmp)
		unlink(tmp);
fail_nounlink:
	free(tmp);
	close(fd);
	return err;
}

/* Asked for huge pages: the directory must be hugetlbfs of that size. */
static int check_dir(const char *prefix, uint64_t want)
{
	struct statfs sf;
	char *dir;
	int err;

	dir = mmsync_dirname(prefix);
	if (!dir)
		return -ENOMEM;
	err = statfs(dir, &sf) < 0 ? -errno : 0;
	free(dir);
	if (err)
		return err;
	if ((unsigned long)sf.f_type != HUGETLBFS_MAGIC ||
	    (uint64_t)sf.f_bsize != want)
		return -EINVAL;
	return 0;
}

static int file_writer_open(struct mmsync_writer *w, const char *name,
			    const struct mmsync_writer_opts *o,
			    const struct mmsync_create *a, bool *fresh)
{
	uint64_t want = MMSYNC_OPT(o, huge_page_size);
	char *path;
	int fd = -1, err = 0, tries;

	(void)name;
	if (want) {
		err = check_dir(w->prefix, want);
		if (err)
			return err;
	}
	path = mmsync_file(w->prefix, "state");
	if (!path)
		return -ENOMEM;
	*fresh = false;
	for (tries = 0; tries < 8; tries++) {
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT) {
			err = -errno;
			goto out;
		}
		err = create_state(path, a, &fd);
		if (err == 0) {
			*fresh = true;
			break;
		}
		if (err != -EEXIST)
			goto out;
	}
	if (fd < 0) {
		err = -EAGAIN;
		goto out;
	}
	w->state_fd = fd;
	if (!*fresh) {
		err = mmsync_lock_byte(fd, MMSYNC_WRITER_LOCK_OFF);
		if (err) {
			err = err == -EAGAIN ? -EBUSY : err;
			goto out;
		}
	}
out:
	free(path);
	return err;
}

/* Open (creating if @fresh or missing) data file @i of the channel. */
static int file_data_open(struct mmsync_writer *w, int i, bool fresh)
{
	char suffix[24];
	char *path;
	int fd;

	snprintf(suffix, sizeof(suffix), "data_%d", i);
	path = mmsync_file(w->prefix, suffix);
	if (!path)
		return -ENOMEM;
	if (fresh)
		unlink(path); /* leftovers of a channel whose state is gone */
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path,
			  O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  w->data_mode);
		if (fd >= 0 && fchmod(fd, w->data_mode) < 0) {
			int err = -errno;

			free(path);
			close(fd);
			return err;
		}
	}
	free(path);
	if (fd < 0)
		return -errno;
	w->data_fd[i] = fd;
	return 0;
}

static void file_writer_close(struct mmsync_writer *w)
{
	(void)w; /* the files stay for the next writer */
}

const struct mmsync_backing_ops mmsync_backing_files = {
	.name = "files",
	.writer_open = file_writer_open,
	.data_open = file_data_open,
	.writer_close = file_writer_close,
};

int mmsync_file_reader_open(struct mmsync_reader *r)
{
	char *path = mmsync_file(r->prefix, "state");
	int err = 0;

	if (!path)
		return -ENOMEM;
	r->state_fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (r->state_fd < 0)
		err = -errno;
	free(path);
	return err;
}
