// SPDX-License-Identifier: MIT
/*
 * grace.c - wait until no live reader pins the slot the writer reuses.
 *
 * Publishing generation next reuses slot next & 1, which holds next - 2.
 * A pin of p blocks it when p has the same parity and p < next. Pins of
 * dead readers (their OFD lock is gone) are reclaimed at once; live pins
 * are waited for up to the grace period, then evicted or refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "internal.h"
#include "probes.h"

#define SPIN_NS 20000 /* yield-spin this long before sleeping */
#define MAX_SLEEP_NS 1000000

static bool blocks(uint64_t p, uint64_t next)
{
	if (p == 0 || (p & MMSYNC__PIN_EVICTED))
		return false;
	/* p >= next cannot be a real pin: garbage, ignore it. */
	return p < next && ((p ^ next) & 1) == 0;
}

/*
 * Mark pin @p of entry @e evicted. The CAS pairs with the reader's load of
 * its own pin in mmsync_read_end(): it fails only if the reader moved on,
 * and if it succeeds the reader will see MMSYNC__PIN_EVICTED (-ESTALE).
 * The CAS's store is ordered before the slot writes that follow by the
 * mmsync_smp_wmb() in mmsync_slot_begin() (a CAS's release half only orders
 * what comes before it): do not move that fence.
 */
static bool evict(struct mmsync_entry *e, uint64_t p)
{
	if (!__atomic_compare_exchange_n(&e->pin, &p, p | MMSYNC__PIN_EVICTED,
					 false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return false;
	WRITE_SHARED(e->evictions, READ_SHARED(e->evictions) + 1);
	return true;
}

/* Returns how many live readers still block @next. */
static uint32_t scan(struct mmsync_writer *w, uint64_t next, bool force,
		     struct mmsync_publish_info *info)
{
	uint64_t hw = READ_SHARED(w->hdr->hiwat);
	struct mmsync_entry *e;
	uint32_t i, busy = 0;
	uint64_t p;
	int alive;

	if (hw > w->nr_entries)
		hw = w->nr_entries;
	for (i = 0; i < hw; i++) {
		e = mmsync_entry_at(w->hdr, i);
		/* Pairs with the release store of 0 in mmsync_read_end(). */
		p = __atomic_load_n(&e->pin, __ATOMIC_ACQUIRE);
		if (!blocks(p, next))
			continue;
		alive = mmsync_byte_locked(
			w->state_fd, (off_t)(MMSYNC_HDR_SIZE +
					     (uint64_t)i * MMSYNC_ENTRY_SIZE));
		if (alive == 0) {
			if (evict(e, p)) {
				info->reclaimed++;
				MMSYNC_PROBE4(reclaim, w->chan_id, p, i,
					      READ_SHARED(e->pid));
			} else {
				busy++; /* it moved: look again */
			}
			continue;
		}
		if (force) {
			if (evict(e, p)) {
				info->evicted++;
				MMSYNC_PROBE4(evict, w->chan_id, p, i,
					      READ_SHARED(e->pid));
			} else {
				busy++;
			}
			continue;
		}
		busy++;
	}
	return busy;
}

static int full_fence(struct mmsync_writer *w)
{
	if (w->fence_mode == MMSYNC_FENCE_MEMBARRIER)
		return mmsync_membarrier();
	/* Pairs with the reader's xchg in read_begin: Dekker, both fenced. */
	mmsync_smp_mb();
	return 0;
}

int mmsync_wait_slot(struct mmsync_writer *w, uint64_t next,
		     struct mmsync_publish_info *info)
{
	struct mmsync_stats_area *st = &w->hdr->stats;
	uint64_t start = 0, now, deadline = 0;
	int64_t delay = 1000;
	int err, forced = 0;
	uint32_t busy;

	err = full_fence(w);
	if (err)
		return err;
	for (;;) {
		busy = scan(w, next, false, info);
		if (busy == 0)
			break;
		now = mmsync_now_ns();
		if (!start) {
			start = now;
			deadline = now + (uint64_t)w->grace_ns;
			MMSYNC_PROBE3(grace_begin, w->chan_id, next, busy);
		}
		if (now >= deadline) {
			if (w->policy == MMSYNC_GRACE_REFUSE) {
				WRITE_SHARED(st->refusals,
					     READ_SHARED(st->refusals) + 1);
				info->waited_ns = now - start;
				MMSYNC_PROBE5(grace_end, w->chan_id, next,
					      info->waited_ns, busy,
					      -ETIMEDOUT);
				return -ETIMEDOUT;
			}
			/*
			 * A CAS only fails when the reader moved on, so this
			 * ends at once with honest readers. One that keeps
			 * rewriting a stale pin only harms itself: give up on
			 * it after a bounded number of rounds.
			 */
			busy = scan(w, next, true, info);
			if (busy == 0 || ++forced > 1000)
				break;
			continue;
		}
		if (now - start < SPIN_NS) {
			sched_yield();
			continue;
		}
		mmsync_sleep_ns(delay < (int64_t)(deadline - now) ?
					delay :
					(int64_t)(deadline - now));
		if (delay < MAX_SLEEP_NS)
			delay *= 2;
	}
	if (start) {
		info->waited_ns = mmsync_now_ns() - start;
		WRITE_SHARED(st->grace_waits, READ_SHARED(st->grace_waits) + 1);
		WRITE_SHARED(st->waited_ns,
			     READ_SHARED(st->waited_ns) + info->waited_ns);
		MMSYNC_PROBE5(grace_end, w->chan_id, next, info->waited_ns,
			      busy, 0);
	}
	WRITE_SHARED(st->evictions, READ_SHARED(st->evictions) + info->evicted);
	WRITE_SHARED(st->reclaims, READ_SHARED(st->reclaims) + info->reclaimed);
	return 0;
}
