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
	/* Aligned as a struct mmsync_hdr wants: the state is read as one. */
	t->buf[f] = aligned_alloc(4096, (t->size[f] + 4096) & ~4095ull);
	if (t->buf[f])
		memset(t->buf[f], 0, t->size[f] + 1);
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

		h->table_id.dev = FZ_MARK_DEV(FZ_TABLE);
		h->table_id.ino = FZ_MARK_INO(FZ_TABLE);
		for (f = 0; f < 2; f++) {
			h->data_id[f].dev = FZ_MARK_DEV(FZ_DATA0 + f);
			h->data_id[f].ino = FZ_MARK_INO(FZ_DATA0 + f);
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

static void scan_fds(bool baseline);

void fz_init(void)
{
	struct sigaction bus;
	int k;

	if (top[0])
		return;
	owner_pid = getpid();
	scan_fds(true);
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
uint64_t fz_img_len(const struct fz_img *m)
{
	return m->size < FZ_IMG_MAX ? m->size : FZ_IMG_MAX;
}

static uint64_t last_len[FZ_NFILES]; /* fz_img_len() of the last input's */

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
	static unsigned char bufs[FZ_NFILES][FZ_IMG_MAX]
		__attribute__((aligned(4096)));
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
int fz_make_kind(struct fz_chan *c, int f, int kind)
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
		if (*dev == FZ_MARK_DEV(f))
			*dev = have[f] ? (uint64_t)ids[f].st_dev : 0;
		if (*ino == FZ_MARK_INO(f))
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
		fd[f] = fz_make_kind(c, f, c->img[f].kind);
		have[f] = lstat(c->path[f], &ids[f]) == 0;
	}
	resolve(&h->table_id.dev, &h->table_id.ino, ids, have);
	for (i = 0; i < 2; i++)
		resolve(&h->data_id[i].dev, &h->data_id[i].ino, ids, have);
	for (f = 0; f < FZ_NFILES; f++) {
		struct fz_img *m = &c->img[f];

		if (fd[f] < 0)
			continue;
		n = fz_img_len(m);
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
int fz_lock_at(struct fz_chan *c, int slot, int f, int flags, short type,
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
		    fz_lock_at(c, 0, FZ_TABLE, O_RDWR, F_WRLCK,
			       (off_t)mmsync_entry_off(i)) == 0)
			c->entry_locks[i / 64] |= 1ull << (i % 64);
	if (c->writer_locked)
		c->writer_locked = fz_lock_at(c, 1, FZ_LOCK, O_RDWR, F_WRLCK,
					      MMSYNC_WRITER_LOCK_OFF) == 0;
	if (c->state_rdlocked)
		c->state_rdlocked =
			fz_lock_at(c, 2, FZ_STATE, O_RDONLY, F_RDLCK,
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
 * of ours, a memfd, an inotify or io_uring instance, a socket, that was
 * not open when the fuzzer started (inherited ones: a profiler's). Counting
 * descriptors would not do: libFuzzer's and the sanitizers' threads open
 * files of their own at any time.
 */
#define MAX_FDS 64
static char inherited[MAX_FDS][80];

static bool fd_link(const char *name, char *what, size_t n)
{
	char p[PATH_MAX];
	ssize_t len;

	snprintf(p, sizeof(p), "/proc/self/fd/%s", name);
	len = readlink(p, what, n - 1);
	if (len <= 0)
		return false;
	what[len] = '\0';
	return true;
}

static void scan_fds(bool baseline)
{
	char what[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	long fd;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    !fd_link(de->d_name, what, sizeof(what)))
			continue;
		fd = strtol(de->d_name, NULL, 10);
		if (baseline) {
			if (fd >= 0 && fd < MAX_FDS)
				snprintf(inherited[fd], sizeof(inherited[fd]),
					 "%s", what);
			continue;
		}
		if (fd >= 0 && fd < MAX_FDS &&
		    !strncmp(inherited[fd], what, sizeof(inherited[fd]) - 1))
			continue;
		if (!strncmp(what, top, strlen(top)) ||
		    !strncmp(what, "/memfd:", 7) ||
		    !strncmp(what, "anon_inode:", 11) ||
		    !strncmp(what, "socket:", 7))
			fz_fail("descriptor leak: fd %s is open (%s)",
				de->d_name, what);
	}
	closedir(d);
}

/* Nor a mapping of our files (handles unmap all they map). */
static void check_maps(void)
{
	static char buf[1 << 16];
	ssize_t n, off = 0;
	char *hit;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (off < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + off, sizeof(buf) - 1 - (size_t)off)) > 0)
		off += n;
	close(fd);
	buf[off] = '\0';
	hit = strstr(buf, top);
	if (hit) {
		while (hit > buf && hit[-1] != '\n')
			hit--;
		*strchrnul(hit, '\n') = '\0';
		fz_fail("mapping leak: %s", hit);
	}
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
		last_len[i] = fz_img_len(&c->img[i]);
	scan_fds(false);
	check_maps();
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

int fz_open_live(const struct fz_chan *c, int f, int flags)
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
		if (m->kind != FZ_REG || off >= fz_img_len(m))
			return 0;
		if (n > fz_img_len(m) - off)
			n = fz_img_len(m) - off;
		memcpy(buf, m->buf + off, n);
		return (ssize_t)n;
	}
	fd = fz_open_live(c, f, O_RDONLY);
	if (fd < 0)
		return -1;
	got = pread(fd, buf, n, (off_t)off);
	close(fd);
	return got;
}

/* Write @n bytes at @off, inside the file (never growing it). */
void fz_put_bytes(struct fz_chan *c, int f, uint64_t off, const void *p,
		  size_t n)
{
	struct fz_img *m = &c->img[f];
	uint64_t size = fz_file_size(c, f);
	int fd;

	if (off >= size || n > size - off)
		return;
	if (!c->live) {
		if (off + n <= fz_img_len(m))
			memcpy(m->buf + off, p, n);
		return;
	}
	if (f == FZ_TABLE)
		c->taint_table = true;
	else
		c->taint = true;
	fd = fz_open_live(c, f, O_RDWR);
	if (fd < 0)
		return;
	if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n)
		fz_fail("pwrite %s: %s", c->path[f], strerror(errno));
	close(fd);
}

uint64_t fz_get_word(const struct fz_chan *c, int f, uint64_t off, int w)
{
	uint64_t v = 0;

	if (fz_pread(c, f, &v, (size_t)w, off) != w)
		return 0;
	return v;
}

void fz_put_word(struct fz_chan *c, int f, uint64_t off, int w, uint64_t v)
{
	fz_put_bytes(c, f, off, &v, (size_t)w);
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

static void file_hash(int fd, struct fz_snap *s);

static void fill_meta(struct fz_snap *s, const struct stat *st)
{
	s->kind = kind_of(st);
	s->dev = (uint64_t)st->st_dev;
	s->ino = (uint64_t)st->st_ino;
	s->uid = st->st_uid;
	s->mode = st->st_mode;
	if (s->kind == FZ_REG)
		s->size = (uint64_t)st->st_size;
}

/* Kind, ids, size, owner, mode and the hash of the bytes of file @f. */
void fz_file_stat(const struct fz_chan *c, int f, struct fz_snap *s)
{
	struct stat st;
	int fd;

	/* One open for all (a FIFO opens at once with O_NONBLOCK). */
	fd = open(c->path[f], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fz_file_meta(c, f, s); /* a symlink, or nothing */
		return;
	}
	memset(s, 0, sizeof(*s));
	if (fstat(fd, &st) < 0)
		fz_fail("fstat %s: %s", c->path[f], strerror(errno));
	fill_meta(s, &st);
	if (s->kind == FZ_REG)
		file_hash(fd, s);
	close(fd);
}

/* What lstat says of file @f: kind, ids, size, owner, mode. */
void fz_file_meta(const struct fz_chan *c, int f, struct fz_snap *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->kind = FZ_MISSING;
	if (lstat(c->path[f], &st) == 0)
		fill_meta(s, &st);
}

/* The hash of a regular file's bytes, and its first bytes. */
/* Is the 4 KiB page at @p all zeros? */
static bool zero_page(const unsigned char *p)
{
	static const unsigned char zeros[4096];

	return !memcmp(p, zeros, sizeof(zeros));
}

/* Hash the pages of @buf (@n bytes at offset @at) that are not zeros. */
FZ_NO_COVERAGE static void hash_pages(XXH3_state_t *x, unsigned char *buf,
				      ssize_t n, uint64_t at)
{
	uint64_t pos;
	ssize_t k;

	/* A short last page reads as zeros past the end. */
	memset(buf + n, 0, (4096 - (size_t)n % 4096) % 4096);
	for (k = 0; k < n; k += 4096) {
		if (zero_page(buf + k))
			continue;
		pos = at + (uint64_t)k;
		XXH3_64bits_update(x, &pos, sizeof(pos));
		XXH3_64bits_update(x, buf + k, 4096);
	}
}

/*
 * A hash of what a regular file's bytes are, not of how they are stored:
 * every page that is not all zeros, with its offset. Holes are zeros, so
 * SEEK_DATA skips them unread (files of megabytes are mostly holes here),
 * and a page allocated with zeros hashes as the hole it was. Also keeps
 * the first bytes, to say what changed.
 */
static void file_hash(int fd, struct fz_snap *s)
{
	static unsigned char buf[(256 << 10) + 4096]
		__attribute__((aligned(4096)));
	static XXH3_state_t *x;
	off_t off = 0, data, hole, at;
	ssize_t n;

	if (!x)
		x = XXH3_createState();
	XXH3_64bits_reset(x);
	/* Most files are small: one read. */
	n = pread(fd, buf, sizeof(buf) - 4096, 0);
	if (n > 0)
		memcpy(s->head, buf,
		       (size_t)n < sizeof(s->head) ? (size_t)n :
						     sizeof(s->head));
	if (n >= 0 && (uint64_t)n == s->size) {
		hash_pages(x, buf, n, 0);
		s->hash = XXH3_64bits_digest(x);
		return;
	}
	while ((data = lseek(fd, off, SEEK_DATA)) >= 0) {
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			break;
		for (at = data & ~(off_t)4095; at < hole; at += n) {
			/*
			 * Up to the hole only: a read past it would hash the
			 * next data region twice (here and at its SEEK_DATA),
			 * so a read fault that turned a hole into a zero page
			 * would change the hash of unchanged bytes.
			 */
			n = pread(fd, buf,
				  hole - at < (off_t)sizeof(buf) - 4096 ?
					  (size_t)(hole - at) :
					  sizeof(buf) - 4096,
				  at);
			if (n <= 0)
				break;
			hash_pages(x, buf, n, (uint64_t)at);
		}
		off = hole;
	}
	s->hash = XXH3_64bits_digest(x);
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
