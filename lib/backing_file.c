// SPDX-License-Identifier: MIT
/*
 * backing_file.c - a channel as files in a directory: tmpfs (/dev/shm, the
 * default), any other file system, or a hugetlbfs mount, whose files hold
 * huge pages.
 *
 *   NAME_lock     the writer's exclusivity: an OFD write lock on byte 0.
 *                 Mode 0600: a process that may only read the channel
 *                 cannot open it, so it cannot keep a writer out (a read
 *                 lock on any file it can open would).
 *   NAME_state    writer only (default mode 0640); readers open it
 *                 O_RDONLY. The writer also holds a write lock on its
 *                 byte 0 while it lives, for mmsync_stat() (best effort:
 *                 a read lock planted there first hides it, nothing more).
 *   NAME_readers  the reader table (default 0660): readers open it O_RDWR.
 *   NAME_data_0/1 the slots, writer only (default 0640).
 *
 * A new channel's objects are created by fsobj.c (never adopting what is
 * there), the state last: its link is the moment the channel exists, so a
 * reader that finds NAME_state finds everything else complete. A writer
 * continuing a channel opens what is there and refuses what it does not
 * own (-EPERM); the common code then checks that each object is the one the
 * state names.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing.h"

struct file_bk {
	bool lock_created; /* we made NAME_lock: remove it if open fails */
};

static const char *const data_suffix[2] = { "data_0", "data_1" };

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

/* Open (making it if needed) NAME_lock and take the writer lock. */
static int take_lock(struct mmsync_writer *w, struct file_bk *b)
{
	char *path = mmsync_file(w->prefix, "lock");
	int fd, err;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  MMSYNC_LOCK_MODE);
	if (fd >= 0) {
		b->lock_created = true;
		if (fchmod(fd, MMSYNC_LOCK_MODE) < 0) {
			err = -errno;
			mmsync_obj_unlink_if(path, fd);
			close(fd);
			free(path);
			return err;
		}
	} else if (errno == EEXIST) {
		fd = mmsync_obj_open_own(path, O_RDWR);
	} else {
		fd = -errno;
	}
	free(path);
	if (fd < 0)
		return fd;
	w->lock_fd = fd;
	err = mmsync_lock_byte(fd, MMSYNC_WRITER_LOCK_OFF);
	return err == -EAGAIN ? -EBUSY : err;
}

struct fill_state {
	const struct mmsync_create *a;
	int table_fd;
	const int *data_fd;
};

static int fill_table(int fd, void *arg)
{
	return mmsync_init_table(fd, arg);
}

/* The state, complete, with the writer's "alive" lock already held. */
static int fill_state(int fd, void *arg)
{
	struct fill_state *c = arg;
	int err;

	err = mmsync_init_state(fd, c->a, c->table_fd, c->data_fd);
	if (err)
		return err;
	return mmsync_lock_byte(fd, MMSYNC_WRITER_LOCK_OFF);
}

/*
 * Create object @suffix of a new channel. A file already there is a
 * leftover of a channel whose state is gone (we hold the writer lock, so
 * no writer uses it): ours is removed and made anew; anything else (not
 * ours, not a regular file, a symlink) fails creation, never adopted.
 */
static int create_obj(const char *prefix, const char *suffix, mode_t mode,
		      int (*fill)(int fd, void *arg), void *arg)
{
	char *path;
	int fd, old, tries;

	for (tries = 0; tries < 4; tries++) {
		fd = mmsync_obj_create(prefix, suffix, mode, fill, arg);
		if (fd != -EEXIST)
			return fd;
		path = mmsync_file(prefix, suffix);
		if (!path)
			return -ENOMEM;
		old = mmsync_obj_open_own(path, O_RDONLY);
		if (old >= 0) {
			mmsync_obj_unlink_if(path, old);
			close(old);
		}
		free(path);
		if (old < 0 && old != -ENOENT)
			return old == -ELOOP ? -EPERM : old;
	}
	return -EEXIST;
}

/* Remove what create_fresh() made before it failed. */
static void unlink_ours(const char *prefix, const char *suffix, int fd)
{
	char *path;

	if (fd < 0)
		return;
	path = mmsync_file(prefix, suffix);
	if (path)
		mmsync_obj_unlink_if(path, fd);
	free(path);
}

static int create_fresh(struct mmsync_writer *w, const struct mmsync_create *a)
{
	struct fill_state c = { .a = a, .data_fd = w->data_fd };
	int i, fd;

	for (i = 0; i < 2; i++) {
		fd = create_obj(w->prefix, data_suffix[i], a->data_mode, NULL,
				NULL);
		if (fd < 0)
			goto fail;
		w->data_fd[i] = fd;
	}
	fd = create_obj(w->prefix, "readers", a->table_mode, fill_table,
			(void *)a);
	if (fd < 0)
		goto fail;
	w->table_fd = fd;
	c.table_fd = fd;
	/* Last: its link publishes the channel. */
	fd = mmsync_obj_create(w->prefix, "state", a->state_mode, fill_state,
			       &c);
	if (fd == -EEXIST)
		fd = -EPERM; /* planted while we held the writer lock */
	if (fd < 0)
		goto fail;
	w->state_fd = fd;
	w->advert = true;
	return 0;
fail:
	for (i = 0; i < 2; i++)
		unlink_ours(w->prefix, data_suffix[i], w->data_fd[i]);
	unlink_ours(w->prefix, "readers", w->table_fd);
	return fd;
}

/* Open an object of an existing channel; a missing one is damage. */
static int open_part(const char *prefix, const char *suffix, int flags,
		     bool own)
{
	char *path = mmsync_file(prefix, suffix);
	int fd;

	if (!path)
		return -ENOMEM;
	if (own) {
		fd = mmsync_obj_open_own(path, flags);
	} else {
		/* O_NONBLOCK: a planted FIFO must not hang a reader. */
		fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			fd = -errno;
	}
	free(path);
	return fd;
}

static int continue_channel(struct mmsync_writer *w)
{
	int i, fd;

	fd = open_part(w->prefix, "readers", O_RDWR, true);
	if (fd < 0)
		return fd == -ENOENT ? -EBADMSG : fd;
	w->table_fd = fd;
	for (i = 0; i < 2; i++) {
		fd = open_part(w->prefix, data_suffix[i], O_RDWR, true);
		if (fd < 0)
			return fd == -ENOENT ? -EBADMSG : fd;
		w->data_fd[i] = fd;
	}
	/* Best effort: a read lock planted on byte 0 only hides the advert. */
	w->advert = mmsync_lock_byte(w->state_fd, MMSYNC_WRITER_LOCK_OFF) == 0;
	return 0;
}

static int file_writer_open(struct mmsync_writer *w, const char *name,
			    const struct mmsync_writer_opts *o,
			    const struct mmsync_create *a, bool *fresh)
{
	struct file_bk *b;
	int err, fd;

	(void)name;
	(void)o;
	err = mmsync_names_fit(w->prefix);
	if (err)
		return err;
	if (a->huge_page_size) {
		err = check_dir(w->prefix, a->huge_page_size);
		if (err)
			return err;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	w->bk = b;
	err = take_lock(w, b);
	if (err)
		return err;
	fd = open_part(w->prefix, "state", O_RDWR, true);
	if (fd == -ENOENT) {
		*fresh = true;
		return create_fresh(w, a);
	}
	if (fd < 0)
		return fd;
	w->state_fd = fd;
	*fresh = false;
	return continue_channel(w);
}

static void file_writer_close(struct mmsync_writer *w)
{
	struct file_bk *b = w->bk;
	char *path;

	/* A writer that never opened made no channel: no lock file left. */
	if (b && b->lock_created && !w->opened && w->lock_fd >= 0 &&
	    w->state_fd < 0) {
		path = mmsync_file(w->prefix, "lock");
		if (path)
			mmsync_obj_unlink_if(path, w->lock_fd);
		free(path);
	}
	if (w->lock_fd >= 0)
		close(w->lock_fd); /* drops the writer lock */
	w->lock_fd = -1;
	free(b);
	w->bk = NULL;
}

/* A forked child must not keep the writer lock or the advert alive. */
static void file_writer_forked(struct mmsync_writer *w)
{
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	w->lock_fd = -1;
	if (w->state_fd >= 0)
		close(w->state_fd);
	w->state_fd = -1;
}

static int file_reader_open(struct mmsync_reader *r, const char *name,
			    const struct mmsync_reader_opts *o)
{
	int i, fd;

	(void)name;
	(void)o;
	fd = open_part(r->prefix, "state", O_RDONLY, false);
	if (fd < 0)
		return fd;
	r->state_fd = fd;
	fd = open_part(r->prefix, "readers", O_RDWR, false);
	if (fd < 0)
		return fd == -ENOENT ? -EBADMSG : fd;
	r->table_fd = fd;
	for (i = 0; i < 2; i++) {
		fd = open_part(r->prefix, data_suffix[i], O_RDONLY, false);
		if (fd < 0)
			return fd == -ENOENT ? -EBADMSG : fd;
		r->data_fd[i] = fd;
	}
	return 0;
}

/* A file-backed channel never ends: a new writer may always come. */
static int file_writer_gone(const struct mmsync_reader *r)
{
	(void)r;
	return 0;
}

const struct mmsync_backing_ops mmsync_backing_files = {
	.name = "files",
	.writer_open = file_writer_open,
	.writer_close = file_writer_close,
	.writer_forked = file_writer_forked,
	.reader_open = file_reader_open,
	.writer_gone = file_writer_gone,
};
