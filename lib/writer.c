// SPDX-License-Identifier: MIT
/* writer.c - create or reopen a channel for writing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct create_args {
	uint32_t nr_entries;
	uint32_t fence_mode;
	mode_t state_mode;
};

static void init_hdr(struct mmsync_hdr *h, const struct create_args *a)
{
	h->format = MMSYNC_FORMAT;
	h->hdr_size = MMSYNC_HDR_SIZE;
	h->entry_size = MMSYNC_ENTRY_SIZE;
	h->nr_entries = a->nr_entries;
	h->table_off = MMSYNC_HDR_SIZE;
	h->file_size = mmsync_state_size(a->nr_entries);
	h->fence_mode = a->fence_mode;
	h->created_ns = mmsync_realtime_ns();
	/* Nobody can see the file yet; the release is for good measure. */
	__atomic_store_n(&h->magic, MMSYNC_MAGIC, __ATOMIC_RELEASE);
}

/*
 * An unnamed file in @dir that we can link into place once it is complete,
 * so that nobody ever sees a half-initialised state file. Falls back to a
 * uniquely named temporary file where O_TMPFILE is not supported.
 */
static int open_unnamed(const char *path, mode_t mode, char **tmp)
{
	static unsigned int seq;
	char *dir, *slash;
	int fd;

	*tmp = NULL;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
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
 */
static int create_state(const char *path, const struct create_args *a,
			int *out_fd)
{
	uint64_t size = mmsync_state_size(a->nr_entries);
	struct mmsync_hdr *h;
	char *tmp;
	int fd, err;

	fd = open_unnamed(path, a->state_mode, &tmp);
	if (fd < 0)
		return fd;
	if (fchmod(fd, a->state_mode) < 0 || ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		goto fail;
	}
	h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	init_hdr(h, a);
	munmap(h, size);
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

/* Open (creating if @fresh or missing) data file @i of the channel. */
static int open_data(struct mmsync_writer *w, int i, bool fresh)
{
	char suffix[8];
	struct stat st;
	char *path;
	int fd, err = 0;

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
		if (fd >= 0 && fchmod(fd, w->data_mode) < 0)
			err = -errno;
	}
	free(path);
	if (fd < 0)
		return -errno;
	if (!err && fstat(fd, &st) < 0)
		err = -errno;
	if (!err && !S_ISREG(st.st_mode))
		err = -EBADMSG;
	if (!err && (uint64_t)st.st_size > MMSYNC_MAX_CAP)
		err = -EBADMSG;
	if (err) {
		close(fd);
		return err;
	}
	w->data_fd[i] = fd;
	/* The file size is the truth; keep cap <= size for the readers. */
	WRITE_SHARED(w->hdr->slot[i].cap, (uint64_t)st.st_size);
	if (st.st_size > 0) {
		w->map[i] = mmap(NULL, (size_t)st.st_size,
				 PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (w->map[i] == MAP_FAILED) {
			w->map[i] = NULL;
			return -errno;
		}
		w->map_len[i] = (uint64_t)st.st_size;
	}
	return 0;
}

static int check_opts(const struct mmsync_writer_opts *o)
{
	if (!mmsync_opts_valid(o, sizeof(*o)))
		return -EINVAL;
	if (!o)
		return 0;
	if (o->grace_ns < 0 || o->grace_policy > MMSYNC_GRACE_REFUSE ||
	    o->fence_mode > MMSYNC_FENCE_XCHG ||
	    o->max_readers > MMSYNC_MAX_ENTRIES ||
	    (o->data_mode & ~07777u) || (o->state_mode & ~07777u) ||
	    o->initial_capacity > MMSYNC_MAX_CAP)
		return -EINVAL;
	return 0;
}

static uint32_t pick_fence(uint32_t asked)
{
#if defined(__SANITIZE_THREAD__)
	/* TSan cannot see membarrier()'s fences: run the xchg protocol. */
	(void)asked;
	return MMSYNC_FENCE_XCHG;
#else
	if (asked == MMSYNC_FENCE_AUTO)
		return mmsync_membarrier_available() ? MMSYNC_FENCE_MEMBARRIER
						     : MMSYNC_FENCE_XCHG;
	return asked;
#endif
}

static int open_state(struct mmsync_writer *w,
		      const struct mmsync_writer_opts *o, bool *fresh)
{
	struct create_args a = {
		.nr_entries = o && o->max_readers ? o->max_readers
						  : MMSYNC_DEFAULT_ENTRIES,
		.fence_mode = pick_fence(o ? o->fence_mode : 0),
		.state_mode = o && o->state_mode ? o->state_mode
						 : MMSYNC_DEFAULT_STATE_MODE,
	};
	char *path = mmsync_file(w->prefix, "state");
	int fd, err, tries;

	if (!path)
		return -ENOMEM;
	if (a.fence_mode == MMSYNC_FENCE_MEMBARRIER &&
	    !mmsync_membarrier_available()) {
		free(path);
		return -EOPNOTSUPP;
	}
	*fresh = false;
	for (tries = 0; tries < 8; tries++) {
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT) {
			err = -errno;
			goto out;
		}
		err = create_state(path, &a, &fd);
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
	err = mmsync_map_state(fd, &w->hdr, &w->state_len);
	if (err)
		goto out;
	w->fence_mode = READ_SHARED(w->hdr->fence_mode);
	w->nr_entries = READ_SHARED(w->hdr->nr_entries);
	if (o && o->fence_mode && pick_fence(o->fence_mode) != w->fence_mode)
		err = -EINVAL;
out:
	free(path);
	return err;
}

int mmsync_writer_open(const char *name, const struct mmsync_writer_opts *o,
		       struct mmsync_writer **out)
{
	struct mmsync_writer *w;
	bool fresh;
	int err, i;

	if (!out)
		return -EINVAL;
	*out = NULL;
	err = check_opts(o);
	if (err)
		return err;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->state_fd = w->data_fd[0] = w->data_fd[1] = -1;
	w->grace_ns = o && o->grace_ns ? o->grace_ns : MMSYNC_DEFAULT_GRACE_NS;
	w->policy = o ? o->grace_policy : MMSYNC_GRACE_EVICT;
	w->data_mode = o && o->data_mode ? o->data_mode
					 : MMSYNC_DEFAULT_DATA_MODE;
	err = mmsync_prefix(name, &w->prefix);
	if (err)
		goto fail;
	err = open_state(w, o, &fresh);
	if (err)
		goto fail;
	for (i = 0; i < 2; i++) {
		err = open_data(w, i, fresh);
		if (err)
			goto fail;
	}
	w->gen = __atomic_load_n(&w->hdr->gen, __ATOMIC_ACQUIRE);
	if (w->gen >= MMSYNC_MAX_GEN) {
		err = -EBADMSG;
		goto fail;
	}
	if (o && o->initial_capacity) {
		for (i = 0; i < 2 && !err; i++)
			err = mmsync_slot_reserve(w, i, o->initial_capacity);
		if (err)
			goto fail;
	}
	WRITE_SHARED(w->hdr->writer_pid, (uint32_t)getpid());
	WRITE_SHARED(w->hdr->stats.writer_opens,
		     READ_SHARED(w->hdr->stats.writer_opens) + 1);
	*out = w;
	return 0;
fail:
	mmsync_writer_close(w);
	return err;
}

uint64_t mmsync_writer_gen(const struct mmsync_writer *w)
{
	return w ? w->gen : 0;
}

void mmsync_writer_close(struct mmsync_writer *w)
{
	int i;

	if (!w)
		return;
	for (i = 0; i < 2; i++) {
		if (w->map[i])
			munmap(w->map[i], w->map_len[i]);
		if (w->data_fd[i] >= 0)
			close(w->data_fd[i]);
	}
	if (w->hdr) {
		WRITE_SHARED(w->hdr->writer_pid, 0);
		munmap(w->hdr, w->state_len);
	}
	if (w->state_fd >= 0)
		close(w->state_fd); /* drops the writer lock */
	free(w->prefix);
	free(w);
}

int mmsync_unlink(const char *name)
{
	static const char *const suffix[] = { "state", "data_0", "data_1" };
	char *prefix, *path;
	int err, i, found = 0;

	err = mmsync_prefix(name, &prefix);
	if (err)
		return err;
	for (i = 0; i < 3; i++) {
		path = mmsync_file(prefix, suffix[i]);
		if (!path) {
			free(prefix);
			return -ENOMEM;
		}
		if (unlink(path) == 0)
			found++;
		else if (errno != ENOENT && !err)
			err = -errno;
		free(path);
	}
	free(prefix);
	if (err)
		return err;
	return found ? 0 : -ENOENT;
}
