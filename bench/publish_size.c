// SPDX-License-Identifier: MIT
/*
 * publish_size.c - issue 6, part 4: publish latency by payload size, from
 * 64 B to 1 GiB, for mmsync_publish(), mmsync_reserve() + in-place fill +
 * mmsync_commit() and, where the library has it, mmsync_publish_fd() from
 * a memfd. The baseline, in the same rounds, is a plain memcpy() of the
 * same bytes into memory that is already faulted in: a publish copies
 * and hashes, so it cannot beat that.
 *
 * No reader is open: this is the writer's own cost. Each size first
 * publishes twice so both slots have grown and are faulted in; then every
 * round times a batch of operations per method (at least 2 ms, or one op),
 * methods in rotating order; sizes up to 16 MiB get three times the rounds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mmsync.h>

#include "bench.h"

#ifdef BENCH_HAVE_PUBLISH_FD
/* Declared by the header; weak, so a library without it still links. */
#pragma weak mmsync_publish_fd
#endif

#define MAX_RUNS 64
#define BATCH_NS 2000000.0
/* The fence mode matters for small payloads only; keep big slots single. */
#define XCHG_MAX (1 * MiB)

static const char usage[] =
	"  -q  sizes 64 B .. 64 MiB (default: 64 B .. 1 GiB)\n";

enum method {
	M_MEMCPY,
	M_PUBLISH,
	M_PUBLISH_XCHG,
	M_RESERVE,
	M_RESERVE_NOFILL, /* timed inside M_RESERVE's loop */
	M_PUBLISH_FD,
	NR_METHODS,
};

static const char *const key[NR_METHODS] = {
	"memcpy",
	"publish",
	"publish_xchg",
	"reserve_commit",
	"reserve_commit_nofill",
	"publish_fd",
};
static const char *const label[NR_METHODS] = {
	"memcpy (baseline)",
	"mmsync_publish",
	"mmsync_publish (fence/xchg)",
	"reserve + fill + commit",
	"reserve + commit (fill excluded)",
	"mmsync_publish_fd (memfd)",
};

struct ctx {
	struct mmsync_writer *w, *wx;
	unsigned char *src, *dst;
	int src_fd;
	double ns[NR_METHODS][MAX_RUNS];
	const char *note[NR_METHODS];
	int err[NR_METHODS];
};

static bool have_publish_fd(void)
{
#ifdef BENCH_HAVE_PUBLISH_FD
	return mmsync_publish_fd != NULL;
#else
	return false;
#endif
}

/*
 * @n operations of @m on @len bytes; returns ns per op, or < 0. For
 * M_RESERVE, *nofill gets the time outside the fill.
 */
static double run_op(struct ctx *c, enum method m, size_t len, int n,
		     double *nofill)
{
	uint64_t t0, t1, t2, t3, in = 0, t = bench_now_ns();
	void *p;
	int i, err = 0;

	for (i = 0; i < n && !err; i++) {
		switch (m) {
		case M_MEMCPY:
			memcpy(c->dst, c->src, len);
			bench_sink((uint64_t)c->dst[0]);
			break;
		case M_PUBLISH:
			err = mmsync_publish(c->w, c->src, len, NULL);
			break;
		case M_PUBLISH_XCHG:
			err = mmsync_publish(c->wx, c->src, len, NULL);
			break;
		case M_RESERVE:
			t0 = bench_now_ns();
			err = mmsync_reserve(c->w, len, &p);
			if (err)
				break;
			t1 = bench_now_ns();
			memcpy(p, c->src, len);
			t2 = bench_now_ns();
			err = mmsync_commit(c->w, len, NULL);
			t3 = bench_now_ns();
			in += (t1 - t0) + (t3 - t2);
			break;
		case M_PUBLISH_FD:
#ifdef BENCH_HAVE_PUBLISH_FD
			err = mmsync_publish_fd(c->w, c->src_fd, 0, len, NULL);
#endif
			break;
		default:
			break;
		}
	}
	t = bench_now_ns() - t;
	if (err)
		return err;
	if (nofill)
		*nofill = (double)in / n;
	return (double)t / n;
}

static bool applies(struct ctx *c, enum method m, size_t len)
{
	if (m == M_RESERVE_NOFILL || c->err[m])
		return false;
	if (m == M_PUBLISH_XCHG && len > XCHG_MAX)
		return false;
	if (m == M_PUBLISH_FD && !have_publish_fd())
		return false;
	return true;
}

static void one_size(struct ctx *c, size_t len, int runs, FILE *csv)
{
	double est[NR_METHODS] = { 0 }, nofill, v[MAX_RUNS], med, base = 0;
	int batch[NR_METHODS], m, k, run;

	for (m = 0; m < NR_METHODS; m++) {
		if (!applies(c, (enum method)m, len))
			continue;
		/* Twice: both slots grown and faulted in; then a guess. */
		run_op(c, (enum method)m, len, 2, NULL);
		est[m] = run_op(c, (enum method)m, len, 1, NULL);
		if (est[m] < 0) {
			c->err[m] = (int)est[m];
			continue;
		}
		batch[m] =
			est[m] >= BATCH_NS ? 1 : (int)(BATCH_NS / est[m]) + 1;
	}
	for (run = 0; run < runs; run++) {
		for (k = 0; k < NR_METHODS; k++) {
			m = (k + run) % NR_METHODS;
			if (!applies(c, (enum method)m, len))
				continue;
			c->ns[m][run] = run_op(c, (enum method)m, len, batch[m],
					       &nofill);
			if (c->ns[m][run] < 0)
				c->err[m] = (int)c->ns[m][run];
			if (m == M_RESERVE)
				c->ns[M_RESERVE_NOFILL][run] = nofill;
		}
	}
	for (m = 0; m < NR_METHODS; m++) {
		bool on = m == M_RESERVE_NOFILL ?
				  applies(c, M_RESERVE, len) :
				  applies(c, (enum method)m, len);

		if (!on) {
			if (m == M_PUBLISH_FD && !have_publish_fd() && csv)
				fprintf(csv, "%zu,%s,,,,,,%d,\"%s\"\n", len,
					key[m], runs, c->note[m]);
			continue;
		}
		memcpy(v, c->ns[m], sizeof(double) * (size_t)runs);
		med = bench_median(v, runs);
		if (m == M_MEMCPY)
			base = med;
		printf("  %10zu  %-34s %12.3f %10.2f %8.2f\n", len, label[m],
		       med / 1000, len / med, base > 0 ? med / base : 0);
		if (csv)
			fprintf(csv,
				"%zu,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%d,\"\"\n",
				len, key[m], med / 1000, v[0] / 1000,
				v[runs - 1] / 1000, len / med,
				base > 0 ? med / base : 0, runs);
	}
}

static int open_channel(const char *dir, const char *name, uint32_t mode,
			struct mmsync_writer **w)
{
	MMSYNC_OPTS(mmsync_writer_opts, o, .fence_mode = mode);
	char path[256];

	snprintf(path, sizeof(path), "%s/%s-%d", dir, name, (int)getpid());
	mmsync_unlink(path);
	return mmsync_writer_open(path, &o, w);
}

static void close_channel(const char *dir, const char *name,
			  struct mmsync_writer *w)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s-%d", dir, name, (int)getpid());
	mmsync_writer_close(w);
	mmsync_unlink(path);
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 5, .secs = 1 };
	static struct ctx c;
	size_t len, max;
	uint64_t seed = 1;
	int err;
	FILE *csv;

	bench_parse(argc, argv, &o, usage);
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	max = o.quick ? 64 * MiB : 1 * GiB;
	bench_pin(1);

	/* The source is a memfd, so publish_fd reads the very same bytes. */
	c.src_fd = memfd_create("publish_size-src", MFD_CLOEXEC);
	if (c.src_fd < 0 || ftruncate(c.src_fd, (off_t)max) < 0)
		bench_die("publish_size: memfd: %s", strerror(errno));
	c.src = mmap(NULL, max, PROT_READ | PROT_WRITE, MAP_SHARED, c.src_fd,
		     0);
	c.dst = mmap(NULL, max, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c.src == MAP_FAILED || c.dst == MAP_FAILED)
		bench_die("publish_size: mmap: %s", strerror(errno));
	for (len = 0; len < max; len += 8)
		*(uint64_t *)(c.src + len) = bench_rand(&seed);
	memset(c.dst, 1, max);

	err = open_channel(o.dir, "psize", MMSYNC_FENCE_AUTO, &c.w);
	if (!err)
		err = open_channel(o.dir, "psize-xchg", MMSYNC_FENCE_XCHG,
				   &c.wx);
	if (err)
		bench_die("publish_size: writer_open: %s", strerror(-err));
#ifdef BENCH_HAVE_PUBLISH_FD
	c.note[M_PUBLISH_FD] = "TODO: mmsync_publish_fd is declared in "
			       "mmsync.h but missing from the library";
#else
	c.note[M_PUBLISH_FD] = "TODO: mmsync_publish_fd not in "
			       "include/mmsync.h when this was built";
#endif

	csv = bench_csv(o.csv, "size,method,us_per_op,us_min,us_max,"
			       "gb_per_s,ratio_to_memcpy,runs,note");
	printf("publish latency by size: writer only, no reader, pinned to "
	       "one CPU, median of %d rounds (%d up to 16 MiB)\n",
	       o.runs, 3 * o.runs);
	printf("  %10s  %-34s %12s %10s %8s\n", "bytes", "method", "us/op",
	       "GB/s", "x memcpy");
	for (len = 64; len <= max; len *= o.quick ? 16 : 4) {
		/* Small sizes are cheap: more rounds, fewer spoiled medians. */
		int r = len <= 16 * MiB ? 3 * o.runs : o.runs;

		one_size(&c, len, r > MAX_RUNS ? MAX_RUNS : r, csv);
	}
	if (!have_publish_fd())
		printf("  %s\n", c.note[M_PUBLISH_FD]);
	close_channel(o.dir, "psize", c.w);
	close_channel(o.dir, "psize-xchg", c.wx);
	if (csv)
		fclose(csv);
	return 0;
}
