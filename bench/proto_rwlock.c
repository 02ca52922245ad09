// SPDX-License-Identifier: MIT
/*
 * proto_rwlock.c - one copy guarded by a PTHREAD_PROCESS_SHARED rwlock in
 * shared memory (glibc's default kind: readers preferred).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "proto.h"

struct rwlock_shm {
	pthread_rwlock_t lock;
	uint64_t gen; /* written under the write lock */
	uint64_t data[] __attribute__((aligned(64)));
};

struct rwlock_h {
	struct rwlock_shm *s;
	size_t words;
};

static int rwlock_setup(struct proto_env *e)
{
	pthread_rwlockattr_t a;
	struct rwlock_shm *s;
	int err;

	e->shm_len = sizeof(*s) + e->size;
	e->shm = bench_shm(e->shm_len);
	if (!e->shm)
		return -ENOMEM;
	s = e->shm;
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	err = pthread_rwlock_init(&s->lock, &a);
	pthread_rwlockattr_destroy(&a);
	if (err)
		return -err;
	s->gen = 1;
	proto_fill(s->data, e->size / 8, 1);
	return 0;
}

static void rwlock_teardown(struct proto_env *e)
{
	struct rwlock_shm *s = e->shm;

	pthread_rwlock_destroy(&s->lock);
	bench_shm_free(e->shm, e->shm_len);
	e->shm = NULL;
}

static int rwlock_open(struct proto_env *e, void **out)
{
	struct rwlock_h *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->s = e->shm;
	h->words = e->size / 8;
	*out = h;
	return 0;
}

static void rwlock_close(void *p)
{
	free(p);
}

static int rwlock_publish(void *arg)
{
	struct rwlock_h *h = arg;
	int err = pthread_rwlock_wrlock(&h->s->lock);

	if (err)
		return -err;
	h->s->gen++;
	proto_fill(h->s->data, h->words, h->s->gen);
	return -pthread_rwlock_unlock(&h->s->lock);
}

#define RD_T struct rwlock_h
#define RD_GEN_MASK (~0ull)

static inline int rd_begin(struct rwlock_h *h, const void **p, uint64_t *gen)
{
	int err = pthread_rwlock_rdlock(&h->s->lock);

	if (err)
		return -err;
	*p = h->s->data;
	*gen = h->s->gen;
	return 0;
}

static inline int rd_end(struct rwlock_h *h)
{
	return -pthread_rwlock_unlock(&h->s->lock);
}

static inline size_t rd_words(struct rwlock_h *h)
{
	return h->words;
}

#include "read_loops.h"

const struct proto_ops proto_rwlock = {
	.name = "rwlock",
	.label = "pthread_rwlock (shared)",
	.setup = rwlock_setup,
	.teardown = rwlock_teardown,
	.reader_open = rwlock_open,
	.reader_close = rwlock_close,
	.writer_open = rwlock_open,
	.writer_close = rwlock_close,
	.publish = rwlock_publish,
	.touch_loop = rd_touch_loop,
	.check_loop = rd_check_loop,
};
