// SPDX-License-Identifier: MIT
/*
 * grace.c - wait until no live reader pins the slot the writer reuses.
 *
 * Publishing generation next reuses slot next & 1, which holds next - 2.
 * A pin p blocks it when p has the parity of next and 0 < p < next. Pins
 * of dead readers (no write lock on their entry) are ignored at once; live
 * pins are waited for, and the whole wait is bounded in time by the grace
 * period, whatever the table holds: the writer reads the table, never
 * writes it, and "eviction" is only that it stops waiting. The slot check
 * in read_end then tells an evicted reader (-ESTALE).
 *
 * Cost: one pass over the entries below the readers' high-water mark per
 * publish (the whole table once a second), with a lock query only for
 * entries whose pin blocks; then, while waiting, a look at those entries
 * only (their liveness asked again at most once a millisecond). A hostile
 * table of n entries costs what an honest one of n live, pinning readers
 * costs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "internal.h"
#include "probes.h"

#define SPIN_NS 20000 /* yield-spin this long before sleeping */
#define MAX_SLEEP_NS 1000000
#define RECHECK_NS 1000000 /* liveness of waited-for entries, at most */
#define VERIFY_NS 1000000000ull /* check the claimed count this often */
#define CLOCK_EVERY 64 /* entries between looks at the clock */

static bool blocks(uint64_t p, uint64_t next)
{
	/* p >= next cannot be a real pin: garbage, ignore it. */
	return p != 0 && p < next && ((p ^ next) & 1) == 0;
}

/*
 * Does entry @i's pin @p hold up this publish? Not if we already stopped
 * waiting for that very pin: its owner died, or was evicted and learns it
 * from the slot check. A new owner of the entry pins a newer generation,
 * never @p again.
 */
static bool holds(const struct mmsync_writer *w, uint32_t i, uint64_t p,
		  uint64_t next)
{
	return blocks(p, next) && w->gone[i] != p;
}

static const struct mmsync_entry *entry(const struct mmsync_writer *w,
					uint32_t i)
{
	return (const struct mmsync_entry *)(w->table + mmsync_entry_off(i));
}

/* Entries we may scan: what the writer-only state says and we mapped. */
static uint32_t nr_scan(const struct mmsync_writer *w)
{
	uint64_t fit = (w->table_len - MMSYNC_TABLE_HDR) / MMSYNC_ENTRY_SIZE;

	return fit < w->nr_entries ? (uint32_t)fit : w->nr_entries;
}

static int full_fence(struct mmsync_writer *w)
{
	if (w->fence_mode == MMSYNC_FENCE_MEMBARRIER)
		return mmsync_membarrier();
	/* Pairs with the reader's xchg in read_begin: Dekker, both fenced. */
	mmsync_smp_mb();
	return 0;
}

/* Is any entry of [from, to) claimed or pinned? */
static bool in_use(const struct mmsync_writer *w, uint32_t from, uint32_t to)
{
	const struct mmsync_entry *e;
	uint32_t i;

	for (i = from; i < to; i++) {
		e = entry(w, i);
		if (READ_SHARED(e->claimed) || READ_SHARED(e->pin))
			return true;
	}
	return false;
}

/*
 * Is any entry claimed or pinned? The check behind trusting a count of 0:
 * after a full fence, every entry of the table, once a second at most.
 */
static bool table_in_use(struct mmsync_writer *w)
{
	if (full_fence(w))
		return true;
	return in_use(w, 0, nr_scan(w));
}

/*
 * How many entries this publish scans: those below the readers' high-water
 * mark. Called after may_skip()'s smp_mb(), which pairs with the seq_cst
 * CAS by which a reader raises the mark before its first load of the
 * generation (table.c, raise_high): store-buffering again, so either we
 * read a mark above that reader's entry, or it loads a generation >= the
 * one we published last and never pins the slot we reuse.
 *
 * Honest readers only ever raise the mark. A hostile process may lower
 * it: pins above it would not be waited for, and their views end in
 * -ESTALE (the slot check), never silently torn. To keep that rare, a
 * mark lower than the one last checked is checked at once: if an entry
 * above it is in use, the whole table is scanned for a second. Every mark
 * is checked again once a second.
 */
static uint32_t scan_limit(struct mmsync_writer *w, uint64_t now)
{
	const struct mmsync_table_hdr *th = (const void *)w->table;
	uint32_t n = nr_scan(w);
	uint64_t hi;

	if (now < w->hdistrust_until)
		return n;
	/* Ordered by the smp_mb() before it; relaxed is enough. */
	hi = __atomic_load_n(&th->high, __ATOMIC_RELAXED);
	if (hi >= n)
		return n;
	if (hi >= w->hchecked && now - w->hverify_ns < VERIFY_NS)
		return (uint32_t)hi;
	if (in_use(w, (uint32_t)hi, n)) {
		w->hdistrust_until = now + VERIFY_NS;
		w->hchecked = n;
		return n;
	}
	w->hverify_ns = now;
	w->hchecked = hi;
	return (uint32_t)hi;
}

/*
 * May this publish skip the fence and the scan? Only when the readers'
 * claimed count is 0. The smp_mb() pairs with the seq_cst RMW by which a
 * reader raises the count before its first load of the generation (table.c,
 * count_claim): either we see the count raised, or that reader loads a
 * generation >= the one we published last, so it never pins the slot we
 * reuse. The acquire load pairs with the release RMW of a reader that
 * leaves: its reads came before we touch the slot.
 *
 * The count lives in reader-writable memory. If a check of the whole
 * table (at most once a second) finds an entry in use while the count
 * says none, the count is not trusted for a second; so a falsified count
 * costs at most a second of -ESTALE for honest readers, never a silent
 * torn read.
 */
static bool may_skip(struct mmsync_writer *w, uint64_t now)
{
	const struct mmsync_table_hdr *th = (const void *)w->table;

	mmsync_smp_mb();
	if (__atomic_load_n(&th->claimed, __ATOMIC_ACQUIRE) != 0)
		return false;
	if (now < w->distrust_until)
		return false;
	if (now - w->verify_ns < VERIFY_NS)
		return true;
	w->verify_ns = now;
	if (!table_in_use(w))
		return true;
	w->distrust_until = now + VERIFY_NS;
	return false;
}

/* Stop waiting for the entries still listed: they get -ESTALE. */
static void give_up(struct mmsync_writer *w, uint64_t next, uint32_t nb,
		    struct mmsync_publish_info *info)
{
	const struct mmsync_entry *e;
	uint32_t j;
	uint64_t p;

	for (j = 0; j < nb; j++) {
		e = entry(w, w->busy[j]);
		p = READ_SHARED(e->pin);
		/*
		 * Only a pin that still blocks is the one we gave up on: an
		 * owner that moved on pins next - 1 or later, which does not.
		 */
		if (blocks(p, next))
			w->gone[w->busy[j]] = p;
		MMSYNC_PROBE4(evict, w->chan_id, p, w->busy[j],
			      READ_SHARED(e->pid));
	}
	info->evicted += nb;
}

/*
 * The first pass: every entry once, a lock query for each blocking pin.
 * Returns how many live entries block (listed in w->busy); *late is set if
 * the deadline came before the pass ended (a huge table and a short grace
 * period): the entries not seen are not waited for.
 */
static uint32_t first_pass(struct mmsync_writer *w, uint32_t n, uint64_t next,
			   uint64_t deadline, bool *late,
			   struct mmsync_publish_info *info)
{
	const struct mmsync_entry *e;
	uint32_t i, nb = 0;
	uint64_t p;
	int alive;

	*late = false;
	for (i = 0; i < n; i++) {
		if (i && i % CLOCK_EVERY == 0 && mmsync_now_ns() >= deadline) {
			*late = true;
			break;
		}
		e = entry(w, i);
		/* Pairs with the release store of 0 in mmsync_read_end(). */
		p = __atomic_load_n(&e->pin, __ATOMIC_ACQUIRE);
		if (!holds(w, i, p, next))
			continue;
		alive = mmsync_entry_alive(w->table_fd, i);
		if (alive == 0) {
			w->gone[i] = p;
			info->reclaimed++;
			MMSYNC_PROBE4(reclaim, w->chan_id, p, i,
				      READ_SHARED(e->pid));
			continue;
		}
		/* Alive, or we cannot tell: wait (bounded by the deadline). */
		w->busy[nb++] = i;
	}
	return nb;
}

/* Look again at the listed entries; returns how many still block. */
static uint32_t recheck(struct mmsync_writer *w, uint64_t next, uint32_t nb,
			bool liveness, struct mmsync_publish_info *info)
{
	const struct mmsync_entry *e;
	uint32_t j, k = 0, i;
	uint64_t p;

	for (j = 0; j < nb; j++) {
		i = w->busy[j];
		e = entry(w, i);
		/* Pairs with the release store of 0 in mmsync_read_end(). */
		p = __atomic_load_n(&e->pin, __ATOMIC_ACQUIRE);
		if (!holds(w, i, p, next))
			continue;
		if (liveness && mmsync_entry_alive(w->table_fd, i) == 0) {
			w->gone[i] = p;
			info->reclaimed++;
			MMSYNC_PROBE4(reclaim, w->chan_id, p, i,
				      READ_SHARED(e->pid));
			continue;
		}
		w->busy[k++] = i;
	}
	return k;
}

static void account(struct mmsync_writer *w, uint64_t start, uint64_t next,
		    uint32_t busy, int ret, struct mmsync_publish_info *info)
{
	struct mmsync_stats_area *st = &w->hdr->stats;

	if (start) {
		info->waited_ns = mmsync_now_ns() - start;
		WRITE_SHARED(st->grace_waits, READ_SHARED(st->grace_waits) + 1);
		WRITE_SHARED(st->waited_ns,
			     READ_SHARED(st->waited_ns) + info->waited_ns);
		MMSYNC_PROBE5(grace_end, w->chan_id, next, info->waited_ns,
			      busy, ret);
	}
	if (ret == -ETIMEDOUT)
		WRITE_SHARED(st->refusals, READ_SHARED(st->refusals) + 1);
	WRITE_SHARED(st->evictions, READ_SHARED(st->evictions) + info->evicted);
	WRITE_SHARED(st->reclaims, READ_SHARED(st->reclaims) + info->reclaimed);
}

/* What the grace period's end means: refuse, or stop waiting. */
static int expire(struct mmsync_writer *w, uint64_t next, uint32_t nb,
		  struct mmsync_publish_info *info)
{
	if (w->policy == MMSYNC_GRACE_REFUSE)
		return -ETIMEDOUT;
	give_up(w, next, nb, info);
	return 0;
}

/*
 * The common case with readers open, kept short (issue 10: a publish that
 * nobody waits for must cost what one with no reader costs): do any of the
 * first @n entries hold a pin that blocks? Only for n <= CLOCK_EVERY, the
 * entries first_pass() would scan before its first look at the clock, so
 * the time bound is the same.
 */
static bool any_holds(const struct mmsync_writer *w, uint32_t n, uint64_t next)
{
	uint32_t i;
	uint64_t p;

	for (i = 0; i < n; i++) {
		/* Pairs with the release store of 0 in mmsync_read_end(). */
		p = __atomic_load_n(&entry(w, i)->pin, __ATOMIC_ACQUIRE);
		if (__builtin_expect(holds(w, i, p, next), 0))
			return true;
	}
	return false;
}

/*
 * Out of line, so that the common case in mmsync_wait_slot() saves no
 * registers: the first pass, then the wait for the entries that block.
 */
static __attribute__((noinline)) int
wait_blocked(struct mmsync_writer *w, uint64_t now, uint32_t n, uint64_t next,
	     struct mmsync_publish_info *info)
{
	uint64_t t0 = now, start = 0, deadline;
	uint64_t last_live;
	int64_t delay = 1000, left;
	bool late;
	int ret;
	uint32_t nb;

	deadline = now + (uint64_t)w->grace_ns;
	nb = first_pass(w, n, next, deadline, &late, info);
	if (late) {
		start = now;
		MMSYNC_PROBE3(grace_begin, w->chan_id, next, nb);
		ret = expire(w, next, nb, info);
		account(w, start, next, nb, ret, info);
		return ret;
	}
	if (!nb) {
		/* Nobody blocks (the common case): no wait, no clock. */
		if (info->reclaimed)
			account(w, 0, next, 0, 0, info);
		return 0;
	}
	mmsync_notify_blocked(w, w->busy, nb);
	last_live = mmsync_now_ns();
	ret = 0;
	while (nb) {
		now = mmsync_now_ns();
		if (!start) {
			/*
			 * The wait began where the deadline is counted from:
			 * a reader evicted at the deadline was waited for the
			 * whole grace period (waited_ns >= grace).
			 */
			start = t0;
			MMSYNC_PROBE3(grace_begin, w->chan_id, next, nb);
		}
		if (now >= deadline) {
			ret = expire(w, next, nb, info);
			break;
		}
		left = (int64_t)(deadline - now);
		if (now - start < SPIN_NS) {
			sched_yield();
		} else {
			mmsync_sleep_ns(delay < left ? delay : left);
			if (delay < MAX_SLEEP_NS)
				delay *= 2;
		}
		now = mmsync_now_ns();
		nb = recheck(w, next, nb, now - last_live >= RECHECK_NS, info);
		if (now - last_live >= RECHECK_NS)
			last_live = now;
	}
	account(w, start, next, nb, ret, info);
	return ret;
}

int mmsync_wait_slot(struct mmsync_writer *w, uint64_t next,
		     struct mmsync_publish_info *info)
{
	uint64_t now = mmsync_now_ns();
	uint32_t n;
	int err;

	if (__builtin_expect(w->table_lost, 0))
		mmsync_table_repair_writer(w);
	if (may_skip(w, now))
		return 0;
	/* Fence mode: may_skip()'s smp_mb() was the fence. */
	if (w->fence_mode == MMSYNC_FENCE_MEMBARRIER) {
		err = mmsync_membarrier();
		if (err)
			return err;
	}
	n = scan_limit(w, now);
	/* Nobody blocks (the common case): no wait, no deadline, no clock. */
	if (n <= CLOCK_EVERY && !any_holds(w, n, next))
		return 0;
	return wait_blocked(w, now, n, next, info);
}
