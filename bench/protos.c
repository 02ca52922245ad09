// SPDX-License-Identifier: MIT
/* protos.c - the protocol table and the multi-process runner. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#define MAX_PROCS 256

const struct proto_ops *const proto_all[] = {
	&proto_mmsync_membarrier,
	&proto_mmsync_xchg,
	&proto_mmsync_ool,
	&proto_counter,
	&proto_rwlock,
	&proto_seqlock,
	&proto_lmdb,
	&proto_urcu,
	&proto_floor,
	NULL,
};

const struct proto_ops *proto_find(const char *name)
{
	int i;

	for (i = 0; proto_all[i]; i++)
		if (!strcmp(proto_all[i]->name, name))
			return proto_all[i];
	return NULL;
}

void proto_fill(uint64_t *dst, size_t n, uint64_t gen)
{
	size_t i;

	/*
	 * Relaxed: readers of racy protocols load these words concurrently;
	 * each protocol's own publish step orders them, or (the shared
	 * counter) fails to, which is what the torn-read count shows.
	 */
	for (i = 0; i < n; i++)
		__atomic_store_n(&dst[i], gen, __ATOMIC_RELAXED);
}

int proto_setup(const struct proto_ops *p, struct proto_env *e, const char *dir,
		size_t size)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s/%s-%d", dir, p->name,
		 (int)getpid());
	e->size = size;
	return p->setup(e);
}

struct procs_shm {
	struct bench_gate gate;
	struct proto_count cnt[MAX_PROCS + 1]; /* [0]: the writer */
};

struct worker {
	const struct proto_ops *p;
	struct proto_env *e;
	struct procs_shm *s;
	int idx; /* 0: writer, 1..: readers */
	int cpu;
};

static int reader_main(void *arg)
{
	struct worker *w = arg;
	void *r;
	int err;

	bench_pin(w->cpu);
	err = w->p->reader_open(w->e, &r);
	bench_gate_ready(&w->s->gate, !err);
	if (err) {
		fprintf(stderr, "%s: reader_open: %s\n", w->p->name,
			strerror(-err));
		return 1;
	}
	bench_gate_wait_go(&w->s->gate);
	w->p->check_loop(r, &w->s->gate, &w->s->cnt[w->idx]);
	w->p->reader_close(r);
	return 0;
}

static int writer_main(void *arg)
{
	struct worker *w = arg;
	struct proto_count *c = &w->s->cnt[0];
	uint64_t t0;
	void *h;
	int err;

	bench_pin(w->cpu);
	err = w->p->writer_open(w->e, &h);
	bench_gate_ready(&w->s->gate, !err);
	if (err) {
		fprintf(stderr, "%s: writer_open: %s\n", w->p->name,
			strerror(-err));
		return 1;
	}
	bench_gate_wait_go(&w->s->gate);
	t0 = bench_now_ns();
	while (!bench_gate_stopped(&w->s->gate)) {
		if (w->p->publish(h))
			c->errors++;
		else
			c->publishes++;
	}
	c->ns = bench_now_ns() - t0;
	w->p->writer_close(h);
	return 0;
}

static void add(struct proto_count *to, const struct proto_count *c)
{
	to->reads += c->reads;
	to->torn += c->torn;
	to->backwards += c->backwards;
	to->stale += c->stale;
	to->retries += c->retries;
	to->errors += c->errors;
	to->publishes += c->publishes;
	to->ns += c->ns;
}

int proto_run_procs(const struct proto_ops *p, struct proto_env *e,
		    int nr_readers, bool with_writer, double secs,
		    struct proto_count *rd, struct proto_count *wr)
{
	struct worker w[MAX_PROCS + 1];
	pid_t pid[MAX_PROCS + 1];
	int i, first = with_writer ? 0 : 1, n = 0, rc, err = 0;
	struct procs_shm *s;

	if (nr_readers < 1 || nr_readers > MAX_PROCS || !p->check_loop ||
	    p->in_process_only)
		return -EINVAL;
	s = bench_shm(sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = first; i <= nr_readers; i++) {
		w[i] = (struct worker){ .p = p, .e = e, .s = s, .idx = i };
		/* The writer on the first CPU, readers on the next ones. */
		w[i].cpu = with_writer ? i : i - 1;
		pid[i] = bench_spawn(i ? reader_main : writer_main, &w[i]);
		if (pid[i] < 0) {
			err = -errno;
			break;
		}
		n++;
	}
	if (!err)
		err = bench_gate_wait_ready(&s->gate, (uint32_t)n);
	if (!err) {
		bench_gate_open(&s->gate);
		bench_sleep_ns((uint64_t)(secs * 1e9));
	}
	bench_gate_stop(&s->gate);
	bench_gate_open(&s->gate); /* release waiters on failure too */
	for (i = first; i < first + n; i++) {
		rc = bench_reap(pid[i]);
		if (rc && !err)
			err = -ECHILD;
	}
	memset(rd, 0, sizeof(*rd));
	memset(wr, 0, sizeof(*wr));
	for (i = 1; i <= nr_readers && !err; i++)
		add(rd, &s->cnt[i]);
	if (with_writer && !err)
		add(wr, &s->cnt[0]);
	bench_shm_free(s, sizeof(*s));
	return err;
}
