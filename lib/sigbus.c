// SPDX-License-Identifier: MIT
/*
 * sigbus.c - the SIGBUS guard: a data file truncated under a reader's
 * mapping must not kill the reader.
 *
 * Memfd slots are sealed against shrinking, but a plain file in a directory
 * can be truncated by its owner (or root) while readers map it, and a read
 * of a page past the new end raises SIGBUS. mmap-sync's readers die of it.
 * Here the library's handler looks the faulting address up in the table of
 * reader slot mappings; if it is one of them, it maps an anonymous page of
 * zeros over the faulting page (so the read completes), marks the slot
 * unusable for the fast path and the open view broken. read_end then
 * returns -ESTALE, and the next read_begin remaps the slot, or fails with
 * -EBADMSG while the file is still too short. Faults anywhere else go to
 * the handler installed before ours, or to the default action.
 *
 * The fast path pays nothing: the guard only acts when a fault happens.
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

#define MAX_GUARDS 1024

struct guard {
	uintptr_t base; /* 0: free; written last when taken, first when freed */
	uint64_t len;
	uint64_t granule; /* page size of the mapping (huge pages included) */
	struct mmsync_reader *r;
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

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
	uintptr_t a = (uintptr_t)info->si_addr, base, page;
	struct mmsync_reader *r;
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
		if (mmap((void *)page, guards[i].granule, PROT_READ,
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0) == MAP_FAILED)
			break;
		r = guards[i].r;
		/* The fast path must not trust this mapping any more. */
		r->f.len[guards[i].slot] = 0;
		if (r->f.pinned && (int)(r->f.pinned & 1) == guards[i].slot)
			r->f.pinned |= MMSYNC__PIN_BROKEN;
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

/* Guard the current mapping of @r's slot @slot. */
int mmsync_guard_add(struct mmsync_reader *r, int slot)
{
	bool huge;
	int i, err;

	if (r->uflags & MMSYNC_READ_NO_SIGBUS_GUARD)
		return 0;
	pthread_mutex_lock(&guard_lock);
	err = install();
	for (i = 0; !err && i < MAX_GUARDS; i++) {
		if (guards[i].base)
			continue;
		guards[i].len = r->map_len[slot];
		guards[i].granule = mmsync_fd_granule(r->data_fd[slot], &huge);
		guards[i].r = r;
		guards[i].slot = slot;
		/* Pairs with the acquire load in on_sigbus(). */
		__atomic_store_n(&guards[i].base, (uintptr_t)r->f.base[slot],
				 __ATOMIC_RELEASE);
		break;
	}
	if (!err && i == MAX_GUARDS)
		err = -ENOSPC;
	pthread_mutex_unlock(&guard_lock);
	return err;
}

/* Stop guarding @r's slot @slot, before its mapping goes away. */
void mmsync_guard_del(struct mmsync_reader *r, int slot)
{
	int i;

	pthread_mutex_lock(&guard_lock);
	for (i = 0; i < MAX_GUARDS; i++)
		if (guards[i].r == r && guards[i].slot == slot &&
		    guards[i].base) {
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
