// SPDX-License-Identifier: MIT
/*
 * copy_hash.c - issue 15, part 3: where a 1 MiB mmsync_publish() spends
 * its time. This VM has no hardware counters (`perf stat -e instructions
 * true` says <not supported>), so the parts are timed one by one, in the
 * same rounds as the publish itself and the write_raw equivalent:
 *
 *   memcpy          memcpy() into a slot-like destination (a tmpfs file,
 *                   space reserved, mapped shared, faulted in); there
 *                   are two, used in turn, as a channel's two slots are
 *   xxh3            XXH3_64bits() of the source (libxxhash's default
 *                   build: SSE2 on x86-64)
 *   xxh3_dispatch   XXH3_64bits_dispatch() (libxxhash's run-time
 *                   dispatch: AVX2 or AVX-512 where the CPU has them)
 *   memcpy+xxh3     the two one after the other (write_raw's work)
 *   chunk_N         lib/publish.c's copy_and_hash() at a chunk of N bytes:
 *                   memcpy a chunk, XXH3_64bits_update() over the same
 *                   source chunk; its logic, copied here for measurement
 *   chunk_N_disp    the same with XXH3_64bits_update_dispatch()
 *   chunk_N_dst     the same hashing the destination chunk just written
 *   chunk_N_dst_dispatch  both
 *   publish         mmsync_publish(), fence/xchg mode, no reader
 *   write_raw       the write_raw equivalent (write_raw.h)
 *
 * Every hash variant must return XXH3_64bits() of the source (checked
 * once per case: exit 1 otherwise). Samples: sub-batches of one
 * operation for at least BATCH_NS, the median sub-batch; medians and
 * min/max over interleaved rounds (rotating order).
 *
 *   copy_hash [-r RUNS] [-a SIZE] [-d DIR] [-o CSV] [-q]
 *
 * -a: payload bytes (default 1 MiB). -o X.csv also writes X.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>
/* Keep XXH3_64bits() the plain one: the _dispatch names are asked for. */
#define XXH_DISPATCH_DISABLE_REPLACE 1
#include <xxh_x86dispatch.h>

#include <mmsync.h>

#include "bench.h"
#include "write_raw.h"

#define MAX_RUNS 64
#define BATCH_NS 2000000ull
#define MIN_SUBS 5
#define MAX_SUBS 4096

static const char usage[] = "  -a  payload bytes (default 1048576)\n"
			    "  -o  CSV; the markdown table goes next to it\n";

struct ctx {
	unsigned char *src, *dst;
	unsigned char *slot[2]; /* dst alternates between these, as slots do */
	unsigned int turn;
	size_t len;
	size_t chunk; /* for the chunk_* cases */
	XXH3_state_t *st;
	struct mmsync_writer *w;
	struct wraw raw;
	uint64_t sum; /* the last hash computed */
};

enum hash_fn { H_PLAIN, H_DISPATCH };

/*
 * libxxhash 0.8.1's _dispatch functions run AVX2/AVX-512 code and return
 * without vzeroupper: the dirty upper register state then slows every
 * legacy-SSE instruction that follows (the default XXH3_64bits() among
 * them: 3-4x here) until something clears it. So every _dispatch call
 * here is followed by one, as a library using them would have to do; the
 * "poison" cases at the end show what happens without.
 */
static bool have_avx;

static void vzeroupper(void)
{
	if (have_avx)
		__asm__ volatile("vzeroupper" ::: "memory");
}

static uint64_t xxh3_disp(const void *p, size_t n)
{
	uint64_t h = XXH3_64bits_dispatch(p, n);

	vzeroupper();
	return h;
}

static void xxh3_update_disp(XXH3_state_t *st, const void *p, size_t n)
{
	XXH3_64bits_update_dispatch(st, p, n);
	vzeroupper();
}

/*
 * lib/publish.c's copy_and_hash(), with the chunk size a parameter and
 * the update function chosen: the same logic, for measurement only.
 */
static uint64_t copy_and_hash(struct ctx *c, size_t chunk, enum hash_fn h,
			      bool hash_dst)
{
	XXH3_state_t *st = c->st;
	size_t off, n;

	if (c->len <= 4 * chunk) {
		memcpy(c->dst, c->src, c->len);
		return h == H_DISPATCH ?
			       xxh3_disp(hash_dst ? c->dst : c->src, c->len) :
			       XXH3_64bits(hash_dst ? c->dst : c->src, c->len);
	}
	XXH3_64bits_reset(st);
	for (off = 0; off < c->len; off += n) {
		n = c->len - off < chunk ? c->len - off : chunk;
		memcpy(c->dst + off, c->src + off, n);
		if (h == H_DISPATCH)
			xxh3_update_disp(st, (hash_dst ? c->dst : c->src) + off,
					 n);
		else
			XXH3_64bits_update(
				st, (hash_dst ? c->dst : c->src) + off, n);
	}
	return XXH3_64bits_digest(st);
}

/* The next destination: the two slots in turn, like publishes. */
static void next_dst(struct ctx *c)
{
	c->dst = c->slot[c->turn++ & 1];
}

static int op_memcpy(struct ctx *c)
{
	memcpy(c->dst, c->src, c->len);
	bench_sink(c->dst[c->len - 1]);
	return 0;
}

static int op_xxh3(struct ctx *c)
{
	c->sum = XXH3_64bits(c->src, c->len);
	return 0;
}

static int op_xxh3_disp(struct ctx *c)
{
	c->sum = xxh3_disp(c->src, c->len);
	return 0;
}

static int op_memcpy_xxh3(struct ctx *c)
{
	memcpy(c->dst, c->src, c->len);
	c->sum = XXH3_64bits(c->src, c->len);
	return 0;
}

static int op_memcpy_xxh3_disp(struct ctx *c)
{
	memcpy(c->dst, c->src, c->len);
	c->sum = xxh3_disp(c->src, c->len);
	return 0;
}

/*
 * A _dispatch hash of the payload (its vector code runs from 241 bytes
 * on), then XXH3_64bits(): with vzeroupper between.
 */
static int op_poison_clean(struct ctx *c)
{
	bench_sink(xxh3_disp(c->src, c->len));
	c->sum = XXH3_64bits(c->src, c->len);
	return 0;
}

/* ... and without: the upper state stays dirty for the SSE2 hash. */
static int op_poison(struct ctx *c)
{
	bench_sink(XXH3_64bits_dispatch(c->src, c->len));
	c->sum = XXH3_64bits(c->src, c->len);
	return 0;
}

static int op_chunk(struct ctx *c)
{
	c->sum = copy_and_hash(c, c->chunk, H_PLAIN, false);
	return 0;
}

static int op_chunk_disp(struct ctx *c)
{
	c->sum = copy_and_hash(c, c->chunk, H_DISPATCH, false);
	return 0;
}

static int op_chunk_dst(struct ctx *c)
{
	c->sum = copy_and_hash(c, c->chunk, H_PLAIN, true);
	return 0;
}

static int op_chunk_dst_disp(struct ctx *c)
{
	c->sum = copy_and_hash(c, c->chunk, H_DISPATCH, true);
	return 0;
}

static int op_publish(struct ctx *c)
{
	struct mmsync_publish_info info;
	int err = mmsync_publish(c->w, c->src, c->len, &info);

	c->sum = info.checksum;
	return err;
}

static int op_write_raw(struct ctx *c)
{
	c->sum = 0;
	return wraw_publish(&c->raw, c->src, c->len);
}

struct hcase {
	char key[32];
	char label[96];
	int (*fn)(struct ctx *c);
	size_t chunk;
	bool hashes; /* sets c->sum to the source's XXH3 */
	double ns[MAX_RUNS];
	double med, lo, hi;
};

#define MAX_CASES 40

static int ncases;
static struct hcase cases[MAX_CASES];

static void add(const char *key, const char *label, int (*fn)(struct ctx *),
		size_t chunk, bool hashes)
{
	struct hcase *h = &cases[ncases++];

	snprintf(h->key, sizeof(h->key), "%s", key);
	snprintf(h->label, sizeof(h->label), "%s", label);
	h->fn = fn;
	h->chunk = chunk;
	h->hashes = hashes;
}

/* The median of sub-batches of one operation over >= BATCH_NS. */
static double sample(struct ctx *c, struct hcase *h)
{
	uint64_t t0, t1, start = bench_now_ns();
	static double sub[MAX_SUBS];
	int m = 0, err;

	c->chunk = h->chunk;
	do {
		next_dst(c);
		t0 = bench_now_ns();
		err = h->fn(c);
		t1 = bench_now_ns();
		if (err)
			bench_die("copy_hash: %s: %s", h->key, strerror(-err));
		sub[m++] = (double)(t1 - t0);
	} while (m < MAX_SUBS && (m < MIN_SUBS || t1 - start < BATCH_NS));
	return bench_median(sub, m);
}

/*
 * Warm up cases [@from, @to) (both slots of each channel), check every
 * hash, then @runs interleaved rounds of them.
 */
static void run_cases(struct ctx *c, int from, int to, int runs, uint64_t want)
{
	int i, k, run, n = to - from;

	for (i = from; i < to; i++) {
		c->chunk = cases[i].chunk;
		for (k = 0; k < 3; k++) {
			next_dst(c);
			if (cases[i].fn(c))
				bench_die("copy_hash: %s fails", cases[i].key);
		}
		if (cases[i].hashes && c->sum != want)
			bench_die("copy_hash: %s: hash %016llx, want %016llx",
				  cases[i].key, (unsigned long long)c->sum,
				  (unsigned long long)want);
	}
	for (run = 0; run < runs; run++)
		for (k = 0; k < n; k++) {
			i = from + (k + run) % n;
			cases[i].ns[run] = sample(c, &cases[i]);
		}
}

static unsigned char *slot_like(const char *dir, size_t len)
{
	char path[256];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/copyhash-dst-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		bench_die("copy_hash: %s: %s", path, strerror(errno));
	unlink(path);
	if (fallocate(fd, 0, 0, (off_t)len) < 0)
		bench_die("copy_hash: fallocate: %s", strerror(errno));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		bench_die("copy_hash: mmap: %s", strerror(errno));
	memset(p, 0, len);
	return p;
}

static const char *bytes(size_t n, char *b, size_t bl)
{
	if (n >= MiB && n % MiB == 0)
		snprintf(b, bl, "%zu MiB", n / (size_t)MiB);
	else if (n >= KiB && n % KiB == 0)
		snprintf(b, bl, "%zu KiB", n / (size_t)KiB);
	else
		snprintf(b, bl, "%zu B", n);
	return b;
}

int main(int argc, char **argv)
{
	static const size_t chunks[] = { 4 * KiB,   8 * KiB,  16 * KiB,
					 32 * KiB,  64 * KiB, 128 * KiB,
					 256 * KiB, 512 * KiB };
	struct bench_opts o = { .runs = 15, .secs = 1 };
	MMSYNC_OPTS(mmsync_writer_opts, wo, .fence_mode = MMSYNC_FENCE_XCHG);
	char path[256], rawpath[256], key[32], label[96], b[32];
	double v[MAX_RUNS], base_memcpy = 0, base_pub = 0, base_raw = 0;
	uint64_t seed = 3, want;
	struct ctx c = { .len = 1 * MiB };
	FILE *csv, *md = NULL;
	unsigned int k;
	int i, nmain, err;
	size_t j;

	bench_parse(argc, argv, &o, usage);
	if (o.arg)
		c.len = (size_t)strtoull(o.arg, NULL, 0);
	if (c.len < 64)
		bench_die("copy_hash: -a: at least 64 bytes");
	if (o.quick && o.runs > 5)
		o.runs = 5;
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	bench_pin(0);
	__builtin_cpu_init();
	have_avx = __builtin_cpu_supports("avx");
	c.src = malloc(c.len);
	c.st = XXH3_createState();
	if (!c.src || !c.st)
		bench_die("copy_hash: out of memory");
	for (j = 0; j + 8 <= c.len; j += 8)
		*(uint64_t *)(c.src + j) = bench_rand(&seed);
	c.slot[0] = slot_like(o.dir, c.len);
	c.slot[1] = slot_like(o.dir, c.len);
	want = XXH3_64bits(c.src, c.len);
	snprintf(path, sizeof(path), "%s/copyhash-%d", o.dir, (int)getpid());
	snprintf(rawpath, sizeof(rawpath), "%s/copyhash-raw-%d", o.dir,
		 (int)getpid());
	mmsync_unlink(path);
	wraw_unlink(rawpath);
	err = mmsync_writer_open(path, &wo, &c.w);
	if (!err)
		err = wraw_open(&c.raw, rawpath);
	if (err)
		bench_die("copy_hash: open: %s", strerror(-err));

	add("memcpy", "memcpy alone", op_memcpy, 0, false);
	add("xxh3", "XXH3_64bits alone (libxxhash: SSE2)", op_xxh3, 0, true);
	add("xxh3_dispatch", "XXH3_64bits_dispatch alone (AVX2/AVX-512)",
	    op_xxh3_disp, 0, true);
	add("memcpy_xxh3", "memcpy then XXH3_64bits", op_memcpy_xxh3, 0, true);
	add("memcpy_xxh3_dispatch", "memcpy then XXH3_64bits_dispatch",
	    op_memcpy_xxh3_disp, 0, true);
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		bytes(chunks[k], b, sizeof(b));
		snprintf(key, sizeof(key), "chunk_%zu", chunks[k]);
		snprintf(label, sizeof(label), "copy_and_hash (%s chunks)", b);
		add(key, label, op_chunk, chunks[k], true);
	}
	for (k = 2; k < 6; k++) {
		bytes(chunks[k], b, sizeof(b));
		snprintf(key, sizeof(key), "chunk_%zu_dispatch", chunks[k]);
		snprintf(label, sizeof(label),
			 "copy_and_hash (%s chunks; _dispatch)", b);
		add(key, label, op_chunk_disp, chunks[k], true);
	}
	for (k = 2; k < 5; k++) {
		bytes(chunks[k], b, sizeof(b));
		snprintf(key, sizeof(key), "chunk_%zu_dst", chunks[k]);
		snprintf(label, sizeof(label),
			 "copy_and_hash (%s chunks; hashing dst)", b);
		add(key, label, op_chunk_dst, chunks[k], true);
	}
	for (k = 1; k < 6; k++) {
		bytes(chunks[k], b, sizeof(b));
		snprintf(key, sizeof(key), "chunk_%zu_dst_dispatch", chunks[k]);
		snprintf(label, sizeof(label),
			 "copy_and_hash (%s chunks; hashing dst; _dispatch)",
			 b);
		add(key, label, op_chunk_dst_disp, chunks[k], true);
	}
	add("publish", "mmsync_publish (fence/xchg; no reader)", op_publish, 0,
	    true);
	add("write_raw", "write_raw equivalent", op_write_raw, 0, false);
	/* After all the others: the second one leaves SSE code slowed. */
	nmain = ncases;
	add("dispatch_vzu_xxh3", "_dispatch; vzeroupper; XXH3_64bits",
	    op_poison_clean, 0, true);
	add("dispatch_novzu_xxh3", "_dispatch; no vzeroupper; XXH3_64bits",
	    op_poison, 0, true);

	run_cases(&c, 0, nmain, o.runs, want);
	run_cases(&c, nmain, ncases, o.runs, want);
	for (i = 0; i < ncases; i++) {
		memcpy(v, cases[i].ns, sizeof(double) * (size_t)o.runs);
		cases[i].med = bench_median(v, o.runs);
		cases[i].lo = v[0];
		cases[i].hi = v[o.runs - 1];
		if (!strcmp(cases[i].key, "memcpy"))
			base_memcpy = cases[i].med;
		if (!strcmp(cases[i].key, "publish"))
			base_pub = cases[i].med;
		if (!strcmp(cases[i].key, "write_raw"))
			base_raw = cases[i].med;
	}

	csv = bench_csv(o.csv, "size,case,label,chunk,ns_median,ns_min,ns_max,"
			       "gb_per_s,ratio_to_memcpy,ratio_to_publish,"
			       "ratio_to_write_raw,runs");
	md = bench_md(o.csv);
	printf("copy and hash of %s, writer pinned to CPU 0, median of %d "
	       "rounds\n",
	       bytes(c.len, b, sizeof(b)), o.runs);
	printf("  %-44s %10s %10s %10s %7s %8s %8s %8s\n", "case", "us", "min",
	       "max", "GB/s", "x memcpy", "x publ", "x raw");
	if (md)
		fprintf(md,
			"%s payload, writer pinned to one CPU, medians of %d "
			"interleaved rounds (each the median of >= 5 "
			"operations).\n\n"
			"| case | us | GB/s | x memcpy | x publish | "
			"x write_raw |\n|---|---|---|---|---|---|\n",
			bytes(c.len, b, sizeof(b)), o.runs);
	for (i = 0; i < ncases; i++) {
		struct hcase *h = &cases[i];
		double gbs = (double)c.len / h->med;

		printf("  %-44s %10.2f %10.2f %10.2f %7.2f %8.3f %8.3f "
		       "%8.3f\n",
		       h->label, h->med / 1000, h->lo / 1000, h->hi / 1000, gbs,
		       h->med / base_memcpy, h->med / base_pub,
		       h->med / base_raw);
		if (csv)
			fprintf(csv,
				"%zu,%s,%s,%zu,%.1f,%.1f,%.1f,%.3f,%.4f,%.4f,"
				"%.4f,%d\n",
				c.len, h->key, h->label, h->chunk, h->med,
				h->lo, h->hi, gbs, h->med / base_memcpy,
				h->med / base_pub, h->med / base_raw, o.runs);
		if (md)
			fprintf(md,
				"| %s | %.2f | %.2f | %.2fx | %.2fx | "
				"%.2fx |\n",
				h->label, h->med / 1000, gbs,
				h->med / base_memcpy, h->med / base_pub,
				h->med / base_raw);
	}
	if (md)
		fclose(md);
	if (csv)
		fclose(csv);
	mmsync_writer_close(c.w);
	mmsync_unlink(path);
	wraw_close(&c.raw);
	wraw_unlink(rawpath);
	munmap(c.slot[0], c.len);
	munmap(c.slot[1], c.len);
	XXH3_freeState(c.st);
	free(c.src);
	return 0;
}
