/* SPDX-License-Identifier: MIT */
/* internal.h - private types and helpers of libmmsync. */
#ifndef MMSYNC_INTERNAL_H
#define MMSYNC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmsync.h"
#include "layout.h"

#define MMSYNC_HIDDEN __attribute__((visibility("hidden")))

#define MMSYNC_DEFAULT_GRACE_NS 1000000000ll
#define MMSYNC_DEFAULT_POLL_NS 1000000ll
#define MMSYNC_DEFAULT_DATA_MODE 0640
#define MMSYNC_DEFAULT_STATE_MODE 0660

struct mmsync_writer {
	int state_fd;
	int data_fd[2];
	struct mmsync_hdr *hdr; /* mapping of the whole state file */
	size_t state_len;
	unsigned char *map[2]; /* read-write slot mappings */
	uint64_t map_len[2];
	uint64_t gen; /* last generation published */
	int64_t grace_ns;
	uint32_t policy;
	uint32_t fence_mode;
	uint32_t nr_entries;
	mode_t data_mode;
	char *prefix; /* channel path prefix: files are <prefix>_state ... */
	/* Slot (+1) whose readers were already waited for, 0 if none. */
	int resv_slot;
	uint64_t resv_len; /* bytes reserved by mmsync_reserve() */
	unsigned char *resv_ptr; /* NULL unless a reservation is open */
};

struct mmsync_reader {
	struct mmsync__rfast f; /* must stay first: the inline fast path */
	int state_fd;
	int data_fd[2];
	struct mmsync_hdr *hdr;
	size_t state_len;
	struct mmsync_entry *ent;
	uint32_t idx;
	uint32_t uflags; /* MMSYNC_READ_* */
	int64_t poll_ns;
	char *prefix;
};

/* util.c */
MMSYNC_HIDDEN int mmsync_prefix(const char *name, char **out);
MMSYNC_HIDDEN char *mmsync_file(const char *prefix, const char *suffix);
MMSYNC_HIDDEN uint64_t mmsync_now_ns(void);
MMSYNC_HIDDEN uint64_t mmsync_realtime_ns(void);
MMSYNC_HIDDEN void mmsync_sleep_ns(int64_t ns);
MMSYNC_HIDDEN bool mmsync_opts_valid(const void *opts, size_t known);
MMSYNC_HIDDEN int mmsync_lock_byte(int fd, off_t off);
MMSYNC_HIDDEN int mmsync_byte_locked(int fd, off_t off);
MMSYNC_HIDDEN uint64_t mmsync_hash(const void *buf, size_t len);

/* state.c */
MMSYNC_HIDDEN int mmsync_state_check(const struct mmsync_hdr *h,
				     uint64_t file_size);
MMSYNC_HIDDEN int mmsync_map_state(int fd, struct mmsync_hdr **out,
				   size_t *len);

/* fence.c */
MMSYNC_HIDDEN bool mmsync_membarrier_available(void);
MMSYNC_HIDDEN int mmsync_membarrier_register(void);
MMSYNC_HIDDEN int mmsync_membarrier(void);

/* publish.c */
MMSYNC_HIDDEN int mmsync_slot_reserve(struct mmsync_writer *w, int i,
				      uint64_t len);
MMSYNC_HIDDEN int mmsync_slot_begin(struct mmsync_writer *w, uint64_t len,
				    struct mmsync_publish_info *info,
				    unsigned char **out);
MMSYNC_HIDDEN void mmsync_slot_commit(struct mmsync_writer *w, uint64_t len,
				      uint64_t sum,
				      struct mmsync_publish_info *info);

/* grace.c */
MMSYNC_HIDDEN int mmsync_wait_slot(struct mmsync_writer *w, uint64_t next,
				   struct mmsync_publish_info *info);

/* Load a shared word that anyone with the file may have scribbled on. */
#define READ_SHARED(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define WRITE_SHARED(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

#endif /* MMSYNC_INTERNAL_H */
