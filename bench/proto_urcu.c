// SPDX-License-Identifier: MIT
/*
 * proto_urcu.c - liburcu's memb flavour (membarrier-based, like libmmsync's
 * default mode) as an in-process reference for the read cost only: it
 * cannot share a snapshot between processes.
 *
 * _LGPL_SOURCE inlines urcu's read-side lock, as its fast users do; this
 * benchmark binary links liburcu (LGPL-2.1) and is never shipped.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <urcu/urcu-memb.h>

#include "proto.h"

struct urcu_rd {
	size_t words;
};

/* The published pointer; setup() assigns it. */
static uint64_t *urcu_gp;

static int urcu_setup(struct proto_env *e)
{
	uint64_t *p = aligned_alloc(64, (e->size + 63) / 64 * 64);

	if (!p)
		return -ENOMEM;
	proto_fill(p, e->size / 8, 1);
	/* Pairs with rcu_dereference() in rd_begin(). */
	rcu_assign_pointer(urcu_gp, p);
	return 0;
}

static void urcu_teardown(struct proto_env *e)
{
	uint64_t *p = urcu_gp;

	rcu_assign_pointer(urcu_gp, NULL);
	urcu_memb_synchronize_rcu();
	free(p);
}

static int urcu_reader_open(struct proto_env *e, void **out)
{
	struct urcu_rd *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->words = e->size / 8;
	urcu_memb_register_thread();
	*out = r;
	return 0;
}

static void urcu_reader_close(void *arg)
{
	urcu_memb_unregister_thread();
	free(arg);
}

#define RD_T struct urcu_rd
#define RD_GEN_MASK 0ull

static inline int rd_begin(struct urcu_rd *r, const void **p, uint64_t *gen)
{
	urcu_memb_read_lock();
	/* Pairs with rcu_assign_pointer() in urcu_setup(). */
	*p = rcu_dereference(urcu_gp);
	*gen = 0;
	return 0;
}

static inline int rd_end(struct urcu_rd *r)
{
	urcu_memb_read_unlock();
	return 0;
}

static inline size_t rd_words(struct urcu_rd *r)
{
	return r->words;
}

#include "read_loops.h"

const struct proto_ops proto_urcu = {
	.name = "urcu-memb",
	.label = "liburcu memb (in-process only)",
	.setup = urcu_setup,
	.teardown = urcu_teardown,
	.reader_open = urcu_reader_open,
	.reader_close = urcu_reader_close,
	.touch_loop = rd_touch_loop,
	.check_loop = rd_check_loop, /* threads only: unused */
	.in_process_only = 1,
};
