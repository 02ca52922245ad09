/* SPDX-License-Identifier: MIT */
/* internal.h - private types and helpers of libmmsync. */
#ifndef MMSYNC_INTERNAL_H
#define MMSYNC_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmsync.h"
#include "barrier.h"
#include "layout.h"

#define MMSYNC_HIDDEN __attribute__((visibility("hidden")))

#define MMSYNC_DEFAULT_GRACE_NS 1000000000ll
#define MMSYNC_DEFAULT_POLL_NS 2000000ll /* bench: <= 2 % of a core idle */
#define MMSYNC_DEFAULT_DATA_MODE 0640
#define MMSYNC_DEFAULT_STATE_MODE 0640
#define MMSYNC_DEFAULT_TABLE_MODE 0660
#define MMSYNC_LOCK_MODE 0600

/*
 * Options structs, read as libbpf does: a caller built against an older
 * header passes a smaller sz (the fields it does not have read as the
 * fallback), a newer one a bigger sz (the bytes we do not know must be 0).
 * Every field is read through MMSYNC_OPTS_GET(); TYPE__last_field names
 * the last field this library knows.
 */
#define mmsync_offsetofend(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))
#define MMSYNC_OPTS_VALID(opts, TYPE) \
	mmsync_opts_valid((opts),     \
			  mmsync_offsetofend(struct TYPE, TYPE##__last_field))
#define MMSYNC_OPTS_HAS(opts, field) \
	((opts) && (opts)->sz >= mmsync_offsetofend(__typeof__(*(opts)), field))
#define MMSYNC_OPTS_GET(opts, field, fallback) \
	(MMSYNC_OPTS_HAS(opts, field) ? (opts)->field : (fallback))

#define mmsync_writer_opts__last_field publish_rate
#define mmsync_reader_opts__last_field handoff_timeout_ns

struct mmsync_backing_ops;
struct mmsync_uring;
typedef struct XXH3_state_s XXH3_state_t;

struct mmsync_writer {
	int lock_fd; /* files: NAME_lock, holding the writer lock; else -1 */
	int state_fd; /* read-write */
	int table_fd; /* read-write (to create and repair it) */
	int data_fd[2];
	struct mmsync_hdr *hdr; /* read-write mapping of the state */
	size_t state_len;
	/* PROT_READ mapping of the reader table: never written by us. */
	const unsigned char *table;
	size_t table_len; /* mapped bytes */
	uint64_t table_size; /* bytes that matter (hdr->table_size) */
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
	/* What the wait for resv_slot did (waited_ns, evicted, reclaimed). */
	struct mmsync_publish_info wait_info;
	/* backing.h: where the objects live; the protocol does not look. */
	const struct mmsync_backing_ops *ops;
	void *bk; /* the backing's private part */
	uint64_t page; /* allocation granule of the data slots */
	bool hugetlb; /* hugetlb slots: remapped to grow, -ENOMEM when out */
	bool sealed; /* objects cannot shrink (memfd seals) */
	bool advert; /* holds the "writer alive" lock on state byte 0 */
	uint64_t advert_ns; /* last try to take it */
	/* grace.c: entries still waited for; nr_entries of them. */
	uint32_t *busy;
	/*
	 * grace.c: per entry, the pin we stopped waiting for (its owner died
	 * or the grace period ended), so that no later publish waits for it
	 * again. Private: eviction writes nothing to the reader's entry.
	 */
	uint64_t *gone;
	/* grace.c: checks of the readers' claimed count (table.c). */
	uint64_t verify_ns; /* last full check of the table */
	uint64_t distrust_until; /* scan every publish until then */
	/* grace.c: checks of the readers' high-water mark (table.c). */
	uint64_t hverify_ns; /* last check of the entries above it */
	uint64_t hchecked; /* the mark that check found right */
	uint64_t hdistrust_until; /* scan the whole table until then */
	/* notify.c: the same for the waiters count. */
	uint64_t wverify_ns;
	uint64_t wdistrust_until;
	/* Set by the SIGBUS guard: the table lost pages under our mapping. */
	volatile sig_atomic_t table_lost;
	/* Set by the SIGBUS guard: a slot's file lost pages under a copy. */
	volatile sig_atomic_t slot_lost[2];
	XXH3_state_t *xxh; /* streaming hash state (publish, publish_fd) */
	/* publish_fd.c: io_uring state, created on first use; opts. */
	struct mmsync_uring *uring;
	uint32_t fd_depth; /* 0: default */
	uint32_t fd_flags; /* MMSYNC_FD_* */
	uint64_t fd_chunk; /* 0: default */
	/* fork.c: registry of live handles, and fork() detection. */
	struct mmsync_writer *fk_next, *fk_prev;
	bool forked; /* this is a child's copy: only close works */
	bool opened; /* mmsync_writer_open() succeeded */
};

/* Limits of the publish_fd options (checked by mmsync_writer_open). */
#define MMSYNC_FD_MAX_DEPTH 1024u
#define MMSYNC_FD_MAX_CHUNK (64u << 20)
#define MMSYNC_FD_FLAGS                                              \
	(MMSYNC_FD_NO_FIXED | MMSYNC_FD_ASYNC | MMSYNC_FD_NO_URING | \
	 MMSYNC_FD_INLINE | MMSYNC_FD_FIXED)

struct mmsync_reader {
	struct mmsync__rfast f; /* must stay first: the inline fast path */
	int state_fd; /* read-only */
	int table_fd; /* read-write: our entry's lock lives on it */
	int data_fd[2]; /* read-only */
	const struct mmsync_hdr *hdr; /* PROT_READ */
	size_t state_len;
	unsigned char *table; /* read-write mapping of the reader table */
	size_t table_len; /* mapped bytes */
	uint64_t table_size; /* bytes that matter */
	struct mmsync_entry *ent; /* ours, NULL until claimed */
	uint32_t idx;
	uint32_t nr_entries;
	uint32_t uflags; /* MMSYNC_READ_* */
	int64_t poll_ns;
	char *prefix;
	uint64_t chan_id; /* what the USDT probes call the channel */
	const struct mmsync_backing_ops *ops;
	/*
	 * Real length of each slot mapping. f.len[i] is what the fast path
	 * may use; the SIGBUS guard zeroes it when the slot lost pages.
	 */
	uint64_t map_len[2];
	/* Set by the SIGBUS guard: the state or the table lost pages. */
	volatile sig_atomic_t state_lost;
	volatile sig_atomic_t table_lost;
	/* fork.c: registry of live handles. */
	struct mmsync_reader *fk_next, *fk_prev;
	bool forked; /* inherited across fork(): take a new entry */
	uint64_t pin_sink; /* f.pin in a forked child until it has an entry */
	/* notify.c: this handle's inotify instance (-1: none yet). */
	int ino_fd;
	bool armed; /* our entry's wait word is set, and counted */
	bool fd_given; /* mmsync_reader_fd() handed ino_fd out: stay armed */
};

/* util.c */
MMSYNC_HIDDEN int mmsync_prefix(const char *name, char **out);
MMSYNC_HIDDEN char *mmsync_file(const char *prefix, const char *suffix);
MMSYNC_HIDDEN char *mmsync_dirname(const char *path);
MMSYNC_HIDDEN uint64_t mmsync_now_ns(void);
MMSYNC_HIDDEN uint64_t mmsync_realtime_ns(void);
MMSYNC_HIDDEN void mmsync_sleep_ns(int64_t ns);
MMSYNC_HIDDEN bool mmsync_opts_valid(const void *opts, size_t known);
MMSYNC_HIDDEN bool mmsync_mode_valid(uint32_t mode);
MMSYNC_HIDDEN int mmsync_lock_byte(int fd, off_t off);
MMSYNC_HIDDEN int mmsync_write_locked(int fd, off_t off);
MMSYNC_HIDDEN int mmsync_reopen_fd(int fd, int flags);
MMSYNC_HIDDEN uint64_t mmsync_hash(const void *buf, size_t len);
MMSYNC_HIDDEN void mmsync_hash_reset(XXH3_state_t *st);
MMSYNC_HIDDEN void mmsync_hash_update(XXH3_state_t *st, const void *buf,
				      size_t len);
MMSYNC_HIDDEN uint64_t mmsync_hash_digest(const XXH3_state_t *st);
MMSYNC_HIDDEN uint64_t mmsync_round_up(uint64_t v, uint64_t a);

/* sigbus.c: the SIGBUS guard (which mappings, what a fault there does). */
enum mmsync_guard_kind {
	MMSYNC_GUARD_READER_DATA, /* zeros; the view and the slot break */
	MMSYNC_GUARD_READER_STATE, /* zeros; the handle fails -EBADMSG */
	MMSYNC_GUARD_READER_TABLE, /* private page; the entry is repaired */
	MMSYNC_GUARD_WRITER_TABLE, /* zeros; repaired at the next publish */
	MMSYNC_GUARD_WRITER_DATA, /* a private page; the copy is done again */
};
MMSYNC_HIDDEN int mmsync_guard_add(void *owner, enum mmsync_guard_kind kind,
				   int slot, const void *base, uint64_t len,
				   int fd);
MMSYNC_HIDDEN void mmsync_guard_del(void *owner, const void *base);

/* fork.c */
MMSYNC_HIDDEN int mmsync_fork_track_reader(struct mmsync_reader *r);
MMSYNC_HIDDEN void mmsync_fork_untrack_reader(struct mmsync_reader *r);
MMSYNC_HIDDEN int mmsync_fork_track_writer(struct mmsync_writer *w);
MMSYNC_HIDDEN void mmsync_fork_untrack_writer(struct mmsync_writer *w);
MMSYNC_HIDDEN int mmsync_fork_reclaim(struct mmsync_reader *r);

/* state.c */
MMSYNC_HIDDEN int mmsync_state_check(const struct mmsync_hdr *h,
				     uint64_t file_size);
MMSYNC_HIDDEN int mmsync_map_state(int fd, bool writable, void **out,
				   size_t *len);
MMSYNC_HIDDEN int mmsync_check_obj(int fd, const struct mmsync_obj_id *id,
				   uint64_t min_size);
MMSYNC_HIDDEN int mmsync_map_table(int fd, uint64_t size, bool writable,
				   void **out, size_t *len);

/* table.c: the reader table, both sides. */
enum mmsync_count { MMSYNC_COUNT_CLAIMED, MMSYNC_COUNT_WAITERS };
MMSYNC_HIDDEN void mmsync_count_add(unsigned char *table, uint32_t n,
				    enum mmsync_count which, int delta);
MMSYNC_HIDDEN int mmsync_entry_claim(struct mmsync_reader *r);
MMSYNC_HIDDEN void mmsync_entry_release(struct mmsync_reader *r);
MMSYNC_HIDDEN void mmsync_entry_reassert(struct mmsync_reader *r);
MMSYNC_HIDDEN int mmsync_table_repair_reader(struct mmsync_reader *r);
MMSYNC_HIDDEN int mmsync_entry_alive(int table_fd, uint32_t i);
MMSYNC_HIDDEN void mmsync_table_repair_writer(struct mmsync_writer *w);

/* reader.c */
MMSYNC_HIDDEN int mmsync_reader_heal(struct mmsync_reader *r);

/* notify.c */
MMSYNC_HIDDEN void mmsync_notify_close(struct mmsync_reader *r);
MMSYNC_HIDDEN void mmsync_notify_forked(struct mmsync_reader *r);
MMSYNC_HIDDEN void mmsync_notify_waiters(struct mmsync_writer *w, uint64_t now);
MMSYNC_HIDDEN void mmsync_notify_blocked(struct mmsync_writer *w,
					 const uint32_t *busy, uint32_t nb);

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
MMSYNC_HIDDEN int mmsync_writer_usable(const struct mmsync_writer *w);
MMSYNC_HIDDEN int mmsync_slot_heal(struct mmsync_writer *w, int i);
MMSYNC_HIDDEN int mmsync_slot_check_file(struct mmsync_writer *w, int i);

/* publish_fd.c */
MMSYNC_HIDDEN void mmsync_uring_free(struct mmsync_writer *w);

/* stat.c */
MMSYNC_HIDDEN uint64_t mmsync_chan_id(int state_fd);

/* grace.c */
MMSYNC_HIDDEN int mmsync_wait_slot(struct mmsync_writer *w, uint64_t next,
				   struct mmsync_publish_info *info);

#endif /* MMSYNC_INTERNAL_H */
