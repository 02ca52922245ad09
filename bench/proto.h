/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the snapshot-sharing protocols the benchmarks compare, behind
 * one table of operations.
 *
 * A payload is @size bytes of 8-byte words that all hold the generation
 * that wrote them. A reader that sees two different words, or a word that
 * disagrees with the generation the protocol's metadata announced, saw a
 * torn snapshot.
 *
 * The hot loops live inside each protocol (read_loops.h), so that the
 * protocol's pin and unpin are inlined as a real user would have them: only
 * one indirect call per loop, none per read.
 */
#ifndef MMSYNC_BENCH_PROTO_H
#define MMSYNC_BENCH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

/* A read the protocol wants redone (a seqlock's sequence moved). */
#define RD_RETRY 1

/* Where a protocol keeps its shared state; filled in by setup(). */
struct proto_env {
	char path[256]; /* private file prefix for this protocol */
	size_t size; /* payload bytes: a multiple of 8, at least 64 */
	void *shm; /* MAP_SHARED memory created before fork, or NULL */
	size_t shm_len;
};

/* What one reader or writer process counted. */
struct proto_count {
	uint64_t reads; /* completed, validated reads */
	uint64_t torn; /* reads whose words disagreed */
	uint64_t backwards; /* reads older than the one before */
	uint64_t stale; /* reads the protocol itself flagged (-ESTALE) */
	uint64_t retries; /* reads the protocol made us redo */
	uint64_t errors; /* other failures */
	uint64_t publishes;
	uint64_t ns; /* how long the loop ran */
	uint64_t sink;
	uint64_t __pad[7];
} __attribute__((aligned(64))); /* one per worker, none sharing a line */

struct proto_ops {
	const char *name; /* CSV key */
	const char *label; /* for tables and plots */
	/* Create the shared state and publish generation 1 (before fork). */
	int (*setup)(struct proto_env *e);
	void (*teardown)(struct proto_env *e);
	/* Per process, after fork. */
	int (*reader_open)(struct proto_env *e, void **r);
	void (*reader_close)(void *r);
	int (*writer_open)(struct proto_env *e, void **w);
	void (*writer_close)(void *w);
	/* Publish the next generation (all words = its number). */
	int (*publish)(void *w);
	/* Pin, read the first cache line, unpin; @n times. */
	void (*touch_loop)(void *r, uint64_t n, struct proto_count *c);
	/* Pin, check every word, unpin; until @stop is set. */
	void (*check_loop)(void *r, const struct bench_gate *stop,
			   struct proto_count *c);
	/* Not usable across processes: read cost only. */
	int in_process_only;
};

extern const struct proto_ops proto_mmsync_membarrier;
extern const struct proto_ops proto_mmsync_xchg;
extern const struct proto_ops proto_mmsync_ool;
extern const struct proto_ops proto_counter;
extern const struct proto_ops proto_rwlock;
extern const struct proto_ops proto_seqlock;
extern const struct proto_ops proto_lmdb;
extern const struct proto_ops proto_urcu;
extern const struct proto_ops proto_floor;
extern const struct proto_ops proto_floor_xchg;
extern const struct proto_ops proto_floor_nopin;

/* The protocols in report order; NULL-terminated. */
extern const struct proto_ops *const proto_all[];
const struct proto_ops *proto_find(const char *name);

/* Fill @n words at @dst with @gen, one relaxed store each (readers race). */
void proto_fill(uint64_t *dst, size_t n, uint64_t gen);

/*
 * Run one writer (when @with_writer) and @nr_readers reader processes of
 * @p for @secs, each pinned to its own CPU where there are enough. Their
 * counts are summed into @rd and @wr. Returns 0 or -errno.
 */
int proto_run_procs(const struct proto_ops *p, struct proto_env *e,
		    int nr_readers, bool with_writer, double secs,
		    struct proto_count *rd, struct proto_count *wr);

/* Set up @p in a fresh private prefix under @dir. */
int proto_setup(const struct proto_ops *p, struct proto_env *e, const char *dir,
		size_t size);

#endif /* MMSYNC_BENCH_PROTO_H */
