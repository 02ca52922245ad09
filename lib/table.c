// SPDX-License-Identifier: MIT
/*
 * table.c - the reader table: entries, their locks, the shared counts.
 *
 * An entry belongs to whoever holds the OFD write lock on its byte; the
 * kernel drops the lock when the process dies, in any PID namespace, with
 * no PID reuse problem. Read locks prove nothing (anyone who can open the
 * table may take them), so liveness asks only for write locks.
 *
 * The table's counters page holds two counts that readers keep and the
 * writer reads to skip work:
 *   claimed  entries whose claimed word is 1. A reader raises it with a
 *            seq_cst read-modify-write before it first loads the
 *            generation; a writer that reads 0 after a full fence may skip
 *            its fence and scan (grace.c).
 *   waiters  entries whose wait word is set (notify.c).
 *   high     a high-water mark: every entry ever claimed is below it.
 *            Raised (seq_cst max) before the claimed count; the writer
 *            scans entries [0, high) only.
 * A dead reader's words stay set until a later reader takes its entry or
 * sweeps it, which keeps the counts right for honest processes. A hostile
 * one can write anything there: too high costs the writer a scan or a
 * syscall, too low makes it skip a scan, after which read_end's slot check
 * still reports every reuse (-ESTALE), and grace.c stops trusting the count
 * once a check of the whole table disagrees with it. The same goes for the
 * high-water mark: too high costs a longer scan, too low makes the writer
 * miss pins above it (-ESTALE for their views), until its once-a-second
 * look above the mark finds an entry in use there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "backing.h"

static struct mmsync_table_hdr *thdr(void *table)
{
	return table;
}

/* Entries whose word @which is set: what count @which should say. */
static uint64_t recount(const unsigned char *table, uint32_t n,
			enum mmsync_count which)
{
	const struct mmsync_entry *e;
	uint64_t k = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		e = (const void *)(table + mmsync_entry_off(i));
		k += which == MMSYNC_COUNT_CLAIMED ?
			     READ_SHARED(e->claimed) != 0 :
			     READ_SHARED(e->wait) != 0;
	}
	return k;
}

/*
 * Add @delta (+1 or -1) to count @which of the table (@n entries). An
 * increment is a seq_cst RMW: the fence the count's readers pair with
 * (grace.c may_skip(), notify.c); a decrement releases what came before.
 * A count a hostile process set near the wrap (0 after an increment) or
 * beyond the table is counted again from the entries, so it heals at
 * once; the recount is a hint like the count itself.
 */
void mmsync_count_add(unsigned char *table, uint32_t n, enum mmsync_count which,
		      int delta)
{
	uint64_t *c = which == MMSYNC_COUNT_CLAIMED ? &thdr(table)->claimed :
						      &thdr(table)->waiters;
	uint64_t v;

	if (delta > 0)
		v = __atomic_add_fetch(c, 1, __ATOMIC_SEQ_CST);
	else
		v = __atomic_sub_fetch(c, 1, __ATOMIC_RELEASE);
	if ((delta > 0 && v == 0) || v > n)
		__atomic_compare_exchange_n(c, &v, recount(table, n, which),
					    false, __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED);
}

static int unlock_byte(int fd, off_t off)
{
	struct flock fl = {
		.l_type = F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = off,
		.l_len = 1,
	};

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/*
 * Forget what a dead owner left in @e, whose lock we now hold: its pin and
 * wait words, and (@keep_claim false) its claim.
 */
static void clear_leftovers(struct mmsync_reader *r, struct mmsync_entry *e,
			    bool keep_claim)
{
	/* Pairs with the scan's acquire load of the pin (grace.c). */
	__atomic_store_n(&e->pin, 0, __ATOMIC_RELEASE);
	if (READ_SHARED(e->wait)) {
		WRITE_SHARED(e->wait, 0);
		mmsync_count_add(r->table, r->nr_entries, MMSYNC_COUNT_WAITERS,
				 -1);
	}
	if (!keep_claim && READ_SHARED(e->claimed)) {
		WRITE_SHARED(e->claimed, 0);
		mmsync_count_add(r->table, r->nr_entries, MMSYNC_COUNT_CLAIMED,
				 -1);
	}
}

/*
 * Entries past ours that a dead reader left claimed: take each one's lock
 * for a moment (it fails at once for a live owner), clear it, let go.
 */
static void sweep_dead(struct mmsync_reader *r, uint32_t from, uint32_t n)
{
	struct mmsync_entry *e;
	uint32_t i;

	for (i = from; i < n; i++) {
		e = mmsync_entry_at(r->table, i);
		if (!READ_SHARED(e->claimed) && !READ_SHARED(e->wait))
			continue;
		if (mmsync_lock_byte(r->table_fd, (off_t)mmsync_entry_off(i)) !=
		    0)
			continue;
		clear_leftovers(r, e, false);
		WRITE_SHARED(e->pid, 0);
		unlock_byte(r->table_fd, (off_t)mmsync_entry_off(i));
	}
}

/* Write who we are into our entry (informational, for mmsync readers). */
static void fill_entry(struct mmsync_reader *r, struct mmsync_entry *e)
{
	char comm[16] = { 0 };

	WRITE_SHARED(e->pid, (uint32_t)getpid());
	WRITE_SHARED(e->opened_ns, mmsync_now_ns());
	WRITE_SHARED(e->flags, r->uflags);
	WRITE_SHARED(e->stale, 0);
	prctl(PR_GET_NAME, comm);
	memcpy(e->comm, comm, sizeof(comm));
}

/*
 * Raise the table's high-water mark to cover entry @i. A seq_cst CAS loop
 * (x86: lock cmpxchg; ARM64: casal), before the count's RMW and so before
 * our first load of the generation: it pairs with the writer's smp_mb()
 * before it reads the mark (grace.c, scan_limit) as the count does, so
 * either the writer's scan covers us or we load its newest generation.
 * Entries are taken lowest first: the mark stays near the number of
 * readers at once. Raised again after -ESTALE (a hostile process may have
 * lowered it).
 */
static void raise_high(struct mmsync_reader *r, uint32_t i)
{
	uint64_t *h = &thdr(r->table)->high, v, want = (uint64_t)i + 1;

	v = __atomic_load_n(h, __ATOMIC_RELAXED);
	while (v < want &&
	       !__atomic_compare_exchange_n(h, &v, want, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

/*
 * Raise the claimed count for our entry. The seq_cst RMW is the reader's
 * full fence (x86: lock xadd; ARM64: ldaddal, then the load-acquire of the
 * generation cannot pass it): it comes before our first load of the
 * generation and pairs with the writer's smp_mb() before it reads the count
 * (grace.c, may_skip): store-buffering, so either the writer sees us, or
 * we see its newest generation and never pin the slot it reuses.
 */
static void count_claim(struct mmsync_reader *r, struct mmsync_entry *e)
{
	raise_high(r, r->idx);
	if (READ_SHARED(e->claimed) == 1) {
		/* A dead owner's claim, counted already: fence anyway. */
		mmsync_smp_mb();
		return;
	}
	WRITE_SHARED(e->claimed, 1);
	mmsync_count_add(r->table, r->nr_entries, MMSYNC_COUNT_CLAIMED, 1);
}

int mmsync_entry_claim(struct mmsync_reader *r)
{
	/* Bounded by what the writer-only state says and what we mapped. */
	uint32_t n = r->nr_entries, fit, i;
	struct mmsync_entry *e;
	int err;

	fit = (uint32_t)((r->table_len - MMSYNC_TABLE_HDR) / MMSYNC_ENTRY_SIZE);
	if (n > fit)
		n = fit;
	for (i = 0; i < n; i++) {
		err = mmsync_lock_byte(r->table_fd, (off_t)mmsync_entry_off(i));
		if (err == 0)
			break;
		if (err != -EAGAIN)
			return err;
	}
	if (i == n)
		return -EUSERS;
	e = mmsync_entry_at(r->table, i);
	r->idx = i;
	r->ent = e;
	clear_leftovers(r, e, true);
	fill_entry(r, e);
	count_claim(r, e);
	sweep_dead(r, i + 1, n);
	return 0;
}

void mmsync_entry_release(struct mmsync_reader *r)
{
	struct mmsync_entry *e = r->ent;

	if (!e)
		return;
	/*
	 * Release order: the pin's 0 and our reads before it, then the
	 * count. The lock goes when the table descriptor is closed.
	 */
	clear_leftovers(r, e, false);
	WRITE_SHARED(e->pid, 0);
	r->ent = NULL;
}

/*
 * After -ESTALE or a repair: if someone cleared our entry's words (a
 * hostile reader, or pages lost to a truncation), set them again, so that
 * the writer sees us and counts us.
 */
void mmsync_entry_reassert(struct mmsync_reader *r)
{
	struct mmsync_entry *e = r->ent;

	if (!e)
		return;
	if (READ_SHARED(e->pid) != (uint32_t)getpid())
		fill_entry(r, e);
	if (READ_SHARED(e->claimed) != 1 ||
	    __atomic_load_n(&thdr(r->table)->high, __ATOMIC_RELAXED) <= r->idx)
		count_claim(r, e);
}

/* 1: entry @i's owner lives (holds its write lock); 0: dead; -errno. */
int mmsync_entry_alive(int table_fd, uint32_t i)
{
	return mmsync_write_locked(table_fd, (off_t)mmsync_entry_off(i));
}

/*
 * Give the table file its pages back (a hostile reader may have truncated
 * or punched it) and map it over what the SIGBUS guard put in place.
 */
static int restore(int fd, void *at, size_t len, int prot)
{
	struct stat st;
	bool huge;
	int err;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < len) {
		mmsync_fd_granule(fd, &huge);
		err = mmsync_reserve_space(fd, len, huge);
		if (err)
			return err;
	}
	if (mmap(at, len, prot, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

int mmsync_table_repair_reader(struct mmsync_reader *r)
{
	int err;

	r->table_lost = 0;
	err = restore(r->table_fd, r->table, r->table_len,
		      PROT_READ | PROT_WRITE);
	if (err) {
		r->table_lost = 1; /* try again next time */
		return err;
	}
	mmsync_entry_reassert(r);
	return 0;
}

void mmsync_table_repair_writer(struct mmsync_writer *w)
{
	w->table_lost = 0;
	if (restore(w->table_fd, (void *)w->table, w->table_len, PROT_READ))
		w->table_lost = 1;
}
