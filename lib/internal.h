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
#define MMSYNC_DEFAULT_POLL_NS 2000000ll /* bench: <= 2 % of a core idle */
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
	uint64_t chan_id; /* what the USDT probes call the channel */
	/* Slot (+1) whose readers were already waited for, 0 if none. */
	int resv_slot;
	uint64_t resv_len; /* bytes reserved by mmsync_reserve() */
	unsigned char *resv_ptr; /* NULL unless a reservation is open */
	/* backing.h: where the bytes live; the protocol does not look. */
	const struct mmsync_backing_ops *ops;
	uint64_t page; /* allocation granule of the data slots */
	bool hugetlb; /* hugetlb slots: remapped to grow, -ENOMEM when out */
	struct mmsync_handoff *handoff; /* memfd backing only, else NULL */
	/* publish_fd.c: io_uring state, created on first use; opts. */
	struct mmsync_uring *uring;
	uint32_t fd_depth; /* 0: default */
	uint32_t fd_flags; /* MMSYNC_FD_* */
	uint64_t fd_chunk; /* 0: default */
	bool opened; /* mmsync_writer_open() succeeded */
};

/* Limits of the publish_fd options (checked by mmsync_writer_open). */
#define MMSYNC_FD_MAX_DEPTH 1024u
#define MMSYNC_FD_MAX_CHUNK (64u << 20)
#define MMSYNC_FD_FLAGS                                              \
	(MMSYNC_FD_NO_FIXED | MMSYNC_FD_ASYNC | MMSYNC_FD_NO_URING | \
	 MMSYNC_FD_INLINE | MMSYNC_FD_FIXED)

/*
 * Field @f of options @o, or 0 when the caller's struct (o->sz) is too
 * old to have it: such a caller never meant to set it.
 */
#define MMSYNC_OPT(o, f)                                                    \
	((o) && (o)->sz >= offsetof(__typeof__(*(o)), f) + sizeof((o)->f) ? \
		 (o)->f :                                                   \
		 0)

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
	uint64_t chan_id; /* what the USDT probes call the channel */
	bool handoff; /* memfd channel: it ends with its writer */
	/*
	 * Real length of each slot mapping. f.len[i] is what the fast path
	 * may use; the SIGBUS guard zeroes it when the slot lost pages.
	 */
	uint64_t map_len[2];
};

/* sigbus.c */
MMSYNC_HIDDEN int mmsync_guard_add(struct mmsync_reader *r, int slot);
MMSYNC_HIDDEN void mmsync_guard_del(struct mmsync_reader *r, int slot);

/* util.c */
MMSYNC_HIDDEN int mmsync_prefix(const char *name, char **out);
MMSYNC_HIDDEN char *mmsync_file(const char *prefix, const char *suffix);
MMSYNC_HIDDEN char *mmsync_dirname(const char *path);
MMSYNC_HIDDEN uint64_t mmsync_now_ns(void);
MMSYNC_HIDDEN uint64_t mmsync_realtime_ns(void);
MMSYNC_HIDDEN void mmsync_sleep_ns(int64_t ns);
MMSYNC_HIDDEN bool mmsync_opts_valid(const void *opts, size_t known);
MMSYNC_HIDDEN int mmsync_lock_byte(int fd, off_t off);
MMSYNC_HIDDEN int mmsync_byte_locked(int fd, off_t off);
MMSYNC_HIDDEN uint64_t mmsync_hash(const void *buf, size_t len);

/* publish_fd.c */
MMSYNC_HIDDEN void mmsync_uring_free(struct mmsync_writer *w);

/* state.c */
MMSYNC_HIDDEN int mmsync_state_check(const struct mmsync_hdr *h,
				     uint64_t file_size);
MMSYNC_HIDDEN uint64_t mmsync_claimed_size(const struct mmsync_hdr *h,
					   uint64_t file_size, uint64_t page,
					   bool huge);
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

/* stat.c */
MMSYNC_HIDDEN uint64_t mmsync_chan_id(int state_fd);

/* grace.c */
MMSYNC_HIDDEN int mmsync_wait_slot(struct mmsync_writer *w, uint64_t next,
				   struct mmsync_publish_info *info);

/*
 * Full and release fences. GCC's TSan does not support atomic_thread_fence;
 * under it a seq_cst read-modify-write of a private word stands in (TSan
 * checks happens-before, which the fences do not provide anyway).
 */
#if defined(__SANITIZE_THREAD__)
static inline void mmsync_fence_tsan(void)
{
	static uint64_t word;

	__atomic_fetch_add(&word, 0, __ATOMIC_SEQ_CST);
}
#define mmsync_smp_mb() mmsync_fence_tsan()
#define mmsync_smp_wmb() mmsync_fence_tsan()
#define mmsync_smp_rmb() mmsync_fence_tsan()
#else
#define mmsync_smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define mmsync_smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define mmsync_smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif

/* Load a shared word that anyone with the file may have scribbled on. */
#define READ_SHARED(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define WRITE_SHARED(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

#endif /* MMSYNC_INTERNAL_H */
