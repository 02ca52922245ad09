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
#include "backing.h"

/*
 * Open (creating if @fresh or missing) data slot @i of the channel, and
 * map what it holds.
 */
static int open_data(struct mmsync_writer *w, int i, bool fresh)
{
	struct stat st;
	int fd, err;

	err = w->ops->data_open(w, i, fresh);
	if (err)
		return err;
	fd = w->data_fd[i];
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MMSYNC_MAX_CAP)
		return -EBADMSG;
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
	    o->max_readers > MMSYNC_MAX_ENTRIES || (o->data_mode & ~07777u) ||
	    (o->state_mode & ~07777u) || o->initial_capacity > MMSYNC_MAX_CAP)
		return -EINVAL;
	if (MMSYNC_OPT(o, fd_depth) > MMSYNC_FD_MAX_DEPTH ||
	    (MMSYNC_OPT(o, fd_flags) & ~MMSYNC_FD_FLAGS) ||
	    (MMSYNC_OPT(o, fd_flags) & MMSYNC_FD_ASYNC &&
	     MMSYNC_OPT(o, fd_flags) & MMSYNC_FD_INLINE) ||
	    (MMSYNC_OPT(o, fd_flags) & MMSYNC_FD_FIXED &&
	     MMSYNC_OPT(o, fd_flags) & MMSYNC_FD_NO_FIXED) ||
	    MMSYNC_OPT(o, fd_chunk) > MMSYNC_FD_MAX_CHUNK ||
	    MMSYNC_OPT(o, fd_chunk) % 4096)
		return -EINVAL;
	if (!mmsync_backing_pick(o) ||
	    MMSYNC_OPT(o, nr_allow_uids) > MMSYNC_MAX_ALLOW ||
	    MMSYNC_OPT(o, nr_allow_gids) > MMSYNC_MAX_ALLOW ||
	    (MMSYNC_OPT(o, nr_allow_uids) && !MMSYNC_OPT(o, allow_uids)) ||
	    (MMSYNC_OPT(o, nr_allow_gids) && !MMSYNC_OPT(o, allow_gids)))
		return -EINVAL;
	/* Files: the file modes say who reads; nobody hands anything out. */
	if (MMSYNC_OPT(o, backing) == MMSYNC_BACKING_FILES &&
	    (MMSYNC_OPT(o, nr_allow_uids) || MMSYNC_OPT(o, nr_allow_gids)))
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
		return mmsync_membarrier_available() ? MMSYNC_FENCE_MEMBARRIER :
						       MMSYNC_FENCE_XCHG;
	return asked;
#endif
}

static int open_state(struct mmsync_writer *w, const char *name,
		      const struct mmsync_writer_opts *o, bool *fresh)
{
	struct mmsync_create a = {
		.nr_entries = o && o->max_readers ? o->max_readers :
						    MMSYNC_DEFAULT_ENTRIES,
		.fence_mode = pick_fence(o ? o->fence_mode : 0),
		.state_mode = o && o->state_mode ? o->state_mode :
						   MMSYNC_DEFAULT_STATE_MODE,
	};
	int err;

	if (a.fence_mode == MMSYNC_FENCE_MEMBARRIER &&
	    !mmsync_membarrier_available())
		return -EOPNOTSUPP;
	/* Takes the writer lock (-EBUSY) and creates what is missing. */
	*fresh = false;
	err = w->ops->writer_open(w, name, o, &a, fresh);
	if (err)
		return err;
	w->chan_id = mmsync_chan_id(w->state_fd);
	err = mmsync_map_state(w->state_fd, &w->hdr, &w->state_len);
	if (err)
		return err;
	w->fence_mode = READ_SHARED(w->hdr->fence_mode);
	w->nr_entries = READ_SHARED(w->hdr->nr_entries);
	if (o && o->fence_mode && pick_fence(o->fence_mode) != w->fence_mode)
		return -EINVAL;
	/* A membarrier channel on a kernel (or sandbox) without it. */
	if (w->fence_mode == MMSYNC_FENCE_MEMBARRIER &&
	    !mmsync_membarrier_available())
		return -EOPNOTSUPP;
	/* Refuse a bad file before writing anything to it. */
	if (__atomic_load_n(&w->hdr->gen, __ATOMIC_ACQUIRE) >= MMSYNC_MAX_GEN)
		return -EBADMSG;
	return 0;
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
	w->data_mode =
		o && o->data_mode ? o->data_mode : MMSYNC_DEFAULT_DATA_MODE;
	w->fd_depth = MMSYNC_OPT(o, fd_depth);
	w->fd_flags = MMSYNC_OPT(o, fd_flags);
	w->fd_chunk = MMSYNC_OPT(o, fd_chunk);
	w->ops = mmsync_backing_pick(o);
	err = mmsync_prefix(name, &w->prefix);
	if (err)
		goto fail;
	err = open_state(w, name, o, &fresh);
	if (err)
		goto fail;
	for (i = 0; i < 2; i++) {
		err = open_data(w, i, fresh);
		if (err)
			goto fail;
	}
	/* Slots are sized in what their file system allocates. */
	w->page = mmsync_fd_granule(w->data_fd[0], &w->hugetlb);
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
	w->opened = true;
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
	/* Before the unmaps: the ring pins the slots' pages. */
	mmsync_uring_free(w);
	/* Stop handing the channel out before it ends. */
	if (w->ops)
		w->ops->writer_close(w);
	for (i = 0; i < 2; i++) {
		if (w->map[i])
			munmap(w->map[i], w->map_len[i]);
		if (w->data_fd[i] >= 0)
			close(w->data_fd[i]);
	}
	if (w->hdr) {
		/* Only a writer that opened fully ever wrote its pid. */
		if (w->opened)
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
	static const char *const suffix[] = { "state", "data_0", "data_1",
					      "sock" };
	char *prefix, *path;
	int err, i, found = 0;

	err = mmsync_prefix(name, &prefix);
	if (err)
		return err;
	for (i = 0; i < 4; i++) {
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
