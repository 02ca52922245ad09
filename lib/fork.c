// SPDX-License-Identifier: MIT
/*
 * fork.c - handles across fork().
 *
 * OFD locks belong to open file descriptions, which a child forked without
 * exec shares with its parent: left alone, a child would keep a SIGKILLed
 * parent's reader entries alive (the writer then waits out the grace
 * period) and its writer lock held (a new writer gets -EBUSY). So the
 * library keeps a list of its live handles and, in the child (a
 * pthread_atfork handler), lets go of every shared description:
 *
 *   reader  the table mapping becomes private zeros (the child's stores
 *           cannot reach the parent's entry), and the table descriptor is
 *           replaced by a new open file description of the same file
 *           (through /proc/self/fd), so that no lock of the parent's is
 *           held through it. The handle's next mmsync_read_begin() maps
 *           the table again and claims an entry of the child's own; a view
 *           open at fork time ends as usual (the slot check decides
 *           between 0 and -ESTALE). Without /proc the descriptor is
 *           closed and the handle fails -EBADFD.
 *   writer  the lock descriptors are closed and the state mapping made
 *           private (a mapping holds its description, and its locks, as
 *           much as a descriptor does; the parent keeps its locks), and
 *           every call but mmsync_writer_close() fails -EBADFD: two
 *           processes must never publish on one channel.
 *
 * Children made by clone() without fork semantics (vfork, posix_spawn)
 * exec or exit at once: O_CLOEXEC closes everything there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "backing.h"
#include "probes.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_err;
static struct mmsync_reader *readers;
static struct mmsync_writer *writers;

static void reader_forked(struct mmsync_reader *r)
{
	int nfd;

	r->forked = true;
	r->f.ool = &mmsync_ool_always;
	mmsync_notify_forked(r);
	/* A view open at fork time unpins into a word of the child's own. */
	r->f.pin = &r->pin_sink;
	r->ent = NULL;
	/*
	 * Also drops the mapping's reference to the table's description,
	 * which would keep the parent's entry lock alive as much as a
	 * descriptor does.
	 */
	if (r->table)
		mmap(r->table, r->table_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r->table_fd < 0)
		return;
	nfd = mmsync_reopen_fd(r->table_fd, O_RDWR);
	if (nfd >= 0) {
		/* Closes our copy of the parent's description. */
		dup3(nfd, r->table_fd, O_CLOEXEC);
		close(nfd);
	} else {
		close(r->table_fd);
		r->table_fd = -1;
	}
}

static void writer_forked(struct mmsync_writer *w)
{
	w->forked = true;
	/*
	 * A mapping holds a reference to its open file description, and with
	 * it the description's locks: the state's "alive" lock goes only when
	 * our mapping of the state goes too.
	 */
	if (w->hdr)
		mmap(w->hdr, w->state_len, PROT_READ,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (w->ops && w->ops->writer_forked)
		w->ops->writer_forked(w);
}

static void prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void parent(void)
{
	pthread_mutex_unlock(&lock);
}

static void child(void)
{
	struct mmsync_reader *r;
	struct mmsync_writer *w;

	for (r = readers; r; r = r->fk_next)
		reader_forked(r);
	for (w = writers; w; w = w->fk_next)
		writer_forked(w);
	pthread_mutex_unlock(&lock);
}

static void register_once(void)
{
	once_err = pthread_atfork(prepare, parent, child);
}

static int track(void)
{
	pthread_once(&once, register_once);
	return once_err ? -once_err : 0;
}

int mmsync_fork_track_reader(struct mmsync_reader *r)
{
	int err = track();

	if (err)
		return err;
	pthread_mutex_lock(&lock);
	r->fk_prev = NULL;
	r->fk_next = readers;
	if (readers)
		readers->fk_prev = r;
	readers = r;
	pthread_mutex_unlock(&lock);
	return 0;
}

void mmsync_fork_untrack_reader(struct mmsync_reader *r)
{
	pthread_mutex_lock(&lock);
	if (r->fk_prev)
		r->fk_prev->fk_next = r->fk_next;
	else if (readers == r)
		readers = r->fk_next;
	if (r->fk_next)
		r->fk_next->fk_prev = r->fk_prev;
	r->fk_next = r->fk_prev = NULL;
	pthread_mutex_unlock(&lock);
}

int mmsync_fork_track_writer(struct mmsync_writer *w)
{
	int err = track();

	if (err)
		return err;
	pthread_mutex_lock(&lock);
	w->fk_prev = NULL;
	w->fk_next = writers;
	if (writers)
		writers->fk_prev = w;
	writers = w;
	pthread_mutex_unlock(&lock);
	return 0;
}

void mmsync_fork_untrack_writer(struct mmsync_writer *w)
{
	pthread_mutex_lock(&lock);
	if (w->fk_prev)
		w->fk_prev->fk_next = w->fk_next;
	else if (writers == w)
		writers = w->fk_next;
	if (w->fk_next)
		w->fk_next->fk_prev = w->fk_prev;
	w->fk_next = w->fk_prev = NULL;
	pthread_mutex_unlock(&lock);
}

/*
 * In a child: the first slow read maps the table again (shared) and takes
 * an entry of the child's own.
 */
int mmsync_fork_reclaim(struct mmsync_reader *r)
{
	int err;

	if (r->table_fd < 0)
		return -EBADFD;
	if (mmap(r->table, r->table_len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, r->table_fd, 0) == MAP_FAILED)
		return -errno;
	err = mmsync_entry_claim(r);
	if (err) {
		/* Nothing of the shared table stays within reach. */
		mmap(r->table, r->table_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		return err;
	}
	r->f.pin = &r->ent->pin;
	r->forked = false;
	return 0;
}
