// SPDX-License-Identifier: MIT
/*
 * hostile.c - the trust model: a process that may read a channel can only
 * harm itself.
 *
 * The channel is made readable by other users (state and data 0644, reader
 * table 0666). A hostile process, uid nobody, opens it as a reader would,
 * then attacks everything it can reach, one class of attack per phase:
 *
 *   scribble        random, zero, all-ones and high-bit words written into
 *                   every byte of the reader table (pins, counts, entries)
 *   clear-restore   other readers' pins cleared, restored a moment later
 *                   (across the writer's scan)
 *   pins            free entries write-locked (they look alive) and given
 *                   blocking pins, changed every round
 *   truncate        the table truncated, punched and grown back
 *   locks           read locks on every byte of state, data and table it
 *                   can open, write locks on every free entry (table full)
 *   counts          the table's claimed/waiters counts and its high-water
 *                   mark zeroed or maxed
 *   waits           every entry's wait word cleared or set, the waiters
 *                   count zeroed or maxed (notification)
 *   all             all of the above, mixed
 *
 * Meanwhile one writer publishes payloads whose every byte encodes the
 * generation and whose size is a function of it, and honest readers check
 * every view fully (size, every byte, XXH3) before read_end. A mismatch
 * that read_end reports as 0 is an unflagged torn view (or a forged one:
 * size or checksum not the writer's), a generation that goes down is a
 * rollback; every publish must finish within grace + 150 ms; no process may
 * die of a signal. A waiter blocks in mmsync_wait() over and over: it may
 * be woken late (up to its timeout) or spuriously, never after its
 * timeout. Then the hostile process is killed, and within a second new
 * readers get clean views again, nothing is stale any more and waiters
 * are woken at once.
 *
 * Per phase the test prints its figures; the README and the closing note
 * quote them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "kselftest_harness.h"
#include "helpers.h"
#include "layout.h" /* white box: where the hostile process aims */

#define NOBODY 65534
#define GRACE_NS 50000000ll
#define LONG_GRACE_NS 5000000000ll
#define SLACK_NS 150000000ll
#define NR_READERS 3
#define PHASE_NS 1200000000ull
#define MAX_SIZE 16384u

enum attack {
	A_SCRIBBLE,
	A_CLEAR_RESTORE,
	A_PINS,
	A_TRUNCATE,
	A_LOCKS,
	A_COUNTS,
	A_WAITS,
	A_ALL,
	NR_ATTACKS,
};

static const char *const attack_name[NR_ATTACKS] = {
	"scribble", "clear-restore", "pins",  "truncate",
	"locks",    "counts",	     "waits", "all",
};

/* Phases: the attacks, then recovery (hostile dead), then the window. */
#define PH_RECOVERY NR_ATTACKS
#define PH_AFTER (NR_ATTACKS + 1)
#define NR_PHASES (NR_ATTACKS + 2)

struct figures {
	uint64_t views; /* read_end returned 0 */
	uint64_t stale; /* read_end returned -ESTALE */
	uint64_t torn; /* bytes wrong, read_end said 0: must stay 0 */
	uint64_t forged; /* size or checksum wrong, read_end 0: must be 0 */
	uint64_t rollback; /* generation went down: must stay 0 */
	uint64_t errors; /* unexpected return codes: must stay 0 */
	uint64_t eusers; /* reader opens refused: table full */
	uint64_t publishes;
	uint64_t max_pub_ns;
	uint64_t pub_errors;
	uint64_t attacks; /* rounds of the attack the hostile process made */
	uint64_t waits; /* mmsync_wait() calls of the waiter */
	uint64_t late_waits; /* returned after timeout + slack: must be 0 */
	uint64_t max_wait_ns; /* the longest of them */
	int64_t last_error; /* the last unexpected return code */
};

struct shared {
	int64_t grace_ns; /* of the writer process started next */
	int phase;
	int stop;
	int hostile_err; /* what the hostile process could not do */
	char name[256];
	struct figures fig[NR_PHASES];
};

static struct shared *sh;

static size_t size_of(uint64_t gen)
{
	return (size_t)((gen * 7919u) % MAX_SIZE);
}

static void add(uint64_t *f, uint64_t n)
{
	__atomic_fetch_add(f, n, __ATOMIC_RELAXED);
}

static void add_max(uint64_t *f, uint64_t v)
{
	uint64_t cur = __atomic_load_n(f, __ATOMIC_RELAXED);

	while (v > cur &&
	       !__atomic_compare_exchange_n(f, &cur, v, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

static struct figures *fig(void)
{
	return &sh->fig[__atomic_load_n(&sh->phase, __ATOMIC_RELAXED)];
}

static void error(int err)
{
	add(&fig()->errors, 1);
	__atomic_store_n(&fig()->last_error, err, __ATOMIC_RELAXED);
}

/* ---- The honest side ------------------------------------------------- */

static int writer_main(void *arg)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = sh->grace_ns);
	static unsigned char buf[MAX_SIZE];
	struct mmsync_writer *w;
	uint64_t t0, dt, gen;
	int err;

	/* Dies with the test, even one killed for its timeout. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	(void)arg;
	/* Measure the library's bound, not the scheduler's: run first. */
	setpriority(PRIO_PROCESS, 0, -10);
	if (mmsync_writer_open(sh->name, &o, &w))
		return 2;
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		gen = mmsync_writer_gen(w) + 1;
		pattern_fill(buf, size_of(gen), gen);
		t0 = now_ns();
		err = mmsync_publish(w, buf, size_of(gen), NULL);
		dt = now_ns() - t0;
		if (err)
			add(&fig()->pub_errors, 1);
		else
			add(&fig()->publishes, 1);
		add_max(&fig()->max_pub_ns, dt);
		usleep(300);
	}
	mmsync_writer_close(w);
	return 0;
}

/* Check one view completely; 0 clean, 1 torn, 2 forged. */
static int check(const struct mmsync_view *v)
{
	if (v->size != size_of(v->gen))
		return 2;
	if (pattern_check(v->data, v->size, v->gen) != v->size)
		return 1;
	if (XXH3_64bits(v->data, v->size) != v->checksum)
		return 2;
	return 0;
}

static int reader_main(void *arg)
{
	struct mmsync_reader *r = NULL;
	struct mmsync_view v;
	uint64_t last = 0, n = 0;
	int err, bad;

	/* Dies with the test, even one killed for its timeout. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	(void)arg;
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		if (!r) {
			err = mmsync_reader_open(sh->name, NULL, &r);
			if (err == -EUSERS) {
				add(&fig()->eusers, 1);
				usleep(1000);
				continue;
			}
			if (err) {
				error(err);
				usleep(1000);
				continue;
			}
		}
		err = mmsync_read_begin(r, &v);
		if (err == -ENODATA)
			continue;
		if (err) {
			error(err);
			continue;
		}
		bad = check(&v);
		/*
		 * Now and then hold the view across publishes, so that the
		 * writer must wait for it, and look again: a slot reused
		 * under us shows here, and read_end must say so.
		 */
		if (n % 8 == 0) {
			usleep(1000);
			if (!bad)
				bad = check(&v);
		}
		if (v.gen < last)
			add(&fig()->rollback, 1);
		last = v.gen;
		err = mmsync_read_end(r, &v);
		if (err == -ESTALE)
			add(&fig()->stale, 1);
		else if (err)
			error(err);
		else if (bad == 1)
			add(&fig()->torn, 1);
		else if (bad == 2)
			add(&fig()->forged, 1);
		else
			add(&fig()->views, 1);
		/* Open anew now and then: opens must cope with the attack. */
		if (++n % 500 == 0) {
			mmsync_reader_close(r);
			r = NULL;
		}
		if (n % 64 == 0)
			sched_yield();
	}
	mmsync_reader_close(r);
	return 0;
}

/*
 * Wait for the next generation over and over, with a timeout: woken by
 * notification at once, or late (the hostile process silenced it), but
 * never after the timeout.
 */
#define WAIT_NS (200 * 1000000ll)

static int waiter_main(void *arg)
{
	struct mmsync_reader *r;
	uint64_t t0, dt;
	int err;

	(void)arg;
	/* Dies with the test, even one killed for its timeout. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (mmsync_reader_open(sh->name, NULL, &r)) {
		if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
			return 0;
		usleep(1000);
	}
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		t0 = now_ns();
		err = mmsync_wait(r, mmsync_reader_gen(r), WAIT_NS);
		dt = now_ns() - t0;
		/* The writer stops first at the end: that wait proves nothing. */
		if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
			break;
		if (err && err != -ETIMEDOUT)
			error(err);
		add(&fig()->waits, 1);
		add_max(&fig()->max_wait_ns, dt);
		if (dt > (uint64_t)(WAIT_NS + SLACK_NS))
			add(&fig()->late_waits, 1);
	}
	mmsync_reader_close(r);
	return 0;
}

/* ---- The hostile side ------------------------------------------------ */

struct target {
	int state, table, data[2];
	uint64_t table_size;
	uint32_t nr;
};

/* Our descriptors whose target's name contains @what. */
static int fd_named(const char *what)
{
	char link[64], target[256];
	struct dirent *de;
	int fd, found = -1;
	ssize_t k;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		k = readlink(link, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (strstr(target, what) && found < 0)
			found = fd;
	}
	closedir(d);
	return found;
}

static int lock(int fd, short type, off_t off, off_t len)
{
	struct flock fl = { .l_type = type,
			    .l_whence = SEEK_SET,
			    .l_start = off,
			    .l_len = len };

	return fcntl(fd, F_OFD_SETLK, &fl);
}

static uint64_t gen_now(const struct target *t)
{
	uint64_t g = 0;

	if (pread(t->state, &g, 8, offsetof(struct mmsync_hdr, hot.gen)) != 8)
		return 0;
	return g;
}

static void put64(const struct target *t, uint64_t off, uint64_t v)
{
	/* pwrite, not a mapping: our own truncations must not hurt us. */
	if (pwrite(t->table, &v, 8, (off_t)off) != 8) {
		/* Past the end after a truncation: fine. */
	}
}

static uint64_t get64(const struct target *t, uint64_t off)
{
	uint64_t v = 0;

	if (pread(t->table, &v, 8, (off_t)off) != 8)
		return 0;
	return v;
}

static uint64_t nasty(uint64_t *s, uint64_t gen)
{
	uint64_t x = xorshift64(s);

	switch (x % 8) {
	case 0:
		return 0;
	case 1:
		return ~0ull;
	case 2:
		return 1ull << (x % 64);
	case 3:
		return gen - 1;
	case 4:
		return gen + 1;
	case 5:
		return gen - 2;
	case 6:
		return gen | (1ull << 63);
	default:
		return x;
	}
}

static void scribble(const struct target *t, uint64_t *s)
{
	uint64_t gen = gen_now(t);
	int k;

	for (k = 0; k < 64; k++)
		put64(t, (xorshift64(s) % t->table_size) & ~7ull,
		      nasty(s, gen));
}

static void clear_restore(const struct target *t, uint64_t *s)
{
	uint64_t off, old;
	uint32_t i;

	for (i = 0; i < t->nr; i++) {
		off = mmsync_entry_off(i);
		old = get64(t, off);
		if (!old)
			continue;
		put64(t, off, 0);
		usleep((useconds_t)(xorshift64(s) % 300));
		put64(t, off, old);
	}
}

/* Hold free entries' locks, and give them pins that block, fresh ones. */
static void pins(const struct target *t, uint64_t *s, bool *held)
{
	uint64_t gen = gen_now(t), pin;
	uint32_t i;

	for (i = 0; i < t->nr && i < 64; i++) {
		if (!held[i])
			held[i] = lock(t->table, F_WRLCK,
				       (off_t)mmsync_entry_off(i), 1) == 0;
		if (!held[i])
			continue;
		/* A parity that blocks the next publish, never the same. */
		pin = gen - 1 - 2 * (xorshift64(s) % 4);
		if (pin && pin < gen)
			put64(t, mmsync_entry_off(i), pin);
	}
	usleep(2000);
}

static void truncate_table(const struct target *t, uint64_t *s)
{
	off_t at = (off_t)(xorshift64(s) % t->table_size) & ~4095;

	if (ftruncate(t->table, at) == 0) {
		usleep((useconds_t)(xorshift64(s) % 2000));
		if (ftruncate(t->table, (off_t)t->table_size)) {
			/* Sealed (memfd) or refused: fine. */
		}
	}
	fallocate(t->table, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  (off_t)(xorshift64(s) % t->table_size) & ~4095, 4096);
	usleep((useconds_t)(xorshift64(s) % 2000));
}

static void locks(const struct target *t, bool *held)
{
	uint32_t i;
	int k;

	/* Every byte it can open, read-locked (a few per file is enough). */
	for (k = 0; k < 128; k++) {
		lock(t->state, F_RDLCK, k, 1);
		lock(t->data[0], F_RDLCK, k, 1);
		lock(t->data[1], F_RDLCK, k, 1);
		lock(t->table, F_RDLCK, k, 1);
	}
	/* Every free entry write-locked: the table is full. */
	for (i = 0; i < t->nr; i++)
		if (!held[i])
			held[i] = lock(t->table, F_WRLCK,
				       (off_t)mmsync_entry_off(i), 1) == 0;
	usleep(5000);
}

static void counts(const struct target *t, uint64_t *s)
{
	uint64_t v = xorshift64(s) & 1 ? 0 : ~0ull;

	put64(t, offsetof(struct mmsync_table_hdr, claimed), v);
	put64(t, offsetof(struct mmsync_table_hdr, high), v);
	put64(t, offsetof(struct mmsync_table_hdr, waiters), v);
	usleep(200);
}

static void waits(const struct target *t, uint64_t *s)
{
	uint32_t i;

	for (i = 0; i < t->nr; i++)
		put64(t,
		      mmsync_entry_off(i) + offsetof(struct mmsync_entry, wait),
		      xorshift64(s) & 1);
	put64(t, offsetof(struct mmsync_table_hdr, waiters),
	      xorshift64(s) & 1 ? 0 : ~0ull);
	usleep(1000);
}

static void drop_locks(const struct target *t, bool *held)
{
	lock(t->state, F_UNLCK, 0, 0);
	lock(t->data[0], F_UNLCK, 0, 0);
	lock(t->data[1], F_UNLCK, 0, 0);
	lock(t->table, F_UNLCK, 0, 0);
	memset(held, 0, 65536);
}

static int hostile_main(void *arg)
{
	struct mmsync_reader *r;
	static bool held[65536];
	struct target t;
	uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	int phase, last = -1, a;
	struct stat st;
	char path[300];

	/* Dies with the test, even one killed for its timeout. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	(void)arg;
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 100;
	/* A change of credentials clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* What a mere reader must not be able to open at all. */
	snprintf(path, sizeof(path), "%s_state", sh->name);
	if (open(path, O_RDWR) >= 0 || errno != EACCES)
		return 101;
	snprintf(path, sizeof(path), "%s_lock", sh->name);
	if (open(path, O_RDONLY) >= 0 || errno != EACCES)
		return 102;
	/* It is a reader: it gets what readers get, and keeps it open. */
	if (mmsync_reader_open(sh->name, NULL, &r))
		return 103;
	t.state = fd_named("_state");
	t.table = fd_named("_readers");
	t.data[0] = fd_named("_data_0");
	t.data[1] = fd_named("_data_1");
	if (t.state < 0 || t.table < 0 || t.data[0] < 0 || t.data[1] < 0 ||
	    fstat(t.table, &st))
		return 104;
	t.table_size = (uint64_t)st.st_size;
	t.nr = (uint32_t)((t.table_size - MMSYNC_TABLE_HDR) /
			  MMSYNC_ENTRY_SIZE);
	for (;;) {
		phase = __atomic_load_n(&sh->phase, __ATOMIC_RELAXED);
		if (phase >= NR_ATTACKS)
			break;
		if (phase != last) {
			drop_locks(&t, held);
			last = phase;
		}
		a = phase == A_ALL ? (int)(xorshift64(&s) % A_ALL) : phase;
		switch (a) {
		case A_SCRIBBLE:
			scribble(&t, &s);
			break;
		case A_CLEAR_RESTORE:
			clear_restore(&t, &s);
			break;
		case A_PINS:
			pins(&t, &s, held);
			break;
		case A_TRUNCATE:
			truncate_table(&t, &s);
			break;
		case A_LOCKS:
			locks(&t, held);
			break;
		case A_COUNTS:
			counts(&t, &s);
			break;
		case A_WAITS:
			waits(&t, &s);
			break;
		}
		add(&sh->fig[phase].attacks, 1);
	}
	pause(); /* killed by the parent: nothing of ours is cleaned up */
	return 0;
}

/* ---- The test -------------------------------------------------------- */

FIXTURE(hostile)
{
	struct tdir dir;
	int writer, hostile, waiter, readers[NR_READERS];
};

FIXTURE_VARIANT(hostile)
{
	uint32_t fence_mode;
};

FIXTURE_VARIANT_ADD(hostile, membarrier){
	.fence_mode = MMSYNC_FENCE_MEMBARRIER,
};

FIXTURE_VARIANT_ADD(hostile, xchg){
	.fence_mode = MMSYNC_FENCE_XCHG,
};

FIXTURE_SETUP(hostile)
{
	int i;

	self->writer = self->hostile = self->waiter = -1;
	for (i = 0; i < NR_READERS; i++)
		self->readers[i] = -1;
	self->dir.path[0] = '\0';
	if (geteuid() != 0)
		SKIP(return,
			   "needs root, to run the hostile process as nobody");
	if (fence_mode_unavailable(variant->fence_mode))
		SKIP(return, "%s", fence_mode_unavailable(variant->fence_mode));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));
	sh->grace_ns = GRACE_NS;
	ASSERT_EQ(0, tdir_make(&self->dir));
	/* Others may enter the directory: nobody must reach the files. */
	ASSERT_EQ(0, chmod(self->dir.path, 0711));
	tdir_chan(&self->dir, "h", sh->name, sizeof(sh->name));
}

FIXTURE_TEARDOWN(hostile)
{
	int i;

	if (sh) {
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&sh->phase, PH_AFTER, __ATOMIC_RELAXED);
	}
	if (self->hostile > 0) {
		kill(self->hostile, SIGKILL);
		reap(self->hostile);
	}
	for (i = 0; i < NR_READERS; i++)
		if (self->readers[i] > 0) {
			kill(self->readers[i], SIGKILL);
			reap(self->readers[i]);
		}
	if (self->writer > 0) {
		kill(self->writer, SIGKILL);
		reap(self->writer);
	}
	if (self->waiter > 0) {
		kill(self->waiter, SIGKILL);
		reap(self->waiter);
	}
	tdir_remove(&self->dir);
	if (sh)
		munmap(sh, sizeof(*sh));
	sh = NULL;
}

static void print_figures(struct __test_metadata *_metadata)
{
	const struct figures *f;
	int p;

	for (p = 0; p < NR_PHASES; p++) {
		f = &sh->fig[p];
		TH_LOG("%-13s attacks %6llu views %8llu stale %6llu torn %llu "
		       "forged %llu rollback %llu errors %llu eusers %llu "
		       "publishes %5llu max %.1f ms waits %llu longest %.0f ms "
		       "(last error %lld)",
		       p < NR_ATTACKS	? attack_name[p] :
		       p == PH_RECOVERY ? "recovery" :
					  "after 1 s",
		       (unsigned long long)f->attacks,
		       (unsigned long long)f->views,
		       (unsigned long long)f->stale,
		       (unsigned long long)f->torn,
		       (unsigned long long)f->forged,
		       (unsigned long long)f->rollback,
		       (unsigned long long)f->errors,
		       (unsigned long long)f->eusers,
		       (unsigned long long)f->publishes, f->max_pub_ns / 1e6,
		       (unsigned long long)f->waits, f->max_wait_ns / 1e6,
		       (long long)f->last_error);
	}
}

/* A new reader gets a clean view: how long it took, or -1 after 2 s. */
static int64_t first_clean_view(void)
{
	uint64_t start = now_ns();
	struct mmsync_reader *r;
	struct mmsync_view v;
	int ok;

	while (now_ns() - start < 2000000000ull) {
		if (mmsync_reader_open(sh->name, NULL, &r) == 0) {
			ok = mmsync_read_begin(r, &v) == 0;
			ok = ok && check(&v) == 0 &&
			     mmsync_read_end(r, &v) == 0;
			mmsync_reader_close(r);
			if (ok)
				return (int64_t)(now_ns() - start);
		}
		usleep(1000);
	}
	return -1;
}

TEST_F_TIMEOUT(hostile, attacks, 120)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .fence_mode = variant->fence_mode,
		    .state_mode = 0644, .data_mode = 0644, .table_mode = 0666);
	struct mmsync_writer *w;
	const struct figures *f;
	int64_t recover_ns;
	int i, p, st;

	/* Create the channel with modes that let nobody read it. */
	ASSERT_EQ(0, mmsync_writer_open(sh->name, &o, &w));
	mmsync_writer_close(w);
	self->writer = spawn(writer_main, NULL);
	ASSERT_LT(0, self->writer);
	for (i = 0; i < NR_READERS; i++) {
		self->readers[i] = spawn(reader_main, NULL);
		ASSERT_LT(0, self->readers[i]);
	}
	self->waiter = spawn(waiter_main, NULL);
	ASSERT_LT(0, self->waiter);
	usleep(200000);
	self->hostile = spawn(hostile_main, NULL);
	ASSERT_LT(0, self->hostile);
	for (p = 0; p < NR_ATTACKS; p++) {
		__atomic_store_n(&sh->phase, p, __ATOMIC_RELAXED);
		usleep(PHASE_NS / 1000);
		/* The hostile process gave up on its own: say why. */
		st = reap_nohang(self->hostile);
		ASSERT_EQ(0, st) TH_LOG("hostile process ended: %d", st);
		/* A new writer takes over while the locks are held. */
		if (p == A_LOCKS) {
			kill(self->writer, SIGKILL);
			EXPECT_EQ(128 + SIGKILL, reap(self->writer));
			self->writer = spawn(writer_main, NULL);
			ASSERT_LT(0, self->writer);
			usleep(200000);
		}
	}
	/* The hostile process dies; nothing of it is cleaned up. */
	kill(self->hostile, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(self->hostile));
	self->hostile = -1;
	/*
	 * From here on a writer with a long grace period: whatever made a
	 * publish wait or a view stale now would be the attack's leftovers,
	 * not an honest reader the scheduler kept off a CPU for 50 ms.
	 */
	kill(self->writer, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(self->writer));
	sh->grace_ns = LONG_GRACE_NS;
	self->writer = spawn(writer_main, NULL);
	ASSERT_LT(0, self->writer);
	__atomic_store_n(&sh->phase, PH_RECOVERY, __ATOMIC_RELAXED);
	recover_ns = first_clean_view();
	usleep(1000000 - (recover_ns > 0 ? recover_ns / 1000 : 0));
	__atomic_store_n(&sh->phase, PH_AFTER, __ATOMIC_RELAXED);
	usleep(1000000);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	EXPECT_EQ(0, reap(self->writer));
	self->writer = -1;
	for (i = 0; i < NR_READERS; i++) {
		EXPECT_EQ(0, reap(self->readers[i]));
		self->readers[i] = -1;
	}
	EXPECT_EQ(0, reap(self->waiter));
	self->waiter = -1;
	print_figures(_metadata);
	TH_LOG("a new reader had a clean view %.1f ms after the hostile "
	       "process died",
	       recover_ns / 1e6);
	for (p = 0; p < NR_PHASES; p++) {
		f = &sh->fig[p];
		EXPECT_EQ(0, f->torn);
		EXPECT_EQ(0, f->forged);
		EXPECT_EQ(0, f->rollback);
		EXPECT_EQ(0, f->errors);
		EXPECT_EQ(0, f->pub_errors);
		if (p < NR_ATTACKS)
			EXPECT_GE(GRACE_NS + SLACK_NS, (int64_t)f->max_pub_ns);
		EXPECT_LT(0, f->publishes);
		EXPECT_EQ(0, f->late_waits);
	}
	for (p = 0; p < NR_ATTACKS; p++)
		EXPECT_LT(0, sh->fig[p].attacks);
	/* Works again within a second, and a second later nothing is stale. */
	EXPECT_LE(0, recover_ns);
	EXPECT_GE(1000000000ll, recover_ns);
	f = &sh->fig[PH_AFTER];
	EXPECT_LT(0, f->views);
	EXPECT_EQ(0, f->stale);
	EXPECT_EQ(0, f->eusers);
	/* No publish waits for the dead attacker, nor half a second at all. */
	EXPECT_GT(500 * 1000000ll, (int64_t)f->max_pub_ns);
	/* Waiters are woken at once again (a publish every 0.3 ms). */
	EXPECT_LT(0, f->waits);
	EXPECT_GT(50 * 1000000ll, (int64_t)f->max_wait_ns);
}

/* ---- A table of 65,536 entries, all of them blocking ------------------ */

#define BIG 65536u
#define BIG_LOCKS 4096u /* each lock op walks the inode's lock list */

struct big {
	char name[256];
	int ready[2];
	int stop;
};

/*
 * As nobody: write-lock BIG_LOCKS entries (they look alive), and keep a
 * blocking pin in every one of the 65,536 entries, fresh for each
 * publish.
 */
static int big_hostile_main(void *arg)
{
	struct big *b = arg;
	struct mmsync_reader *r;
	struct stat st;
	uint64_t *table, g;
	uint32_t i;
	int fd, sfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 100;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mmsync_reader_open(b->name, NULL, &r))
		return 101;
	fd = fd_named("_readers");
	sfd = fd_named("_state");
	if (fd < 0 || sfd < 0 || fstat(fd, &st))
		return 102;
	table = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		     0);
	if (table == MAP_FAILED)
		return 103;
	for (i = 1; i < BIG_LOCKS; i++)
		lock(fd, F_WRLCK, (off_t)mmsync_entry_off(i), 1);
	if (write(b->ready[1], "k", 1) != 1)
		return 104;
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		if (pread(sfd, &g, 8, offsetof(struct mmsync_hdr, hot.gen)) !=
		    8)
			return 105;
		for (i = 0; i < BIG; i++)
			__atomic_store_n(&table[mmsync_entry_off(i) / 8], g - 1,
					 __ATOMIC_RELAXED);
		usleep(1000);
	}
	mmsync_reader_close(r);
	return 0;
}

TEST(huge_hostile_table_bounds_publish)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = GRACE_NS,
		    .max_readers = BIG, .state_mode = 0644, .data_mode = 0644,
		    .table_mode = 0666);
	struct mmsync_publish_info info;
	uint64_t t0, dt, worst = 0, sum = 0;
	struct mmsync_writer *w;
	struct tdir d;
	struct big *b;
	int pid, k;
	char c;

	if (geteuid() != 0)
		SKIP(return,
			   "needs root, to run the hostile process as nobody");
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, b);
	memset(b, 0, sizeof(*b));
	ASSERT_EQ(0, tdir_make(&d));
	ASSERT_EQ(0, chmod(d.path, 0711));
	tdir_chan(&d, "big", b->name, sizeof(b->name));
	ASSERT_EQ(0, pipe(b->ready));
	ASSERT_EQ(0, mmsync_writer_open(b->name, &o, &w));
	ASSERT_EQ(0, mmsync_publish(w, "1", 1, NULL));
	pid = spawn(big_hostile_main, b);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, read(b->ready[0], &c, 1));
	for (k = 0; k < 10; k++) {
		usleep(3000); /* the pins are fresh for this publish */
		t0 = now_ns();
		ASSERT_EQ(0, mmsync_publish(w, "x", 1, &info));
		dt = now_ns() - t0;
		sum += dt;
		if (dt > worst)
			worst = dt;
	}
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
	EXPECT_EQ(0, reap(pid));
	TH_LOG("65,536 blocking entries, %u of them locked: publish mean "
	       "%.1f ms, worst %.1f ms (grace %.0f ms)",
	       BIG_LOCKS, sum / 10 / 1e6, worst / 1e6, GRACE_NS / 1e6);
	EXPECT_GE(GRACE_NS + SLACK_NS, (int64_t)worst);
	mmsync_writer_close(w);
	tdir_remove(&d);
	munmap(b, sizeof(*b));
}

/* ---- The high-water mark ---------------------------------------------- */

/*
 * Readers raise the table's high-water mark above their entries (the
 * writer scans below it only). Lowered under a reader's open view, the
 * writer checks the entries above the new mark at once, finds the view,
 * and waits for it (then evicts it at the grace period) instead of
 * rewriting its slot unseen. Without the check the publish does not wait
 * and the view ends in -ESTALE with nothing evicted.
 */
TEST(lowered_high_water_mark_is_checked)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = 100 * 1000000ll);
	struct mmsync_reader *r[3];
	struct mmsync_publish_info info;
	struct mmsync_table_hdr *th;
	struct mmsync_writer *w;
	struct mmsync_view v;
	char name[256], path[300];
	struct tdir d;
	struct stat sb;
	void *tab;
	int fd, i;

	ASSERT_EQ(0, tdir_make(&d));
	tdir_chan(&d, "h", name, sizeof(name));
	ASSERT_EQ(0, mmsync_writer_open(name, &o, &w));
	ASSERT_EQ(0, mmsync_publish(w, "1", 1, NULL));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mmsync_reader_open(name, NULL, &r[i]));
	snprintf(path, sizeof(path), "%s_readers", name);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &sb));
	tab = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, tab);
	th = tab;
	/* Entries 0, 1, 2: lowest first, the mark above the highest. */
	EXPECT_EQ(3, __atomic_load_n(&th->high, __ATOMIC_SEQ_CST));
	/* The writer checks the mark (3) and trusts it from here on. */
	ASSERT_EQ(0, mmsync_publish(w, "2", 1, NULL));
	/* The last reader (entry 2) holds generation 2 (slot 0). */
	ASSERT_EQ(0, mmsync_read_begin(r[2], &v));
	ASSERT_EQ(2, v.gen);
	__atomic_store_n(&th->high, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(0, mmsync_publish(w, "3", 1, &info));
	ASSERT_EQ(0, mmsync_publish(w, "4", 1, &info)); /* reuses slot 0 */
	EXPECT_EQ(1, info.evicted);
	EXPECT_LE(100 * 1000000ull, info.waited_ns);
	EXPECT_EQ(-ESTALE, mmsync_read_end(r[2], &v));
	/* The reader raises the mark again after -ESTALE. */
	ASSERT_EQ(0, mmsync_read_begin(r[2], &v));
	EXPECT_EQ(0, mmsync_read_end(r[2], &v));
	EXPECT_EQ(3, __atomic_load_n(&th->high, __ATOMIC_SEQ_CST));
	munmap(tab, (size_t)sb.st_size);
	close(fd);
	for (i = 0; i < 3; i++)
		mmsync_reader_close(r[i]);
	mmsync_writer_close(w);
	tdir_remove(&d);
}

TEST_HARNESS_MAIN
