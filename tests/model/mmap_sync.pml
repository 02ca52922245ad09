/* SPDX-License-Identifier: MIT */
/*
 * mmap_sync.pml - spin model of the protocol of Cloudflare's mmap-sync
 * crate (src/state.rs, src/synchronizer.rs), written to FAIL: spin must
 * find a torn read. tests/model.c checks that it does; it is the evidence
 * that the "torn read" assertion of mmsync.pml can fail at all, and the
 * reason libmmsync's reader re-reads the generation after pinning.
 *
 *	spin -a tests/model/mmap_sync.pml && cc -O2 -DSAFETY -o pan pan.c &&
 *	./pan && spin -t -p tests/model/mmap_sync.pml
 *
 * The crate's state is a version word, whose low bit names the current
 * data file, and one reader counter per data file:
 *
 *   reader (Synchronizer::read / ReadGuard):
 *	version = state.version()		SeqCst load
 *	idx_readers[version.idx()] += 1		SeqCst fetch_add (rlock)
 *	read data file version.idx()
 *	idx_readers[version.idx()] -= 1		SeqCst fetch_sub (runlock)
 *
 *   writer (Synchronizer::write):
 *	next_idx = version.idx() + 1 mod 2
 *	wait until idx_readers[next_idx] == 0	(acquire_next_idx)
 *	write data file next_idx
 *	state.switch_version(new version)	SeqCst swap
 *
 * Nothing makes the reader check, after its increment, that the version
 * it loaded is still current: between its load and its increment the
 * writer can publish twice, find the counter of the reader's file at 0 and
 * start rewriting it, and the reader then reads that file while it is
 * being written. All atomics are SeqCst, so spin's interleaving semantics
 * are exact here; the race needs no weak memory.
 *
 * Same abstractions as mmsync.pml: generation g is the version (file
 * g & 1), a data file holds two words written one at a time, generation 1
 * is already published in file 1, one writer publishes 2 .. LASTGEN and
 * two readers read NREADS times each. The grace period (after which the
 * crate resets the counter to 0) is left out: the race does not need it.
 */

#ifndef LASTGEN
#define LASTGEN 5
#endif
#ifndef NREADS
#define NREADS 2
#endif

byte version = 1;	/* State::version */
byte cnt[2];		/* State::idx_readers */
byte d0[2];		/* data file i, first word */
byte d1[2];		/* data file i, second word */

proctype writer()
{
	byte next = 2;

	do
	:: next > LASTGEN -> break
	:: else ->
		cnt[next & 1] == 0;		/* acquire_next_idx() */
		d0[next & 1] = next;		/* DataContainer::write() */
		d1[next & 1] = next;
		version = next;			/* switch_version() */
		next++
	od
}

proctype reader()
{
	byte g, reads;
	bool torn;

	do
	:: reads < NREADS ->
		g = version;			/* state.version() */
		cnt[g & 1]++;			/* ReadGuard::new(): rlock */
		torn = d0[g & 1] != g;		/* the reader's view */
		torn = torn || d1[g & 1] != g;
		cnt[g & 1]--;			/* drop(ReadGuard): runlock */
		assert(!torn);			/* torn read */
		reads++;
		g = 0;
		torn = false
	:: else -> break
	od
}

init {
	atomic {
		d0[1] = 1;
		d1[1] = 1;
		run writer();
		run reader();
		run reader()
	}
}
