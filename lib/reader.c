// SPDX-License-Identifier: MIT
/* reader.c - open a channel for reading, the slow read path and wait. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "backing.h"
#include "probes.h"

static int map_slot(struct mmsync_reader *r, int i, uint64_t need);

/*
 * Map and check everything before taking a table entry: a reader writes
 * nothing to a channel it refuses. The table and data objects must be the
 * ones the (writer-only) state names.
 */
static int check_slots(struct mmsync_reader *r)
{
	uint64_t cap, size;
	int i, err;

	if (__atomic_load_n(&r->hdr->hot.gen, __ATOMIC_ACQUIRE) >=
	    MMSYNC_MAX_GEN)
		return -EBADMSG;
	for (i = 0; i < 2; i++) {
		err = mmsync_check_obj(r->data_fd[i], &r->hdr->data_id[i], 0);
		if (err)
			return err;
		cap = READ_SHARED(r->hdr->cap[i]);
		size = READ_SHARED(r->hdr->hot.slot[i].size);
		if (cap > MMSYNC_MAX_CAP || size > cap)
			return -EBADMSG;
		/* Map now, so that reads make no syscall until a slot grows. */
		if (cap) {
			err = map_slot(r, i, size);
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * The reader table, read-write: our entry lives there. A table that lost
 * pages (a hostile reader truncated it) gets them back first: readers may
 * write the table, so we may.
 */
static int open_table(struct mmsync_reader *r)
{
	struct stat st;
	bool huge;
	void *p;
	int err;

	err = mmsync_check_obj(r->table_fd, &r->hdr->table_id, 0);
	if (err)
		return err;
	if (fstat(r->table_fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < r->table_size) {
		mmsync_fd_granule(r->table_fd, &huge);
		err = mmsync_reserve_space(r->table_fd, r->table_size, huge);
		if (err)
			return err;
	}
	err = mmsync_map_table(r->table_fd, r->table_size, true, &p,
			       &r->table_len);
	if (err)
		return err;
	r->table = p;
	/* Best effort: without a guard, a truncated table is SIGBUS. */
	mmsync_guard_add(r, MMSYNC_GUARD_READER_TABLE, 0, r->table,
			 r->table_len, r->table_fd);
	return 0;
}

static int open_channel(struct mmsync_reader *r)
{
	void *p;
	int err;

	err = mmsync_map_state(r->state_fd, false, &p, &r->state_len);
	if (err)
		return err;
	r->hdr = p;
	mmsync_guard_add(r, MMSYNC_GUARD_READER_STATE, 0, r->hdr, r->state_len,
			 r->state_fd);
	r->nr_entries = READ_SHARED(r->hdr->nr_entries);
	r->table_size = READ_SHARED(r->hdr->table_size);
	err = check_slots(r);
	if (!err)
		err = open_table(r);
	return err;
}

/* Where the inline path must go: always out of line, or only if traced. */
static const uint32_t *ool_word(const struct mmsync_reader *r)
{
	return (r->f.flags & MMSYNC__F_SLOW) ? &mmsync_ool_always :
					       &mmsync_pin_probes;
}

int mmsync_reader_open(const char *name, const struct mmsync_reader_opts *o,
		       struct mmsync_reader **out)
{
	uint32_t flags = MMSYNC_OPTS_GET(o, flags, 0);
	struct mmsync_reader *r;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!MMSYNC_OPTS_VALID(o, mmsync_reader_opts) ||
	    MMSYNC_OPTS_GET(o, poll_ns, 0) < 0 ||
	    (flags & ~(MMSYNC_READ_VERIFY | MMSYNC_READ_XCHG |
		       MMSYNC_READ_NO_SIGBUS_GUARD | MMSYNC_READ_NO_NOTIFY)))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f.base[0] = r->f.base[1] = mmsync__empty;
	r->state_fd = r->table_fd = r->data_fd[0] = r->data_fd[1] = -1;
	r->ino_fd = -1;
	r->uflags = flags;
	r->poll_ns = MMSYNC_OPTS_GET(o, poll_ns, 0) ?
			     MMSYNC_OPTS_GET(o, poll_ns, 0) :
			     MMSYNC_DEFAULT_POLL_NS;
	err = mmsync_prefix(name, &r->prefix);
	if (err)
		goto fail;
	/* NAME_state, or else a memfd channel's socket: the same protocol. */
	err = mmsync_backing_reader_open(r, name, o);
	if (!err)
		err = open_channel(r);
	if (err)
		goto fail;
	r->f.flags = 0;
	if (READ_SHARED(r->hdr->fence_mode) != MMSYNC_FENCE_MEMBARRIER ||
	    (r->uflags & MMSYNC_READ_XCHG) || mmsync_membarrier_register())
		r->f.flags |= MMSYNC__F_XCHG;
	if (r->uflags & MMSYNC_READ_VERIFY)
		r->f.flags |= MMSYNC__F_SLOW;
	err = mmsync_entry_claim(r);
	if (!err)
		err = mmsync_fork_track_reader(r);
	if (err)
		goto fail;
	r->f.hot = &r->hdr->hot;
	r->f.pin = &r->ent->pin;
	/* The inline path tests one word: see mmsync__rfast.ool. */
	r->f.ool = ool_word(r);
	r->chan_id = mmsync_chan_id(r->state_fd);
	*out = r;
	return 0;
fail:
	mmsync_reader_close(r);
	return err;
}

void mmsync_reader_close(struct mmsync_reader *r)
{
	int i;

	if (!r)
		return;
	mmsync_fork_untrack_reader(r);
	mmsync_notify_close(r);
	/* A child's copy holds no entry of its own until it took one. */
	if (r->ent && !r->forked)
		mmsync_entry_release(r);
	/* A traced view closed by close: the tracer sees it end. */
	if (r->f.pinned & MMSYNC__PIN_TRACED)
		MMSYNC_PROBE4(unpin, r->chan_id,
			      r->f.pinned & ~MMSYNC__PIN_TRACED, r->idx, 0);
	for (i = 0; i < 2; i++) {
		if (r->map_len[i]) {
			mmsync_guard_del(r, r->f.base[i]);
			munmap((void *)r->f.base[i], r->map_len[i]);
		}
		if (r->data_fd[i] >= 0)
			close(r->data_fd[i]);
	}
	if (r->table) {
		mmsync_guard_del(r, r->table);
		munmap(r->table, r->table_len);
	}
	if (r->table_fd >= 0)
		close(r->table_fd); /* drops the entry lock */
	if (r->hdr) {
		mmsync_guard_del(r, r->hdr);
		munmap((void *)r->hdr, r->state_len);
	}
	if (r->state_fd >= 0)
		close(r->state_fd);
	free(r->prefix);
	free(r);
}

/*
 * Map slot @i read-only, at least @need bytes. The data file must really
 * hold what the state says it holds, or the mapping could raise SIGBUS.
 */
static int map_slot(struct mmsync_reader *r, int i, uint64_t need)
{
	uint64_t cap = READ_SHARED(r->hdr->cap[i]), len;
	struct stat st;
	bool huge;
	void *p;

	if (cap < need || cap > MMSYNC_MAX_CAP)
		return -EBADMSG;
	if (fstat(r->data_fd[i], &st) < 0)
		return -errno;
	/*
	 * On hugetlbfs, map whole huge pages, all of which the file must
	 * hold: the kernel rounds the mapping up anyway, and munmap() of a
	 * part of a huge page fails.
	 */
	len = mmsync_fd_granule(r->data_fd[i], &huge);
	len = huge ? mmsync_round_up(cap, len) : cap;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < len)
		return -EBADMSG;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, r->data_fd[i], 0);
	if (p == MAP_FAILED)
		return -errno;
	MMSYNC_PROBE4(remap, r->chan_id, i, r->map_len[i], len);
	if (r->map_len[i]) {
		mmsync_guard_del(r, r->f.base[i]);
		munmap((void *)r->f.base[i], r->map_len[i]);
	}
	r->f.base[i] = p;
	r->map_len[i] = len;
	r->f.len[i] = len;
	/* Best effort: without a guard a truncated file means SIGBUS. */
	mmsync_guard_add(r, MMSYNC_GUARD_READER_DATA, i, p, len, r->data_fd[i]);
	return 0;
}

static void unpin(struct mmsync_reader *r)
{
	/* Pairs with the scan's acquire load of the pin (grace.c). */
	__atomic_store_n(r->f.pin, 0, __ATOMIC_RELEASE);
}

/*
 * Before a slow read: whatever made the handle leave the inline path for
 * good (a fork, a table that lost pages) is dealt with here, and then the
 * inline path is allowed again.
 */
int mmsync_reader_heal(struct mmsync_reader *r)
{
	int err;

	if (r->state_lost)
		return -EBADMSG;
	if (r->forked) {
		err = mmsync_fork_reclaim(r);
		if (err)
			return err;
	}
	if (r->table_lost)
		mmsync_table_repair_reader(r); /* else: pins go unseen */
	if (!r->table_lost)
		__atomic_store_n(&r->f.ool, ool_word(r), __ATOMIC_RELAXED);
	return 0;
}

/*
 * The slot of generation @g still holds it? The acquire fence orders every
 * load before it (the view's bytes, a hash of them, the metadata) before
 * the load of slot.gen: pairs with the release fence after the writer's
 * mark (publish.c, mmsync_slot_begin()).
 */
static bool slot_holds(const struct mmsync_reader *r, uint64_t g)
{
	mmsync_smp_rmb();
	return __atomic_load_n(&r->f.hot->slot[g & 1].gen, __ATOMIC_RELAXED) ==
	       g;
}

/*
 * The complete read_begin: also maps slots, verifies checksums, heals the
 * handle and copes with a writer rewriting under us. Always pins with
 * xchg, which is correct in both fence modes.
 */
int mmsync__read_begin_slow(struct mmsync_reader *r, struct mmsync_view *v)
{
	const struct mmsync__slot *s;
	uint64_t g, size, sum, hash;
	int tries, err, i;

	if (!r || !v)
		return -EINVAL;
	if (r->f.pinned)
		return -EBUSY;
	err = mmsync_reader_heal(r);
	if (err)
		return err;
	for (tries = 0; tries < 64; tries++) {
		/* Pairs with the writer's release store of hot.gen. */
		g = __atomic_load_n(&r->f.hot->gen, __ATOMIC_ACQUIRE);
		if (g == 0)
			return -ENODATA;
		if (g >= MMSYNC_MAX_GEN)
			return -EBADMSG;
		/* Full fence; pairs with the writer's fence before its scan. */
		__atomic_exchange_n(r->f.pin, g, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&r->f.hot->gen, __ATOMIC_SEQ_CST) != g) {
			unpin(r);
			continue;
		}
		i = (int)(g & 1);
		s = &r->f.hot->slot[i];
		size = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
		/*
		 * The writer is rewriting the slot (we pinned late, after it
		 * stopped waiting): try again with the newer generation.
		 */
		if (__atomic_load_n(&s->gen, __ATOMIC_RELAXED) != g ||
		    size > MMSYNC_MAX_CAP) {
			unpin(r);
			continue;
		}
		if (size > r->f.len[i]) {
			err = map_slot(r, i, size);
			if (err) {
				unpin(r);
				return err;
			}
		}
		sum = __atomic_load_n(&s->checksum, __ATOMIC_RELAXED);
		if (r->uflags & MMSYNC_READ_VERIFY) {
			hash = mmsync_hash(size ? r->f.base[i] : mmsync__empty,
					   size);
			if (!slot_holds(r, g)) {
				/* Rewritten while we hashed: try again. */
				unpin(r);
				continue;
			}
			if (hash != sum) {
				unpin(r);
				MMSYNC_PROBE4(csum_mismatch, r->chan_id, g, sum,
					      hash);
				return -EIO;
			}
		}
		v->data = size ? (const void *)r->f.base[i] : mmsync__empty;
		v->size = (size_t)size;
		v->gen = g;
		v->checksum = sum;
		r->f.pgen = &s->gen;
		r->f.pinned = g;
		/*
		 * A tracer is attached: fire pin, and mark the view so that
		 * the inline read_end comes here too, to fire unpin.
		 */
		if (MMSYNC_PIN_TRACED()) {
			MMSYNC_PROBE4(pin, r->chan_id, g, r->idx, r->prefix);
			r->f.pinned = g | MMSYNC__PIN_TRACED;
		}
		return 0;
	}
	return -EBADMSG;
}

/*
 * read_end when the inline path saw something unusual: a slot that no
 * longer holds the view's generation (-ESTALE), a view broken by the
 * SIGBUS guard (-ESTALE), or a view whose pin was traced.
 */
int mmsync__read_end_slow(struct mmsync_reader *r, struct mmsync_view *v)
{
	uint64_t want, g;
	int ret;

	(void)v;
	if (!r || !r->f.pinned)
		return -EINVAL;
	want = r->f.pinned;
	g = want & ~(MMSYNC__PIN_TRACED | MMSYNC__PIN_BROKEN);
	/* As in mmsync_read_end(): the slot check, after an acquire fence. */
	ret = slot_holds(r, g) && !(want & MMSYNC__PIN_BROKEN) ? 0 : -ESTALE;
	unpin(r);
	r->f.pinned = 0;
	if (ret && r->ent && !r->forked) {
		/* Ours to count; and is our entry still what we wrote? */
		WRITE_SHARED(r->ent->stale, READ_SHARED(r->ent->stale) + 1);
		mmsync_entry_reassert(r);
	}
	if (want & MMSYNC__PIN_TRACED)
		MMSYNC_PROBE4(unpin, r->chan_id, g, r->idx, ret);
	return ret;
}

int mmsync_read_begin_ool(struct mmsync_reader *r, struct mmsync_view *v)
{
	return mmsync_read_begin(r, v);
}

int mmsync_read_end_ool(struct mmsync_reader *r, struct mmsync_view *v)
{
	return mmsync_read_end(r, v);
}

uint64_t mmsync_reader_gen(const struct mmsync_reader *r)
{
	if (!r)
		return 0;
	/* Pairs with the writer's release store of hot.gen. */
	return __atomic_load_n(&r->hdr->hot.gen, __ATOMIC_ACQUIRE);
}
