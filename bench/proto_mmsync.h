/* SPDX-License-Identifier: MIT */
/*
 * proto_mmsync.h - libmmsync as a benchmark protocol. The in-line and the
 * out-of-line read paths share the channel setup and the writer.
 */
#ifndef MMSYNC_BENCH_PROTO_MMSYNC_H
#define MMSYNC_BENCH_PROTO_MMSYNC_H

#include <mmsync.h>

#include "proto.h"

struct mmsync_rd {
	struct mmsync_reader *r;
	struct mmsync_view v;
	size_t words;
};

int pm_setup_membarrier(struct proto_env *e);
int pm_setup_xchg(struct proto_env *e);
void pm_teardown(struct proto_env *e);
int pm_reader_open(struct proto_env *e, void **out);
void pm_reader_close(void *arg);
int pm_writer_open(struct proto_env *e, void **out);
void pm_writer_close(void *arg);
int pm_publish(void *arg);

/*
 * The read glue for read_loops.h, compiled in each file that includes it,
 * over the read_begin/read_end pair named by PM_BEGIN/PM_END (the inline
 * ones, or the exported out-of-line symbols).
 */
#ifdef PM_BEGIN
#define RD_T struct mmsync_rd
#define RD_GEN_MASK (~0ull)

static inline int rd_begin(struct mmsync_rd *r, const void **p, uint64_t *gen)
{
	int err = PM_BEGIN(r->r, &r->v);

	if (err)
		return err;
	*p = r->v.data;
	*gen = r->v.gen;
	return 0;
}

static inline int rd_end(struct mmsync_rd *r)
{
	return PM_END(r->r, &r->v);
}

static inline size_t rd_words(struct mmsync_rd *r)
{
	return r->words;
}

#include "read_loops.h"

/* One protocol over the loops above; only name, label and setup differ. */
#define PM_OPS(SYM, NAME, LABEL, SETUP)          \
	const struct proto_ops SYM = {           \
		.name = NAME,                    \
		.label = LABEL,                  \
		.setup = SETUP,                  \
		.teardown = pm_teardown,         \
		.reader_open = pm_reader_open,   \
		.reader_close = pm_reader_close, \
		.writer_open = pm_writer_open,   \
		.writer_close = pm_writer_close, \
		.publish = pm_publish,           \
		.touch_loop = rd_touch_loop,     \
		.check_loop = rd_check_loop,     \
	}
#endif /* PM_BEGIN */

#endif /* MMSYNC_BENCH_PROTO_MMSYNC_H */
