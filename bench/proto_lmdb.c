// SPDX-License-Identifier: MIT
/*
 * proto_lmdb.c - LMDB (liblmdb) holding the payload under one key. A read
 * is what a long-lived LMDB reader does: renew its read transaction, get
 * the key (a pointer into the map: zero-copy), reset the transaction.
 * The environment lives on tmpfs with MDB_NOSYNC, as an in-memory peer.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "proto.h"

#define KEY "snapshot"

struct lmdb_h {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn; /* the reader's, kept reset between reads */
	MDB_val key, val;
	uint64_t *buf; /* the writer's payload */
	size_t size;
	uint64_t gen;
};

static void lmdb_file(const struct proto_env *e, char *out, size_t len,
		      const char *suffix)
{
	snprintf(out, len, "%s_lmdb%s", e->path, suffix);
}

static void lmdb_close(void *arg)
{
	struct lmdb_h *h = arg;

	if (h->txn)
		mdb_txn_abort(h->txn);
	if (h->env)
		mdb_env_close(h->env);
	free(h->buf);
	free(h);
}

static int lmdb_open(struct proto_env *e, unsigned int flags,
		     struct lmdb_h **out)
{
	struct lmdb_h *h = calloc(1, sizeof(*h));
	size_t map = e->size * 64 < (64u << 20) ? (64u << 20) : e->size * 64;
	char path[300];
	MDB_txn *t;
	int err;

	if (!h)
		return -ENOMEM;
	h->size = e->size;
	h->key.mv_data = KEY;
	h->key.mv_size = sizeof(KEY) - 1;
	lmdb_file(e, path, sizeof(path), "");
	err = mdb_env_create(&h->env);
	if (!err)
		err = mdb_env_set_mapsize(h->env, map);
	if (!err)
		err = mdb_env_open(h->env, path,
				   flags | MDB_NOSUBDIR | MDB_NOSYNC, 0640);
	if (!err)
		err = mdb_txn_begin(h->env, NULL, flags & MDB_RDONLY, &t);
	if (!err) {
		err = mdb_dbi_open(t, NULL, 0, &h->dbi);
		if (err)
			mdb_txn_abort(t);
		else
			err = mdb_txn_commit(t);
	}
	if (err) {
		lmdb_close(h);
		return err > 0 ? -err : -EIO; /* LMDB codes are < 0 */
	}
	*out = h;
	return 0;
}

static int lmdb_writer_open(struct proto_env *e, void **out)
{
	struct lmdb_h *h;
	MDB_txn *t;
	int err;

	err = lmdb_open(e, 0, &h);
	if (err)
		return err;
	h->buf = calloc(1, e->size);
	if (!h->buf) {
		lmdb_close(h);
		return -ENOMEM;
	}
	/* Carry on from the generation stored, if any. */
	if (!mdb_txn_begin(h->env, NULL, MDB_RDONLY, &t)) {
		if (!mdb_get(t, h->dbi, &h->key, &h->val) &&
		    h->val.mv_size >= 8)
			__builtin_memcpy(&h->gen, h->val.mv_data, 8);
		mdb_txn_abort(t);
	}
	*out = h;
	return 0;
}

static int lmdb_publish(void *arg)
{
	struct lmdb_h *h = arg;
	MDB_val v = { .mv_size = h->size, .mv_data = h->buf };
	MDB_txn *t;
	int err;

	proto_fill(h->buf, h->size / 8, ++h->gen);
	err = mdb_txn_begin(h->env, NULL, 0, &t);
	if (err)
		return -EIO;
	err = mdb_put(t, h->dbi, &h->key, &v, 0);
	if (err) {
		mdb_txn_abort(t);
		return -EIO;
	}
	return mdb_txn_commit(t) ? -EIO : 0;
}

static int lmdb_setup(struct proto_env *e)
{
	char path[300];
	void *w;
	int err;

	lmdb_file(e, path, sizeof(path), "");
	unlink(path);
	lmdb_file(e, path, sizeof(path), "-lock");
	unlink(path);
	err = lmdb_writer_open(e, &w);
	if (err)
		return err;
	err = lmdb_publish(w);
	lmdb_close(w);
	return err;
}

static void lmdb_teardown(struct proto_env *e)
{
	char path[300];

	lmdb_file(e, path, sizeof(path), "");
	unlink(path);
	lmdb_file(e, path, sizeof(path), "-lock");
	unlink(path);
}

static int lmdb_reader_open(struct proto_env *e, void **out)
{
	struct lmdb_h *h;
	int err;

	err = lmdb_open(e, MDB_RDONLY, &h);
	if (err)
		return err;
	err = mdb_txn_begin(h->env, NULL, MDB_RDONLY, &h->txn);
	if (err) {
		lmdb_close(h);
		return -EIO;
	}
	mdb_txn_reset(h->txn);
	*out = h;
	return 0;
}

#define RD_T struct lmdb_h
#define RD_GEN_MASK 0ull

static inline int rd_begin(struct lmdb_h *h, const void **p, uint64_t *gen)
{
	if (mdb_txn_renew(h->txn))
		return -EIO;
	if (mdb_get(h->txn, h->dbi, &h->key, &h->val) ||
	    h->val.mv_size != h->size) {
		mdb_txn_reset(h->txn);
		return -EIO;
	}
	*p = h->val.mv_data;
	*gen = 0;
	return 0;
}

static inline int rd_end(struct lmdb_h *h)
{
	mdb_txn_reset(h->txn);
	return 0;
}

static inline size_t rd_words(struct lmdb_h *h)
{
	return h->size / 8;
}

#include "read_loops.h"

const struct proto_ops proto_lmdb = {
	.name = "lmdb",
	.label = "LMDB (txn renew/get/reset)",
	.setup = lmdb_setup,
	.teardown = lmdb_teardown,
	.reader_open = lmdb_reader_open,
	.reader_close = lmdb_close,
	.writer_open = lmdb_writer_open,
	.writer_close = lmdb_close,
	.publish = lmdb_publish,
	.touch_loop = rd_touch_loop,
	.check_loop = rd_check_loop,
};
