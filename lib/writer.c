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
#include <xxhash.h>

#include "internal.h"
#include "backing.h"

/* Map data slot @i: everything its file holds, which the state records. */
static int map_data(struct mmsync_writer *w, int i)
{
	struct stat st;

	if (fstat(w->data_fd[i], &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > MMSYNC_MAX_CAP)
		return -EBADMSG;
	/* The file size is the truth; keep cap <= size for the readers. */
	WRITE_SHARED(w->hdr->cap[i], (uint64_t)st.st_size);
	if (st.st_size > 0) {
		w->map[i] =
			mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			     MAP_SHARED, w->data_fd[i], 0);
		if (w->map[i] == MAP_FAILED) {
			w->map[i] = NULL;
			return -errno;
		}
		w->map_len[i] = (uint64_t)st.st_size;
		/* Best effort: without it, a truncated file is SIGBUS here. */
		mmsync_guard_add(w, MMSYNC_GUARD_WRITER_DATA, i, w->map[i],
				 w->map_len[i], w->data_fd[i]);
	}
	return 0;
}

/*
 * Are the data files and the table the objects the state names, the data
 * no larger than a slot can be? Checked before anything is written: a
 * channel refused with -EBADMSG is left as it was.
 */
static int check_objects(struct mmsync_writer *w)
{
	struct stat st;
	int err, i;

	for (i = 0; i < 2; i++) {
		err = mmsync_check_obj(w->data_fd[i], &w->hdr->data_id[i], 0);
		if (err)
			return err;
		if (fstat(w->data_fd[i], &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size > MMSYNC_MAX_CAP)
			return -EBADMSG;
	}
	return mmsync_check_obj(w->table_fd, &w->hdr->table_id, 0);
}

/*
 * Map the reader table read-only: the writer never writes it. A table a
 * hostile reader shrank gets its pages back first.
 */
static int map_table(struct mmsync_writer *w)
{
	struct stat st;
	void *p;
	bool huge;
	int err;

	if (fstat(w->table_fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < w->table_size) {
		mmsync_fd_granule(w->table_fd, &huge);
		err = mmsync_reserve_space(w->table_fd, w->table_size, huge);
		if (err)
			return err;
	}
	err = mmsync_map_table(w->table_fd, w->table_size, false, &p,
			       &w->table_len);
	if (err)
		return err;
	w->table = p;
	/* Best effort: without it, a truncated table is SIGBUS here. */
	mmsync_guard_add(w, MMSYNC_GUARD_WRITER_TABLE, 0, w->table,
			 w->table_len, w->table_fd);
	return 0;
}

static int check_opts(const struct mmsync_writer_opts *o)
{
	uint32_t fdf = MMSYNC_OPTS_GET(o, fd_flags, 0);

	if (!MMSYNC_OPTS_VALID(o, mmsync_writer_opts))
		return -EINVAL;
	if (MMSYNC_OPTS_GET(o, grace_ns, 0) < 0 ||
	    MMSYNC_OPTS_GET(o, grace_policy, 0) > MMSYNC_GRACE_REFUSE ||
	    MMSYNC_OPTS_GET(o, fence_mode, 0) > MMSYNC_FENCE_XCHG ||
	    MMSYNC_OPTS_GET(o, max_readers, 0) > MMSYNC_MAX_ENTRIES ||
	    !mmsync_mode_valid(MMSYNC_OPTS_GET(o, data_mode, 0)) ||
	    !mmsync_mode_valid(MMSYNC_OPTS_GET(o, state_mode, 0)) ||
	    !mmsync_mode_valid(MMSYNC_OPTS_GET(o, table_mode, 0)) ||
	    MMSYNC_OPTS_GET(o, initial_capacity, 0) > MMSYNC_MAX_CAP)
		return -EINVAL;
	if (MMSYNC_OPTS_GET(o, fd_depth, 0) > MMSYNC_FD_MAX_DEPTH ||
	    (fdf & ~MMSYNC_FD_FLAGS) ||
	    (fdf & MMSYNC_FD_ASYNC && fdf & MMSYNC_FD_INLINE) ||
	    (fdf & MMSYNC_FD_FIXED && fdf & MMSYNC_FD_NO_FIXED) ||
	    MMSYNC_OPTS_GET(o, fd_chunk, 0) > MMSYNC_FD_MAX_CHUNK ||
	    MMSYNC_OPTS_GET(o, fd_chunk, 0) % 4096)
		return -EINVAL;
	if (!mmsync_backing_pick(o) ||
	    MMSYNC_OPTS_GET(o, nr_allow_uids, 0) > 65536 ||
	    MMSYNC_OPTS_GET(o, nr_allow_gids, 0) > 65536 ||
	    (MMSYNC_OPTS_GET(o, nr_allow_uids, 0) &&
	     !MMSYNC_OPTS_GET(o, allow_uids, NULL)) ||
	    (MMSYNC_OPTS_GET(o, nr_allow_gids, 0) &&
	     !MMSYNC_OPTS_GET(o, allow_gids, NULL)))
		return -EINVAL;
	/* Files: the file modes say who reads; nobody hands anything out. */
	if (MMSYNC_OPTS_GET(o, backing, 0) == MMSYNC_BACKING_FILES &&
	    (MMSYNC_OPTS_GET(o, nr_allow_uids, 0) ||
	     MMSYNC_OPTS_GET(o, nr_allow_gids, 0)))
		return -EINVAL;
	return 0;
}

/*
 * The mode a new channel gets. AUTO: membarrier where the kernel has it,
 * unless the writer expects MMSYNC_AUTO_XCHG_RATE publishes a second or
 * more (include/mmsync.h, publish_rate; the numbers are in README.md).
 */
static uint32_t pick_fence(uint32_t asked, uint32_t rate)
{
#if defined(__SANITIZE_THREAD__)
	/* TSan cannot see membarrier()'s fences: run the xchg protocol. */
	(void)asked;
	(void)rate;
	return MMSYNC_FENCE_XCHG;
#else
	if (asked != MMSYNC_FENCE_AUTO)
		return asked;
	if (rate >= MMSYNC_AUTO_XCHG_RATE)
		return MMSYNC_FENCE_XCHG;
	return mmsync_membarrier_available() ? MMSYNC_FENCE_MEMBARRIER :
					       MMSYNC_FENCE_XCHG;
#endif
}

static mode_t mode_or(uint32_t mode, mode_t dflt)
{
	return mode ? (mode_t)mode : dflt;
}

/* Open or create the channel's objects and check the state. */
static int open_objects(struct mmsync_writer *w, const char *name,
			const struct mmsync_writer_opts *o)
{
	uint32_t asked = MMSYNC_OPTS_GET(o, fence_mode, 0);
	uint32_t rate = MMSYNC_OPTS_GET(o, publish_rate, 0);
	struct mmsync_create a = {
		.nr_entries = MMSYNC_OPTS_GET(o, max_readers, 0) ?
				      MMSYNC_OPTS_GET(o, max_readers, 0) :
				      MMSYNC_DEFAULT_ENTRIES,
		.fence_mode = pick_fence(asked, rate),
		.state_mode = mode_or(MMSYNC_OPTS_GET(o, state_mode, 0),
				      MMSYNC_DEFAULT_STATE_MODE),
		.table_mode = mode_or(MMSYNC_OPTS_GET(o, table_mode, 0),
				      MMSYNC_DEFAULT_TABLE_MODE),
		.data_mode = w->data_mode,
		.huge_page_size = MMSYNC_OPTS_GET(o, huge_page_size, 0),
	};
	bool fresh = false;
	void *p;
	int err;

	if (a.fence_mode == MMSYNC_FENCE_MEMBARRIER &&
	    !mmsync_membarrier_available())
		return -EOPNOTSUPP;
	/* Takes the writer's exclusivity (-EBUSY) and creates what is new. */
	err = w->ops->writer_open(w, name, o, &a, &fresh);
	if (err)
		return err;
	err = mmsync_map_state(w->state_fd, true, &p, &w->state_len);
	if (err)
		return err;
	w->hdr = p;
	w->chan_id = mmsync_chan_id(w->state_fd);
	w->fence_mode = READ_SHARED(w->hdr->fence_mode);
	w->nr_entries = READ_SHARED(w->hdr->nr_entries);
	w->table_size = READ_SHARED(w->hdr->table_size);
	if (asked && pick_fence(asked, rate) != w->fence_mode)
		return -EINVAL;
	/* A membarrier channel on a kernel (or sandbox) without it. */
	if (w->fence_mode == MMSYNC_FENCE_MEMBARRIER &&
	    !mmsync_membarrier_available())
		return -EOPNOTSUPP;
	/* Refuse a bad file before writing anything to it. */
	w->gen = __atomic_load_n(&w->hdr->hot.gen, __ATOMIC_ACQUIRE);
	if (w->gen >= MMSYNC_MAX_GEN)
		return -EBADMSG;
	return 0;
}

/*
 * A slot whose metadata does not fit its file (a writer killed while it
 * grew it, or damage) is marked in flux, as a publish in progress would
 * leave it, so that readers are not refused for a slot nobody reads.
 */
static void check_hot(struct mmsync_writer *w)
{
	struct mmsync__slot *s;
	int i;

	for (i = 0; i < 2; i++) {
		s = &w->hdr->hot.slot[i];
		if (READ_SHARED(s->size) <= READ_SHARED(w->hdr->cap[i]))
			continue;
		WRITE_SHARED(s->gen, 0);
		WRITE_SHARED(s->size, 0);
	}
}

int mmsync_writer_open(const char *name, const struct mmsync_writer_opts *o,
		       struct mmsync_writer **out)
{
	struct mmsync_writer *w;
	uint64_t cap;
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
	w->lock_fd = w->state_fd = w->table_fd = -1;
	w->data_fd[0] = w->data_fd[1] = -1;
	w->grace_ns = MMSYNC_OPTS_GET(o, grace_ns, 0) ?
			      MMSYNC_OPTS_GET(o, grace_ns, 0) :
			      MMSYNC_DEFAULT_GRACE_NS;
	w->policy = MMSYNC_OPTS_GET(o, grace_policy, MMSYNC_GRACE_EVICT);
	w->data_mode = mode_or(MMSYNC_OPTS_GET(o, data_mode, 0),
			       MMSYNC_DEFAULT_DATA_MODE);
	w->fd_depth = MMSYNC_OPTS_GET(o, fd_depth, 0);
	w->fd_flags = MMSYNC_OPTS_GET(o, fd_flags, 0);
	w->fd_chunk = MMSYNC_OPTS_GET(o, fd_chunk, 0);
	w->ops = mmsync_backing_pick(o);
	err = mmsync_prefix(name, &w->prefix);
	if (err)
		goto fail;
	err = open_objects(w, name, o);
	if (!err)
		err = check_objects(w);
	if (err)
		goto fail;
	for (i = 0; i < 2 && !err; i++)
		err = map_data(w, i);
	if (!err)
		err = map_table(w);
	if (err)
		goto fail;
	check_hot(w);
	/* Slots are sized in what their file system allocates. */
	w->page = mmsync_fd_granule(w->data_fd[0], &w->hugetlb);
	w->busy = calloc(w->nr_entries ? w->nr_entries : 1, sizeof(*w->busy));
	w->gone = calloc(w->nr_entries ? w->nr_entries : 1, sizeof(*w->gone));
	w->xxh = XXH3_createState();
	if (!w->busy || !w->gone || !w->xxh) {
		err = -ENOMEM;
		goto fail;
	}
	cap = MMSYNC_OPTS_GET(o, initial_capacity, 0);
	for (i = 0; cap && i < 2 && !err; i++)
		err = mmsync_slot_reserve(w, i, cap);
	if (!err && w->ops->writer_ready)
		err = w->ops->writer_ready(w);
	if (!err)
		err = mmsync_fork_track_writer(w);
	if (err)
		goto fail;
	w->opened = true;
	w->advert_ns = mmsync_now_ns();
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
	mmsync_fork_untrack_writer(w);
	/* Before the unmaps: the ring pins the slots' pages. */
	mmsync_uring_free(w);
	/* Stop handing the channel out before it ends. */
	if (w->ops && w->ops->writer_close)
		w->ops->writer_close(w);
	for (i = 0; i < 2; i++) {
		if (w->map[i]) {
			mmsync_guard_del(w, w->map[i]);
			munmap(w->map[i], w->map_len[i]);
		}
		if (w->data_fd[i] >= 0)
			close(w->data_fd[i]);
	}
	if (w->table) {
		mmsync_guard_del(w, w->table);
		munmap((void *)w->table, w->table_len);
	}
	if (w->hdr) {
		/* Only a writer that opened fully (in this process) wrote it. */
		if (w->opened && !w->forked)
			WRITE_SHARED(w->hdr->writer_pid, 0);
		munmap(w->hdr, w->state_len);
	}
	if (w->table_fd >= 0)
		close(w->table_fd);
	if (w->state_fd >= 0)
		close(w->state_fd); /* drops the "alive" lock */
	XXH3_freeState(w->xxh);
	free(w->busy);
	free(w->gone);
	free(w->prefix);
	free(w);
}

int mmsync_writer_handoff_fd(const struct mmsync_writer *w)
{
	int err = mmsync_writer_usable(w);

	if (err)
		return err;
	if (!w->ops->handoff_fd)
		return -EOPNOTSUPP;
	return w->ops->handoff_fd(w);
}

int mmsync_writer_serve(struct mmsync_writer *w, int64_t timeout_ns)
{
	int err = mmsync_writer_usable(w);

	if (err)
		return err;
	if (!w->ops->serve)
		return -EOPNOTSUPP;
	return w->ops->serve(w, timeout_ns);
}

int mmsync_unlink(const char *name)
{
	/* The state first: from then on no reader finds the channel. */
	static const char *const suffix[] = { "state",	"readers", "data_0",
					      "data_1", "lock",	   "sock" };
	char *prefix, *path;
	int err, found = 0;
	unsigned int i;

	err = mmsync_prefix(name, &prefix);
	if (err)
		return err;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
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
