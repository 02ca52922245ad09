// SPDX-License-Identifier: MIT
/*
 * hugepage.c - issue 6, part 5: random dependent 8-byte lookups over a
 * 1 GiB and a 4 GiB dataset held in a snapshot, 4 KiB pages (a channel on
 * tmpfs) against 2 MiB pages (a channel on hugetlbfs). Each lookup's
 * address comes from the word the previous one loaded, so nothing
 * overlaps: the time is a TLB miss (a page walk, nested under KVM) plus a
 * cache miss, and 2 MiB pages shorten the walk.
 *
 * The same lookups also run on raw shared mappings (anonymous shmem with
 * MADV_NOHUGEPAGE against MAP_HUGETLB), which is the floor the snapshots
 * should match, and the only 2 MiB number when the library cannot back a
 * channel with hugetlbfs: such rows say so.
 *
 * Reserving hugepages and mounting hugetlbfs is hugetlb.sh's job; this
 * program gets the mount as -a DIR (or nothing: 2 MiB snapshot skipped).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mmsync.h>

#include "bench.h"

#define MAX_RUNS 64
#define GOLDEN 0x9e3779b97f4a7c15ull

static const char usage[] =
	"  -d  tmpfs directory for the 4 KiB channel (default /dev/shm)\n"
	"  -a  hugetlbfs mount for the 2 MiB channel (default: none)\n"
	"  -q  1 GiB only, fewer lookups\n";

/* One way of holding the dataset. */
struct holder {
	const char *name; /* CSV key */
	const char *backing; /* "4k" or "2m" */
	const char *source; /* "snapshot" or "raw mapping" */
	char path[256]; /* channel name, snapshots only */
	struct mmsync_reader *r;
	struct mmsync_view v;
	void *raw;
	size_t raw_len;
	const uint64_t *data;
	double ns[MAX_RUNS];
	int err;
	const char *note;
	char why[160];
};

static void fill(uint64_t *d, size_t words, uint64_t seed)
{
	size_t i;

	for (i = 0; i < words; i++)
		d[i] = bench_rand(&seed);
}

/* Populate the page tables so that no page fault is timed. */
static void populate(const void *p, size_t len)
{
	const volatile char *c = p;
	size_t off;

	if (madvise((void *)p, len, MADV_POPULATE_READ) == 0)
		return;
	for (off = 0; off < len; off += 4096)
		(void)c[off];
}

/* Mean ns of @n dependent random lookups. */
static double lookups(const uint64_t *d, size_t words, uint64_t n,
		      uint64_t seed)
{
	uint64_t mask = words - 1, i = seed & mask, k, t0;

	for (k = 0; k < n / 8; k++) /* warm the TLB and caches up */
		i = (d[i] ^ (k * GOLDEN)) & mask;
	t0 = bench_now_ns();
	for (k = 0; k < n; k++)
		i = (d[i] ^ (k * GOLDEN)) & mask;
	t0 = bench_now_ns() - t0;
	bench_sink(i);
	return (double)t0 / (double)n;
}

static int snapshot_open(struct holder *h, size_t len, bool nohuge)
{
	struct mmsync_writer *w;
	void *p;
	int err;

	mmsync_unlink(h->path);
	/* No initial_capacity: it would size both slots; one is enough. */
	err = mmsync_writer_open(h->path, NULL, &w);
	if (err)
		return err;
	err = mmsync_reserve(w, len, &p);
	if (!err) {
		if (nohuge)
			madvise(p, len, MADV_NOHUGEPAGE);
		fill(p, len / 8, 42);
		err = mmsync_commit(w, len, NULL);
	}
	mmsync_writer_close(w);
	if (!err)
		err = mmsync_reader_open(h->path, NULL, &h->r);
	if (!err)
		err = mmsync_read_begin(h->r, &h->v);
	if (!err && h->v.size != len)
		err = -EIO;
	if (err)
		return err;
	h->data = h->v.data;
	if (nohuge)
		madvise((void *)h->data, len, MADV_NOHUGEPAGE);
	populate(h->data, len);
	return 0;
}

static int raw_open(struct holder *h, size_t len, bool huge)
{
	int fl = MAP_SHARED | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0);

	h->raw = mmap(NULL, len, PROT_READ | PROT_WRITE, fl, -1, 0);
	if (h->raw == MAP_FAILED) {
		h->raw = NULL;
		return -errno;
	}
	h->raw_len = len;
	if (!huge)
		madvise(h->raw, len, MADV_NOHUGEPAGE);
	fill(h->raw, len / 8, 42);
	h->data = h->raw;
	populate(h->data, len);
	return 0;
}

static void holder_close(struct holder *h)
{
	if (h->r) {
		if (h->data)
			mmsync_read_end(h->r, &h->v);
		mmsync_reader_close(h->r);
		mmsync_unlink(h->path);
	}
	if (h->raw)
		munmap(h->raw, h->raw_len);
	h->r = NULL;
	h->raw = NULL;
	h->data = NULL;
}

/* Both holders of a pair, run after run, in alternating order. */
static void measure(struct holder *pair, size_t len, int runs, uint64_t n)
{
	int run, k;

	for (run = 0; run < runs; run++) {
		for (k = 0; k < 2; k++) {
			struct holder *h = &pair[(k + run) & 1];

			if (!h->err)
				h->ns[run] = lookups(h->data, len / 8, n,
						     (uint64_t)run * GOLDEN);
		}
	}
}

static void report(FILE *csv, struct holder *pair, size_t len, int runs)
{
	double med[2], mn[2], mx[2], v[MAX_RUNS];
	int k;

	for (k = 0; k < 2; k++) {
		memcpy(v, pair[k].ns, sizeof(double) * (size_t)runs);
		med[k] = pair[k].err ? 0 : bench_median(v, runs);
		mn[k] = v[0];
		mx[k] = v[runs - 1];
	}
	for (k = 0; k < 2; k++) {
		struct holder *h = &pair[k];
		double up = !k || pair[0].err || h->err ? 0 : med[0] / med[1];
		const char *why = "";

		if (h->err) {
			why = h->note ? h->note : strerror(-h->err);
			printf("  %5.0f GiB  %-3s %-30s %9s  (%s)\n",
			       len / (double)GiB, h->backing, h->source, "n/a",
			       why);
			mn[k] = mx[k] = 0;
		} else {
			printf("  %5.0f GiB  %-3s %-30s %9.1f %9.1f %9.1f",
			       len / (double)GiB, h->backing, h->source, med[k],
			       mn[k], mx[k]);
			if (k)
				printf(" %8.2fx", up);
			printf("\n");
		}
		if (csv)
			fprintf(csv,
				"%zu,%s,%s,%s,%.2f,%.2f,%.2f,%d,%.3f,"
				"\"%s\"\n",
				len, h->name, h->backing, h->source, med[k],
				mn[k], mx[k], runs, up, why);
	}
}

static bool shmem_thp_off(void)
{
	char buf[128] = "";
	FILE *f =
		fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");

	if (!f)
		return true;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[never]") || strstr(buf, "[deny]");
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 5, .secs = 1 };
	static const size_t full[] = { 1 * GiB, 4 * GiB };
	static const size_t quick[] = { 1 * GiB };
	struct holder snap[2], raw[2];
	uint64_t n;
	size_t ns, i, len;
	const size_t *sizes;
	const char *hdir;
	FILE *csv;

	bench_parse(argc, argv, &o, usage);
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	hdir = o.arg && *o.arg ? o.arg : NULL;
	sizes = o.quick ? quick : full;
	ns = o.quick ? 1 : 2;
	n = o.quick ? 500000 : 2000000;
	bench_pin(1);

	csv = bench_csv(o.csv, "dataset_bytes,case,backing,source,"
			       "ns_per_lookup,ns_min,ns_max,runs,"
			       "speedup_vs_4k,note");
	printf("random dependent 8-byte lookups, %llu per run, median of %d "
	       "runs, pinned to one CPU; shmem THP %s\n",
	       (unsigned long long)n, o.runs,
	       shmem_thp_off() ? "off" :
				 "ON (4 KiB cases use MADV_NOHUGEPAGE)");
	printf("  %9s  %-3s %-30s %9s %9s %9s %9s\n", "dataset", "pg",
	       "held in", "ns/lookup", "min", "max", "speedup");
	for (i = 0; i < ns; i++) {
		len = sizes[i];
		memset(snap, 0, sizeof(snap));
		snap[0] = (struct holder){ .name = "snapshot-4k",
					   .backing = "4k",
					   .source = "snapshot (tmpfs)" };
		snap[1] = (struct holder){ .name = "snapshot-2m",
					   .backing = "2m",
					   .source = "snapshot (hugetlbfs)" };
		snprintf(snap[0].path, sizeof(snap[0].path), "%s/huge4k-%d",
			 o.dir, (int)getpid());
		snap[0].err = snapshot_open(&snap[0], len, true);
		if (hdir) {
			snprintf(snap[1].path, sizeof(snap[1].path),
				 "%s/huge2m-%d", hdir, (int)getpid());
			snap[1].err = snapshot_open(&snap[1], len, false);
			if (snap[1].err) {
				snprintf(snap[1].why, sizeof(snap[1].why),
					 "library hugetlb backing pending: "
					 "a channel on hugetlbfs failed: %s",
					 strerror(-snap[1].err));
				snap[1].note = snap[1].why;
			}
		} else {
			snap[1].err = -ENOENT;
			snap[1].note = "no hugetlbfs mount (not root or no "
				       "hugepages could be reserved)";
		}
		measure(snap, len, o.runs, n);
		report(csv, snap, len, o.runs);
		holder_close(&snap[0]);
		holder_close(&snap[1]);

		raw[0] = (struct holder){ .name = "raw-4k",
					  .backing = "4k",
					  .source = "raw mapping" };
		raw[1] = (struct holder){ .name = "raw-2m",
					  .backing = "2m",
					  .source =
						  "raw mapping (MAP_HUGETLB)" };
		raw[0].err = raw_open(&raw[0], len, false);
		raw[1].err = raw_open(&raw[1], len, true);
		if (raw[1].err)
			raw[1].note = "MAP_HUGETLB failed: no hugepages "
				      "reserved";
		measure(raw, len, o.runs, n);
		report(csv, raw, len, o.runs);
		holder_close(&raw[0]);
		holder_close(&raw[1]);
	}
	if (csv)
		fclose(csv);
	return 0;
}
