// SPDX-License-Identifier: MIT
/*
 * proto_floor.c - the floor of a per-reader pin, for reference in the read
 * cost table: DESIGN.md's membarrier-mode reader with nothing else. Load
 * the generation, store it in the reader's own cache line, compiler
 * barrier, load the generation again; unpin with a release store of 0. No
 * view to fill, no checks: not a usable protocol, only the number the
 * library's inline path is measured against.
 *
 * Built again as proto_floor_xchg.c (FLOOR_PIN 1): the pin is an xchg,
 * the fence-mode reader with nothing else; and as proto_floor_nopin.c
 * (FLOOR_PIN 2): no pin at all, only the generation load, which is what
 * the benchmark loop costs with no protocol. All three have a writer for
 * bench/pace.c, with two copies of the payload and no grace period: it
 * never waits for the pin, so a reader slower than two publishes can see
 * a torn copy (counted, as for the shared counter; a floor, not a
 * protocol).
 */
#include <errno.h>
#include <stdlib.h>

#include "proto.h"

#ifndef FLOOR_PIN
#define FLOOR_PIN 0 /* 0: plain store; 1: xchg; 2: none */
#endif

struct floor_shm {
	uint64_t gen __attribute__((aligned(64)));
	uint64_t pin __attribute__((aligned(64)));
	uint64_t data[2][8] __attribute__((aligned(64)));
};

struct floor_rd {
	struct floor_shm *s;
};

static int floor_setup(struct proto_env *e)
{
	struct floor_shm *s;

	e->shm_len = sizeof(*s);
	e->shm = bench_shm(e->shm_len);
	if (!e->shm)
		return -ENOMEM;
	s = e->shm;
	proto_fill(s->data[1], 8, 1);
	/* Pairs with the reader's acquire load of gen. */
	__atomic_store_n(&s->gen, 1, __ATOMIC_RELEASE);
	return 0;
}

static void floor_teardown(struct proto_env *e)
{
	bench_shm_free(e->shm, e->shm_len);
	e->shm = NULL;
}

static int floor_reader_open(struct proto_env *e, void **out)
{
	struct floor_rd *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->s = e->shm;
	*out = r;
	return 0;
}

static void floor_reader_close(void *arg)
{
	free(arg);
}

static int floor_writer_open(struct proto_env *e, void **out)
{
	return floor_reader_open(e, out);
}

/* Write the copy readers do not use, then move the generation to it. */
static int floor_publish(void *arg)
{
	struct floor_shm *s = ((struct floor_rd *)arg)->s;
	/* Our own last store: pairs with nothing. */
	uint64_t g = __atomic_load_n(&s->gen, __ATOMIC_RELAXED) + 1;

	proto_fill(s->data[g & 1], 8, g);
	/* Pairs with the reader's acquire load of gen. */
	__atomic_store_n(&s->gen, g, __ATOMIC_RELEASE);
	return 0;
}

#define RD_T struct floor_rd
#define RD_GEN_MASK 0ull

static inline int rd_begin(struct floor_rd *r, const void **p, uint64_t *gen)
{
	/* Pairs with the release store of gen in floor_setup()/_publish(). */
	uint64_t g = __atomic_load_n(&r->s->gen, __ATOMIC_ACQUIRE);

#if FLOOR_PIN != 2
	for (;;) {
		uint64_t g2;

#if FLOOR_PIN == 1
		/* A writer would pair its smp_mb() + scan with this. */
		__atomic_exchange_n(&r->s->pin, g, __ATOMIC_SEQ_CST);
#else
		/* A writer would pair its membarrier() + scan with these. */
		__atomic_store_n(&r->s->pin, g, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
		g2 = __atomic_load_n(&r->s->gen, __ATOMIC_SEQ_CST);
		if (g2 == g)
			break;
		g = g2;
	}
#endif
	*p = r->s->data[g & 1];
	*gen = 0;
	return 0;
}

static inline int rd_end(struct floor_rd *r)
{
#if FLOOR_PIN != 2
	/* A writer's scan would pair its acquire load with this. */
	__atomic_store_n(&r->s->pin, 0, __ATOMIC_RELEASE);
#endif
	(void)r;
	return 0;
}

static inline size_t rd_words(struct floor_rd *r)
{
	return 8;
}

#include "read_loops.h"

#if FLOOR_PIN == 1
const struct proto_ops proto_floor_xchg = {
	.name = "pin-floor-xchg",
	.label = "floor: bare xchg pin/unpin",
#elif FLOOR_PIN == 2
const struct proto_ops proto_floor_nopin = {
	.name = "no-pin-floor",
	.label = "floor: no pin (loop only)",
#else
const struct proto_ops proto_floor = {
	.name = "pin-floor",
	.label = "floor: bare pin/unpin (no protocol)",
#endif
	.setup = floor_setup,
	.teardown = floor_teardown,
	.reader_open = floor_reader_open,
	.reader_close = floor_reader_close,
	.writer_open = floor_writer_open,
	.writer_close = floor_reader_close,
	.publish = floor_publish,
	.touch_loop = rd_touch_loop,
	.check_loop = rd_check_loop, /* bench/pace.c's reference */
	/* No grace: not for the benchmarks that count torn reads as a fault. */
	.in_process_only = 1,
};
