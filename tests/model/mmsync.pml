/* SPDX-License-Identifier: MIT */
/*
 * mmsync.pml - spin model of libmmsync's pin / publish / reclaim / evict
 * protocol. tests/model.c runs it under `make check`; by hand:
 *
 *	spin -a tests/model/mmsync.pml && cc -O2 -DSAFETY -o pan pan.c && ./pan
 *
 * What it proves, for every interleaving of one writer and two readers:
 *
 *   1. A read whose mmsync_read_end() returns 0 saw exactly the bytes of
 *      the generation it pinned: no torn read, no newer or older data.
 *      (assert in reader(), "torn read")
 *   2. The writer never writes a slot while a reader that has not been
 *      evicted is inside a view of that slot (assert in writer(), checked
 *      before every word it writes). Stronger than 1: it does not depend
 *      on the read happening to observe the overlap.
 *   3. -ESTALE only ever comes from an eviction (assert in reader()).
 *   4. The writer never waits forever, and never waits out the grace
 *      period, for a dead reader: grace expiry is offered to the writer
 *      only while a *live* reader blocks it, so a writer left with only
 *      dead pins would block for good, and spin would report an invalid
 *      end state. All three processes must reach their end.
 *
 * Memory model. Spin interleaves whole statements: it is sequentially
 * consistent. The real code is SC at the points modelled here because
 *   - fence (xchg) mode: the reader's pin is an xchg (a full fence) and
 *     the writer issues mmsync_smp_mb() (a seq_cst fence) before its scan, so
 *     the pin-store / gen-reload vs gen-store / pin-scan pair is the
 *     classic fenced Dekker, which admits only SC outcomes;
 *   - membarrier mode: the reader's pin is a plain store and only the
 *     compiler is fenced, but the writer's membarrier(GLOBAL_EXPEDITED)
 *     runs a full barrier on every CPU running a reader between the
 *     writer's store of gen and its scan. Where that barrier falls in the
 *     reader's program order decides the case: after the pin store, and
 *     the scan sees the pin; before it, and the reader's re-read of gen
 *     sees the new generation and it retries. Both are SC outcomes. Later
 *     re-scans need no new barrier: a pin stored after the barrier is
 *     followed by a re-read that already sees the new gen;
 *   - read_end's acquire fence keeps the view's loads before its load of
 *     the pin. On the writer's side the eviction CAS must become visible
 *     before the slot's new bytes: the CAS's acq_rel alone does not give
 *     that on weakly ordered CPUs (release orders what comes before the
 *     CAS's store, not what comes after it), the release fence
 *     (mmsync_smp_wmb) in mmsync_slot_begin() after "slot gen = 0" does.
 *     The model writes the slot after the CAS, so it relies on that fence.
 *   - read_end's release store of 0 pairs with the scan's acquire load,
 *     and release/acquire on gen makes the bytes of g visible to a reader
 *     that loaded g.
 * What is therefore NOT checked here: the C11/hardware orderings
 * themselves (that each atomic and fence has the strength claimed above);
 * that is a job for herd7 or the TSan build, not for spin.
 *
 * Abstractions.
 *   - Data: a slot holds two words, d0 and d1; generation g is written as
 *     d0 = d1 = g, one word per step, so a torn read is representable.
 *     Slot metadata is its gen word (sgen); size / checksum / cap are
 *     written in the same commit step and carry no extra ordering.
 *   - The slot mapping / remap of the slow path, checksum verification,
 *     -EBADMSG after 64 tries, USDT tracing (MMSYNC__PIN_TRACED lives in
 *     the handle, not in the shared pin), MMSYNC_GRACE_REFUSE,
 *     reserve/abort and a writer restart are left out. Fence mode and
 *     membarrier mode are the same model (see above). The slow
 *     read_begin is modelled as "unpin and start over", which is what it
 *     does when the slot's gen mismatches; read_end's slow path (taken
 *     when the pin differs) loads the pin once more, as the C code does.
 *   - Real time: "grace period expired" is a nondeterministic choice the
 *     writer may take at any moment while a live reader blocks it. The
 *     "give up after 1000 forced rounds" bail-out is a nondeterministic
 *     choice after every forced scan that still found a moving pin.
 *   - The writer's polling sleep is a block until a pin, a blocker's lock
 *     or hiwat differs from what its last scan saw (a poll that finds
 *     nothing changed redoes the same scan).
 *   - Reader liveness (the OFD lock on the entry's byte) is alive[].
 *     A reader may die (reader 0 DEATHS0 times, reader 1 DEATHS1 times;
 *     by default 1 and 0) while pinned, right after
 *     its pin store or while in its view, leaving its pin behind; it may
 *     then stay dead, or come back and claim the same entry again, which
 *     exercises the writer's CAS on a reused entry.
 *   - Reader r always owns table entry r.
 *   - Generations are bytes; MMSYNC__PIN_EVICTED is bit 7. The channel
 *     starts with generation 1 published in slot 1, so -ENODATA never
 *     happens; the writer publishes 2 .. LASTGEN.
 *
 * Mutants (tests/model.c checks that spin finds their violation):
 *   -DNO_RECHECK   read_begin without the re-read of gen after the pin
 *                  store: a reader can pin a slot after the writer's scan
 *                  found it free. Spin finds the torn read.
 *   -DNO_RECLAIM   the writer treats dead readers like live ones: spin
 *                  finds a writer stuck on a dead reader (invalid end
 *                  state).
 *   -DTORN_ONLY    drop assertion 2, so a mutant fails on the torn read.
 *
 * Correspondence with the C code (include/mmsync.h, lib/reader.c,
 * lib/grace.c, lib/publish.c) is given in the comments at each step:
 *   reader()  mmsync_reader_open()/claim_entry(), mmsync_read_begin() and
 *             mmsync__read_begin_slow(), the caller's reads of the view,
 *             mmsync_read_end() and mmsync__read_end_slow();
 *   writer()  mmsync_publish(): mmsync_slot_begin() -> mmsync_wait_slot()
 *             -> scan() / evict(), the copy, mmsync_slot_commit().
 *
 * State space with the defaults (LASTGEN 5, NREADS 2, DEATHS0 1,
 * DEATHS1 0): ~6.8e6 states, ~4 s for the safety search on one core;
 * the cycle search (-DNP, ./pan -l) runs with LASTGEN 4.
 */

#ifndef LASTGEN
#define LASTGEN 5	/* the writer publishes 2 .. LASTGEN */
#endif
#ifndef NREADS
#define NREADS 2	/* read_begin/read_end pairs per reader, all lives */
#endif
#ifndef DEATHS0
#define DEATHS0 1	/* times reader 0 may die */
#endif
#ifndef DEATHS1
#define DEATHS1 0	/* times reader 1 may die */
#endif

#define NR 2		/* readers = reader-table entries */
#define EVICTED 128	/* MMSYNC__PIN_EVICTED */

/* struct mmsync_hdr and the data slots */
byte gen = 1;		/* hdr->gen */
byte sgen[2];		/* hdr->slot[i].gen (metadata) */
byte d0[2];		/* data slot i, first word */
byte d1[2];		/* data slot i, second word */
byte hiwat;		/* hdr->hiwat: scan bound */
byte pin[NR];		/* entry[i].pin */
bool alive[NR];		/* entry i's OFD lock is held */

/* Ghost: generation reader r has a view of, 0 outside a view. */
byte inview[NR];

/* grace.c blocks() */
#define blocks(p, nx) \
	((p) != 0 && ((p) & EVICTED) == 0 && (p) < (nx) && \
	 (((p) ^ (nx)) & 1) == 0)

/* Reader r has a view of slot s and its pin was not evicted. */
#define reading(r, s) \
	(inview[r] != 0 && (inview[r] & 1) == (s) && pin[r] == inview[r])

#ifdef TORN_ONLY
#define no_overlap(s) skip
#else
#define no_overlap(s) assert(!reading(0, s) && !reading(1, s))
#endif

#ifdef NO_RECLAIM
#define dead_entry(e) false
#define live_entry(e) true
#define died(e) false
#else
#define dead_entry(e) (!alive[e])
#define live_entry(e) (alive[e])
#define died(e) (live[e] && !alive[e])
#endif

/*
 * One entry of grace.c scan(): the acquire load of its pin, then (if it
 * blocks) mmsync_byte_locked() and the CAS of evict(). Purely local
 * bookkeeping rides along with the shared access before it.
 */
inline scan_entry(e)
{
	if
	:: hw > e ->
		atomic {
			p = pin[e];
			seen[e] = p;
			blk = blocks(p, next)
		};
		if
		:: blk && (dead_entry(e) || force) ->
			/* reclaim (dead) or evict (forced): CAS */
			atomic {
				if
				:: pin[e] == p -> pin[e] = p | EVICTED
				:: else -> busy++	/* it moved: look again */
				fi;
				p = 0;
				blk = false
			}
		:: atomic {
			blk && live_entry(e) && !force ->
				busy++;
				live[e] = true;
				p = 0;
				blk = false
		   }
		:: !blk -> p = 0
		fi
	:: else
	fi
}

/* mmsync_publish() of generations 2 .. LASTGEN */
proctype writer()
{
	byte next = 2, hw, p, busy;
	byte seen[NR];
	bool live[NR], blk, force, expired;

	do
	:: next > LASTGEN -> break
	:: else ->
		/*
		 * mmsync_slot_begin() -> mmsync_wait_slot(). full_fence() is
		 * a no-op under SC.
		 */
		expired = false;
rescan:
		force = false;
scan:
		/* scan(): hw = READ_SHARED(hdr->hiwat) */
		atomic {
			busy = 0;
			live[0] = false;
			live[1] = false;
			seen[0] = 0;
			seen[1] = 0;
			hw = hiwat
		};
		scan_entry(0);
		scan_entry(1);
		if
		:: busy == 0 -> goto write
		:: else
		fi;
		if
		:: force ->
			/* a forced scan still saw moving pins */
			if
			:: goto rescan		/* continue */
			:: goto write		/* ++forced > 1000: give up */
			fi
		:: !force && expired ->
			/* now >= deadline: scan(w, next, true, info) */
			force = true;
			goto scan
		:: !force && !expired && !live[0] && !live[1] ->
			goto rescan		/* only moving pins */
		:: !force && !expired && (live[0] || live[1]) ->
			/* sched_yield() / mmsync_sleep_ns() until ... */
			if
			:: hiwat != hw ||
			   (hw > 0 && pin[0] != seen[0]) ||
			   (hw > 1 && pin[1] != seen[1]) ||
			   died(0) || died(1) ->
				goto rescan	/* ... a poll sees a change */
			:: (live[0] && alive[0]) || (live[1] && alive[1]) ->
				expired = true;	/* ... the grace period ends */
				goto rescan
			fi
		fi;
write:
		/* mmsync_slot_begin(): slot[i].gen = 0, "in flux" */
		atomic {
			sgen[next & 1] = 0;
			live[0] = false;
			live[1] = false;
			seen[0] = 0;
			seen[1] = 0;
			hw = 0;
			busy = 0;
			force = false;
			expired = false
		};
		/* the caller's memcpy into the slot, word by word */
		atomic { no_overlap(next & 1); d0[next & 1] = next };
		atomic { no_overlap(next & 1); d1[next & 1] = next };
		/* mmsync_slot_commit(): size, checksum, slot gen ... */
		sgen[next & 1] = next;
		/* ... then the release store of gen */
		gen = next;
		next++
	od
}

/* Reader r (table entry r), which may die up to maxd times. */
proctype reader(byte r; byte maxd)
{
	byte g, p, reads, deaths;
	bool torn;

life:
	/* mmsync_reader_open() -> claim_entry() */
	alive[r] = true;			/* mmsync_lock_byte() */
	pin[r] = 0;
	atomic {				/* CAS loop raising hiwat */
		if
		:: hiwat < r + 1 -> hiwat = r + 1
		:: else
		fi
	};
	do
	:: reads < NREADS ->
		/* mmsync_read_begin() */
again:
		g = gen;			/* acquire load of gen */
repin:
		pin[r] = g;			/* xchg, or store + membarrier */
		if
		:: atomic {
			deaths < maxd ->	/* dies, pin stays behind */
				deaths++;
				alive[r] = false;
				g = 0
		   };
			goto dead
#ifdef NO_RECHECK
		:: skip
#else
		:: atomic { gen != g -> g = gen };	/* re-read moved */
			goto repin
		:: gen == g			/* re-read: still g */
#endif
		fi;
		if
		:: sgen[g & 1] != g ->		/* slot gen mismatch */
			pin[r] = 0;		/* unpin ... */
			goto again		/* ... read_begin_slow() retries */
		:: atomic { sgen[g & 1] == g -> inview[r] = g }
		fi;
		/* the caller reads the view */
		torn = d0[g & 1] != g;
		torn = torn || d1[g & 1] != g;
		if
		:: atomic {
			deaths < maxd ->
				deaths++;
				alive[r] = false;
				inview[r] = 0;
				g = 0;
				torn = false
		   };
			goto dead
		:: atomic {
			/* mmsync_read_end(): acquire fence, load own pin */
			p = pin[r];
			inview[r] = 0
		   }
		fi;
		if
		:: p != g ->
			/* mmsync__read_end_slow(): fence, load it again */
			p = pin[r]
		:: else
		fi;
		atomic {
			/* release store of 0 */
			pin[r] = 0;
			if
			:: p == g ->		/* returns 0 */
				assert(!torn)
			:: else ->		/* returns -ESTALE */
				assert(p == (g | EVICTED))
			fi;
			reads++;
			p = 0;
			g = 0;
			torn = false
		}
	:: else -> break
	od;
	goto done;
dead:
	/* the kernel dropped the OFD lock; the pin stays as it was */
	if
	:: reads < NREADS -> goto life	/* a new process takes the entry */
	:: skip				/* or nobody ever comes back */
	fi;
done:
	skip
}

init {
	/* generation 1 is published in slot 1 */
	atomic {
		d0[1] = 1;
		d1[1] = 1;
		sgen[1] = 1;
		run writer();
		run reader(0, DEATHS0);
		run reader(1, DEATHS1)
	}
}
