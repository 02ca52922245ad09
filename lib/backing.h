/* SPDX-License-Identifier: MIT */
/*
 * backing.h - where a channel's objects live, below the protocol.
 *
 * The protocol (publish.c, grace.c, table.c, reader.c and the inline read
 * path) sees descriptors of a state, a reader table and two data objects,
 * and their mappings; it does not know what they are. A backing decides
 * both sides of that seam:
 *   - the writer side: create (never adopt) or reopen the objects, hold
 *     the writer's exclusivity, and hand the channel out if it must;
 *   - the reader side: get descriptors for the objects (state and data
 *     read-only, the table read-write), and tell whether the writer is gone
 *     for good.
 * Two backings: files in a directory (backing_file.c) and anonymous memfds
 * handed over a Unix socket (backing_memfd.c, over the transport in
 * handoff.c).
 *
 * Huge pages are not a backing of their own: a data fd on hugetlbfs (a file
 * in a hugetlbfs mount or an MFD_HUGETLB memfd) is recognised by its file
 * system, and the common code then rounds sizes to the huge page size,
 * grows the mapping by remapping (hugetlb mappings cannot be mremap()ed
 * larger) and reports hugepage exhaustion as -ENOMEM.
 */
#ifndef MMSYNC_BACKING_H
#define MMSYNC_BACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

#define MMSYNC_SMALL_PAGE 4096ull

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

/* What a new channel gets (both backings). */
struct mmsync_create {
	uint32_t nr_entries;
	uint32_t fence_mode;
	mode_t state_mode;
	mode_t table_mode;
	mode_t data_mode;
	uint64_t huge_page_size; /* 0: normal pages */
};

struct mmsync_backing_ops {
	const char *name;
	/*
	 * Writer: take the channel's exclusivity (-EBUSY), then open its
	 * objects, or create a new channel with its header initialised from
	 * @a: sets w->state_fd, w->table_fd, w->data_fd[], w->lock_fd, and
	 * *fresh for a new channel. Never adopts an object it did not create
	 * (-EPERM for ones owned by another user or of the wrong type).
	 */
	int (*writer_open)(struct mmsync_writer *w, const char *name,
			   const struct mmsync_writer_opts *o,
			   const struct mmsync_create *a, bool *fresh);
	/*
	 * Optional: the writer has mapped everything; lock down what no one
	 * else may ever write (memfd: seal the state against future writes).
	 */
	int (*writer_ready)(struct mmsync_writer *w);
	/* Give back what writer_open set up besides the common fds. */
	void (*writer_close)(struct mmsync_writer *w);
	/* In a forked child: drop what keeps the parent's channel held. */
	void (*writer_forked)(struct mmsync_writer *w);
	/* Hand the channel to waiting readers; NULL: -EOPNOTSUPP. */
	int (*serve)(struct mmsync_writer *w, int64_t timeout_ns);
	int (*handoff_fd)(const struct mmsync_writer *w);
	/*
	 * Reader: descriptors for the objects of channel @name: sets
	 * r->state_fd, r->table_fd (read-write, an open file description
	 * of its own) and r->data_fd[] (read-only). -ENOENT: not a channel
	 * of this backing.
	 */
	int (*reader_open)(struct mmsync_reader *r, const char *name,
			   const struct mmsync_reader_opts *o);
	/* 1 if the channel's writer is gone for good (-EPIPE), else 0. */
	int (*writer_gone)(const struct mmsync_reader *r);
};

MMSYNC_HIDDEN extern const struct mmsync_backing_ops mmsync_backing_files;
MMSYNC_HIDDEN extern const struct mmsync_backing_ops mmsync_backing_memfd;

/* backing.c */
MMSYNC_HIDDEN const struct mmsync_backing_ops *
mmsync_backing_pick(const struct mmsync_writer_opts *o);
MMSYNC_HIDDEN int
mmsync_backing_reader_open(struct mmsync_reader *r, const char *name,
			   const struct mmsync_reader_opts *o);
MMSYNC_HIDDEN uint64_t mmsync_fd_granule(int fd, bool *hugetlb);
MMSYNC_HIDDEN int mmsync_huge_pool_check(uint64_t page_size);
MMSYNC_HIDDEN int mmsync_reserve_space(int fd, uint64_t len, bool hugetlb);
MMSYNC_HIDDEN int mmsync_init_state(int fd, const struct mmsync_create *a,
				    int table_fd, const int data_fd[2]);
MMSYNC_HIDDEN int mmsync_init_table(int fd, const struct mmsync_create *a);
MMSYNC_HIDDEN int mmsync_slot_grow(struct mmsync_writer *w, int i,
				   uint64_t cap);

/* fsobj.c: objects in a shared directory, created without adopting. */
MMSYNC_HIDDEN int mmsync_obj_create(const char *prefix, const char *suffix,
				    mode_t mode, int (*fill)(int fd, void *arg),
				    void *arg);
MMSYNC_HIDDEN int mmsync_obj_open_own(const char *path, int flags);
MMSYNC_HIDDEN int mmsync_obj_check_own(int fd);
MMSYNC_HIDDEN int mmsync_obj_unlink_if(const char *path, int fd);
MMSYNC_HIDDEN int mmsync_names_fit(const char *prefix);

/* handoff.c: file descriptors over a Unix socket, with credentials. */
struct mmsync_handoff;
/* Fill @fds (at most @max) for an allowed peer; returns how many. */
typedef int (*mmsync_handoff_fill)(void *ctx, int *fds, int max);
MMSYNC_HIDDEN int mmsync_handoff_listen(struct mmsync_handoff **out,
					const char *name, const char *prefix,
					const struct mmsync_writer_opts *o);
MMSYNC_HIDDEN void mmsync_handoff_close(struct mmsync_handoff *h);
MMSYNC_HIDDEN void mmsync_handoff_forked(struct mmsync_handoff *h);
MMSYNC_HIDDEN int mmsync_handoff_lfd(const struct mmsync_handoff *h);
MMSYNC_HIDDEN int mmsync_handoff_serve(struct mmsync_handoff *h,
				       int64_t timeout_ns,
				       mmsync_handoff_fill fill, void *ctx);
MMSYNC_HIDDEN int mmsync_handoff_receive(const char *name, const char *prefix,
					 int64_t timeout_ns, int *fds, int n);

#endif /* MMSYNC_BACKING_H */
