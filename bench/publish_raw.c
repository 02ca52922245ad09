// SPDX-License-Identifier: MIT
/*
 * publish_raw.c - issue 15: mmsync_publish() against the C equivalent of
 * mmap-sync's write_raw() (write_raw.h), in the same run, at 64 B, 4 KiB,
 * 1 MiB and 64 MiB.
 *
 * Cases, interleaved in every round (rotating order), each timed over
 * sub-batches of publishes of the same source buffer (sample()), medians
 * and min/max over the rounds:
 *
 *   raw            write_raw, no reader
 *   raw_idle       write_raw, a reader process has the files mapped
 *   raw_read       write_raw, that reader reads in a loop
 *   xchg, mb       libmmsync, fence mode MMSYNC_FENCE_XCHG / _MEMBARRIER,
 *                  no reader open
 *   xchg_idle, ... one reader handle open in another process, idle
 *   xchg_read, ... that reader reads in a loop (read_begin, the first
 *                  cache line, read_end)
 *
 * Ratios divide medians of the same run: each case by write_raw under the
 * same reader activity (raw for no reader, raw_idle for an idle one,
 * raw_read for a reading one). The writer runs on the first allowed CPU,
 * the reader process on the second. Both hash: write_raw with XXH3-64
 * (the crate uses wyhash), libmmsync with XXH3-64.
 *
 *   publish_raw [-r RUNS] [-q] [-d DIR] [-o CSV]
 *
 * -o X.csv also writes the markdown table to X.md. -q: 64 B .. 1 MiB, for
 * a smoke test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <mmsync.h>

#include "bench.h"
#include "write_raw.h"

#define MAX_RUNS 256
/* Sizes up to 1 MiB get this many times the rounds. */
#define SMALL_X 8
/*
 * A sample lasts at least BATCH_NS and MIN_SUBS sub-batches, each of
 * about SUB_NS (or one publish).
 */
#define BATCH_NS 1000000ull
#define SUB_NS 50000.0
#define MIN_SUBS 5
#define MAX_SUBS 4096
/* Reads between two looks at the command word. */
#define RD_BATCH 64

static const char usage[] =
	"  -q  64 B .. 1 MiB only, fewer rounds (smoke test)\n"
	"  -o  CSV; the markdown table goes next to it (.md)\n";

enum chan {
	CH_RAW, /* write_raw files, never a reader */
	CH_RAW_R, /* write_raw files the reader process maps */
	CH_X, /* libmmsync, fence/xchg, never a reader */
	CH_M, /* libmmsync, membarrier, never a reader */
	CH_X_R, /* ... fence/xchg, the reader process holds a handle */
	CH_M_R, /* ... membarrier, the same */
	NR_CHANS,
};

/* What the reader process does: on the futex word cmd. */
enum rd_cmd {
	RD_IDLE = 0,
	RD_READ_RAW = 1,
	RD_READ_X = 2,
	RD_READ_M = 3,
	RD_EXIT = 4,
};

enum activity { A_NONE, A_IDLE, A_READ };

struct pcase {
	const char *key;
	const char *label;
	enum chan ch;
	enum activity act;
	int base; /* index of the write_raw case it is divided by */
};

static const struct pcase cases[] = {
	{ "raw", "write_raw equivalent, no reader", CH_RAW, A_NONE, 0 },
	{ "raw_idle", "write_raw equivalent, idle reader", CH_RAW_R, A_IDLE,
	  1 },
	{ "raw_read", "write_raw equivalent, reader reading", CH_RAW_R, A_READ,
	  2 },
	{ "xchg", "libmmsync fence/xchg, no reader", CH_X, A_NONE, 0 },
	{ "mb", "libmmsync membarrier, no reader", CH_M, A_NONE, 0 },
	{ "xchg_idle", "libmmsync fence/xchg, idle reader", CH_X_R, A_IDLE, 1 },
	{ "mb_idle", "libmmsync membarrier, idle reader", CH_M_R, A_IDLE, 1 },
	{ "xchg_read", "libmmsync fence/xchg, reader reading", CH_X_R, A_READ,
	  2 },
	{ "mb_read", "libmmsync membarrier, reader reading", CH_M_R, A_READ,
	  2 },
};
#define NR_CASES ((int)(sizeof(cases) / sizeof(cases[0])))

/* Shared with the reader process. */
struct shared {
	struct bench_gate gate;
	uint32_t cmd; /* enum rd_cmd; futex word */
	uint32_t ack; /* the command the reader is executing */
	uint64_t reads; /* reads done under the current command */
	uint64_t read_ns; /* how long it read under it */
	uint64_t errors;
	uint64_t sink;
};

struct ctx {
	char path[NR_CHANS][256];
	struct wraw raw[2]; /* CH_RAW, CH_RAW_R */
	struct mmsync_writer *w[NR_CHANS];
	struct shared *sh;
	const unsigned char *src;
	size_t len;
	double ns[NR_CASES][MAX_RUNS];
	double rps[NR_CASES][MAX_RUNS]; /* the reader's reads/s, A_READ */
	int batch[NR_CASES];
};

static long futex(uint32_t *w, int op, uint32_t val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

/* ---- the reader process ------------------------------------------------ */

struct rd_ctx {
	struct ctx *c;
	struct wraw_reader raw;
	struct mmsync_reader *r[2]; /* CH_X_R, CH_M_R */
};

/* Pin, read the first cache line, unpin; RD_BATCH times. */
static int read_raw(struct rd_ctx *rc, uint64_t *sum)
{
	const uint64_t *p;
	const void *d;
	uint64_t ver;
	size_t len;
	int k, err;

	for (k = 0; k < RD_BATCH; k++) {
		err = wraw_read_begin(&rc->raw, &d, &len, &ver);
		if (err)
			return err;
		p = d;
		*sum += p[0] ^ p[7] ^ ver;
		wraw_read_end(&rc->raw);
	}
	return 0;
}

static int read_mmsync(struct mmsync_reader *r, uint64_t *sum)
{
	struct mmsync_view v;
	const uint64_t *p;
	int k, err;

	for (k = 0; k < RD_BATCH; k++) {
		err = mmsync_read_begin(r, &v);
		if (err)
			return err;
		p = v.data;
		*sum += p[0] ^ p[7] ^ v.gen;
		err = mmsync_read_end(r, &v);
		if (err && err != -ESTALE)
			return err;
	}
	return 0;
}

static int reader_main(void *arg)
{
	struct rd_ctx *rc = arg;
	struct shared *sh = rc->c->sh;
	uint64_t sum = 0, n, t0;
	uint32_t cmd;
	int err;

	bench_pin(1);
	err = wraw_reader_open(&rc->raw, rc->c->path[CH_RAW_R]);
	if (!err)
		err = mmsync_reader_open(rc->c->path[CH_X_R], NULL, &rc->r[0]);
	if (!err)
		err = mmsync_reader_open(rc->c->path[CH_M_R], NULL, &rc->r[1]);
	/* Map the slots now, not in a timed sample. */
	if (!err)
		err = read_raw(rc, &sum);
	if (!err)
		err = read_mmsync(rc->r[0], &sum);
	if (!err)
		err = read_mmsync(rc->r[1], &sum);
	bench_gate_ready(&sh->gate, !err);
	if (err) {
		fprintf(stderr, "publish_raw: reader: %s\n", strerror(-err));
		return 1;
	}
	for (;;) {
		/* Pairs with the release store in set_cmd(). */
		cmd = __atomic_load_n(&sh->cmd, __ATOMIC_ACQUIRE);
		if (cmd == RD_EXIT)
			break;
		/* Pairs with the acquire load in set_cmd(). */
		__atomic_store_n(&sh->ack, cmd, __ATOMIC_RELEASE);
		if (cmd == RD_IDLE) {
			futex(&sh->cmd, FUTEX_WAIT, RD_IDLE);
			continue;
		}
		n = 0;
		t0 = bench_now_ns();
		while (__atomic_load_n(&sh->cmd, __ATOMIC_RELAXED) == cmd) {
			err = cmd == RD_READ_RAW ? read_raw(rc, &sum) :
			      cmd == RD_READ_X	 ? read_mmsync(rc->r[0], &sum) :
						   read_mmsync(rc->r[1], &sum);
			if (err)
				sh->errors++;
			n += RD_BATCH;
		}
		sh->read_ns = bench_now_ns() - t0;
		/* Pairs with the acquire load of ack in set_cmd(). */
		__atomic_store_n(&sh->reads, n, __ATOMIC_RELEASE);
	}
	sh->sink = sum;
	wraw_reader_close(&rc->raw);
	mmsync_reader_close(rc->r[0]);
	mmsync_reader_close(rc->r[1]);
	return 0;
}

/* The reader process, while it runs: a wait for it fails if it died. */
static pid_t reader_pid;

static void wait_step(void)
{
	int st;

	if (reader_pid > 0 && waitpid(reader_pid, &st, WNOHANG) == reader_pid)
		bench_die("publish_raw: the reader process died (status %#x)",
			  st);
	bench_sleep_ns(20000);
}

/*
 * Tell the reader what to do and wait until it does it; going back to
 * idle also waits for its count of the reads it did.
 */
static uint64_t set_cmd(struct shared *sh, uint32_t cmd, uint64_t *read_ns)
{
	uint32_t old = __atomic_load_n(&sh->cmd, __ATOMIC_RELAXED);

	__atomic_store_n(&sh->reads, ~0ull, __ATOMIC_RELAXED);
	/* Pairs with the acquire load of cmd in reader_main(). */
	__atomic_store_n(&sh->cmd, cmd, __ATOMIC_RELEASE);
	futex(&sh->cmd, FUTEX_WAKE, 1);
	/* Pairs with the release store of ack in reader_main(). */
	while (cmd != RD_EXIT &&
	       __atomic_load_n(&sh->ack, __ATOMIC_ACQUIRE) != cmd)
		wait_step();
	if (old == RD_IDLE || old == RD_EXIT)
		return 0;
	/* Pairs with the release store of reads in reader_main(). */
	while (__atomic_load_n(&sh->reads, __ATOMIC_ACQUIRE) == ~0ull)
		wait_step();
	*read_ns = sh->read_ns;
	return sh->reads;
}

/* ---- the writer side --------------------------------------------------- */

static int publish_once(struct ctx *c, const struct pcase *pc)
{
	if (pc->ch == CH_RAW || pc->ch == CH_RAW_R)
		return wraw_publish(&c->raw[pc->ch == CH_RAW_R], c->src,
				    c->len);
	return mmsync_publish(c->w[pc->ch], c->src, c->len, NULL);
}

static uint32_t read_cmd(const struct pcase *pc)
{
	if (pc->act != A_READ)
		return RD_IDLE;
	return pc->ch == CH_RAW_R ? RD_READ_RAW :
	       pc->ch == CH_X_R	  ? RD_READ_X :
				    RD_READ_M;
}

/*
 * One sample: sub-batches of @n publishes until BATCH_NS and at least
 * MIN_SUBS of them have passed; ns per publish of the median sub-batch
 * (a sub-batch that another process preempted does not move it), or
 * -errno. *@rps: the reader's reads/s meanwhile, when it read.
 */
static double sample(struct ctx *c, int i, int n, double *rps)
{
	const struct pcase *pc = &cases[i];
	uint64_t t0, t1, start, reads, rns = 0;
	double sub[MAX_SUBS];
	int k, m = 0, err = 0;

	set_cmd(c->sh, read_cmd(pc), NULL);
	start = bench_now_ns();
	do {
		t0 = bench_now_ns();
		for (k = 0; k < n && !err; k++)
			err = publish_once(c, pc);
		t1 = bench_now_ns();
		sub[m++] = (double)(t1 - t0) / n;
	} while (!err && m < MAX_SUBS &&
		 (m < MIN_SUBS || t1 - start < BATCH_NS));
	reads = set_cmd(c->sh, RD_IDLE, &rns);
	if (rps)
		*rps = rns ? (double)reads * 1e9 / (double)rns : 0;
	return err ? err : bench_median(sub, m);
}

static int open_chans(struct ctx *c, const char *dir)
{
	static const char *const name[NR_CHANS] = {
		"raw", "raw-r", "xchg", "mb", "xchg-r", "mb-r",
	};
	int i, err = 0;

	for (i = 0; i < NR_CHANS; i++) {
		snprintf(c->path[i], sizeof(c->path[i]), "%s/pubraw-%s-%d", dir,
			 name[i], (int)getpid());
		mmsync_unlink(c->path[i]);
		wraw_unlink(c->path[i]);
	}
	for (i = 0; i < NR_CHANS && !err; i++) {
		MMSYNC_OPTS(mmsync_writer_opts, o,
			    .fence_mode = (i == CH_X || i == CH_X_R) ?
						  MMSYNC_FENCE_XCHG :
						  MMSYNC_FENCE_MEMBARRIER);

		if (i == CH_RAW || i == CH_RAW_R)
			err = wraw_open(&c->raw[i == CH_RAW_R], c->path[i]);
		else
			err = mmsync_writer_open(c->path[i], &o, &c->w[i]);
	}
	return err;
}

static void close_chans(struct ctx *c)
{
	int i;

	for (i = 0; i < NR_CHANS; i++) {
		if (i == CH_RAW || i == CH_RAW_R) {
			wraw_close(&c->raw[i == CH_RAW_R]);
			wraw_unlink(c->path[i]);
		} else {
			mmsync_writer_close(c->w[i]);
			c->w[i] = NULL;
			mmsync_unlink(c->path[i]);
		}
	}
}

/*
 * write_raw's view must be what was written: its size and hash bits in
 * the version, its bytes. A wrong baseline would make every ratio wrong.
 */
static int check_raw(struct ctx *c)
{
	struct wraw_reader r;
	const void *p;
	uint64_t ver;
	size_t len;
	int err;

	err = wraw_reader_open(&r, c->path[CH_RAW]);
	if (!err)
		err = wraw_read_begin(&r, &p, &len, &ver);
	if (err)
		return err;
	if (len != c->len || memcmp(p, c->src, len) ||
	    wraw_version_sum(ver) !=
		    (XXH3_64bits(c->src, c->len) & ((1u << WRAW_SUM_BITS) - 1)))
		err = -EBADMSG;
	wraw_read_end(&r);
	wraw_reader_close(&r);
	return err;
}

struct row {
	double med, lo, hi, ratio, ratio_raw, rps;
	double ratio_rounds; /* median of the ratios within each round */
};

static void one_size(struct ctx *c, const char *dir, int runs, FILE *csv,
		     struct row *rows)
{
	struct rd_ctx rc = { .c = c };
	double est, v[MAX_RUNS];
	int i, k, run, rc_exit;
	pid_t pid;

	if (open_chans(c, dir))
		bench_die("publish_raw: open channels: %s", strerror(errno));
	/* Both slots of every channel grown and faulted in. */
	for (i = 0; i < NR_CASES; i++)
		for (k = 0; k < 2; k++)
			if (publish_once(c, &cases[i]))
				bench_die("publish_raw: %s: first publish",
					  cases[i].key);
	if (check_raw(c))
		bench_die("publish_raw: write_raw's view is wrong");
	memset(&c->sh->gate, 0, sizeof(c->sh->gate));
	c->sh->cmd = RD_IDLE;
	c->sh->ack = ~0u;
	pid = bench_spawn(reader_main, &rc);
	if (pid < 0 || bench_gate_wait_ready(&c->sh->gate, 1))
		bench_die("publish_raw: the reader process failed");
	reader_pid = pid;
	set_cmd(c->sh, RD_IDLE, NULL);
	for (i = 0; i < NR_CASES; i++) {
		est = sample(c, i, 1, NULL);
		if (est < 0)
			bench_die("publish_raw: %s: %s", cases[i].key,
				  strerror((int)-est));
		c->batch[i] = est >= SUB_NS ? 1 : (int)(SUB_NS / est) + 1;
	}
	for (run = 0; run < runs; run++) {
		for (k = 0; k < NR_CASES; k++) {
			i = (k + run) % NR_CASES;
			c->ns[i][run] =
				sample(c, i, c->batch[i], &c->rps[i][run]);
			if (c->ns[i][run] < 0)
				bench_die("publish_raw: %s: %s", cases[i].key,
					  strerror((int)-c->ns[i][run]));
		}
	}
	set_cmd(c->sh, RD_EXIT, NULL);
	reader_pid = 0;
	rc_exit = bench_reap(pid);
	if (rc_exit || c->sh->errors)
		bench_die("publish_raw: reader: exit %d, %llu read errors",
			  rc_exit, (unsigned long long)c->sh->errors);
	close_chans(c);

	for (i = 0; i < NR_CASES; i++) {
		memcpy(v, c->ns[i], sizeof(double) * (size_t)runs);
		rows[i].med = bench_median(v, runs);
		rows[i].lo = v[0];
		rows[i].hi = v[runs - 1];
		memcpy(v, c->rps[i], sizeof(double) * (size_t)runs);
		rows[i].rps = bench_median(v, runs);
		for (run = 0; run < runs; run++)
			v[run] = c->ns[i][run] / c->ns[cases[i].base][run];
		rows[i].ratio_rounds = bench_median(v, runs);
	}
	for (i = 0; i < NR_CASES; i++) {
		const struct pcase *pc = &cases[i];
		struct row *r = &rows[i];

		r->ratio = r->med / rows[pc->base].med;
		r->ratio_raw = r->med / rows[0].med;
		printf("  %10zu  %-38s %12.1f %12.1f %12.1f %7.3f %7.3f %7.3f",
		       c->len, pc->label, r->med, r->lo, r->hi, r->ratio,
		       r->ratio_rounds, r->ratio_raw);
		if (pc->act == A_READ)
			printf("  %.3g reads/s", r->rps);
		printf("\n");
		if (csv)
			fprintf(csv,
				"%zu,%s,%s,%s,%.1f,%.1f,%.1f,%d,%s,%.4f,%.4f,"
				"%.4f,%.0f\n",
				c->len, pc->key,
				pc->ch == CH_RAW || pc->ch == CH_RAW_R ?
					"write_raw" :
				pc->ch == CH_X || pc->ch == CH_X_R ?
					"xchg" :
					"membarrier",
				pc->act == A_NONE ? "none" :
				pc->act == A_IDLE ? "idle" :
						    "reading",
				r->med, r->lo, r->hi, runs, cases[pc->base].key,
				r->ratio, r->ratio_rounds, r->ratio_raw,
				pc->act == A_READ ? r->rps : 0);
	}
}

static const char *size_str(size_t len, char *buf, size_t n)
{
	if (len >= MiB)
		snprintf(buf, n, "%zu MiB", len / (size_t)MiB);
	else if (len >= KiB)
		snprintf(buf, n, "%zu KiB", len / (size_t)KiB);
	else
		snprintf(buf, n, "%zu B", len);
	return buf;
}

/* ns (or us from 10 us on), and the ratio to the baseline. */
static void md_cell(FILE *md, const struct row *r, bool ratio)
{
	if (r->med >= 10000)
		fprintf(md, " %.1f us", r->med / 1000);
	else
		fprintf(md, " %.0f ns", r->med);
	if (ratio)
		fprintf(md, " (**%.2fx**)", r->ratio);
	fprintf(md, " |");
}

static void write_md(FILE *md, const size_t *sizes, int nsizes,
		     struct row (*rows)[NR_CASES], int runs)
{
	static const int order[] = { 0, 3, 4, 1, 5, 6, 2, 7, 8 };
	char b[32];
	int s, k;

	fprintf(md,
		"ns (us) per publish: medians of %d interleaved rounds "
		"(%d up to 1 MiB), writer pinned to one CPU, the reader "
		"process on the other. In parentheses: the ratio of the "
		"median to the write_raw equivalent's under the same "
		"reader activity, same run.\n\n",
		runs, SMALL_X * runs);
	fprintf(md, "| size | write_raw | fence/xchg | membarrier | "
		    "write_raw, idle reader | fence/xchg, idle reader | "
		    "membarrier, idle reader | write_raw, reader reading | "
		    "fence/xchg, reader reading | membarrier, reader "
		    "reading |\n|---|---|---|---|---|---|---|---|---|---|\n");
	for (s = 0; s < nsizes; s++) {
		fprintf(md, "| %s |", size_str(sizes[s], b, sizeof(b)));
		for (k = 0; k < NR_CASES; k++)
			md_cell(md, &rows[s][order[k]],
				cases[order[k]].base != order[k]);
		fprintf(md, "\n");
	}
}

int main(int argc, char **argv)
{
	static const size_t all[] = { 64, 4 * KiB, 1 * MiB, 64 * MiB };
	struct bench_opts o = { .runs = 9, .secs = 1 };
	static struct row rows[4][NR_CASES];
	static struct ctx c;
	unsigned char *src;
	uint64_t seed = 15;
	int nsizes, s, runs;
	size_t i, max;
	FILE *csv, *md = NULL;

	bench_parse(argc, argv, &o, usage);
	if (o.runs > MAX_RUNS / SMALL_X)
		o.runs = MAX_RUNS / SMALL_X;
	nsizes = o.quick ? 3 : 4;
	max = all[nsizes - 1];
	if (bench_nr_cpus() < 2)
		bench_die("publish_raw: needs 2 CPUs (writer and reader)");
	bench_pin(0);
	c.sh = bench_shm(sizeof(*c.sh));
	src = malloc(max);
	if (!c.sh || !src)
		bench_die("publish_raw: out of memory");
	for (i = 0; i + 8 <= max; i += 8)
		*(uint64_t *)(src + i) = bench_rand(&seed);
	c.src = src;
	csv = bench_csv(o.csv, "size,case,protocol,reader,ns_median,ns_min,"
			       "ns_max,runs,baseline,ratio,ratio_rounds,"
			       "ratio_to_raw,reader_reads_per_s");
	md = bench_md(o.csv);
	printf("publish vs write_raw equivalent: ns per publish, median of "
	       "%d rounds (%d up to 1 MiB), writer on CPU 0\n",
	       o.runs, SMALL_X * o.runs);
	printf("  %10s  %-38s %12s %12s %12s %7s %7s %7s\n", "bytes", "case",
	       "ns median", "min", "max", "x base", "rounds", "x raw");
	for (s = 0; s < nsizes; s++) {
		c.len = all[s];
		runs = all[s] <= MiB ? SMALL_X * o.runs : o.runs;
		if (o.quick && runs > 5)
			runs = 5;
		one_size(&c, o.dir, runs, csv, rows[s]);
	}
	if (md) {
		write_md(md, all, nsizes, rows, o.runs);
		fclose(md);
	}
	if (csv)
		fclose(csv);
	bench_shm_free(c.sh, sizeof(*c.sh));
	free(src);
	return 0;
}
