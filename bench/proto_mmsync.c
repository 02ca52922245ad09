// SPDX-License-Identifier: MIT
/*
 * proto_mmsync.c - libmmsync in membarrier mode and in fence (xchg) mode,
 * read through the inline fast path of mmsync.h.
 */
#include <errno.h>
#include <stdlib.h>

#define PM_BEGIN mmsync_read_begin
#define PM_END mmsync_read_end
#include "proto_mmsync.h"

struct mmsync_wr {
	struct mmsync_writer *w;
	uint64_t *buf;
	size_t size;
};

static int open_writer(struct proto_env *e, uint32_t mode, void **out)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .fence_mode = mode);
	struct mmsync_wr *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->size = e->size;
	w->buf = calloc(1, e->size);
	err = w->buf ? mmsync_writer_open(e->path, &o, &w->w) : -ENOMEM;
	if (err) {
		free(w->buf);
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

/* A fresh channel with the fence mode asked for, holding generation 1. */
static int setup(struct proto_env *e, uint32_t mode)
{
	void *w;
	int err;

	mmsync_unlink(e->path);
	err = open_writer(e, mode, &w);
	if (err)
		return err;
	err = pm_publish(w);
	pm_writer_close(w);
	return err;
}

int pm_setup_membarrier(struct proto_env *e)
{
	return setup(e, MMSYNC_FENCE_MEMBARRIER);
}

int pm_setup_xchg(struct proto_env *e)
{
	return setup(e, MMSYNC_FENCE_XCHG);
}

void pm_teardown(struct proto_env *e)
{
	mmsync_unlink(e->path);
}

int pm_reader_open(struct proto_env *e, void **out)
{
	struct mmsync_rd *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->words = e->size / 8;
	err = mmsync_reader_open(e->path, NULL, &r->r);
	if (err) {
		free(r);
		return err;
	}
	/* Map the current slot now, not inside a timed loop. */
	err = mmsync_read_begin_ool(r->r, &r->v);
	if (!err)
		err = mmsync_read_end_ool(r->r, &r->v);
	if (err) {
		pm_reader_close(r);
		return err;
	}
	*out = r;
	return 0;
}

void pm_reader_close(void *arg)
{
	struct mmsync_rd *r = arg;

	mmsync_reader_close(r->r);
	free(r);
}

/* AUTO: a reopen keeps whatever fence mode the channel was created with. */
int pm_writer_open(struct proto_env *e, void **out)
{
	return open_writer(e, MMSYNC_FENCE_AUTO, out);
}

void pm_writer_close(void *arg)
{
	struct mmsync_wr *w = arg;

	mmsync_writer_close(w->w);
	free(w->buf);
	free(w);
}

/* The ordinary API: the payload is built in a private buffer, then copied. */
int pm_publish(void *arg)
{
	struct mmsync_wr *w = arg;

	proto_fill(w->buf, w->size / 8, mmsync_writer_gen(w->w) + 1);
	return mmsync_publish(w->w, w->buf, w->size, NULL);
}

PM_OPS(proto_mmsync_membarrier, "mmsync-membarrier", "libmmsync (membarrier)",
       pm_setup_membarrier);
PM_OPS(proto_mmsync_xchg, "mmsync-xchg", "libmmsync (fence/xchg)",
       pm_setup_xchg);
