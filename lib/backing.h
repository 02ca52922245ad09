/* SPDX-License-Identifier: MIT */
/*
 * backing.h - where a channel's bytes live, below the protocol.
 *
 * The protocol (publish.c, grace.c, reader.c and the inline read path) sees
 * a state fd, two data fds and their mappings; it does not know what the
 * fds are. A backing only decides how the writer gets them (files in a
 * directory, or anonymous memfds) and how a reader gets them (opening the
 * files, or receiving the memfds over a Unix socket: handoff.c).
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

/* What a new state object gets (both backings). */
struct mmsync_create {
	uint32_t nr_entries;
	uint32_t fence_mode;
	mode_t state_mode;
};

struct mmsync_backing_ops {
	const char *name;
	/*
	 * Open channel @name's state, creating it if needed, and hold the
	 * writer lock. Sets w->state_fd, and *fresh if the state is new
	 * (then the data objects are new too).
	 */
	int (*writer_open)(struct mmsync_writer *w, const char *name,
			   const struct mmsync_writer_opts *o,
			   const struct mmsync_create *a, bool *fresh);
	/* Open data slot @i (new ones when @fresh); sets w->data_fd[i]. */
	int (*data_open)(struct mmsync_writer *w, int i, bool fresh);
	/* Give back what writer_open set up besides the fds. */
	void (*writer_close)(struct mmsync_writer *w);
};

/* The memfd backing's part of a writer (backing_memfd.c, handoff.c). */
struct mmsync_handoff {
	int lfd; /* listening socket, SOCK_SEQPACKET, non-blocking */
	int dir_fd; /* path socket: its directory; -1 for an abstract one */
	char *sock_name; /* path socket: its name in dir_fd */
	dev_t sock_dev; /* path socket: the inode we bound, so that */
	ino_t sock_ino; /* close unlinks ours and nobody else's */
	int ro_fd[2]; /* read-only data descriptions, handed to readers */
	uid_t euid; /* the writer's, allowed when both lists are empty */
	uint32_t nr_uids;
	uint32_t nr_gids;
	uid_t *uids;
	gid_t *gids;
	uint64_t huge_page_size; /* data memfds: MFD_HUGETLB page, or 0 */
};

/* Most entries an allow-list may have. */
#define MMSYNC_MAX_ALLOW 65536u

MMSYNC_HIDDEN extern const struct mmsync_backing_ops mmsync_backing_files;
MMSYNC_HIDDEN extern const struct mmsync_backing_ops mmsync_backing_memfd;

/* backing.c */
MMSYNC_HIDDEN const struct mmsync_backing_ops *
mmsync_backing_pick(const struct mmsync_writer_opts *o);
MMSYNC_HIDDEN uint64_t mmsync_fd_granule(int fd, bool *hugetlb);
MMSYNC_HIDDEN int mmsync_huge_pool_check(uint64_t page_size);
MMSYNC_HIDDEN void mmsync_init_hdr(struct mmsync_hdr *h,
				   const struct mmsync_create *a);
MMSYNC_HIDDEN int mmsync_slot_grow(struct mmsync_writer *w, int i,
				   uint64_t cap);
MMSYNC_HIDDEN uint64_t mmsync_round_up(uint64_t v, uint64_t a);

/* backing_file.c: a reader opens NAME_state; -ENOENT if there is none. */
MMSYNC_HIDDEN int mmsync_file_reader_open(struct mmsync_reader *r);

/* backing_memfd.c */
MMSYNC_HIDDEN int mmsync_reopen_fd(int fd, int flags);

/* handoff.c */
MMSYNC_HIDDEN int mmsync_handoff_listen(struct mmsync_writer *w,
					const char *name,
					const struct mmsync_writer_opts *o);
MMSYNC_HIDDEN void mmsync_handoff_close(struct mmsync_writer *w);
MMSYNC_HIDDEN int mmsync_handoff_reader_open(struct mmsync_reader *r,
					     const char *name,
					     int64_t timeout_ns);

#endif /* MMSYNC_BACKING_H */
