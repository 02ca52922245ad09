// SPDX-License-Identifier: MIT
/*
 * publish_bench.c - the publish paths of issue 4 against their baselines,
 * measured in the same run, interleaved, medians of >= 5 runs:
 *
 *   from a page-cached file
 *     fd_publish        mmsync_publish_fd() (io_uring, defaults)
 *     fd_publish_async  ... with MMSYNC_FD_ASYNC (reads in io_uring's
 *                       workers, hashing in this thread meanwhile)
 *     fd_publish_inline ... with MMSYNC_FD_INLINE (reads run at submit
 *                       time in this thread, then the hash)
 *     fd_publish_sync   ... with MMSYNC_FD_NO_URING (the read() loop)
 *     fd_read_commit    mmsync_reserve() + a read() loop into the slot +
 *                       mmsync_commit(): what a caller does without
 *                       publish_fd (the baseline of the 1.2x target)
 *     fd_read_raw       a read() loop into a mapping, nothing else: the
 *                       copy floor (no hash, no publish)
 *     fd_mmap_publish   mmap() of the file + mmsync_publish() of it
 *     fd_mmap_memcpy    mmap() of the file + memcpy() into a mapping, no
 *                       hash: the other copy floor
 *   from memory
 *     mem_publish       mmsync_publish()
 *     mem_reserve       mmsync_reserve() + memcpy() + mmsync_commit()
 *     mem_iov           mmsync_publish_iov() of 4 pieces
 *     mem_memcpy_xxh3   memcpy() into a mapping + XXH3-64 of it: the
 *                       baseline of the 0.8x target
 *
 * Every read() in the loops is 1 MiB (the best size for them here); the
 * destination of the baselines is a tmpfs mapping like a slot, faulted in
 * beforehand as the slots are (each case runs twice before timing). Each
 * sample repeats its case for at least 20 ms; next to wall-clock GB/s it
 * records GB per CPU-second of the whole process (io_uring's workers are
 * its threads), which shows what the async engine's speed costs. The
 * three fd_publish_* variants run at 1 and 64 MiB only: each writer holds
 * two slots, and 1 GiB slots for all of them would not fit beside the rest.
 *
 *   publish_bench [-r RUNS] [-q] [-d DIR] [-o CSV] [-m MD] [--sweep]
 *   PUBBENCH_ONLY=case,case,... publish_bench ...   (only those cases)
 *
 * --sweep measures publish_fd's queue depth x chunk size (page-cached and
 * O_DIRECT, 64 MiB) instead: the numbers behind the defaults.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <mmsync.h>

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define READ_CHUNK (1u << 20)
/* Repeat a case within one sample until the sample lasts this long. */
#define MIN_SAMPLE_NS 20000000ull

struct ctx {
	size_t size;
	int src_fd; /* the source file, page-cached */
	unsigned char *mem; /* the same bytes in memory */
	unsigned char *dst; /* the baselines' destination (tmpfs mapping) */
	struct mmsync_writer *w; /* baselines, publish from memory */
	struct mmsync_writer *w_fd; /* publish_fd with the defaults */
	struct mmsync_writer *w_async; /* fd_flags = MMSYNC_FD_ASYNC */
	struct mmsync_writer *w_inline; /* fd_flags = 0 */
	struct mmsync_writer *w_sync; /* fd_flags = MMSYNC_FD_NO_URING */
	uint64_t sink;
};

struct bcase {
	const char *name;
	const char *baseline; /* case the ratio is taken against, or NULL */
	int (*fn)(struct ctx *c);
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int read_loop(int fd, unsigned char *dst, size_t size)
{
	size_t off = 0;
	ssize_t k;

	while (off < size) {
		k = pread(fd, dst + off,
			  size - off < READ_CHUNK ? size - off : READ_CHUNK,
			  (off_t)off);
		if (k <= 0)
			return k < 0 ? -errno : -ENODATA;
		off += (size_t)k;
	}
	return 0;
}

/* ---- the cases ---------------------------------------------------------- */

static int fd_publish(struct ctx *c)
{
	return mmsync_publish_fd(c->w_fd, c->src_fd, 0, c->size, NULL);
}

/* The extra writers are closed before the 1 GiB round (memory). */
static int fd_publish_async(struct ctx *c)
{
	if (!c->w_async)
		return -ENOTSUP;
	return mmsync_publish_fd(c->w_async, c->src_fd, 0, c->size, NULL);
}

static int fd_publish_inline(struct ctx *c)
{
	if (!c->w_inline)
		return -ENOTSUP;
	return mmsync_publish_fd(c->w_inline, c->src_fd, 0, c->size, NULL);
}

static int fd_publish_sync(struct ctx *c)
{
	if (!c->w_sync)
		return -ENOTSUP;
	return mmsync_publish_fd(c->w_sync, c->src_fd, 0, c->size, NULL);
}

static int fd_read_commit(struct ctx *c)
{
	void *p;
	int err = mmsync_reserve(c->w, c->size, &p);

	if (!err)
		err = read_loop(c->src_fd, p, c->size);
	if (!err)
		err = mmsync_commit(c->w, c->size, NULL);
	else
		mmsync_abort(c->w);
	return err;
}

static int fd_read_raw(struct ctx *c)
{
	return read_loop(c->src_fd, c->dst, c->size);
}

static int fd_mmap_publish(struct ctx *c)
{
	void *p = mmap(NULL, c->size, PROT_READ, MAP_SHARED, c->src_fd, 0);
	int err;

	if (p == MAP_FAILED)
		return -errno;
	err = mmsync_publish(c->w, p, c->size, NULL);
	munmap(p, c->size);
	return err;
}

static int fd_mmap_memcpy(struct ctx *c)
{
	void *p = mmap(NULL, c->size, PROT_READ, MAP_SHARED, c->src_fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	memcpy(c->dst, p, c->size);
	munmap(p, c->size);
	return 0;
}

static int mem_publish(struct ctx *c)
{
	return mmsync_publish(c->w, c->mem, c->size, NULL);
}

static int mem_reserve(struct ctx *c)
{
	void *p;
	int err = mmsync_reserve(c->w, c->size, &p);

	if (err)
		return err;
	memcpy(p, c->mem, c->size);
	return mmsync_commit(c->w, c->size, NULL);
}

static int mem_iov(struct ctx *c)
{
	struct iovec iov[4];
	size_t q = c->size / 4;
	int i;

	for (i = 0; i < 4; i++) {
		iov[i].iov_base = c->mem + (size_t)i * q;
		iov[i].iov_len = i == 3 ? c->size - 3 * q : q;
	}
	return mmsync_publish_iov(c->w, iov, 4, NULL);
}

static int mem_memcpy_xxh3(struct ctx *c)
{
	memcpy(c->dst, c->mem, c->size);
	c->sink += XXH3_64bits(c->dst, c->size);
	return 0;
}

static const struct bcase cases[] = {
	{ "fd_publish", NULL, fd_publish },
	{ "fd_publish_async", "fd_read_commit", fd_publish_async },
	{ "fd_publish_inline", "fd_read_commit", fd_publish_inline },
	{ "fd_publish_sync", "fd_read_commit", fd_publish_sync },
	{ "fd_read_commit", NULL, fd_read_commit },
	{ "fd_read_raw", NULL, fd_read_raw },
	{ "fd_mmap_publish", NULL, fd_mmap_publish },
	{ "fd_mmap_memcpy", NULL, fd_mmap_memcpy },
	{ "mem_memcpy_xxh3", NULL, mem_memcpy_xxh3 },
	{ "mem_publish", "mem_memcpy_xxh3", mem_publish },
	{ "mem_reserve", "mem_memcpy_xxh3", mem_reserve },
	{ "mem_iov", "mem_memcpy_xxh3", mem_iov },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* publish_fd's ratios, against each file baseline. */
static const char *const fd_baselines[] = {
	"fd_read_commit",
	"fd_read_raw",
	"fd_mmap_publish",
	"fd_mmap_memcpy",
};

/* $PUBBENCH_ONLY=a,b,...: run only these cases (the others report 0). */
static bool wanted(const char *name)
{
	const char *only = getenv("PUBBENCH_ONLY"), *p;
	size_t n = strlen(name);

	if (!only || !*only)
		return true;
	for (p = strstr(only, name); p; p = strstr(p + 1, name))
		if ((p == only || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

/* ---- setup -------------------------------------------------------------- */

static void fill(unsigned char *p, size_t n)
{
	uint64_t s = 0x1234567, *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < n / 8; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		w[i] = s;
	}
}

/* A file of @mem's bytes in @dir, written back and unlinked: page-cached. */
static int make_source(const char *dir, const unsigned char *mem, size_t n)
{
	char path[4096];
	size_t off;
	ssize_t k;
	int fd;

	snprintf(path, sizeof(path), "%s/mmsync-pubbench-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	unlink(path);
	for (off = 0; off < n; off += (size_t)k) {
		k = write(fd, mem + off, n - off);
		if (k <= 0)
			die("write %s: %s", path, strerror(errno));
	}
	/* No writeback while we measure. */
	fsync(fd);
	return fd;
}

static unsigned char *shm_map(const char *dir, size_t n)
{
	char path[4096];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/pubbench-dst-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	unlink(path);
	if (fallocate(fd, 0, 0, (off_t)n) < 0)
		die("fallocate %zu: %s", n, strerror(errno));
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset(p, 0, n);
	return p;
}

static struct mmsync_writer *open_writer(const char *chan, uint32_t depth,
					 uint64_t chunk, uint32_t flags)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .fence_mode = MMSYNC_FENCE_XCHG,
		    .fd_depth = depth, .fd_chunk = chunk, .fd_flags = flags);
	struct mmsync_writer *w;
	int err;

	err = mmsync_writer_open(chan, &o, &w);
	if (err)
		die("mmsync_writer_open %s: %s", chan, strerror(-err));
	return w;
}

/* CPU time of the whole process (io_uring's workers are its threads). */
static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		       1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

/*
 * One sample of case @b: GB/s of wall time over enough repetitions to last
 * 20 ms; *@cpu: GB per CPU-second (all threads) over the same repetitions.
 */
static double sample(const struct bcase *b, struct ctx *c, double *cpu)
{
	uint64_t t0 = now_ns(), c0 = cpu_ns(), t;
	unsigned int n = 0;
	int err;

	do {
		err = b->fn(c);
		if (err)
			die("%s at %zu bytes: %s", b->name, c->size,
			    strerror(-err));
		n++;
		t = now_ns() - t0;
	} while (t < MIN_SAMPLE_NS);
	if (cpu)
		*cpu = (double)c->size * n / (double)(cpu_ns() - c0 + 1);
	return (double)c->size * n / (double)t;
}

/* ---- the main comparison ------------------------------------------------ */

struct result {
	double med, lo, hi, cpu;
};

static double find(const struct result *res, const char *name)
{
	unsigned int i;

	for (i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].name, name))
			return res[i].med;
	return 0;
}

static void run_size(struct ctx *c, int runs, FILE *csv, struct result *out)
{
	double *v = calloc(NCASES * (size_t)runs, sizeof(double));
	double *cv = calloc(NCASES * (size_t)runs, sizeof(double));
	struct result res[NCASES];
	bool on[NCASES];
	unsigned int i, k;
	int r;

	if (!v || !cv)
		die("calloc");
	/* Warm up: slots, page tables, the page cache, the ring. */
	for (i = 0; i < NCASES; i++) {
		on[i] = wanted(cases[i].name) && cases[i].fn(c) != -ENOTSUP;
		if (on[i])
			cases[i].fn(c);
	}
	for (r = 0; r < runs; r++)
		for (i = 0; i < NCASES; i++) {
			/* Rotate the order so no case always goes first. */
			k = (i + (unsigned int)r) % NCASES;
			if (!on[k])
				continue;
			v[k * (size_t)runs + (size_t)r] =
				sample(&cases[k], c,
				       &cv[k * (size_t)runs + (size_t)r]);
		}
	memset(res, 0, sizeof(res));
	for (i = 0; i < NCASES && runs; i++) {
		double *x = v + i * (size_t)runs;

		if (!on[i])
			continue;
		res[i].med = median(x, runs);
		res[i].lo = x[0];
		res[i].hi = x[runs - 1];
		res[i].cpu = median(cv + i * (size_t)runs, runs);
	}
	for (i = 0; i < NCASES; i++) {
		double base =
			cases[i].baseline ? find(res, cases[i].baseline) : 0;

		if (!on[i])
			continue;
		fprintf(csv, "%zu,%s,%s,%d,%.3f,%.3f,%.3f,%.3f,%s", c->size,
			cases[i].name,
			cases[i].baseline ? cases[i].baseline : "", runs,
			res[i].med, res[i].lo, res[i].hi, res[i].cpu,
			base ? "" : "\n");
		if (base)
			fprintf(csv, "%.3f\n", res[i].med / base);
	}
	for (k = 0; k < sizeof(fd_baselines) / sizeof(fd_baselines[0]); k++)
		fprintf(csv, "%zu,fd_publish,%s,%d,%.3f,%.3f,%.3f,%.3f,%.3f\n",
			c->size, fd_baselines[k], runs, res[0].med, res[0].lo,
			res[0].hi, res[0].cpu,
			res[0].med / find(res, fd_baselines[k]));
	fflush(csv);
	memcpy(out, res, sizeof(res));
	for (i = 0; i < NCASES; i++)
		if (on[i])
			printf("%8zu MiB  %-17s %7.2f GB/s  [%.2f .. %.2f]  "
			       "%.2f GB/cpu-s\n",
			       c->size >> 20, cases[i].name, res[i].med,
			       res[i].lo, res[i].hi, res[i].cpu);
	printf("%8zu MiB  publish_fd / read loop+commit %.2fx, / read loop "
	       "%.2fx, / mmap+publish %.2fx, / mmap+memcpy %.2fx\n",
	       c->size >> 20,
	       find(res, "fd_publish") / find(res, "fd_read_commit"),
	       find(res, "fd_publish") / find(res, "fd_read_raw"),
	       find(res, "fd_publish") / find(res, "fd_mmap_publish"),
	       find(res, "fd_publish") / find(res, "fd_mmap_memcpy"));
	printf("%8zu MiB  publish / memcpy+xxh3 %.2fx, reserve/commit %.2fx, "
	       "iov %.2fx\n",
	       c->size >> 20,
	       find(res, "mem_publish") / find(res, "mem_memcpy_xxh3"),
	       find(res, "mem_reserve") / find(res, "mem_memcpy_xxh3"),
	       find(res, "mem_iov") / find(res, "mem_memcpy_xxh3"));
	fflush(stdout);
	free(v);
	free(cv);
}

static double cpu_of(const struct result *res, const char *name)
{
	unsigned int i;

	for (i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].name, name))
			return res[i].cpu;
	return 0;
}

static double ratio(const struct result *res, const char *a, const char *b)
{
	double x = find(res, a), y = find(res, b);

	return x && y ? x / y : 0;
}

/* The three tables of bench/results/publish.md. */
static void write_md(FILE *md, const size_t *sizes, size_t n,
		     struct result (*all)[NCASES], int runs)
{
	const struct result *r;
	size_t i;

	fprintf(md,
		"GB/s, medians of %d interleaved runs; ratios of "
		"medians.\n\n",
		runs);
	fprintf(md, "**publish_fd from a page-cached file** (ext4, "
		    "fsync'ed) into a tmpfs slot\n\n"
		    "| size | publish_fd | read()+commit | read() only | "
		    "mmap+publish | mmap+memcpy | fd / read()+commit | "
		    "fd / read() | fd / mmap+publish | fd / mmap+memcpy |\n"
		    "|---|---|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < n; i++) {
		r = all[i];
		fprintf(md,
			"| %zu MiB | %.2f | %.2f | %.2f | %.2f | %.2f | "
			"**%.2fx** | %.2fx | %.2fx | %.2fx |\n",
			sizes[i] >> 20, find(r, "fd_publish"),
			find(r, "fd_read_commit"), find(r, "fd_read_raw"),
			find(r, "fd_mmap_publish"), find(r, "fd_mmap_memcpy"),
			ratio(r, "fd_publish", "fd_read_commit"),
			ratio(r, "fd_publish", "fd_read_raw"),
			ratio(r, "fd_publish", "fd_mmap_publish"),
			ratio(r, "fd_publish", "fd_mmap_memcpy"));
	}
	fprintf(md, "\n**publish from memory** into a tmpfs slot\n\n"
		    "| size | publish | reserve+memcpy+commit | publish_iov "
		    "(4 pieces) | memcpy+XXH3 | publish / memcpy+XXH3 | "
		    "reserve / memcpy+XXH3 | iov / memcpy+XXH3 |\n"
		    "|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < n; i++) {
		r = all[i];
		fprintf(md,
			"| %zu MiB | %.2f | %.2f | %.2f | %.2f | "
			"**%.2fx** | %.2fx | %.2fx |\n",
			sizes[i] >> 20, find(r, "mem_publish"),
			find(r, "mem_reserve"), find(r, "mem_iov"),
			find(r, "mem_memcpy_xxh3"),
			ratio(r, "mem_publish", "mem_memcpy_xxh3"),
			ratio(r, "mem_reserve", "mem_memcpy_xxh3"),
			ratio(r, "mem_iov", "mem_memcpy_xxh3"));
	}
	fprintf(md, "\n**publish_fd's engines** against read()+commit "
		    "(GB/s, and GB per CPU-second of all threads)\n\n"
		    "| size | default | async (workers) | inline | read() "
		    "engine | read()+commit | async / read()+commit | "
		    "inline / read()+commit |\n"
		    "|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < n; i++) {
		r = all[i];
		if (!find(r, "fd_publish_inline"))
			continue;
		fprintf(md,
			"| %zu MiB | %.2f (%.2f/cpu-s) | %.2f (%.2f) | "
			"%.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) | "
			"%.2fx | %.2fx |\n",
			sizes[i] >> 20, find(r, "fd_publish"),
			cpu_of(r, "fd_publish"), find(r, "fd_publish_async"),
			cpu_of(r, "fd_publish_async"),
			find(r, "fd_publish_inline"),
			cpu_of(r, "fd_publish_inline"),
			find(r, "fd_publish_sync"),
			cpu_of(r, "fd_publish_sync"), find(r, "fd_read_commit"),
			cpu_of(r, "fd_read_commit"),
			ratio(r, "fd_publish_async", "fd_read_commit"),
			ratio(r, "fd_publish_inline", "fd_read_commit"));
	}
}

/* ---- the sweep behind the defaults -------------------------------------- */

struct mode {
	const char *name;
	uint32_t flags;
	bool direct;
};

/*
 * publish_fd at every queue depth x chunk size, each sample followed by
 * one of the read() loop + commit from the same descriptor: the ratio of
 * the two medians cancels most of the load the other vCPU puts on us.
 */
static void sweep(struct ctx *c, const char *chan, int runs, FILE *csv,
		  FILE *md)
{
	static const uint32_t depths[] = { 1, 2, 4, 8, 16, 32 };
	static const uint64_t chunks[] = { 64 * KiB, 256 * KiB, 1 * MiB,
					   4 * MiB };
	static const struct mode modes[] = {
		{ "inline", MMSYNC_FD_INLINE, false },
		{ "async", MMSYNC_FD_ASYNC, false },
		{ "odirect", 0, true },
	};
	struct bcase fd = { "fd_publish", NULL, fd_publish };
	struct bcase base = { "fd_read_commit", NULL, fd_read_commit };
	double v[64], bv[64], g, bg;
	int fd_cached = c->src_fd, fd_direct, r;
	unsigned int m, d, k;
	char proc[64];

	if (runs > 64)
		runs = 64;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", c->src_fd);
	fd_direct = open(proc, O_RDONLY | O_DIRECT | O_CLOEXEC);
	fprintf(md,
		"\n### publish_fd sweep, %zu MiB: GB/s and (ratio to "
		"the read() loop + commit from the same fd), medians of "
		"%d\n",
		c->size >> 20, runs);
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		if (modes[m].direct && fd_direct < 0) {
			fprintf(md, "\nO_DIRECT: not supported here\n");
			continue;
		}
		c->src_fd = modes[m].direct ? fd_direct : fd_cached;
		fprintf(md,
			"\n%s | 64 KiB | 256 KiB | 1 MiB | 4 MiB\n"
			"---|---|---|---|---\n",
			modes[m].name);
		for (d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
			fprintf(md, "depth %u", depths[d]);
			for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]);
			     k++) {
				c->w_fd =
					open_writer(chan, depths[d], chunks[k],
						    modes[m].flags);
				fd_publish(c);
				fd_read_commit(c);
				for (r = 0; r < runs; r++) {
					v[r] = sample(&fd, c, NULL);
					bv[r] = sample(&base, c, NULL);
				}
				mmsync_writer_close(c->w_fd);
				g = median(v, runs);
				bg = median(bv, runs);
				fprintf(csv,
					"%zu,%s,%u,%llu,%d,%.3f,%.3f,%.3f\n",
					c->size, modes[m].name, depths[d],
					(unsigned long long)chunks[k], runs, g,
					bg, g / bg);
				fprintf(md, " | %.2f (%.2fx)", g, g / bg);
				printf("%-7s depth %2u chunk %5llu KiB: %.2f GB/s,"
				       " read loop %.2f, %.2fx\n",
				       modes[m].name, depths[d],
				       (unsigned long long)(chunks[k] >> 10), g,
				       bg, g / bg);
				fflush(stdout);
			}
			fprintf(md, "\n");
		}
	}
	if (fd_direct >= 0)
		close(fd_direct);
	c->src_fd = fd_cached;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sweep", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	size_t sizes[3] = { 1 * MiB, 64 * MiB, 1 * GiB }, nsizes = 3, max;
	const char *dir = getenv("TMPDIR"), *csv_path = NULL, *md_path = NULL;
	struct result all[3][NCASES];
	char chan[256], chan_fd[280], chan_async[280], chan_inline[280];
	char chan_sync[280];
	FILE *csv, *md;
	struct ctx c;
	bool do_sweep = false;
	int runs = 7, opt;
	unsigned int i;

	if (!dir || !*dir)
		dir = "/var/tmp";
	while ((opt = getopt_long(argc, argv, "r:qd:o:m:", lo, NULL)) != -1) {
		switch (opt) {
		case 'r':
			runs = atoi(optarg);
			break;
		case 'q':
			nsizes = 2;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'o':
			csv_path = optarg;
			break;
		case 'm':
			md_path = optarg;
			break;
		case 'S':
			do_sweep = true;
			break;
		default:
			die("usage: %s [-r RUNS>=5] [-q] [-d DIR] [-o CSV] "
			    "[-m MD] [--sweep]",
			    argv[0]);
		}
	}
	if (runs < 5 || runs > 64)
		die("-r: 5..64 runs");
	csv = csv_path ? fopen(csv_path, "w") : fopen("/dev/null", "w");
	md = md_path ? fopen(md_path, "w") : fopen("/dev/null", "w");
	if (!csv || !md)
		die("open output: %s", strerror(errno));
	if (do_sweep)
		nsizes = 1, sizes[0] = 64 * MiB;
	max = sizes[nsizes - 1];
	memset(&c, 0, sizeof(c));
	c.mem = malloc(max);
	if (!c.mem)
		die("malloc %zu", max);
	fill(c.mem, max);
	c.src_fd = make_source(dir, c.mem, max);
	c.dst = shm_map("/dev/shm", max);
	snprintf(chan, sizeof(chan), "/dev/shm/pubbench-%d", getpid());
	snprintf(chan_fd, sizeof(chan_fd), "%s-fd", chan);
	snprintf(chan_async, sizeof(chan_async), "%s-async", chan);
	snprintf(chan_inline, sizeof(chan_inline), "%s-inline", chan);
	snprintf(chan_sync, sizeof(chan_sync), "%s-sync", chan);
	if (do_sweep) {
		fprintf(csv, "size_bytes,mode,depth,chunk_bytes,runs,"
			     "median_gbps,read_loop_gbps,ratio\n");
		c.size = sizes[0];
		c.w = open_writer(chan_sync, 0, 0, 0);
		sweep(&c, chan, runs, csv, md);
		mmsync_writer_close(c.w);
	} else {
		fprintf(csv, "size_bytes,case,baseline,runs,median_gbps,"
			     "min_gbps,max_gbps,median_cpu_gbps,ratio\n");
		c.w = open_writer(chan, 0, 0, 0);
		c.w_fd = open_writer(chan_fd, 0, 0, 0);
		c.w_async = open_writer(chan_async, 0, 0, MMSYNC_FD_ASYNC);
		c.w_inline = open_writer(chan_inline, 0, 0, MMSYNC_FD_INLINE);
		c.w_sync = open_writer(chan_sync, 0, 0, MMSYNC_FD_NO_URING);
		for (i = 0; i < nsizes; i++) {
			c.size = sizes[i];
			if (c.size > 64 * MiB && c.w_sync) {
				/* 2 slots each: give back their memory. */
				mmsync_writer_close(c.w_async);
				mmsync_writer_close(c.w_inline);
				mmsync_writer_close(c.w_sync);
				c.w_async = c.w_inline = c.w_sync = NULL;
				mmsync_unlink(chan_async);
				mmsync_unlink(chan_inline);
				mmsync_unlink(chan_sync);
			}
			run_size(&c, runs, csv, all[i]);
		}
		write_md(md, sizes, nsizes, all, runs);
		mmsync_writer_close(c.w);
		mmsync_writer_close(c.w_fd);
		mmsync_writer_close(c.w_async);
		mmsync_writer_close(c.w_inline);
		mmsync_writer_close(c.w_sync);
	}
	mmsync_unlink(chan);
	mmsync_unlink(chan_fd);
	mmsync_unlink(chan_async);
	mmsync_unlink(chan_inline);
	mmsync_unlink(chan_sync);
	fclose(csv);
	fclose(md);
	return c.sink == 42; /* keep the hashes alive */
}
