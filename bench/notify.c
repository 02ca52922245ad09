// SPDX-License-Identifier: MIT
/*
 * notify.c - issue 6, part 6: how fast mmsync_wait() notices a publish,
 * and what an idle waiter costs, for poll intervals from 50 us to 5 ms,
 * against a bare nanosleep loop at the same interval in the same run.
 *
 * Since issue 10, mmsync_wait() blocks on notification and sleep-polls
 * only where it cannot be had: the readers here open with
 * MMSYNC_READ_NO_NOTIFY, so this measures that fallback and the choice of
 * its default interval. wake.c measures notification.
 *
 * Idle cost: one thread waits for a generation that never comes; CPU time
 * (CLOCK_THREAD_CPUTIME_ID, user + system) over wall time, as a share of
 * one core.
 * Latency: the writer (CPU 0) publishes at a random phase of the waiter's
 * poll (CPU 1); latency is from just before the generation becomes
 * visible (before mmsync_commit(), after mmsync_reserve() did the grace
 * wait and membarrier) to the return of mmsync_wait(). The bare loop polls
 * a plain shared word instead, stored at the same point.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mmsync.h>

#include "bench.h"

#define MAX_RUNS 32
#define MAX_SAMPLES 1000
#define MAX_IVALS 16
#define WAIT_LIMIT_NS 5000000000ll
#define BLOCK 20 /* latency samples per waiter process */

static const char usage[] =
	"  -t  seconds of idle waiting per interval, kind and run (0.5; at\n"
	"      least 400 intervals)\n"
	"  -a  poll intervals in us, comma separated "
	"(50,100,200,500,1000,2000,5000)\n"
	"  -q  fewer latency samples\n";

enum kind { MMSYNC, BARE };
static const char *const kind_name[] = { "mmsync_wait", "nanosleep loop" };
static const char *const kind_key[] = { "mmsync", "nanosleep" };

struct lat_shm {
	struct bench_gate gate;
	uint64_t t0; /* when the current sample's publish became visible */
	uint64_t word; /* what the bare loop polls */
	uint64_t ack; /* samples the waiter has taken */
	uint64_t lat[MAX_SAMPLES];
};

struct waiter {
	enum kind kind;
	const char *chan;
	int64_t poll_ns;
	int samples;
	struct lat_shm *s;
};

/* The baseline: check a word, sleep the interval, again. */
static int bare_wait(const uint64_t *word, uint64_t after, int64_t poll_ns,
		     int64_t timeout_ns)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ns;

	/* Pairs with the release store of the word by the writer. */
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) <= after) {
		if (bench_now_ns() >= deadline)
			return -ETIMEDOUT;
		bench_sleep_ns((uint64_t)poll_ns);
	}
	return 0;
}

/* One stretch of idle waiting: adds its CPU and wall time. -1: failed. */
static int idle_chunk(struct mmsync_reader *r, int64_t poll_ns, double secs,
		      uint64_t *cpu, uint64_t *wall)
{
	uint64_t word = 0, c0, t0;
	int err;

	c0 = bench_thread_cpu_ns();
	t0 = bench_now_ns();
	if (r)
		err = mmsync_wait(r, mmsync_reader_gen(r),
				  (int64_t)(secs * 1e9));
	else
		err = bare_wait(&word, 0, poll_ns, (int64_t)(secs * 1e9));
	*cpu += bench_thread_cpu_ns() - c0;
	*wall += bench_now_ns() - t0;
	return err == -ETIMEDOUT ? 0 : -1;
}

/*
 * Idle cost of both kinds at one interval, % of a core each. The time is
 * cut into short chunks that alternate between the kinds, so that both
 * see the same background load of this shared machine. One long-lived
 * reader handle serves all mmsync chunks, as it would a real waiter.
 */
static int idle_cpu(const char *chan, int64_t poll_ns, double secs,
		    double pct[2])
{
	MMSYNC_OPTS(mmsync_reader_opts, o, .poll_ns = poll_ns,
		    .flags = MMSYNC_READ_NO_NOTIFY);
	double chunk = 25.0 * (double)poll_ns / 1e9;
	uint64_t cpu[2] = { 0 }, wall[2] = { 0 };
	struct mmsync_reader *r;
	int n, c, kk, k, err = 0;

	if (mmsync_reader_open(chan, &o, &r))
		return -EIO;
	/* Fault the state file in before anything is timed. */
	mmsync_wait(r, mmsync_reader_gen(r), 0);
	if (chunk < 0.05)
		chunk = 0.05;
	n = (int)(secs / chunk + 0.5);
	if (n < 2)
		n = 2;
	for (c = 0; c < n && !err; c++) {
		for (kk = 0; kk < 2 && !err; kk++) {
			k = (kk + c) & 1;
			err = idle_chunk(k == MMSYNC ? r : NULL, poll_ns,
					 secs / n, &cpu[k], &wall[k]);
		}
	}
	mmsync_reader_close(r);
	for (k = 0; k < 2 && !err; k++)
		pct[k] = 100.0 * (double)cpu[k] / (double)wall[k];
	return err ? -EIO : 0;
}

static int waiter_main(void *arg)
{
	struct waiter *w = arg;
	MMSYNC_OPTS(mmsync_reader_opts, o, .poll_ns = w->poll_ns,
		    .flags = MMSYNC_READ_NO_NOTIFY);
	struct mmsync_reader *r = NULL;
	uint64_t g = 0, t1;
	int k, err = 0;

	bench_pin(1);
	if (w->kind == MMSYNC)
		err = mmsync_reader_open(w->chan, &o, &r);
	/* Before ready: the writer publishes sample 0 once we all are. */
	if (!err)
		/* Pairs with the writer's release stores (none yet). */
		g = w->kind == MMSYNC ?
			    mmsync_reader_gen(r) :
			    __atomic_load_n(&w->s->word, __ATOMIC_ACQUIRE);
	bench_gate_ready(&w->s->gate, !err);
	if (err)
		return 1;
	bench_gate_wait_go(&w->s->gate);
	for (k = 0; k < w->samples && !err; k++) {
		if (w->kind == MMSYNC)
			err = mmsync_wait(r, g, WAIT_LIMIT_NS);
		else
			err = bare_wait(&w->s->word, g, w->poll_ns,
					WAIT_LIMIT_NS);
		t1 = bench_now_ns();
		/* Both pair with the writer's release stores. */
		g = w->kind == MMSYNC ?
			    mmsync_reader_gen(r) :
			    __atomic_load_n(&w->s->word, __ATOMIC_ACQUIRE);
		/*
		 * Relaxed: the acquire load that saw the new generation (or
		 * word) already ordered the writer's store of t0 before us.
		 */
		w->s->lat[k] =
			t1 - __atomic_load_n(&w->s->t0, __ATOMIC_RELAXED);
		/* Pairs with the writer's acquire load of ack. */
		__atomic_store_n(&w->s->ack, (uint64_t)k + 1, __ATOMIC_RELEASE);
	}
	mmsync_reader_close(r);
	return err ? 1 : 0;
}

/* Publish one sample's generation, stamping t0 just before it shows. */
static int publish_one(enum kind k, struct mmsync_writer *mw, struct lat_shm *s)
{
	uint64_t gen = s->word + 1, *p;
	int err;

	if (k == BARE) {
		/* Ordered before the waiter's load by the release below. */
		__atomic_store_n(&s->t0, bench_now_ns(), __ATOMIC_RELAXED);
		/* Pairs with the bare loop's acquire load of the word. */
		__atomic_store_n(&s->word, gen, __ATOMIC_RELEASE);
		return 0;
	}
	err = mmsync_reserve(mw, 64, (void **)&p);
	if (err)
		return err;
	p[0] = gen;
	/*
	 * Ordered before the waiter's load by mmsync_commit()'s release
	 * store of the generation, which mmsync_wait() loads with acquire.
	 */
	__atomic_store_n(&s->t0, bench_now_ns(), __ATOMIC_RELAXED);
	err = mmsync_commit(mw, 64, NULL);
	s->word = gen;
	return err;
}

/* @samples latencies of one kind, in us, appended to @out. */
static int latency_block(enum kind k, const char *chan,
			 struct mmsync_writer *mw, int64_t poll_ns, int samples,
			 uint64_t seed, double *out)
{
	struct lat_shm *s = bench_shm(sizeof(*s));
	struct waiter w = { .kind = k,
			    .chan = chan,
			    .poll_ns = poll_ns,
			    .samples = samples,
			    .s = s };
	uint64_t i;
	int err = 0, n;
	pid_t pid;

	if (!s)
		return -ENOMEM;
	pid = bench_spawn(waiter_main, &w);
	if (pid < 0)
		err = -errno;
	if (!err)
		err = bench_gate_wait_ready(&s->gate, 1);
	bench_gate_open(&s->gate);
	for (n = 0; n < samples && !err; n++) {
		/* A random phase of the waiter's poll: 0..1 interval. */
		bench_sleep_ns(bench_rand(&seed) % (uint64_t)poll_ns);
		err = publish_one(k, mw, s);
		/* Pairs with the waiter's release store of ack. */
		i = bench_now_ns();
		while (!err && __atomic_load_n(&s->ack, __ATOMIC_ACQUIRE) <=
				       (uint64_t)n) {
			if (bench_now_ns() - i > (uint64_t)WAIT_LIMIT_NS * 2)
				err = -ETIMEDOUT;
			bench_sleep_ns(20000);
		}
	}
	if (pid > 0 && bench_reap(pid) && !err)
		err = -ECHILD;
	for (n = 0; n < samples && !err; n++)
		out[n] = s->lat[n] / 1000.0;
	bench_shm_free(s, sizeof(*s));
	return err;
}

/*
 * One latency run of both kinds at one interval: p50 and p99 in us. The
 * samples are taken in blocks that alternate between the kinds, for the
 * same reason as the idle chunks.
 */
static int latency(const char *chan, struct mmsync_writer *mw, int64_t poll_ns,
		   int samples, int run, double p50[2], double p99[2])
{
	static double v[2][MAX_SAMPLES];
	int blocks = samples / BLOCK, b, kk, k, err;

	for (b = 0; b < blocks; b++) {
		for (kk = 0; kk < 2; kk++) {
			k = (kk + b) & 1;
			err = latency_block(k, chan, mw, poll_ns, BLOCK,
					    (uint64_t)(run * 1000 + b * 2 + k),
					    &v[k][b * BLOCK]);
			if (err)
				return err;
		}
	}
	for (k = 0; k < 2; k++) {
		p50[k] = bench_percentile(v[k], blocks * BLOCK, 50);
		p99[k] = bench_percentile(v[k], blocks * BLOCK, 99);
	}
	return 0;
}

/*
 * Latency samples per kind and run at one interval: what fits in about
 * 1.5 s (0.3 s with -q), but at least 300 (60) so that p99 is not the
 * maximum, and at most MAX_SAMPLES; a multiple of BLOCK.
 */
static int nr_samples(int64_t poll_ns, bool quick)
{
	double budget = quick ? 0.3 : 1.5, per = 2.0 * (poll_ns + 150000) / 1e9;
	int lo = quick ? 60 : 300, hi = quick ? 200 : MAX_SAMPLES;
	int n = (int)(budget / per) / BLOCK * BLOCK;

	return n < lo ? lo : n > hi ? hi : n;
}

/* At least -t, and at least 400 wakeups, so slow polls are not noise. */
static double idle_secs(int64_t poll_ns, double secs)
{
	double min = 400.0 * (double)poll_ns / 1e9;

	return secs > min ? secs : min;
}

struct cell {
	double cpu[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS];
	int err;
};

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 5, .secs = 0.5 };
	static struct cell cell[MAX_IVALS][2];
	int64_t ival[MAX_IVALS];
	struct mmsync_writer *mw;
	int ni = 0, i, run, k, err;
	double v[MAX_RUNS], cpu[2], p50[2], p99[2];
	char chan[256], *list, *tok, *save;
	FILE *csv;

	bench_parse(argc, argv, &o, usage);
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;

	list = strdup(o.arg ? o.arg : "50,100,200,500,1000,2000,5000");
	for (tok = strtok_r(list, ",", &save); tok && ni < MAX_IVALS;
	     tok = strtok_r(NULL, ",", &save))
		ival[ni++] = (int64_t)(atof(tok) * 1000);
	free(list);

	snprintf(chan, sizeof(chan), "%s/notify-%d", o.dir, (int)getpid());
	mmsync_unlink(chan);
	err = mmsync_writer_open(chan, NULL, &mw);
	if (!err)
		err = mmsync_publish(mw, "x", 1, NULL);
	if (err)
		bench_die("notify: %s: %s", chan, strerror(-err));

	bench_pin(1);
	for (run = 0; run < o.runs; run++) {
		for (i = 0; i < ni; i++) {
			double pct[2];

			if (idle_cpu(chan, ival[i], idle_secs(ival[i], o.secs),
				     pct)) {
				cell[i][MMSYNC].err = cell[i][BARE].err = -EIO;
				continue;
			}
			for (k = 0; k < 2; k++)
				cell[i][k].cpu[run] = pct[k];
		}
	}
	bench_pin(0);
	for (run = 0; run < o.runs; run++) {
		for (i = 0; i < ni; i++) {
			double l50[2], l99[2];

			if (cell[i][MMSYNC].err)
				continue;
			err = latency(chan, mw, ival[i],
				      nr_samples(ival[i], o.quick), run, l50,
				      l99);
			for (k = 0; k < 2; k++) {
				cell[i][k].err = err;
				cell[i][k].p50[run] = l50[k];
				cell[i][k].p99[run] = l99[k];
			}
		}
	}
	mmsync_writer_close(mw);
	mmsync_unlink(chan);

	csv = bench_csv(o.csv, "interval_us,waiter,cpu_pct,p50_us,p99_us,"
			       "cpu_ratio_to_bare,p99_target_us,p99_ok,"
			       "samples,runs");
	printf("notification: %d runs; idle >= %.2f s per point; %d..%d "
	       "latency samples per point and run; waiter on CPU 1, writer on "
	       "CPU 0\n",
	       o.runs, o.secs, nr_samples(ival[ni - 1], o.quick),
	       nr_samples(ival[0], o.quick));
	printf("  %8s %-15s %8s %9s %9s %9s %11s\n", "interval", "waiter",
	       "cpu %", "p50 us", "p99 us", "cpu x bare", "p99 target");
	for (i = 0; i < ni; i++) {
		double target = 1.5 * (double)ival[i] / 1000.0 + 100.0;

		for (k = 0; k < 2; k++) {
			struct cell *c = &cell[i][k];

			if (c->err) {
				cpu[k] = p50[k] = p99[k] = 0;
				continue;
			}
			memcpy(v, c->cpu, sizeof(double) * (size_t)o.runs);
			cpu[k] = bench_median(v, o.runs);
			memcpy(v, c->p50, sizeof(double) * (size_t)o.runs);
			p50[k] = bench_median(v, o.runs);
			memcpy(v, c->p99, sizeof(double) * (size_t)o.runs);
			p99[k] = bench_median(v, o.runs);
		}
		for (k = 0; k < 2; k++) {
			double ratio = cpu[BARE] > 0 ? cpu[k] / cpu[BARE] : 0;

			if (cell[i][k].err) {
				printf("  %6lldus %-15s n/a (%s)\n",
				       (long long)ival[i] / 1000, kind_name[k],
				       strerror(-cell[i][k].err));
				continue;
			}
			printf("  %6lldus %-15s %8.2f %9.1f %9.1f %9.2f "
			       "%9.0f %s\n",
			       (long long)ival[i] / 1000, kind_name[k], cpu[k],
			       p50[k], p99[k], ratio, target,
			       p99[k] <= target ? "ok" : "MISSED");
			if (csv)
				fprintf(csv,
					"%lld,%s,%.3f,%.1f,%.1f,%.3f,%.0f,%d,"
					"%d,%d\n",
					(long long)ival[i] / 1000, kind_key[k],
					cpu[k], p50[k], p99[k], ratio, target,
					p99[k] <= target,
					nr_samples(ival[i], o.quick), o.runs);
		}
	}
	if (csv)
		fclose(csv);
	return 0;
}
