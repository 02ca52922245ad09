// SPDX-License-Identifier: MIT
/*
 * notify.c - wake readers that wait for a publish: mmsync_wait(),
 * mmsync_reader_fd(), and the writer's side of it.
 *
 * Kernel-assisted and futex-free: a reader that waits watches the state
 * object with inotify (IN_ATTRIB); a writer that publishes while someone
 * waits touches the state's times (futimens(), which every file system
 * and memfds support, hugetlbfs included, and which needs no write access
 * readers have), and the kernel queues an event for every watcher. The
 * inotify descriptor is what mmsync_reader_fd() hands out: it polls
 * readable once a publish happened since the handle last drained it.
 *
 * Who waits: an entry's wait word, set by its owner while it blocks in
 * mmsync_wait() or holds a notification descriptor, and counted in the
 * table's waiters count. The writer makes the notifying syscall only when
 * the count is not 0, so a publish nobody waits for costs one load more.
 *
 * The ordering that prevents a lost wake-up (store-buffering, both sides
 * sequentially consistent):
 *   reader: wait word and a seq_cst RMW of the waiters count (arm()),
 *           then drain the descriptor, then a seq_cst load of hot.gen;
 *           sleep only if that generation is not new enough;
 *   writer: a seq_cst exchange of hot.gen (publish.c), then a seq_cst
 *           load of the count; notify if it is not 0.
 * In the single total order of seq_cst operations, either the writer's
 * load of the count comes after the reader's RMW (it notifies, and the
 * event arrives after the drain) or the reader's load of hot.gen comes
 * after the writer's exchange (it sees the new generation and does not
 * sleep). x86: lock xadd / xchg, then plain loads; ARM64: ldaddal / swpal,
 * then ldar, which the release-acquire (RCsc) rule keeps in order.
 *
 * What a hostile reader can do: raise the count (the writer then notifies
 * at every publish: spurious wake-ups, a syscall per publish) or zero it,
 * and the writer would stop notifying. So once a second, while the count
 * reads 0, the writer looks at every entry's wait word, and notifies at
 * every publish for a second when one is set; and a blocked mmsync_wait()
 * looks at the generation at least once a second whatever it is told.
 * Nobody sleeps past their timeout, and after the hostile process is gone
 * wake-ups come within a second.
 *
 * Why one inotify instance per handle, not one per process: inotify
 * instances are limited per user (fs.inotify.max_user_instances, 128 by
 * default), but a descriptor shared by two handles cannot keep their
 * wake-ups apart: the kernel queues one event per instance, and when one
 * handle drains it, the other's poll() or epoll re-checks the queue, finds
 * it empty and sleeps on (a lost wake-up), while a handle that does not
 * drain makes everyone's poll() return at once forever. So each handle
 * gets its own, created only when it first waits or asks for its
 * descriptor; handles that never wait cost none. Where none can be had
 * (the limits, no inotify), mmsync_wait() sleep-polls and
 * mmsync_reader_fd() returns why (-EMFILE, -ENOSPC, -EOPNOTSUPP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "backing.h"

#define WATCH_EVENTS (IN_ATTRIB | IN_CLOSE_WRITE)
/* A waiter looks at the generation this often, whatever it is told. */
#define MAX_SLEEP_NS 1000000000ll
#define VERIFY_NS 1000000000ull /* the writer's check of a count of 0 */

/* ---- Reader ---------------------------------------------------------- */

/* Watch the state object, through our own descriptor of it. */
static int add_watch(struct mmsync_reader *r, int fd)
{
	char path[64];
	char *name;
	int wd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->state_fd);
	wd = inotify_add_watch(fd, path, WATCH_EVENTS);
	if (wd >= 0 || errno != ENOENT)
		return wd < 0 ? -errno : 0;
	/* No /proc: a channel in a directory can still be watched by name. */
	name = mmsync_file(r->prefix, "state");
	if (!name)
		return -ENOMEM;
	wd = inotify_add_watch(fd, name, WATCH_EVENTS | IN_DONT_FOLLOW);
	free(name);
	return wd < 0 ? (errno == ENOENT ? -EOPNOTSUPP : -errno) : 0;
}

/* The handle's inotify instance, made on first use. */
static int notify_open(struct mmsync_reader *r)
{
	int fd, err;

	if (r->ino_fd >= 0)
		return 0;
	if (r->uflags & MMSYNC_READ_NO_NOTIFY)
		return -EOPNOTSUPP;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
	err = add_watch(r, fd);
	if (err) {
		close(fd);
		return err;
	}
	r->ino_fd = fd;
	return 0;
}

/*
 * Set our wait word and count it: the reader's half of the ordering at the
 * top of this file. Also sets it again if someone cleared it.
 */
static void arm(struct mmsync_reader *r)
{
	struct mmsync_entry *e = r->ent;

	if (!e)
		return;
	if (READ_SHARED(e->wait) == 0) {
		WRITE_SHARED(e->wait, 1);
		/* seq_cst: pairs with the writer's seq_cst load of the count. */
		mmsync_count_add(r->table, r->nr_entries, MMSYNC_COUNT_WAITERS,
				 1);
	} else {
		mmsync_smp_mb();
	}
	r->armed = true;
}

/*
 * Arm, and make sure the words went to the shared table: a table that a
 * hostile reader left truncated turns our stores into a private page (the
 * SIGBUS guard), which the writer never sees. Give it its pages back and
 * arm again.
 */
static void arm_shared(struct mmsync_reader *r)
{
	int tries;

	for (tries = 0; tries < 3; tries++) {
		if (r->table_lost)
			mmsync_reader_heal(r);
		arm(r);
		if (!r->table_lost)
			return;
	}
}

static void disarm(struct mmsync_reader *r)
{
	struct mmsync_entry *e = r->ent;

	if (!r->armed || !e)
		return;
	r->armed = false;
	if (READ_SHARED(e->wait) == 0)
		return;
	WRITE_SHARED(e->wait, 0);
	mmsync_count_add(r->table, r->nr_entries, MMSYNC_COUNT_WAITERS, -1);
}

/*
 * Outside a view this handle's pin is 0. A pin found there was written by
 * someone else (a hostile process scribbling on the table, or restoring a
 * pin it cleared): it would make the writer wait for us for a whole grace
 * period while we sleep here. Clear it. The writer pokes waiters whose
 * entry holds it up (mmsync_notify_blocked), so this runs at once.
 * Release: pairs with the acquire load of the pin in the writer's scan.
 */
static void unforge_pin(struct mmsync_reader *r)
{
	struct mmsync_entry *e = r->ent;

	if (e && !r->f.pinned && READ_SHARED(e->pin) != 0)
		__atomic_store_n(&e->pin, 0, __ATOMIC_RELEASE);
}

/* Read the queued events away: from here on, only new ones count. */
static void drain(struct mmsync_reader *r)
{
	char buf[4096] __attribute__((aligned(8)));

	while (read(r->ino_fd, buf, sizeof(buf)) > 0)
		;
}

/* Pairs with the writer's seq_cst exchange of hot.gen (publish.c). */
static uint64_t gen_now(const struct mmsync_reader *r)
{
	return __atomic_load_n(&r->hdr->hot.gen, __ATOMIC_SEQ_CST);
}

int mmsync_reader_fd(struct mmsync_reader *r)
{
	int err;

	if (!r)
		return -EINVAL;
	err = mmsync_reader_heal(r); /* a forked child takes its entry */
	if (err)
		return err;
	err = notify_open(r);
	if (err)
		return err;
	/* From now on, every publish notifies this descriptor. */
	arm_shared(r);
	r->fd_given = true;
	return r->ino_fd;
}

/* Sleep until the descriptor is readable, at most @ns. */
static void sleep_on(struct mmsync_reader *r, int64_t ns)
{
	struct pollfd pfd = { .fd = r->ino_fd, .events = POLLIN };
	struct timespec ts;

	if (ns > MAX_SLEEP_NS)
		ns = MAX_SLEEP_NS;
	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	ppoll(&pfd, 1, &ts, NULL); /* EINTR: look again, like a wake-up */
}

static int64_t left_ns(uint64_t start, int64_t timeout_ns)
{
	uint64_t spent = mmsync_now_ns() - start;

	if (timeout_ns < 0)
		return INT64_MAX;
	return spent >= (uint64_t)timeout_ns ?
		       0 :
		       (int64_t)((uint64_t)timeout_ns - spent);
}

/* Where notification cannot be had: look, sleep poll_ns, look again. */
static int sleep_poll(struct mmsync_reader *r, uint64_t after_gen,
		      int64_t timeout_ns, uint64_t start)
{
	int64_t left;

	for (;;) {
		if (gen_now(r) > after_gen)
			return 0;
		if (r->ops->writer_gone(r))
			return -EPIPE;
		left = left_ns(start, timeout_ns);
		if (left == 0)
			return -ETIMEDOUT;
		mmsync_sleep_ns(left < r->poll_ns ? left : r->poll_ns);
	}
}

int mmsync_wait(struct mmsync_reader *r, uint64_t after_gen, int64_t timeout_ns)
{
	uint64_t start;
	int64_t left;
	int ret;

	if (!r)
		return -EINVAL;
	start = mmsync_now_ns();
	/*
	 * A forked child takes its entry; a table that lost pages under us
	 * gets them back, or our wait word would go to a private page.
	 */
	if (r->forked || r->table_lost)
		mmsync_reader_heal(r);
	if (timeout_ns == 0) {
		/* Consume: drain first, then look (no lost wake-up). */
		if (r->ino_fd >= 0) {
			if (r->fd_given)
				arm_shared(r); /* again, if it was cleared */
			drain(r);
		}
		unforge_pin(r);
		if (gen_now(r) > after_gen)
			return 0;
		return r->ops->writer_gone(r) ? -EPIPE : -ETIMEDOUT;
	}
	if (gen_now(r) > after_gen)
		return 0;
	if (notify_open(r) || !r->ent)
		return sleep_poll(r, after_gen, timeout_ns, start);
	arm_shared(r);
	for (;;) {
		drain(r);
		unforge_pin(r);
		if (gen_now(r) > after_gen) {
			ret = 0;
			break;
		}
		if (r->ops->writer_gone(r)) {
			ret = -EPIPE;
			break;
		}
		left = left_ns(start, timeout_ns);
		if (left == 0) {
			ret = -ETIMEDOUT;
			break;
		}
		sleep_on(r, left);
		if (r->table_lost)
			arm_shared(r);
	}
	if (!r->fd_given)
		disarm(r);
	return ret;
}

void mmsync_notify_close(struct mmsync_reader *r)
{
	if (!r->forked)
		disarm(r);
	if (r->ino_fd >= 0)
		close(r->ino_fd);
	r->ino_fd = -1;
	r->fd_given = false;
}

/*
 * In a forked child: the inotify instance is the parent's (reading it
 * would steal the parent's wake-ups), and the wait word is the parent's
 * entry's. Let go of both; the child makes its own on first use, and asks
 * mmsync_reader_fd() again for a descriptor.
 */
void mmsync_notify_forked(struct mmsync_reader *r)
{
	if (r->ino_fd >= 0)
		close(r->ino_fd);
	r->ino_fd = -1;
	r->armed = false;
	r->fd_given = false;
}

/* ---- Writer ---------------------------------------------------------- */

/* Is any entry's wait word set? The check behind trusting a count of 0. */
static bool anyone_waits(const struct mmsync_writer *w)
{
	uint64_t fit = (w->table_len - MMSYNC_TABLE_HDR) / MMSYNC_ENTRY_SIZE;
	uint32_t i, n = fit < w->nr_entries ? (uint32_t)fit : w->nr_entries;
	const struct mmsync_entry *e;

	for (i = 0; i < n; i++) {
		e = (const void *)(w->table + mmsync_entry_off(i));
		if (READ_SHARED(e->wait))
			return true;
	}
	return false;
}

/* IN_ATTRIB for every watcher of the state object. */
static void notify(struct mmsync_writer *w)
{
	struct mmsync_stats_area *st = &w->hdr->stats;

	if (futimens(w->state_fd, NULL) == 0)
		WRITE_SHARED(st->notifies, READ_SHARED(st->notifies) + 1);
}

/*
 * After the seq_cst exchange of hot.gen: wake the waiters, if the count
 * says there are any (the writer's half of the ordering at the top of this
 * file). @now is the publish's clock reading.
 */
void mmsync_notify_waiters(struct mmsync_writer *w, uint64_t now)
{
	const struct mmsync_table_hdr *th = (const void *)w->table;

	/* Pairs with the reader's seq_cst RMW of the count in arm(). */
	if (__atomic_load_n(&th->waiters, __ATOMIC_SEQ_CST) == 0 &&
	    now >= w->wdistrust_until) {
		if (now - w->wverify_ns < VERIFY_NS)
			return;
		w->wverify_ns = now;
		if (!anyone_waits(w))
			return;
		/* A count of 0 with waiters: falsified. Notify for a second. */
		w->wdistrust_until = now + VERIFY_NS;
	}
	notify(w);
}

/*
 * A publish waits for entry @i, whose owner says it is waiting: an owner
 * blocked in mmsync_wait() has no view open, so its pin is forged. Wake
 * it; it clears the pin (unforge_pin) and the wait ends at once, not at
 * the grace period. A hostile process that sets wait words only buys
 * itself a wake-up per waiting publish.
 */
void mmsync_notify_blocked(struct mmsync_writer *w, const uint32_t *busy,
			   uint32_t nb)
{
	const struct mmsync_entry *e;
	uint32_t j;

	for (j = 0; j < nb; j++) {
		e = (const void *)(w->table + mmsync_entry_off(busy[j]));
		if (READ_SHARED(e->wait)) {
			notify(w);
			return;
		}
	}
}
