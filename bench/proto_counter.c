// SPDX-License-Identifier: MIT
/*
 * proto_counter.c - mmap-sync's shared-counter protocol, rewritten in C
 * from its description (ANCHORS.md): the baseline libmmsync must beat.
 *
 * State: a u64 version (1 bit: active copy, 39 bits: size, 24 bits: a
 * payload hash) and one u32 reader counter per data copy. Read: a seq_cst
 * load of the version, fetch_add on that copy's counter, read, fetch_sub.
 * Write: wait until the other copy's counter is 0 (reset it after the grace
 * period), copy, msync, swap the version.
 *
 * The reader never re-checks the version after its fetch_add: the writer
 * can find the counter at 0 between the reader's two steps, overwrite the
 * copy, and the reader then reads it (torn). This file keeps that race on
 * purpose; it is what the torn-read counts measure.
 *
 * Two deliberate differences, neither touching the read path: the payload
 * "hash" is the low 24 bits of the generation (every word of the payload
 * holds it, so it identifies the payload exactly as well), and the writer
 * polls with sched_yield() where the crate sleeps (1 s by default), which
 * would stall this benchmark whenever the reader holds the other copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "proto.h"

#define PAGE 4096u
#define GRACE_NS 1000000000ull
#define HASH_BITS 24
#define HASH_SHIFT 40

struct counter_state {
	uint64_t version;
	uint32_t readers[2];
};

struct counter_rd {
	struct counter_state *st;
	const uint64_t *copy[2];
	size_t words;
	unsigned int idx; /* copy pinned by the open read */
};

struct counter_wr {
	struct counter_state *st;
	uint64_t *copy[2];
	size_t size;
	uint64_t gen;
};

/* State on its own page, then the two copies, page aligned as files are. */
static size_t copy_off(const struct proto_env *e, int i)
{
	size_t len = (e->size + PAGE - 1) / PAGE * PAGE;

	return PAGE + (size_t)i * len;
}

static uint64_t version(unsigned int idx, size_t size, uint64_t gen)
{
	return (uint64_t)idx | (uint64_t)size << 1 |
	       (gen & ((1ull << HASH_BITS) - 1)) << HASH_SHIFT;
}

static int counter_setup(struct proto_env *e)
{
	struct counter_state *st;
	uint64_t *c1;

	e->shm_len = copy_off(e, 2);
	e->shm = bench_shm(e->shm_len);
	if (!e->shm)
		return -ENOMEM;
	st = e->shm;
	c1 = (uint64_t *)((char *)e->shm + copy_off(e, 1));
	proto_fill(c1, e->size / 8, 1);
	/* Nobody reads yet; pairs with the readers' seq_cst version loads. */
	__atomic_store_n(&st->version, version(1, e->size, 1),
			 __ATOMIC_SEQ_CST);
	return 0;
}

static void counter_teardown(struct proto_env *e)
{
	bench_shm_free(e->shm, e->shm_len);
	e->shm = NULL;
}

static int counter_reader_open(struct proto_env *e, void **out)
{
	struct counter_rd *r = calloc(1, sizeof(*r));
	int i;

	if (!r)
		return -ENOMEM;
	r->st = e->shm;
	for (i = 0; i < 2; i++)
		r->copy[i] =
			(const uint64_t *)((char *)e->shm + copy_off(e, i));
	r->words = e->size / 8;
	*out = r;
	return 0;
}

static void counter_close(void *p)
{
	free(p);
}

static int counter_writer_open(struct proto_env *e, void **out)
{
	struct counter_wr *w = calloc(1, sizeof(*w));
	uint64_t v;
	int i;

	if (!w)
		return -ENOMEM;
	w->st = e->shm;
	for (i = 0; i < 2; i++)
		w->copy[i] = (uint64_t *)((char *)e->shm + copy_off(e, i));
	w->size = e->size;
	/*
	 * The active copy's words carry the last generation written. Only
	 * the writer stores these (before fork, or in this process): pairs
	 * with nothing.
	 */
	v = __atomic_load_n(&w->st->version, __ATOMIC_SEQ_CST);
	w->gen = __atomic_load_n(&w->copy[v & 1][0], __ATOMIC_RELAXED);
	*out = w;
	return 0;
}

static int counter_publish(void *arg)
{
	struct counter_wr *w = arg;
	unsigned int idx;
	uint64_t v, t0 = 0;

	/* Our own last store: pairs with nothing. */
	v = __atomic_load_n(&w->st->version, __ATOMIC_SEQ_CST);
	idx = (unsigned int)(v & 1) ^ 1;
	/*
	 * Pairs with the readers' seq_cst fetch_add: a reader whose add this
	 * load misses may still be about to read the copy (the race).
	 */
	while (__atomic_load_n(&w->st->readers[idx], __ATOMIC_SEQ_CST)) {
		if (!t0)
			t0 = bench_now_ns();
		if (bench_now_ns() - t0 > GRACE_NS) {
			/*
			 * The crate's blind reset after the grace period. It
			 * pairs with nothing a reader checks: a live reader
			 * keeps reading while we overwrite (weakness 2).
			 */
			__atomic_store_n(&w->st->readers[idx], 0,
					 __ATOMIC_SEQ_CST);
			break;
		}
		sched_yield();
	}
	w->gen++;
	proto_fill(w->copy[idx], w->size / 8, w->gen);
	msync(w->copy[idx], w->size, MS_SYNC);
	/* Pairs with the readers' seq_cst load of the version. */
	__atomic_store_n(&w->st->version, version(idx, w->size, w->gen),
			 __ATOMIC_SEQ_CST);
	return 0;
}

#define RD_T struct counter_rd
#define RD_GEN_MASK ((1ull << HASH_BITS) - 1)

static inline int rd_begin(struct counter_rd *r, const void **p, uint64_t *gen)
{
	/* Pairs with the writer's seq_cst store of the version. */
	uint64_t v = __atomic_load_n(&r->st->version, __ATOMIC_SEQ_CST);

	r->idx = (unsigned int)(v & 1);
	/* Pairs with the writer's seq_cst load of the counter. No re-check. */
	__atomic_fetch_add(&r->st->readers[r->idx], 1, __ATOMIC_SEQ_CST);
	*p = r->copy[r->idx];
	*gen = v >> HASH_SHIFT;
	return 0;
}

static inline int rd_end(struct counter_rd *r)
{
	/* The guard's drop; pairs with the writer's load of the counter. */
	__atomic_fetch_sub(&r->st->readers[r->idx], 1, __ATOMIC_SEQ_CST);
	return 0;
}

static inline size_t rd_words(struct counter_rd *r)
{
	return r->words;
}

#include "read_loops.h"

const struct proto_ops proto_counter = {
	.name = "counter",
	.label = "shared counter (mmap-sync)",
	.setup = counter_setup,
	.teardown = counter_teardown,
	.reader_open = counter_reader_open,
	.reader_close = counter_close,
	.writer_open = counter_writer_open,
	.writer_close = counter_close,
	.publish = counter_publish,
	.touch_loop = rd_touch_loop,
	.check_loop = rd_check_loop,
};
