// SPDX-License-Identifier: MIT
/*
 * sigbus.c - the SIGBUS guard: a file truncated under one of the
 * library's mappings must not kill the process.
 *
 * Memfd objects are sealed against shrinking, but a plain file in a
 * directory can be truncated while others map it, and a touch of a page
 * past the new end raises SIGBUS. mmap-sync's readers die of it. Who can
 * truncate what: the reader table by any reader (it must be writable to
 * them), the state and data files by their owner (or root) only. Here the
 * library's handler looks the faulting address up in its table of
 * mappings; if it is one of them, it maps an anonymous page over the
 * faulting page (so the access completes) and marks what broke, by kind:
 *   reader data    zeros; the slot is unusable for the fast path and the
 *                  open view broken: read_end returns -ESTALE, the next
 *                  read_begin remaps the slot or fails -EBADMSG;
 *   reader state   zeros; the handle fails -EBADMSG from then on;
 *   reader table   a private page, so pins go on (unseen by the writer,
 *                  which read_end's slot check covers); the next slow
 *                  read gives the file its pages back and maps it again;
 *   writer table   zeros (no pin seen there); the next publish repairs.
 *   writer data    a private page, so the copy completes; the publish
 *                  sees slot_lost, repairs the file and copies again.
 * Faults anywhere else go to the handler installed before ours, or to the
 * default action.
 *
 * The fast paths pay nothing: the guard only acts when a fault happens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "backing.h"
#include "probes.h"

#define MAX_GUARDS 4096

struct guard {
	uintptr_t base; /* 0: free; written last when taken, first when freed */
	uint64_t len;
	uint64_t granule; /* page size of the mapping (huge pages included) */
	void *owner; /* struct mmsync_reader or struct mmsync_writer */
	int kind; /* enum mmsync_guard_kind */
	int slot;
};

static struct guard guards[MAX_GUARDS];
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction prev;
static bool installed;

static void pass_on(int sig, siginfo_t *info, void *uctx)
{
	if (prev.sa_flags & SA_SIGINFO) {
		prev.sa_sigaction(sig, info, uctx);
		return;
	}
	if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
		prev.sa_handler(sig);
		return;
	}
	/* Returning re-runs the faulting access, which now kills us. */
	signal(sig, SIG_DFL);
}

static void install_again(void);

/* What broke, by kind (see the top of this file). Async-signal-safe. */
static void mark(const struct guard *g)
{
	struct mmsync_reader *r = g->owner;
	struct mmsync_writer *w = g->owner;

	switch (g->kind) {
	case MMSYNC_GUARD_READER_DATA:
		/* The fast path must not trust this mapping any more. */
		r->f.len[g->slot] = 0;
		if (r->f.pinned && (int)(r->f.pinned & 1) == g->slot)
			r->f.pinned |= MMSYNC__PIN_BROKEN;
		break;
	case MMSYNC_GUARD_READER_STATE:
		r->state_lost = 1;
		r->f.ool = &mmsync_ool_always;
		break;
	case MMSYNC_GUARD_READER_TABLE:
		r->table_lost = 1;
		r->f.ool = &mmsync_ool_always;
		break;
	case MMSYNC_GUARD_WRITER_TABLE:
		w->table_lost = 1;
		break;
	case MMSYNC_GUARD_WRITER_DATA:
		w->slot_lost[g->slot] = 1;
		break;
	}
}

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
	uintptr_t a = (uintptr_t)info->si_addr, base, page;
	int i, saved = errno;

	/* Sent (kill, raise, sigqueue), not a fault: not ours to swallow. */
	if (info->si_code <= 0) {
		if (prev.sa_flags & SA_SIGINFO ||
		    (prev.sa_handler != SIG_DFL &&
		     prev.sa_handler != SIG_IGN)) {
			pass_on(sig, info, uctx);
			return;
		}
		sigaction(SIGBUS, &prev, NULL);
		raise(sig);
		/* Ignored, or it returned: guard again from here on. */
		install_again();
		errno = saved;
		return;
	}
	for (i = 0; i < MAX_GUARDS; i++) {
		/* Pairs with the release stores in mmsync_guard_add/del(). */
		base = __atomic_load_n(&guards[i].base, __ATOMIC_ACQUIRE);
		if (!base || a < base || a - base >= guards[i].len)
			continue;
		page = a & ~(uintptr_t)(guards[i].granule - 1);
		if (mmap((void *)page, guards[i].granule,
			 guards[i].kind == MMSYNC_GUARD_READER_TABLE ||
					 guards[i].kind ==
						 MMSYNC_GUARD_WRITER_DATA ?
				 PROT_READ | PROT_WRITE :
				 PROT_READ,
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0) == MAP_FAILED)
			break;
		mark(&guards[i]);
		errno = saved;
		return;
	}
	errno = saved;
	pass_on(sig, info, uctx);
}

static int install(void)
{
	struct sigaction sa;

	if (installed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &prev) < 0)
		return -errno;
	installed = true;
	return 0;
}

static void install_again(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static void lock_guards(void)
{
	pthread_mutex_lock(&guard_lock);
}

static void unlock_guards(void)
{
	pthread_mutex_unlock(&guard_lock);
}

/* A fork() while another thread holds guard_lock must not leave it held. */
static void at_fork_once(void)
{
	pthread_atfork(lock_guards, unlock_guards, unlock_guards);
}

/*
 * Guard mapping [@base, @base + @len) of @owner (a reader or a writer, by
 * @kind), whose file is @fd. Readers that opted out are not guarded.
 */
int mmsync_guard_add(void *owner, enum mmsync_guard_kind kind, int slot,
		     const void *base, uint64_t len, int fd)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const struct mmsync_reader *r = owner;
	bool huge;
	int i, err;

	if (kind != MMSYNC_GUARD_WRITER_TABLE &&
	    kind != MMSYNC_GUARD_WRITER_DATA &&
	    (r->uflags & MMSYNC_READ_NO_SIGBUS_GUARD))
		return 0;
	pthread_once(&once, at_fork_once);
	pthread_mutex_lock(&guard_lock);
	err = install();
	for (i = 0; !err && i < MAX_GUARDS; i++) {
		if (guards[i].base)
			continue;
		guards[i].len = len;
		guards[i].granule = mmsync_fd_granule(fd, &huge);
		guards[i].owner = owner;
		guards[i].kind = kind;
		guards[i].slot = slot;
		/* Pairs with the acquire load in on_sigbus(). */
		__atomic_store_n(&guards[i].base, (uintptr_t)base,
				 __ATOMIC_RELEASE);
		break;
	}
	if (!err && i == MAX_GUARDS)
		err = -ENOSPC;
	pthread_mutex_unlock(&guard_lock);
	return err;
}

/* Stop guarding @owner's mapping at @base, before it goes away. */
void mmsync_guard_del(void *owner, const void *base)
{
	int i;

	pthread_mutex_lock(&guard_lock);
	for (i = 0; i < MAX_GUARDS; i++)
		if (guards[i].owner == owner &&
		    guards[i].base == (uintptr_t)base && base) {
			/*
			 * Pairs with the acquire load in on_sigbus(). The
			 * other fields stay as they were, so a handler that
			 * read the old base on another thread still finds a
			 * consistent entry.
			 */
			__atomic_store_n(&guards[i].base, 0, __ATOMIC_RELEASE);
		}
	pthread_mutex_unlock(&guard_lock);
}
