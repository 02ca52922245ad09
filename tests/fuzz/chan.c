// SPDX-License-Identifier: MIT
/*
 * chan.c - the channel under fuzz: its private directory, the templates,
 * the files each input builds, the edits, and snapshots to compare.
 *
 * Every process gets /dev/shm/mmsync-fuzz-[TAG-]PID (TAG: $MMSYNC_FUZZ_RUN),
 * removed at exit; directories of fuzzers that died (a crash exits without
 * atexit) are removed by the next one that starts. The channel is always
 * DIR/c. Files are reused from one input to the next (rewritten, not
 * recreated), so an input costs a few syscalls per file.
 *
 * Object ids in a state image are symbolic until the files exist: a
 * template's table_id and data_id[] hold markers naming a file, which
 * fz_materialize() replaces by that file's real device and inode. An edit
 * that changes an id destroys its marker (a look-alike), OP_SET_ID writes
 * another file's marker (an object of the wrong kind).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz.h"

#define MARK_DEV(f) (0x4d4b444556000000ull | (uint64_t)(f))
#define MARK_INO(f) (0x4d4b494e4f000000ull | (uint64_t)(f))

static const char *const suffix[FZ_NFILES] = { "state", "readers", "data_0",
					       "data_1", "lock" };

struct tmpl {
	uint64_t size[FZ_NFILES];
	unsigned char *buf[FZ_NFILES];
	mode_t mode[FZ_NFILES];
};

#define NR_TMPL 7
static struct tmpl tmpls[NR_TMPL];
static int nr_tmpl;
static char top[128]; /* this process's directory */
static pid_t owner_pid;

void fz_fail(const char *what, ...)
{
	va_list ap;

	fprintf(stderr, "\nmmsync-fuzz: contract violated: ");
	va_start(ap, what);
	vfprintf(stderr, what, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* Remove a flat directory (entries are files, FIFOs, links, empty dirs). */
static void remove_dir(const char *path)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(path);

	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
			if (unlink(p) < 0 && errno == EISDIR)
				rmdir(p);
		}
		closedir(d);
	}
	rmdir(path);
}

static void dir_of(char *out, size_t n, pid_t pid)
{
	const char *tag = getenv("MMSYNC_FUZZ_RUN");

	if (tag && *tag && strlen(tag) < 32)
		snprintf(out, n, "/dev/shm/mmsync-fuzz-%s-%d", tag, (int)pid);
	else
		snprintf(out, n, "/dev/shm/mmsync-fuzz-%d", (int)pid);
}

/* The directory of fuzzing process @pid, which died (replay.c). */
void fz_remove_dir_of(pid_t pid)
{
	char d[128];

	dir_of(d, sizeof(d), pid);
	remove_dir(d);
}

static void cleanup(void)
{
	/* A forked child (the replay driver's) leaves its parent's alone. */
	if (top[0] && getpid() == owner_pid)
		remove_dir(top);
}

/* Directories of fuzzers that died without cleaning up (a crash). */
static void remove_stale(void)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	const char *dash;
	long pid;
	DIR *d = opendir("/dev/shm");

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "mmsync-fuzz-", 12))
			continue;
		dash = strrchr(de->d_name, '-');
		pid = strtol(dash + 1, NULL, 10);
		snprintf(p, sizeof(p), "/dev/shm/%s", de->d_name);
		if (pid <= 0 || lstat(p, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			remove_dir(p);
	}
	closedir(d);
}

static void slurp(const char *path, struct tmpl *t, int f)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size > FZ_IMG_MAX)
		fz_fail("template file %s", path);
	t->size[f] = (uint64_t)st.st_size;
	t->mode[f] = st.st_mode & 07777;
	t->buf[f] = calloc(1, t->size[f] + 1);
	if (!t->buf[f] ||
	    pread(fd, t->buf[f], t->size[f], 0) != (ssize_t)t->size[f])
		fz_fail("template read %s", path);
	close(fd);
}

static void fill_payload(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 12));
}

/*
 * The templates: channels made by the library itself, each a different
 * starting point (gen 0, one or both slots used, one entry, membarrier,
 * an empty payload, a dead reader's pin, a payload over 64 KiB).
 */
static void make_template(int k)
{
	static unsigned char pay[70000];
	MMSYNC_OPTS(mmsync_writer_opts, o, .fence_mode = MMSYNC_FENCE_XCHG);
	MMSYNC_OPTS(mmsync_reader_opts, ro, .flags = 0);
	struct mmsync_reader *r = NULL;
	struct mmsync_writer *w;
	struct mmsync_view v;
	struct tmpl *t = &tmpls[nr_tmpl];
	char name[192], path[256];
	size_t lens[3] = { 0 };
	int n = 0, f, err;

	snprintf(name, sizeof(name), "%s/t", top);
	switch (k) {
	case 1:
		n = 1;
		lens[0] = 100;
		break;
	case 2:
		n = 2;
		lens[0] = 5000;
		lens[1] = 100;
		break;
	case 3:
		n = 3;
		lens[0] = 10;
		lens[1] = 20;
		lens[2] = 30;
		o.max_readers = 1;
		if (fz_membarrier())
			o.fence_mode = MMSYNC_FENCE_MEMBARRIER;
		break;
	case 4:
		n = 1;
		lens[0] = 0;
		break;
	case 5:
		n = 2;
		lens[0] = 300;
		lens[1] = 4096;
		break;
	case 6:
		n = 1;
		lens[0] = sizeof(pay);
		o.max_readers = 3;
		break;
	}
	err = mmsync_writer_open(name, &o, &w);
	if (err)
		fz_fail("template %d: writer_open %d", k, err);
	for (f = 0; f < n; f++) {
		fill_payload(pay, lens[f], (unsigned int)(k * 31 + f));
		err = mmsync_publish(w, pay, lens[f], NULL);
		if (err)
			fz_fail("template %d: publish %d", k, err);
	}
	/* Template 5: a reader pinned when its files are copied (dead). */
	if (k == 5 &&
	    (mmsync_reader_open(name, &ro, &r) || mmsync_read_begin(r, &v)))
		fz_fail("template 5: reader");
	for (f = 0; f < FZ_NFILES; f++) {
		snprintf(path, sizeof(path), "%s_%s", name, suffix[f]);
		slurp(path, t, f);
	}
	if (r) {
		mmsync_read_end(r, &v);
		mmsync_reader_close(r);
	}
	mmsync_writer_close(w);
	mmsync_unlink(name);
	/* Ids become markers: resolved against each input's own files. */
	{
		struct mmsync_hdr *h = (struct mmsync_hdr *)t->buf[FZ_STATE];

		h->table_id.dev = MARK_DEV(FZ_TABLE);
		h->table_id.ino = MARK_INO(FZ_TABLE);
		for (f = 0; f < 2; f++) {
			h->data_id[f].dev = MARK_DEV(FZ_DATA0 + f);
			h->data_id[f].ino = MARK_INO(FZ_DATA0 + f);
		}
	}
	nr_tmpl++;
}

bool fz_membarrier(void)
{
	long mask = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return mask > 0 && (mask & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	       (mask & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

int fz_templates(void)
{
	return nr_tmpl;
}

void fz_init(void)
{
	struct sigaction bus;
	int k;

	if (top[0])
		return;
	owner_pid = getpid();
	remove_stale();
	dir_of(top, sizeof(top), getpid());
	remove_dir(top);
	if (mkdir(top, 0700) < 0)
		fz_fail("mkdir %s: %s", top, strerror(errno));
	atexit(cleanup);
	/*
	 * The library installs its SIGBUS guard with its first writer; put
	 * back the handler that was there (the sanitizer's), so that a fault
	 * is a crash the fuzzer reports, not something the guard swallows:
	 * in a single-threaded harness nothing shrinks under a mapping.
	 */
	sigaction(SIGBUS, NULL, &bus);
	for (k = 0; k < NR_TMPL; k++)
		make_template(k);
	sigaction(SIGBUS, &bus, NULL);
}

/* Bytes of an image that may be non-zero. */
static uint64_t img_len(const struct fz_img *m)
{
	return m->size < FZ_IMG_MAX ? m->size : FZ_IMG_MAX;
}

static uint64_t last_len[FZ_NFILES]; /* img_len() of the last input's */

static void chan_paths(struct fz_chan *c)
{
	int f;

	snprintf(c->dir, sizeof(c->dir), "%s", top);
	snprintf(c->name, sizeof(c->name), "%s/c", top);
	for (f = 0; f < FZ_NFILES; f++)
		snprintf(c->path[f], sizeof(c->path[f]), "%s_%s", c->name,
			 suffix[f]);
}

void fz_begin(struct fz_chan *c, int tmpl)
{
	static unsigned char bufs[FZ_NFILES][FZ_IMG_MAX];
	const struct tmpl *t = &tmpls[tmpl % nr_tmpl];
	int f, i;

	memset(c, 0, sizeof(*c));
	chan_paths(c);
	c->tmpl = tmpl % nr_tmpl;
	for (i = 0; i < 4; i++)
		c->lock_fd[i] = -1;
	for (f = 0; f < FZ_NFILES; f++) {
		struct fz_img *m = &c->img[f];

		m->buf = bufs[f];
		/*
		 * Images are zero past their size (resize() keeps it so):
		 * clear what the last input left, nothing more.
		 */
		memset(m->buf, 0, last_len[f]);
		memcpy(m->buf, t->buf[f], t->size[f]);
		m->size = t->size[f];
		m->kind = FZ_REG;
		m->mode = t->mode[f];
	}
}

uint64_t fz_template_size(int tmpl, int f)
{
	return tmpls[tmpl % nr_tmpl].size[f];
}

static int kind_of(const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return FZ_REG;
	if (S_ISLNK(st->st_mode))
		return FZ_SYMLINK;
	if (S_ISFIFO(st->st_mode))
		return FZ_FIFO;
	if (S_ISDIR(st->st_mode))
		return FZ_DIR;
	return -1;
}

static void remove_path(const char *p)
{
	if (unlink(p) < 0 && errno == EISDIR)
		rmdir(p);
}

/*
 * Make file @f of kind @kind; for a regular file return a read-write
 * descriptor (an existing file is kept: the same inode), else -1.
 */
static int make_kind(struct fz_chan *c, int f, int kind)
{
	const char *p = c->path[f];
	char target[200];
	struct stat st;
	int have = FZ_MISSING, fd;

	if (lstat(p, &st) == 0)
		have = kind_of(&st);
	if (have != kind && have != FZ_MISSING)
		remove_path(p);
	switch (kind) {
	case FZ_REG:
		fd = open(p,
			  O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
				  O_CLOEXEC,
			  0600);
		if (fd < 0)
			fz_fail("create %s: %s", p, strerror(errno));
		return fd;
	case FZ_SYMLINK:
		snprintf(target, sizeof(target), "%s_target", c->name);
		if (have != kind && symlink(target, p) < 0)
			fz_fail("symlink %s: %s", p, strerror(errno));
		break;
	case FZ_FIFO:
		if (have != kind && mkfifo(p, 0600) < 0)
			fz_fail("mkfifo %s: %s", p, strerror(errno));
		break;
	case FZ_DIR:
		if (have != kind && mkdir(p, 0700) < 0)
			fz_fail("mkdir %s: %s", p, strerror(errno));
		break;
	}
	return -1;
}

static void resolve(uint64_t *dev, uint64_t *ino, const struct stat *ids,
		    const bool *have)
{
	int f;

	for (f = 0; f < FZ_NFILES; f++) {
		if (*dev == MARK_DEV(f))
			*dev = have[f] ? (uint64_t)ids[f].st_dev : 0;
		if (*ino == MARK_INO(f))
			*ino = have[f] ? (uint64_t)ids[f].st_ino : 0;
	}
}

static void take_locks(struct fz_chan *c);

/* Write the images out as the channel's files. */
void fz_materialize(struct fz_chan *c)
{
	struct mmsync_hdr *h = (struct mmsync_hdr *)c->img[FZ_STATE].buf;
	static uid_t euid = (uid_t)-1;
	struct stat ids[FZ_NFILES];
	bool have[FZ_NFILES];
	int fd[FZ_NFILES], f, i;
	uint64_t n;
	uid_t uid;

	if (euid == (uid_t)-1)
		euid = geteuid();

	if (c->live)
		return;
	for (f = 0; f < FZ_NFILES; f++) {
		fd[f] = make_kind(c, f, c->img[f].kind);
		have[f] = lstat(c->path[f], &ids[f]) == 0;
	}
	resolve(&h->table_id.dev, &h->table_id.ino, ids, have);
	for (i = 0; i < 2; i++)
		resolve(&h->data_id[i].dev, &h->data_id[i].ino, ids, have);
	for (f = 0; f < FZ_NFILES; f++) {
		struct fz_img *m = &c->img[f];

		if (fd[f] < 0)
			continue;
		n = img_len(m);
		/* Past the image, zeros: a hole, as cheap as it gets. */
		if ((m->size > FZ_IMG_MAX && ftruncate(fd[f], 0) < 0) ||
		    pwrite(fd[f], m->buf, n, 0) != (ssize_t)n ||
		    ftruncate(fd[f], (off_t)m->size) < 0)
			fz_fail("write %s: %s", c->path[f], strerror(errno));
		uid = m->other_owner ? 65534 : euid;
		if (ids[f].st_uid != uid && fchown(fd[f], uid, (gid_t)-1) < 0) {
			/* Not root: every file stays ours. */
		}
		if ((ids[f].st_mode & 07777) != m->mode)
			fchmod(fd[f], m->mode);
		close(fd[f]);
	}
	c->live = true;
	take_locks(c);
}

/* Locks held for other processes, each set on its own description. */
static int lock_at(struct fz_chan *c, int slot, int f, int flags, short type,
		   off_t off)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = 1
	};
	struct stat st;

	if (c->lock_fd[slot] < 0) {
		if (lstat(c->path[f], &st) < 0 || !S_ISREG(st.st_mode))
			return -1;
		c->lock_fd[slot] =
			open(c->path[f],
			     flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (c->lock_fd[slot] < 0)
			return -1;
	}
	return fcntl(c->lock_fd[slot], F_OFD_SETLK, &fl);
}

static void take_locks(struct fz_chan *c)
{
	uint64_t want[4];
	uint32_t i;

	memcpy(want, c->entry_locks, sizeof(want));
	memset(c->entry_locks, 0, sizeof(c->entry_locks));
	for (i = 0; i < 256; i++)
		if (want[i / 64] & (1ull << (i % 64)) &&
		    lock_at(c, 0, FZ_TABLE, O_RDWR, F_WRLCK,
			    (off_t)mmsync_entry_off(i)) == 0)
			c->entry_locks[i / 64] |= 1ull << (i % 64);
	if (c->writer_locked)
		c->writer_locked = lock_at(c, 1, FZ_LOCK, O_RDWR, F_WRLCK,
					   MMSYNC_WRITER_LOCK_OFF) == 0;
	if (c->state_rdlocked)
		c->state_rdlocked = lock_at(c, 2, FZ_STATE, O_RDONLY, F_RDLCK,
					    MMSYNC_WRITER_LOCK_OFF) == 0;
}

/* Is the lock the harness holds on file @f still on the file named so? */
static bool lock_current(const struct fz_chan *c, int slot, int f)
{
	struct stat a, b;

	return c->lock_fd[slot] >= 0 && fstat(c->lock_fd[slot], &a) == 0 &&
	       lstat(c->path[f], &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

bool fz_writer_locked(const struct fz_chan *c)
{
	return c->writer_locked && lock_current(c, 1, FZ_LOCK);
}

bool fz_state_rdlocked(const struct fz_chan *c)
{
	return c->state_rdlocked && lock_current(c, 2, FZ_STATE);
}

bool fz_entry_held(const struct fz_chan *c, uint32_t i)
{
	return i < 256 && (c->entry_locks[i / 64] & (1ull << (i % 64))) &&
	       lock_current(c, 0, FZ_TABLE);
}

uint32_t fz_locked_entries(const struct fz_chan *c, uint32_t n)
{
	uint32_t i, k = 0;

	if (!lock_current(c, 0, FZ_TABLE))
		return 0;
	for (i = 0; i < n && i < 256; i++)
		k += (c->entry_locks[i / 64] >> (i % 64)) & 1;
	return k;
}

/*
 * No descriptor of the library's may outlive its handles: none of a file
 * of ours, a memfd, an inotify or io_uring instance, a socket. (Counting
 * descriptors would not do: libFuzzer's and the sanitizers' threads open
 * files of their own at any time.)
 */
static void check_fds(void)
{
	char p[PATH_MAX], what[PATH_MAX];
	struct dirent *de;
	ssize_t n;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
		n = readlink(p, what, sizeof(what) - 1);
		if (n <= 0)
			continue;
		what[n] = '\0';
		if (!strncmp(what, top, strlen(top)) ||
		    !strncmp(what, "/memfd:", 7) ||
		    !strncmp(what, "anon_inode:", 11) ||
		    !strncmp(what, "socket:", 7))
			fz_fail("descriptor leak: fd %s is open (%s)",
				de->d_name, what);
	}
	closedir(d);
}

/* What must hold between inputs: no descriptor, no stray file. */
void fz_end(struct fz_chan *c)
{
	struct dirent *de;
	DIR *d;
	int i;

	for (i = 0; i < 4; i++)
		if (c->lock_fd[i] >= 0)
			close(c->lock_fd[i]);
	for (i = 0; i < FZ_NFILES; i++)
		last_len[i] = img_len(&c->img[i]);
	check_fds();
	d = opendir(c->dir);
	if (!d)
		fz_fail("opendir %s", c->dir);
	while ((de = readdir(d))) {
		bool ok = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");

		for (i = 0; i < FZ_NFILES && !ok; i++)
			ok = !strcmp(de->d_name, strrchr(c->path[i], '/') + 1);
		if (!ok)
			fz_fail("left behind in the channel's directory: %s",
				de->d_name);
	}
	closedir(d);
}

/* ---- Access to a file: its image while building, the file once live. */

static int open_live(const struct fz_chan *c, int f, int flags)
{
	struct stat st;

	if (lstat(c->path[f], &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	return open(c->path[f], flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

uint64_t fz_file_size(const struct fz_chan *c, int f)
{
	struct stat st;

	if (!c->live)
		return c->img[f].kind == FZ_REG ? c->img[f].size : 0;
	if (lstat(c->path[f], &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return (uint64_t)st.st_size;
}

ssize_t fz_pread(const struct fz_chan *c, int f, void *buf, size_t n,
		 uint64_t off)
{
	const struct fz_img *m = &c->img[f];
	ssize_t got;
	int fd;

	if (!c->live) {
		if (m->kind != FZ_REG || off >= img_len(m))
			return 0;
		if (n > img_len(m) - off)
			n = img_len(m) - off;
		memcpy(buf, m->buf + off, n);
		return (ssize_t)n;
	}
	fd = open_live(c, f, O_RDONLY);
	if (fd < 0)
		return -1;
	got = pread(fd, buf, n, (off_t)off);
	close(fd);
	return got;
}

/* Write @n bytes at @off, inside the file (never growing it). */
static void put_bytes(struct fz_chan *c, int f, uint64_t off, const void *p,
		      size_t n)
{
	struct fz_img *m = &c->img[f];
	uint64_t size = fz_file_size(c, f);
	int fd;

	if (off >= size || n > size - off)
		return;
	if (!c->live) {
		if (off + n <= img_len(m))
			memcpy(m->buf + off, p, n);
		return;
	}
	if (f == FZ_TABLE)
		c->taint_table = true;
	else
		c->taint = true;
	fd = open_live(c, f, O_RDWR);
	if (fd < 0)
		return;
	if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n)
		fz_fail("pwrite %s: %s", c->path[f], strerror(errno));
	close(fd);
}

static uint64_t get_word(const struct fz_chan *c, int f, uint64_t off, int w)
{
	uint64_t v = 0;

	if (fz_pread(c, f, &v, (size_t)w, off) != w)
		return 0;
	return v;
}

static void put_word(struct fz_chan *c, int f, uint64_t off, int w, uint64_t v)
{
	put_bytes(c, f, off, &v, (size_t)w);
}

bool fz_read_hdr(const struct fz_chan *c, struct mmsync_hdr *h)
{
	memset(h, 0, sizeof(*h));
	return fz_pread(c, FZ_STATE, h, sizeof(*h), 0) == (ssize_t)sizeof(*h);
}

/* The identity line, as lib/state.c must judge it (its contract). */
bool fz_ident_ok(const struct mmsync_hdr *h)
{
	return h->magic == MMSYNC_MAGIC && h->format == MMSYNC_FORMAT &&
	       h->state_size == MMSYNC_STATE_SIZE &&
	       h->entry_size == MMSYNC_ENTRY_SIZE && h->flags == 0 &&
	       h->nr_entries >= 1 && h->nr_entries <= MMSYNC_MAX_ENTRIES &&
	       h->table_size == mmsync_table_size(h->nr_entries) &&
	       (h->fence_mode == MMSYNC_FENCE_MEMBARRIER ||
		h->fence_mode == MMSYNC_FENCE_XCHG);
}

bool fz_id_is(const struct fz_chan *c, const struct mmsync_obj_id *id, int f)
{
	struct stat st;

	return lstat(c->path[f], &st) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_dev == id->dev && (uint64_t)st.st_ino == id->ino;
}

static void file_hash(const struct fz_chan *c, int f, struct fz_snap *s);

void fz_file_stat(const struct fz_chan *c, int f, struct fz_snap *s)
{
	fz_file_meta(c, f, s);
	if (s->kind == FZ_REG)
		file_hash(c, f, s);
}

/* What lstat says of file @f: kind, ids, size, owner, mode. */
void fz_file_meta(const struct fz_chan *c, int f, struct fz_snap *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->kind = FZ_MISSING;
	if (lstat(c->path[f], &st) < 0)
		return;
	s->kind = kind_of(&st);
	s->dev = (uint64_t)st.st_dev;
	s->ino = (uint64_t)st.st_ino;
	s->uid = st.st_uid;
	s->mode = st.st_mode;
	if (s->kind == FZ_REG)
		s->size = (uint64_t)st.st_size;
}

/* The hash of a regular file's bytes, and its first bytes. */
static void file_hash(const struct fz_chan *c, int f, struct fz_snap *s)
{
	static unsigned char buf[64 << 10];
	static XXH3_state_t *x;
	off_t off = 0;
	ssize_t n;
	int fd;

	fd = open(c->path[f], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fz_fail("open %s: %s", c->path[f], strerror(errno));
	if (!x)
		x = XXH3_createState();
	XXH3_64bits_reset(x);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (!off)
			memcpy(s->head, buf,
			       (size_t)n < sizeof(s->head) ? (size_t)n :
							     sizeof(s->head));
		XXH3_64bits_update(x, buf, (size_t)n);
		off += n;
	}
	s->hash = XXH3_64bits_digest(x);
	close(fd);
}

/* Which of the first bytes changed (the header fields, in a state). */
void fz_snap_diff(const struct fz_snap *a, const struct fz_snap *b)
{
	size_t i, k = 0;

	for (i = 0; i < sizeof(a->head) && k < 24; i++)
		if (a->head[i] != b->head[i]) {
			fprintf(stderr, "  byte %zu: %#x -> %#x\n", i,
				a->head[i], b->head[i]);
			k++;
		}
}

void fz_snap_all(const struct fz_chan *c, struct fz_snap s[FZ_NFILES])
{
	int f;

	for (f = 0; f < FZ_NFILES; f++)
		fz_file_stat(c, f, &s[f]);
}

bool fz_snap_same(const struct fz_snap *a, const struct fz_snap *b)
{
	return a->kind == b->kind && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->hash == b->hash && a->uid == b->uid &&
	       a->mode == b->mode;
}

/* ---- Edits ------------------------------------------------------------ */

#define SF(field)                                               \
	{                                                       \
		offsetof(struct mmsync_hdr, field),             \
			sizeof(((struct mmsync_hdr *)0)->field) \
	}
static const struct field {
	uint16_t off;
	uint8_t w;
} state_fields[] = {
	SF(magic),
	SF(format),
	SF(state_size),
	SF(entry_size),
	SF(nr_entries),
	SF(table_size),
	SF(fence_mode),
	SF(flags),
	SF(created_ns),
	SF(table_id.dev),
	SF(table_id.ino),
	SF(data_id[0].dev),
	SF(data_id[0].ino),
	SF(data_id[1].dev),
	SF(data_id[1].ino),
	SF(hot.gen),
	SF(hot.slot[0].gen),
	SF(hot.slot[0].size),
	SF(hot.slot[0].checksum),
	SF(hot.slot[1].gen),
	SF(hot.slot[1].size),
	SF(hot.slot[1].checksum),
	SF(cap[0]),
	SF(cap[1]),
	SF(pub_ns),
	SF(writer_pid),
	SF(stats.publishes),
	SF(stats.grace_waits),
	SF(stats.evictions),
	SF(stats.reclaims),
	SF(stats.refusals),
	SF(stats.waited_ns),
	SF(stats.writer_opens),
	SF(stats.notifies),
	/* the hot line again: it is what readers look at most */
	SF(hot.gen),
	SF(hot.slot[0].size),
	SF(hot.slot[1].size),
	SF(cap[0]),
	SF(cap[1]),
};
#define NR_SFIELDS (sizeof(state_fields) / sizeof(state_fields[0]))

#define EF(field)                                                 \
	{                                                         \
		offsetof(struct mmsync_entry, field),             \
			sizeof(((struct mmsync_entry *)0)->field) \
	}
static const struct field entry_fields[] = {
	EF(pin),
	EF(wait),
	EF(claimed),
	EF(pid),
	EF(flags),
	EF(opened_ns),
	EF(stale),
	{ offsetof(struct mmsync_entry, comm), 8 },
	{ offsetof(struct mmsync_entry, comm) + 8, 8 },
	EF(pin),
	EF(claimed),
};
#define NR_EFIELDS (sizeof(entry_fields) / sizeof(entry_fields[0]))

static const uint64_t interesting[] = {
	0,
	1,
	2,
	3,
	0xff,
	0x100,
	4095,
	4096,
	4097,
	8192,
	20480,
	65535,
	65536,
	65537,
	0x7fffffff,
	0x80000000ull,
	0xffffffffull,
	0x100000000ull,
	MMSYNC_MAX_GEN - 1,
	MMSYNC_MAX_GEN,
	MMSYNC_MAX_GEN + 1,
	MMSYNC_MAX_CAP - 1,
	MMSYNC_MAX_CAP,
	MMSYNC_MAX_CAP + 1,
	INT64_MAX,
	UINT64_MAX,
	UINT64_MAX - 1,
	MMSYNC_MAGIC,
	MMSYNC_MAX_ENTRIES,
	MMSYNC_MAX_ENTRIES + 1,
	1ull << 61,
	1ull << 62,
	1ull << 63,
	MMSYNC__PIN_TRACED | 1,
	MMSYNC__PIN_BROKEN | 2,
};
#define NR_INTERESTING (sizeof(interesting) / sizeof(interesting[0]))

static uint64_t hdr_word(const struct fz_chan *c, size_t off, int w)
{
	return get_word(c, FZ_STATE, off, w);
}

#define HDR(c, field)                                   \
	hdr_word(c, offsetof(struct mmsync_hdr, field), \
		 sizeof(((struct mmsync_hdr *)0)->field))

/* Values that mean something in this channel right now. */
static uint64_t semantic(const struct fz_chan *c, uint64_t v)
{
	uint64_t gen = HDR(c, hot.gen);
	uint32_t nr = (uint32_t)HDR(c, nr_entries);
	int f = (int)((v >> 8) % FZ_NFILES);
	struct stat st;

	switch (v % 16) {
	case 0:
		return gen;
	case 1:
		return gen - 1;
	case 2:
		return gen + 1;
	case 3:
		return gen - 2;
	case 4:
		return HDR(c, cap[0]);
	case 5:
		return HDR(c, cap[1]);
	case 6:
		return fz_file_size(c, FZ_DATA0);
	case 7:
		return fz_file_size(c, FZ_DATA1);
	case 8:
		return fz_file_size(c, FZ_TABLE);
	case 9:
		return mmsync_table_size(nr);
	case 10:
		return mmsync_table_size((uint32_t)((v >> 8) & 0x1ffff));
	case 11:
		return (uint64_t)getpid();
	case 12:
		if (!c->live)
			return MARK_DEV(f);
		return lstat(c->path[f], &st) == 0 ? (uint64_t)st.st_dev : 0;
	case 13:
		if (!c->live)
			return MARK_INO(f);
		return lstat(c->path[f], &st) == 0 ? (uint64_t)st.st_ino : 0;
	case 14:
		return HDR(c, hot.slot[0].size);
	default:
		return HDR(c, hot.slot[1].size);
	}
}

static uint64_t pick(const struct fz_chan *c, int mode, uint64_t v,
		     uint64_t cur)
{
	switch (mode & 7) {
	case 0:
		return v;
	case 1:
		return v & 0xff;
	case 2:
		return interesting[v % NR_INTERESTING];
	case 3:
		return cur + (uint64_t)(int64_t)(int8_t)v;
	case 4:
		return cur ^ (1ull << (v & 63));
	case 5:
		return semantic(c, v);
	case 6:
		return v >> (v & 63);
	default:
		return (uint64_t)(int64_t)(int16_t)v;
	}
}

static void set_field(struct fz_chan *c, int f, uint64_t off, int w, int mode,
		      uint64_t v)
{
	uint64_t cur = get_word(c, f, off, w);

	put_word(c, f, off, w, pick(c, mode, v, cur));
}

/* Which entry a record means: 0..23, or relative to nr_entries. */
static uint32_t entry_sel(const struct fz_chan *c, unsigned int sel)
{
	uint32_t nr = (uint32_t)HDR(c, nr_entries);

	sel &= 31;
	if (sel < 24)
		return sel;
	switch (sel) {
	case 24:
		return nr - 1;
	case 25:
		return nr;
	case 26:
		return nr - 2;
	case 27:
		return nr + 1;
	default:
		return (uint32_t)(fz_file_size(c, FZ_TABLE) -
				  MMSYNC_TABLE_HDR) /
			       MMSYNC_ENTRY_SIZE -
		       1;
	}
}

static void edit_table(struct fz_chan *c, const struct fz_rec *r)
{
	unsigned int k = r->a % (NR_EFIELDS + 2);
	uint64_t off;

	if (k == NR_EFIELDS) {
		off = offsetof(struct mmsync_table_hdr, claimed);
	} else if (k == NR_EFIELDS + 1) {
		off = offsetof(struct mmsync_table_hdr, waiters);
	} else {
		off = mmsync_entry_off(entry_sel(c, r->b >> 3)) +
		      entry_fields[k].off;
		set_field(c, FZ_TABLE, off, entry_fields[k].w, r->b, r->v);
		return;
	}
	set_field(c, FZ_TABLE, off, 8, r->b, r->v);
}

/* An offset in file @f of @size bytes, chosen by @b (and @v). */
static uint64_t offset_sel(uint16_t b, uint64_t v, uint64_t size)
{
	uint64_t off;

	switch (b >> 14) {
	case 0:
		off = b & 0x3fff;
		break;
	case 1:
		off = size - 1 - (b & 0x3fff);
		break;
	case 2:
		off = (uint64_t)(b & 0x3ff) * 4096 - 4 + ((b >> 10) & 7);
		break;
	default:
		off = v >> 40;
		break;
	}
	return size ? off % size : 0;
}

static void edit_poke(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a & 3;
	size_t n = 1 + ((r->a >> 2) & 7);
	uint64_t size = fz_file_size(c, f);

	if (size)
		put_bytes(c, f, offset_sel(r->b, r->v, size), &r->v, n);
}

static void edit_fill(struct fz_chan *c, const struct fz_rec *r)
{
	static unsigned char buf[FZ_MAX_PAYLOAD];
	int f = FZ_DATA0 + (r->a & 1);
	uint64_t size = fz_file_size(c, f), off;
	size_t n = (size_t)(r->v & 0xffff), i;

	if (!size)
		return;
	off = offset_sel(r->b, r->v, size);
	if (n > size - off)
		n = (size_t)(size - off);
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)((r->v >> 16) + ((r->a & 2) ? i : 0));
	put_bytes(c, f, off, buf, n);
}

static void resize(struct fz_chan *c, int f, uint64_t size)
{
	struct fz_img *m = &c->img[f];
	uint64_t old = m->size;
	int fd;

	if (size > FZ_MAX_FSIZE)
		size = FZ_MAX_FSIZE;
	if (!c->live) {
		/* Shrinking drops bytes: growing again gives zeros. */
		if (size < old && size < FZ_IMG_MAX)
			memset(m->buf + size, 0,
			       (old < FZ_IMG_MAX ? old : FZ_IMG_MAX) - size);
		m->size = size;
		return;
	}
	/* Live: only growth, nothing shrinks under a mapping. */
	fd = open_live(c, f, O_RDWR);
	if (fd < 0)
		return;
	if (size > fz_file_size(c, f)) {
		if (f == FZ_TABLE)
			c->taint_table = true;
		else
			c->taint = true;
		if (ftruncate(fd, (off_t)size) < 0)
			fz_fail("grow %s: %s", c->path[f], strerror(errno));
	}
	close(fd);
}

static void edit_size(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a % FZ_NFILES;
	uint64_t cur = fz_file_size(c, f), size;
	uint32_t nr = (uint32_t)HDR(c, nr_entries);
	static const uint64_t odd[] = { 1,
					7,
					63,
					64,
					511,
					4095,
					4097,
					sizeof(struct mmsync_hdr),
					sizeof(struct mmsync_hdr) - 1,
					8191 };

	switch (r->b & 7) {
	case 0:
		size = fz_template_size(c->tmpl, f);
		break;
	case 1:
		size = 0;
		break;
	case 2:
		size = cur + (uint64_t)(int64_t)(int16_t)r->v;
		break;
	case 3:
		size = (r->v % 1025) * 4096;
		break;
	case 4:
		size = r->v % (FZ_MAX_FSIZE + 1ull);
		break;
	case 5:
		switch (r->v % 6) {
		case 0:
			size = mmsync_table_size(nr);
			break;
		case 1:
			size = mmsync_table_size(nr) - 64;
			break;
		case 2:
			size = HDR(c, cap[0]);
			break;
		case 3:
			size = HDR(c, cap[1]);
			break;
		case 4:
			size = HDR(c, cap[0]) - 1;
			break;
		default:
			size = HDR(c, cap[1]) - 1;
			break;
		}
		break;
	case 6:
		size = (r->b & 8) ? cur * 2 : cur / 2;
		break;
	default:
		size = odd[r->v % (sizeof(odd) / sizeof(odd[0]))];
		break;
	}
	resize(c, f, size);
}

static void edit_kind(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a % FZ_NFILES, kind = r->b % FZ_NKINDS, fd;

	if (!c->live) {
		c->img[f].kind = kind;
		return;
	}
	/* Replaced live: every handle keeps its old file. */
	c->taint = true;
	fd = make_kind(c, f, kind);
	if (fd >= 0)
		close(fd);
}

static void edit_owner(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a % FZ_NFILES, fd;
	bool other = false;
	mode_t mode = 0;

	switch (r->b & 3) {
	case 0:
		other = false;
		break;
	case 1:
		other = true;
		break;
	case 2:
		mode = (mode_t)(r->v & 0777);
		break;
	default:
		mode = (mode_t)(r->v & 07777);
		break;
	}
	if (!c->live) {
		if ((r->b & 3) < 2)
			c->img[f].other_owner = other;
		else
			c->img[f].mode = mode;
		return;
	}
	fd = open_live(c, f, O_RDONLY);
	if (fd < 0)
		return;
	if ((r->b & 3) < 2) {
		if (fchown(fd, other ? 65534 : geteuid(), -1) < 0) {
			/* Not root: nothing changes. */
		}
	} else {
		fchmod(fd, mode);
	}
	close(fd);
}

/* An object id of the state := the id (marker) of file b. */
static void edit_set_id(struct fz_chan *c, const struct fz_rec *r)
{
	static const size_t dst[3] = { offsetof(struct mmsync_hdr, table_id),
				       offsetof(struct mmsync_hdr, data_id[0]),
				       offsetof(struct mmsync_hdr,
						data_id[1]) };
	size_t at = dst[r->a % 3];
	uint64_t d0, i0;

	if (r->b % 6 == 5) {
		/* The two data objects swapped. */
		d0 = HDR(c, data_id[0].dev);
		i0 = HDR(c, data_id[0].ino);
		put_word(c, FZ_STATE, offsetof(struct mmsync_hdr, data_id[0]),
			 8, HDR(c, data_id[1].dev));
		put_word(c, FZ_STATE,
			 offsetof(struct mmsync_hdr, data_id[0]) + 8, 8,
			 HDR(c, data_id[1].ino));
		put_word(c, FZ_STATE, offsetof(struct mmsync_hdr, data_id[1]),
			 8, d0);
		put_word(c, FZ_STATE,
			 offsetof(struct mmsync_hdr, data_id[1]) + 8, 8, i0);
		return;
	}
	put_word(c, FZ_STATE, at, 8, semantic(c, 12 | ((r->b % 6) << 8)));
	put_word(c, FZ_STATE, at + 8, 8, semantic(c, 13 | ((r->b % 6) << 8)));
}

/* Make slot i's checksum right for the bytes its file holds. */
static void edit_fixsum(struct fz_chan *c, const struct fz_rec *r)
{
	static unsigned char buf[FZ_IMG_MAX];
	int i = r->a & 1;
	uint64_t size = i ? HDR(c, hot.slot[1].size) : HDR(c, hot.slot[0].size);
	size_t off = offsetof(struct mmsync_hdr, hot.slot[0].checksum) +
		     (size_t)i * sizeof(struct mmsync__slot);

	if (size > FZ_IMG_MAX ||
	    fz_pread(c, FZ_DATA0 + i, buf, size, 0) != (ssize_t)size)
		return;
	put_word(c, FZ_STATE, off, 8, XXH3_64bits(buf, size));
}

static void edit_lock_entry(struct fz_chan *c, const struct fz_rec *r)
{
	uint32_t nr = (uint32_t)HDR(c, nr_entries), i, from, to;

	if (r->a == 255) {
		from = 0;
		to = nr < 256 ? nr : 256;
	} else {
		from = entry_sel(c, r->a);
		to = from + 1;
	}
	for (i = from; i < to && i < 256; i++) {
		if (!c->live) {
			c->entry_locks[i / 64] |= 1ull << (i % 64);
			continue;
		}
		if (lock_at(c, 0, FZ_TABLE, O_RDWR, F_WRLCK,
			    (off_t)mmsync_entry_off(i)) == 0)
			c->entry_locks[i / 64] |= 1ull << (i % 64);
	}
}

void fz_edit(struct fz_chan *c, const struct fz_rec *r)
{
	const struct field *sf;

	switch (r->op) {
	case OP_STATE_FIELD:
		sf = &state_fields[r->a % NR_SFIELDS];
		set_field(c, FZ_STATE, sf->off, sf->w, r->b, r->v);
		break;
	case OP_TABLE_FIELD:
		edit_table(c, r);
		break;
	case OP_POKE:
		edit_poke(c, r);
		break;
	case OP_SIZE:
		edit_size(c, r);
		break;
	case OP_KIND:
		edit_kind(c, r);
		break;
	case OP_OWNER:
		edit_owner(c, r);
		break;
	case OP_SET_ID:
		edit_set_id(c, r);
		break;
	case OP_FIXSUM:
		edit_fixsum(c, r);
		break;
	case OP_FILL:
		edit_fill(c, r);
		break;
	case OP_LOCK_ENTRY:
		edit_lock_entry(c, r);
		break;
	case OP_LOCK_WRITER:
		c->writer_locked = true;
		if (c->live)
			c->writer_locked =
				lock_at(c, 1, FZ_LOCK, O_RDWR, F_WRLCK,
					MMSYNC_WRITER_LOCK_OFF) == 0;
		break;
	case OP_RDLOCK_STATE:
		c->state_rdlocked = true;
		if (c->live)
			c->state_rdlocked =
				lock_at(c, 2, FZ_STATE, O_RDONLY, F_RDLCK,
					MMSYNC_WRITER_LOCK_OFF) == 0;
		break;
	}
}

bool fz_next(struct fz_in *in, struct fz_rec *r)
{
	uint8_t b[FZ_RECORD] = { 0 };
	size_t n;

	if (in->off >= in->n)
		return false;
	n = in->n - in->off < FZ_RECORD ? in->n - in->off : FZ_RECORD;
	memcpy(b, in->p + in->off, n);
	in->off += n;
	r->op = b[0];
	r->a = b[1];
	r->b = (uint16_t)(b[2] | b[3] << 8);
	memcpy(&r->v, b + 4, 8); /* little-endian machines only */
	return true;
}
