/* SPDX-License-Identifier: MIT */
/*
 * read_loops.h - the two read loops, compiled once per protocol so that the
 * protocol's pin and unpin inline into them (as they would in a user's
 * program). Include it once, after defining:
 *
 *   RD_T                           the protocol's reader type
 *   RD_GEN_MASK                    the bits of a payload word that the
 *                                  metadata's generation must match (0: the
 *                                  protocol has no separate metadata)
 *   int rd_begin(RD_T *, const void **p, uint64_t *gen)
 *                                  pin; *p: the payload (in place, or a
 *                                  copy); *gen: the metadata's generation.
 *                                  0, RD_RETRY, or -errno
 *   int rd_end(RD_T *)             unpin. 0; RD_RETRY: the read must be
 *                                  redone (seqlock); -ESTALE; -errno
 *   size_t rd_words(RD_T *)        payload words
 *
 * All three as static inline.
 *
 * The loops are flattened: GCC 12 at -O2 does not inline a header's static
 * inline mmsync_read_begin() into a file that calls it from two places (it
 * emits one local out-of-line copy instead, about 1-4 ns more per read),
 * and the fast path is meant to be inlined. flatten only reaches functions
 * whose bodies are visible, so it changes nothing for the peers whose
 * read path is in a shared library (rwlock, LMDB).
 */
#ifndef MMSYNC_BENCH_READ_LOOPS_H
#define MMSYNC_BENCH_READ_LOOPS_H

#include <errno.h>

#include "proto.h"

/* Check the stop flag once per this many reads: it is one more load. */
#define RD_BATCH 64

/* LMDB hands out 2-byte aligned values: load words without assuming more. */
typedef uint64_t rd_word __attribute__((aligned(1), may_alias));

#endif /* MMSYNC_BENCH_READ_LOOPS_H */

/* Pin, read the first cache line (8 words), unpin; @n times. */
__attribute__((flatten)) static void rd_touch_loop(void *arg, uint64_t n,
						   struct proto_count *c)
{
	RD_T *r = arg;
	uint64_t done = 0, sum = 0, gen, t0;
	const rd_word *p;
	const void *d;
	int err;

	t0 = bench_now_ns();
	while (done < n) {
		err = rd_begin(r, &d, &gen);
		if (err == 0) {
			p = d;
			/*
			 * A tree, not a chain: one add carried from read to
			 * read, so the loop measures the protocol, not adds.
			 */
			sum += ((p[0] ^ p[1]) ^ (p[2] ^ p[3])) ^
			       ((p[4] ^ p[5]) ^ (p[6] ^ p[7]));
			err = rd_end(r);
		}
		if (err == 0) {
			done++;
		} else if (err == RD_RETRY) {
			c->retries++;
		} else {
			c->errors++;
			break;
		}
	}
	c->ns += bench_now_ns() - t0;
	c->reads += done;
	c->sink += sum;
}

/*
 * Pin, check every payload word against the first and against the
 * metadata's generation, unpin; until the gate says stop. The check runs
 * before the unpin, so a writer that overwrites the words while we hold
 * the pin is caught.
 */
__attribute__((flatten)) static void
rd_check_loop(void *arg, const struct bench_gate *g, struct proto_count *c)
{
	RD_T *r = arg;
	uint64_t gen, g0, last = 0, t0;
	const rd_word *p;
	size_t n = rd_words(r), j;
	const void *d;
	int err, k, bad;

	t0 = bench_now_ns();
	while (!bench_gate_stopped(g)) {
		for (k = 0; k < RD_BATCH; k++) {
			err = rd_begin(r, &d, &gen);
			if (err == RD_RETRY) {
				c->retries++;
				continue;
			}
			if (err) {
				c->errors++;
				continue;
			}
			p = d;
			g0 = p[0];
			bad = 0;
			for (j = 1; j < n; j++)
				bad |= p[j] != g0;
			if (RD_GEN_MASK && (g0 & RD_GEN_MASK) != gen)
				bad = 1;
			err = rd_end(r);
			if (err == RD_RETRY) {
				c->retries++;
				continue;
			}
			if (err == -ESTALE) {
				c->stale++;
				continue;
			}
			if (err) {
				c->errors++;
				continue;
			}
			c->reads++;
			c->torn += (uint64_t)bad;
			if (g0 < last)
				c->backwards++;
			last = g0;
		}
	}
	c->ns += bench_now_ns() - t0;
}
