/* SPDX-License-Identifier: MIT */
/*
 * mmsync.pml - spin model of libmmsync's protocol, state format 2: pin /
 * publish / reclaim / eviction without writes to reader memory, the slot
 * check in read_end, the claimed count that lets a writer skip its scan,
 * and (-DHOSTILE) a process with the readers' permissions that writes
 * whatever it likes into the reader table. tests/model.c runs it under
 * `make check`; by hand:
 *
 *	spin -a [-DHOSTILE] tests/model/mmsync.pml &&
 *	cc -O2 -DSAFETY -o pan pan.c && ./pan
 *
 * What it proves, for every interleaving of one writer, two readers and
 * (-DHOSTILE) the hostile process:
 *
 *   1. A view whose read_end returns 0 saw exactly the bytes of the
 *      generation it pinned: no torn read, no newer or older data, also
 *      under the hostile process (assert in reader(), "!(torn)").
 *   2. Without the hostile process, the writer never writes a slot while
 *      a reader it has not given up on is inside a view of that slot
 *      (assert in writer(), checked before every word it writes), and
 *      read_end returns -ESTALE only for a pin the writer gave up on
 *      (assert in reader()). These are the pins' job: honest readers never
 *      need the slot check to fire.
 *   3. The writer never waits forever, and never waits out the grace
 *      period for a dead reader: the grace period's end is offered to the
 *      writer only while a *live* entry blocks it, so a writer left with
 *      only dead pins would block for good and spin would report an
 *      invalid end state. Every process reaches its end; with -DNP (the
 *      cycle search, tests/model.c) no execution runs forever: the
 *      writer's wait is bounded whatever the hostile process writes.
 *
 * Memory model. Spin interleaves whole statements: it is sequentially
 * consistent. The real code is SC at the points modelled here because
 *   - fence (xchg) mode: the reader's pin is an xchg (a full fence) and
 *     the writer issues mmsync_smp_mb() before it reads the claimed count
 *     and scans, so pin-store / gen-reload against gen-store / pin-scan is
 *     the classic fenced Dekker, which admits only SC outcomes;
 *   - membarrier mode: the reader pins with a plain store; the writer's
 *     membarrier(GLOBAL_EXPEDITED) runs a full barrier on every CPU that
 *     runs a reader, between the writer's store of gen and its scan:
 *     wherever it falls in the reader's program order, the outcome is an
 *     SC one (pin seen, or the re-load sees the newer gen);
 *   - the claimed count: a reader raises it with a seq_cst RMW before its
 *     first load of gen; the writer reads it after smp_mb(). Either the
 *     writer sees it, or the reader's first load sees the newest gen
 *     (store-buffering, both sides fenced);
 *   - the slot check: the writer marks the slot (sgen = 0), then a release
 *     fence, then writes the bytes; read_end issues an acquire fence after
 *     the view's loads, then loads sgen. If a load of the view saw a new
 *     byte, the sgen load sees the mark or later (message passing). The
 *     model runs each read before the check in program order, which is
 *     what the fences guarantee;
 *   - read_end's release store of 0 pairs with the scan's acquire load,
 *     and release/acquire on gen makes the bytes of g visible to a reader
 *     that loaded g.
 * What is NOT checked here: that each atomic and fence has the strength
 * claimed above on x86-TSO and ARM64 (the comments at each site in the C
 * code say why; include/mmsync.h has the table of pairs).
 *
 * Abstractions.
 *   - Data: a slot holds two words, d0 and d1; generation g is written as
 *     d0 = d1 = g, one word per step, so a torn read is representable.
 *     Slot metadata is its gen word (sgen); size and checksum are written
 *     in the same commit step and carry no extra ordering.
 *   - Real time: "the grace period ended" is a nondeterministic choice the
 *     writer may take while a live entry blocks it. The writer's polling
 *     sleep is a block until a watched pin or liveness changes.
 *   - Liveness (the OFD write lock on an entry's byte) is alive[]. Reader
 *     0 may die (DEATHS0 times) while pinned, leaving its pin and claim
 *     behind, and come back to take its entry again.
 *   - The writer's private memory of pins it stopped waiting for (gone[],
 *     grace.c holds()) is modelled as such.
 *   - Skipping the scan on a claimed count of 0: when the count reads 0
 *     the writer may skip or scan (the C code scans when its check of the
 *     whole table distrusts the count); when it is not 0, it scans.
 *   - The high-water mark: the writer scans the entries below the mark it
 *     reads after its fence, or (a check of the entries above it found one
 *     in use, grace.c scan_limit) all of them. Readers raise it, with a
 *     seq_cst CAS, before they raise the claimed count.
 *   - -DHOSTILE adds entry 2, write-locked by the hostile process (it
 *     looks alive), and HACTS writes of a nasty value (0, gen - 1, gen - 2)
 *     into any pin or into the claimed count, at any moment; reader 1 is
 *     left out then (one honest reader can be torn as well as two, and
 *     the state space stays small).
 *   - Generations are bytes; the channel starts with generation 1
 *     published in slot 1; the writer publishes 2 .. LASTGEN.
 *
 * Mutants (tests/model.c checks that spin finds their violation):
 *   -DNO_RECHECK     read_begin without the re-load of gen after the pin:
 *                    torn read.
 *   -DNO_RECLAIM     the writer waits for dead readers like live ones: a
 *                    writer stuck on a dead reader (invalid end state).
 *   -DNO_SLOT_CHECK  read_end returns 0 without looking at the slot; with
 *                    -DHOSTILE: torn read.
 *   -DLATE_CLAIM     the reader raises the claimed count only once its
 *                    view is open, not before read_begin: the writer may
 *                    skip its scan and write under the view (assertion 2).
 *   -DLATE_HIGH      the reader raises the high-water mark only once its
 *                    view is open: the writer may leave its entry out of
 *                    the scan and write under the view (assertion 2).
 *   -DTORN_ONLY      drop assertion 2, so a mutant fails on the torn read.
 *   -DWAITER         adds a reader blocked in mmsync_wait() (notify.c),
 *                    in place of reader 1: it must be woken (no lost
 *                    wake-up: else an invalid end state, or with -DNP a
 *                    cycle of it sleeping while the writer ends).
 *   -DNOTIFY_BEFORE_GEN  the writer reads the waiters count before its
 *                    store of gen: a lost wake-up.
 *   -DLATE_ARM       the waiter looks at gen before it arms: a lost
 *                    wake-up.
 *
 * Correspondence with the C code (include/mmsync.h, lib/reader.c,
 * lib/table.c, lib/grace.c, lib/publish.c) is given at each step.
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
#ifndef HACTS
#define HACTS 3		/* writes of the hostile process */
#endif

#define NE 3		/* entries: readers 0 and 1, the hostile's 2 */

/* The writer-only state and the data slots */
byte gen = 1;		/* hot.gen */
byte sgen[2];		/* hot.slot[i].gen */
byte d0[2];		/* data slot i, first word */
byte d1[2];		/* data slot i, second word */

/* The reader table: what readers (and the hostile process) write */
byte pin[NE];		/* entry[i].pin */
bool claimed[NE];	/* entry[i].claimed */
byte cnt;		/* the table's claimed count */
byte high;		/* the table's high-water mark: entries below it */
bool alive[NE];		/* entry i's OFD write lock is held */

/* Notification (notify.c): wait words, their count, the inotify queue */
bool waitw;		/* the waiter's entry[].wait */
byte wcnt;		/* the table's waiters count */
byte events;		/* events queued on the waiter's inotify instance */

/* Ghost: generation reader r has a view of, 0 outside a view. */
byte inview[NE];
/* The writer's private memory: the pin of entry i it gave up on. */
byte gone[NE];

/* grace.c blocks() and holds() */
#define blocks(p, nx) ((p) != 0 && (p) < (nx) && (((p) ^ (nx)) & 1) == 0)
#define holds(e, p, nx) (blocks(p, nx) && gone[e] != (p))

/* Reader r has a view of slot s, and the writer did not give up on it. */
#define reading(r, s) \
	(inview[r] != 0 && (inview[r] & 1) == (s) && gone[r] != inview[r])

#if defined(TORN_ONLY) || defined(HOSTILE)
#define no_overlap(s) skip
#else
#define no_overlap(s) assert(!reading(0, s) && !reading(1, s))
#endif

#ifdef NO_RECLAIM
#define dead(e) false
#else
#define dead(e) (!alive[e])
#endif

/* One entry of grace.c first_pass(): load the pin, maybe its liveness. */
inline scan_entry(e)
{
	atomic {
		p = pin[e];
		if
		:: holds(e, p, next) && dead(e) ->
			gone[e] = p		/* reclaimed: not waited for */
		:: holds(e, p, next) && !dead(e) ->
			busy = busy | (1 << e);	/* waited for */
			seen[e] = p
		:: else
		fi;
		p = 0
	}
}

/* grace.c recheck(): the listed entries only. */
inline recheck(e)
{
	atomic {
		if
		:: busy & (1 << e) ->
			p = pin[e];
			if
			:: !holds(e, p, next) -> busy = busy & ~(1 << e)
			:: holds(e, p, next) && dead(e) ->
				gone[e] = p;
				busy = busy & ~(1 << e)
			:: holds(e, p, next) && !dead(e) -> seen[e] = p
			fi;
			p = 0
		:: else
		fi
	}
}

/* grace.c give_up(): remember the pins we stop waiting for. */
inline give_up(e)
{
	atomic {
		if
		:: (busy & (1 << e)) && blocks(pin[e], next) ->
			gone[e] = pin[e]
		:: else
		fi
	}
}

#define watched(e) ((busy & (1 << (e))) != 0)
#define changed(e) (watched(e) && (pin[e] != seen[e] || dead(e)))
#define live_busy(e) (watched(e) && alive[e])

/* mmsync_publish() of generations 2 .. LASTGEN */
proctype writer()
{
	byte next = 2, p, busy, lim;
	byte seen[NE];
	bool notify;

	do
	:: next > LASTGEN -> break
	:: else ->
		/* mmsync_wait_slot(): may_skip() */
		if
		:: cnt == 0 -> goto write	/* count 0: skip the scan */
		:: skip				/* count trusted less: scan */
		fi;
		/* full fence, then scan_limit() and first_pass() */
		busy = 0;
		if
		:: lim = high		/* the mark, trusted */
		:: lim = NE		/* distrusted: the whole table */
		fi;
		if :: lim > 0 -> scan_entry(0) :: else fi;
		if :: lim > 1 -> scan_entry(1) :: else fi;
		if :: lim > 2 -> scan_entry(2) :: else fi;
		lim = 0;
wait:
		if
		:: busy == 0 -> goto write
		:: else
		fi;
		/* sleep until a watched entry changes, or the grace ends */
		if
		:: changed(0) || changed(1) || changed(2) ->
			recheck(0);
			recheck(1);
			recheck(2);
			goto wait
		:: live_busy(0) || live_busy(1) || live_busy(2) ->
			/* expire(): MMSYNC_GRACE_EVICT, stop waiting */
			give_up(0);
			give_up(1);
			give_up(2);
			busy = 0
		fi;
write:
		/* mmsync_slot_begin(): mark the slot, release fence */
		atomic {
			sgen[next & 1] = 0;
			busy = 0;
			seen[0] = 0;
			seen[1] = 0;
			seen[2] = 0
		};
		/* the caller's copy into the slot, word by word */
		atomic { no_overlap(next & 1); d0[next & 1] = next };
		atomic { no_overlap(next & 1); d1[next & 1] = next };
		/* mmsync_slot_commit(): slot gen, then the seq_cst exchange */
		sgen[next & 1] = next;
#ifdef NOTIFY_BEFORE_GEN
		/* mutant: the waiters count read before the generation store */
		atomic { notify = wcnt != 0 };
		gen = next;
		if
		:: notify -> events++	/* futimens(): IN_ATTRIB */
		:: else
		fi;
		notify = false;
#else
		gen = next;
		/* mmsync_notify_waiters(): seq_cst load of the count */
		if
		:: wcnt != 0 -> events++	/* futimens(): IN_ATTRIB */
		:: else
		fi;
#endif
		next++
	od
}

/* table.c raise_high(): the seq_cst CAS of the high-water mark */
inline raise_high(r)
{
	atomic {
		if
		:: high < r + 1 -> high = r + 1
		:: else
		fi
	}
}

/* table.c count_claim(): the seq_cst RMW of the claimed count */
inline claim(r)
{
#ifndef LATE_HIGH
	raise_high(r);
#endif
	atomic {
		if
		:: !claimed[r] -> claimed[r] = true; cnt++
		:: else			/* a dead owner's claim: counted */
		fi
	}
}

/* Reader r (table entry r), which may die up to maxd times. */
proctype reader(byte r; byte maxd)
{
	byte g, reads, deaths;
	bool torn, ok;

life:
	/* mmsync_reader_open() -> mmsync_entry_claim() */
	alive[r] = true;			/* mmsync_lock_byte() */
	pin[r] = 0;				/* clear_leftovers() */
#ifndef LATE_CLAIM
	claim(r);
#endif
	do
	:: reads < NREADS ->
		/* mmsync_read_begin() */
again:
		g = gen;			/* acquire load of hot.gen */
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
		:: atomic { gen != g -> g = gen };	/* re-load moved */
			goto repin
		:: gen == g			/* re-load: still g */
#endif
		fi;
		if
		:: sgen[g & 1] != g ->		/* being rewritten */
			pin[r] = 0;		/* unpin ... */
			goto again		/* ... the slow path retries */
		:: atomic { sgen[g & 1] == g -> inview[r] = g }
		fi;
#ifdef LATE_CLAIM
		claim(r);
#endif
#ifdef LATE_HIGH
		raise_high(r);
#endif
		/* the caller reads the view, one word at a time */
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
		:: skip
		fi;
		/* mmsync_read_end(): acquire fence, then the slot check */
		atomic {
#ifdef NO_SLOT_CHECK
			ok = true;
#else
			ok = sgen[g & 1] == g;
#endif
			inview[r] = 0
		};
		atomic {
			pin[r] = 0;		/* release store of 0 */
			if
			:: ok ->		/* returns 0 */
				assert(!torn)
			:: else ->		/* returns -ESTALE */
#ifndef HOSTILE
				assert(gone[r] == g)
#else
				skip
#endif
			fi;
			reads++;
			g = 0;
			torn = false;
			ok = false
		}
	:: else -> break
	od;
	/* mmsync_reader_close() -> mmsync_entry_release() */
	atomic {
		pin[r] = 0;
		if
		:: claimed[r] -> claimed[r] = false; cnt--
		:: else
		fi;
		alive[r] = false
	};
	goto done;
dead:
	/* the kernel dropped the lock; pin and claim stay as they were */
	if
	:: reads < NREADS -> goto life	/* a new process takes the entry */
	:: skip				/* or nobody ever comes back */
	fi;
done:
	skip
}

#ifdef HOSTILE
/*
 * A process with the readers' permissions: it holds entry 2's lock (so
 * the entry looks alive) and writes nasty values into any pin, into the
 * claimed count or into the high-water mark, HACTS times.
 */
proctype hostile()
{
	byte acts, v;

	alive[2] = true;
	do
	:: acts < HACTS ->
		/*
		 * A value: 0 hides a pin, gen - 1 and gen - 2 block (one of
		 * the two next publishes); anything >= gen never blocks, so
		 * it acts like 0 on a pin and like 1 on the count.
		 */
		if
		:: v = 0
		:: v = gen - 1
		:: v = gen - 2
		fi;
		/* a target */
		if
		:: pin[0] = v
		:: pin[1] = v
		:: pin[2] = v
		:: cnt = 0
		:: cnt = v
		:: high = 0
		:: high = 1
		fi;
		acts++;
		v = 0
	:: else -> break
	od
}
#endif

#ifdef WAITER
/*
 * A reader that holds no view and calls mmsync_wait(r, after, forever)
 * for every generation in turn, until the last one: arm (wait word, a
 * seq_cst RMW of the count), drain, look at gen, sleep on the inotify
 * queue; disarm when it returns. If any wake-up is lost it sleeps forever
 * while the writer ends: an invalid end state. (The C code also looks
 * once a second whatever it is told; the model leaves that out, or it
 * would hide a lost wake-up.)
 */
proctype waiter()
{
	byte after = 1;

	do
	:: after >= LASTGEN -> break
	:: else ->
#ifdef LATE_ARM
		/* mutant: look at gen, then arm, drain and sleep at once */
		if
		:: gen > after -> after = gen; goto next
		:: else
		fi;
		atomic { waitw = true; wcnt++ };
		events = 0;
		events > 0;
#else
		atomic { waitw = true; wcnt++ };	/* arm() */
#endif
again:
		events = 0;				/* drain() */
		if
		:: gen > after -> after = gen		/* seq_cst load */
		:: else ->
			events > 0;			/* ppoll() wakes */
			goto again
		fi;
		atomic { waitw = false; wcnt-- };	/* disarm() */
next:
		skip
	od
}
#endif

init {
	/* generation 1 is published in slot 1 */
	atomic {
		d0[1] = 1;
		d1[1] = 1;
		sgen[1] = 1;
		run writer();
		run reader(0, DEATHS0);
#ifdef WAITER
		run waiter();
#endif
#ifdef HOSTILE
		/* One honest reader is enough to be torn (and the space small). */
		run hostile()
#elif !defined(WAITER)
		run reader(1, 0)
#endif
	}
}
