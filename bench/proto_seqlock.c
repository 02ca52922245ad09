// SPDX-License-Identifier: MIT
/*
 * proto_seqlock.c - a seqlock in shared memory. The writer never waits;
 * the reader copies the payload out and retries when the sequence moved,
 * so nothing is zero-copy: read cost grows with what is read.
 */
#include <errno.h>
#include <stdlib.h>

#include "proto.h"

struct seqlock_shm {
	uint64_t seq; /* odd while the writer is writing */
	uint64_t data[] __attribute__((aligned(64)));
};

struct seqlock_rd {
	struct seqlock_shm *s;
	size_t words;
	uint64_t seq; /* sequence the open read started at */
	uint64_t *copy;
};

struct seqlock_wr {
	struct seqlock_shm *s;
	size_t words;
	uint64_t gen;
};

static int seqlock_setup(struct proto_env *e)
{
	e->shm_len = sizeof(struct seqlock_shm) + e->size;
	e->shm = bench_shm(e->shm_len);
	if (!e->shm)
		return -ENOMEM;
	proto_fill(((struct seqlock_shm *)e->shm)->data, e->size / 8, 1);
	return 0;
}

static void seqlock_teardown(struct proto_env *e)
{
	bench_shm_free(e->shm, e->shm_len);
	e->shm = NULL;
}

static int seqlock_reader_open(struct proto_env *e, void **out)
{
	struct seqlock_rd *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->s = e->shm;
	r->words = e->size / 8;
	r->copy = aligned_alloc(64, (e->size + 63) / 64 * 64);
	if (!r->copy) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

static void seqlock_reader_close(void *arg)
{
	struct seqlock_rd *r = arg;

	free(r->copy);
	free(r);
}

static int seqlock_writer_open(struct proto_env *e, void **out)
{
	struct seqlock_wr *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->s = e->shm;
	w->words = e->size / 8;
	/* Written only by writers, before us: pairs with nothing. */
	w->gen = __atomic_load_n(&w->s->data[0], __ATOMIC_RELAXED);
	*out = w;
	return 0;
}

static void seqlock_writer_close(void *arg)
{
	free(arg);
}

static int seqlock_publish(void *arg)
{
	struct seqlock_wr *w = arg;
	/* Our own last store: pairs with nothing. */
	uint64_t s = __atomic_load_n(&w->s->seq, __ATOMIC_RELAXED);

	/* Ordered before the data by the fence below. */
	__atomic_store_n(&w->s->seq, s + 1, __ATOMIC_RELAXED);
	/* Odd before the data: pairs with the reader's acquire fence. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	proto_fill(w->s->data, w->words, ++w->gen);
	/* Data before even: pairs with the reader's acquire load of seq. */
	__atomic_store_n(&w->s->seq, s + 2, __ATOMIC_RELEASE);
	return 0;
}

#define RD_T struct seqlock_rd
#define RD_GEN_MASK 0ull

static inline int rd_begin(struct seqlock_rd *r, const void **p, uint64_t *gen)
{
	size_t i;

	/* Pairs with the writer's release store of the even sequence. */
	r->seq = __atomic_load_n(&r->s->seq, __ATOMIC_ACQUIRE);
	if (r->seq & 1)
		return RD_RETRY;
	/* Relaxed: the acquire fence in rd_end() orders them before re-check. */
	for (i = 0; i < r->words; i++)
		r->copy[i] = __atomic_load_n(&r->s->data[i], __ATOMIC_RELAXED);
	*p = r->copy;
	*gen = 0;
	return 0;
}

static inline int rd_end(struct seqlock_rd *r)
{
	/* Copy before re-check: pairs with the writer's release fence. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&r->s->seq, __ATOMIC_RELAXED) == r->seq ?
		       0 :
		       RD_RETRY;
}

static inline size_t rd_words(struct seqlock_rd *r)
{
	return r->words;
}

#include "read_loops.h"

const struct proto_ops proto_seqlock = {
	.name = "seqlock",
	.label = "seqlock (copy-out)",
	.setup = seqlock_setup,
	.teardown = seqlock_teardown,
	.reader_open = seqlock_reader_open,
	.reader_close = seqlock_reader_close,
	.writer_open = seqlock_writer_open,
	.writer_close = seqlock_writer_close,
	.publish = seqlock_publish,
	.touch_loop = rd_touch_loop,
	.check_loop = rd_check_loop,
};
