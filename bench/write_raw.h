/* SPDX-License-Identifier: MIT */
/*
 * write_raw.h - a C equivalent of mmap-sync's Synchronizer::write_raw()
 * (crate 2.0.4) and of its read path, the baseline of issue 15's publish
 * targets. Written from the crate's description and its source's shape,
 * step for step:
 *
 *   write_raw(bytes):
 *     hash the bytes               (crate: WyHash; here XXH3-64, the hash
 *                                   libmmsync uses, so that "both hash"
 *                                   compares the protocols, not the hashes)
 *     acquire_next_idx():          seq_cst load of the version, a clock
 *                                  read for the grace deadline, seq_cst
 *                                  loads of the next copy's reader count
 *                                  while it is non-zero (sleeping between)
 *     data write:                  memcpy into the mapped data file of that
 *                                  copy, then msync(MS_SYNC) of the mapping
 *                                  (memmap2's flush(); the file is exactly
 *                                  as long as the payload here, so the
 *                                  mapping is the written range)
 *     switch_version():            seq_cst swap of the version word (idx,
 *                                  size, 24 bits of checksum) in the mapped
 *                                  state file
 *
 *   read: seq_cst load of the version, fetch_add on that copy's counter,
 *   read the bytes, fetch_sub (the ReadGuard's drop).
 *
 * Files: PREFIX_state (the 16-byte State: version, two u32 counters) and
 * PREFIX_data_0, PREFIX_data_1, in the same directory as the libmmsync
 * channels they are compared with (tmpfs).
 */
#ifndef MMSYNC_BENCH_WRITE_RAW_H
#define MMSYNC_BENCH_WRITE_RAW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* The crate's State, as it lies in the state file. */
struct wraw_state {
	uint64_t version;
	uint32_t idx_readers[2];
};

struct wraw {
	char prefix[240];
	int state_fd;
	int data_fd[2];
	struct wraw_state *st;
	unsigned char *map[2]; /* read-write mappings of the data files */
	size_t map_len[2];
	uint64_t grace_ns; /* the crate's grace_duration */
	uint64_t sleep_ns; /* its acquire sleep (the SD parameter) */
	uint64_t resets; /* counters reset after the grace period */
};

struct wraw_reader {
	int state_fd;
	int data_fd[2];
	struct wraw_state *st;
	const unsigned char *map[2];
	size_t map_len[2];
	char prefix[240];
	unsigned int idx; /* copy pinned by the open read */
};

/* Bits of the crate's InstanceVersion. */
#define WRAW_SIZE_BITS 39
#define WRAW_SUM_BITS 24

static inline uint64_t wraw_version(unsigned int idx, uint64_t size,
				    uint64_t sum)
{
	return (idx & 1u) | (size & ((1ull << WRAW_SIZE_BITS) - 1)) << 1 |
	       (sum & ((1ull << WRAW_SUM_BITS) - 1)) << (WRAW_SIZE_BITS + 1);
}

static inline uint64_t wraw_version_size(uint64_t v)
{
	return (v >> 1) & ((1ull << WRAW_SIZE_BITS) - 1);
}

static inline uint64_t wraw_version_sum(uint64_t v)
{
	return v >> (WRAW_SIZE_BITS + 1);
}

/*
 * Create PREFIX_state (zeroed) and map it; the data files are created on
 * the first write of each copy, as the crate does. 0 or -errno.
 */
int wraw_open(struct wraw *w, const char *prefix);
/* write_raw(@buf, @len). 0 or -errno. */
int wraw_publish(struct wraw *w, const void *buf, size_t len);
void wraw_close(struct wraw *w);
void wraw_unlink(const char *prefix);

/* A reader of the files that wraw_open() made. 0 or -errno. */
int wraw_reader_open(struct wraw_reader *r, const char *prefix);
void wraw_reader_close(struct wraw_reader *r);
/*
 * Map copy @idx to hold @size bytes (the crate's data(): reopen and remap
 * when the mapping is short). 0 or -errno. Out of line: not on the hot
 * path once mapped.
 */
int wraw_reader_map(struct wraw_reader *r, unsigned int idx, size_t size);

/*
 * The crate's read(): *@p, *@len: the current bytes, *@ver: the version
 * word. 0, -ENODATA before the first write, -errno from the remap.
 */
static inline int wraw_read_begin(struct wraw_reader *r, const void **p,
				  size_t *len, uint64_t *ver)
{
	/* Pairs with the writer's seq_cst swap in switch_version. */
	uint64_t v = __atomic_load_n(&r->st->version, __ATOMIC_SEQ_CST);
	size_t size = (size_t)wraw_version_size(v);
	int err;

	if (!v)
		return -ENODATA;
	r->idx = (unsigned int)(v & 1);
	/*
	 * rlock(). Pairs with the writer's seq_cst loads of the counter in
	 * acquire_next_idx; there is no re-check of the version after it
	 * (the crate's race, kept: a writer may find 0 between the load
	 * above and this add).
	 */
	__atomic_fetch_add(&r->st->idx_readers[r->idx], 1, __ATOMIC_SEQ_CST);
	if (__builtin_expect(size > r->map_len[r->idx], 0)) {
		err = wraw_reader_map(r, r->idx, size);
		if (err) {
			__atomic_fetch_sub(&r->st->idx_readers[r->idx], 1,
					   __ATOMIC_SEQ_CST);
			return err;
		}
	}
	*p = r->map[r->idx];
	*len = size;
	*ver = v;
	return 0;
}

static inline void wraw_read_end(struct wraw_reader *r)
{
	/* runlock(), the guard's drop; pairs with the writer's loads. */
	__atomic_fetch_sub(&r->st->idx_readers[r->idx], 1, __ATOMIC_SEQ_CST);
}

#endif /* MMSYNC_BENCH_WRITE_RAW_H */
