// SPDX-License-Identifier: MIT
/*
 * pace.c - issue 15: 1 writer + 1 reader process, the writer paced at
 * fixed publish rates, the same rates for every protocol compared:
 * libmmsync in membarrier mode, libmmsync in fence (xchg) mode, and
 * mmap-sync's shared-counter protocol (proto_counter.c); and, for
 * reference, the floors of a per-reader pin (proto_floor.c: a plain-store
 * pin and an xchg pin with nothing else, no checks and no grace period),
 * which bound what any pin-based reader can reach in each fence mode, and
 * the loop with no pin at all (what any reader of this loop costs).
 *
 * The writer, pinned to the first CPU, publishes a 64-byte payload at
 * t0 + k / rate (it sleeps, then spins on the clock, between publishes;
 * late publishes are made up for, so the rate is the one asked for unless
 * the protocol cannot publish that fast) and times every publish. The reader, pinned to the second CPU,
 * runs the protocol's check loop (read_loops.h): pin, check every payload
 * word against the first and against the metadata's generation, unpin;
 * torn reads counted. Rounds interleave rates and protocols (rotating
 * order); medians over the rounds.
 *
 * The reader's ns per read divides its CPU time (getrusage: the
 * scheduler's precise runtime, which on this kernel includes the time its
 * CPU spends in interrupts, membarrier's IPIs among them) by its reads:
 * the time it waited for a CPU while other processes ran is left out.
 * The wall-clock figure is in the CSV too.
 *
 *   pace [-r RUNS] [-t SECS] [-a RATE,RATE,...] [-d DIR] [-o CSV] [-q]
 *
 * -o X.csv also writes the markdown table to X.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "proto.h"

#define PAYLOAD 64
#define MAX_RUNS 64
#define MAX_RATES 16
#define NR_PROTOS 6 /* the counter last: the ratios' reference */
/* Per-publish times the writer keeps for its median and p99. */
#define MAX_LAT 65536
/* The writer spins this long before a publish, and sleeps before that. */
#define SPIN_NS 30000
/* How far a writer may fall behind before it drops the missed publishes. */
#define MAX_BEHIND_NS 100000000ull

static const char usage[] =
	"  -t  seconds per protocol, rate and round (default 0.3)\n"
	"  -a  publish rates per second, comma-separated\n"
	"      (default 1000,3000,10000,30000,100000)\n"
	"  -o  CSV; the markdown table goes next to it (.md)\n";

struct pace_shm {
	struct bench_gate gate;
	struct proto_count rd, wr;
	uint64_t rd_cpu_ns; /* the reader's CPU time in its loop */
	double pub_med, pub_p99; /* ns per publish, this run */
	uint64_t late; /* publishes more than a period late */
	uint64_t wr_ns; /* how long the writer ran */
};

struct worker {
	const struct proto_ops *p;
	struct proto_env *e;
	struct pace_shm *s;
	double rate;
};

static int reader_main(void *arg)
{
	struct worker *w = arg;
	uint64_t t;
	void *r;
	int err;

	bench_pin(1);
	err = w->p->reader_open(w->e, &r);
	bench_gate_ready(&w->s->gate, !err);
	if (err) {
		fprintf(stderr, "pace: %s: reader_open: %s\n", w->p->name,
			strerror(-err));
		return 1;
	}
	bench_gate_wait_go(&w->s->gate);
	t = bench_thread_cpu_ns();
	w->p->check_loop(r, &w->s->gate, &w->s->rd);
	w->s->rd_cpu_ns = bench_thread_cpu_ns() - t;
	w->p->reader_close(r);
	return 0;
}

static int writer_main(void *arg)
{
	struct worker *w = arg;
	uint64_t period = (uint64_t)(1e9 / w->rate), t0, t1, t2, next;
	struct proto_count *c = &w->s->wr;
	static double lat[MAX_LAT];
	unsigned int nlat = 0;
	void *h;
	int err;

	bench_pin(0);
	/* Wake from the sleeps below on time (default slack: 50 us). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	err = w->p->writer_open(w->e, &h);
	bench_gate_ready(&w->s->gate, !err);
	if (err) {
		fprintf(stderr, "pace: %s: writer_open: %s\n", w->p->name,
			strerror(-err));
		return 1;
	}
	bench_gate_wait_go(&w->s->gate);
	t0 = next = bench_now_ns();
	while (!bench_gate_stopped(&w->s->gate)) {
		t1 = bench_now_ns();
		if (t1 < next) {
			/*
			 * Sleep through long waits (a task that spins a whole
			 * CPU is the one the scheduler preempts), spin through
			 * the last SPIN_NS.
			 */
			if (next - t1 > 2 * SPIN_NS)
				bench_sleep_ns(next - t1 - SPIN_NS);
			else
				__builtin_ia32_pause();
			continue;
		}
		if (w->p->publish(h))
			c->errors++;
		else
			c->publishes++;
		t2 = bench_now_ns();
		/* Every publish until the array is full: an even sample. */
		if (nlat < MAX_LAT)
			lat[nlat++] = (double)(t2 - t1);
		/*
		 * Keep to the schedule: a publish that came late (a
		 * preemption, a slow wake-up) is made up for at once, so
		 * the average rate is the one asked for; only a writer
		 * MAX_BEHIND_NS behind gives up on the missed ones.
		 */
		next += period;
		if (next + MAX_BEHIND_NS < t2) {
			w->s->late++;
			next = t2;
		}
	}
	w->s->wr_ns = bench_now_ns() - t0;
	w->s->pub_med = bench_median(lat, (int)nlat);
	w->s->pub_p99 = bench_percentile(lat, (int)nlat, 99);
	w->p->writer_close(h);
	return 0;
}

/* One run of @p at @rate for @secs: the counts are in @s. */
static int run_once(const struct proto_ops *p, struct proto_env *e, double rate,
		    double secs, struct pace_shm *s)
{
	struct worker w = { .p = p, .e = e, .s = s, .rate = rate };
	pid_t pid[2];
	int i, rc, err = 0;

	memset(s, 0, sizeof(*s));
	pid[0] = bench_spawn(writer_main, &w);
	pid[1] = pid[0] < 0 ? -1 : bench_spawn(reader_main, &w);
	if (pid[0] < 0 || pid[1] < 0)
		err = -errno;
	if (!err)
		err = bench_gate_wait_ready(&s->gate, 2);
	if (!err) {
		bench_gate_open(&s->gate);
		bench_sleep_ns((uint64_t)(secs * 1e9));
	}
	bench_gate_stop(&s->gate);
	bench_gate_open(&s->gate); /* release waiters on failure too */
	for (i = 0; i < 2; i++) {
		if (pid[i] <= 0)
			continue;
		rc = bench_reap(pid[i]);
		if (rc && !err)
			err = -ECHILD;
	}
	return err;
}

struct cell {
	double rd_ns[MAX_RUNS]; /* reader CPU ns per read */
	double rd_wall[MAX_RUNS]; /* reader wall-clock ns per read */
	double pub_ns[MAX_RUNS]; /* writer ns per publish (median) */
	double pub_p99[MAX_RUNS];
	double rate[MAX_RUNS]; /* publishes per second achieved */
	uint64_t reads, torn, backwards, stale, errors, late, publishes;
};

struct result {
	double rd, rd_lo, rd_hi, rd_wall, pub, pub_p99, rate, ratio;
};

static double med(const double *x, int n, double *lo, double *hi)
{
	double v[MAX_RUNS], m;

	memcpy(v, x, sizeof(double) * (size_t)n);
	m = bench_median(v, n);
	if (lo)
		*lo = v[0];
	if (hi)
		*hi = v[n - 1];
	return m;
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 7, .secs = 0.3 };
	const struct proto_ops *pr[NR_PROTOS] = {
		&proto_mmsync_membarrier, /* libmmsync, membarrier mode */
		&proto_mmsync_xchg, /* libmmsync, fence mode */
		&proto_floor, /* the floors: references, no grace */
		&proto_floor_xchg, /* ... with an xchg pin */
		&proto_floor_nopin, /* ... with no pin at all */
		&proto_counter, /* last: the ratios' reference */
	};
	static struct cell cell[MAX_RATES][NR_PROTOS];
	static struct result res[MAX_RATES][NR_PROTOS];
	struct proto_env env[NR_PROTOS];
	double rates[MAX_RATES];
	const char *list = "1000,3000,10000,30000,100000";
	struct pace_shm *s;
	int nr = 0, i, j, k, run, err, ctr = NR_PROTOS - 1;
	char *dup, *tok, *save;
	FILE *csv, *md = NULL;

	bench_parse(argc, argv, &o, usage);
	if (o.arg)
		list = o.arg;
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	if (bench_nr_cpus() < 2)
		bench_die("pace: needs 2 CPUs (writer and reader)");
	dup = strdup(list);
	for (tok = strtok_r(dup, ",", &save); tok && nr < MAX_RATES;
	     tok = strtok_r(NULL, ",", &save))
		if (atof(tok) > 0)
			rates[nr++] = atof(tok);
	free(dup);
	if (!nr)
		bench_die("pace: no rate in -a %s", list);
	s = bench_shm(sizeof(*s));
	if (!s)
		bench_die("pace: out of memory");
	for (j = 0; j < NR_PROTOS; j++) {
		err = proto_setup(pr[j], &env[j], o.dir, PAYLOAD);
		if (err)
			bench_die("pace: %s: setup: %s", pr[j]->name,
				  strerror(-err));
	}
	for (run = 0; run < o.runs; run++) {
		for (k = 0; k < nr * NR_PROTOS; k++) {
			int idx = (k + run) % (nr * NR_PROTOS);
			struct cell *c;

			i = idx / NR_PROTOS;
			j = idx % NR_PROTOS;
			c = &cell[i][j];
			err = run_once(pr[j], &env[j], rates[i], o.secs, s);
			if (err)
				bench_die("pace: %s at %.0f/s: %s", pr[j]->name,
					  rates[i], strerror(-err));
			c->rd_ns[run] = s->rd.reads ?
						(double)s->rd_cpu_ns /
							(double)s->rd.reads :
						0;
			c->rd_wall[run] =
				s->rd.reads ?
					(double)s->rd.ns / (double)s->rd.reads :
					0;
			c->pub_ns[run] = s->pub_med;
			c->pub_p99[run] = s->pub_p99;
			c->rate[run] = s->wr_ns ?
					       (double)s->wr.publishes * 1e9 /
						       (double)s->wr_ns :
					       0;
			c->reads += s->rd.reads;
			c->torn += s->rd.torn;
			c->backwards += s->rd.backwards;
			c->stale += s->rd.stale;
			c->errors += s->rd.errors + s->wr.errors;
			c->late += s->late;
			c->publishes += s->wr.publishes;
		}
	}
	for (j = 0; j < NR_PROTOS; j++)
		pr[j]->teardown(&env[j]);

	csv = bench_csv(o.csv, "rate,proto,label,reader_ns_per_read,"
			       "reader_ns_min,reader_ns_max,read_ratio_to_"
			       "counter,reader_wall_ns_per_read,"
			       "writer_ns_per_publish,writer_ns_p99,"
			       "achieved_rate,torn,backwards,stale,errors,"
			       "late,reads_total,publishes_total,runs,secs");
	printf("1 writer + 1 reader process, %d-byte payload, writer paced, "
	       "%d rounds of %.2f s per protocol and rate\n",
	       PAYLOAD, o.runs, o.secs);
	printf("  %8s  %-28s %9s %8s %9s %10s %10s %10s %8s %8s\n", "rate/s",
	       "protocol", "ns/read", "x ctr", "wall", "ns/pub", "p99 ns/pub",
	       "achieved", "torn", "stale");
	for (i = 0; i < nr; i++) {
		for (j = 0; j < NR_PROTOS; j++) {
			struct cell *c = &cell[i][j];
			struct result *r = &res[i][j];

			r->rd = med(c->rd_ns, o.runs, &r->rd_lo, &r->rd_hi);
			r->rd_wall = med(c->rd_wall, o.runs, NULL, NULL);
			r->pub = med(c->pub_ns, o.runs, NULL, NULL);
			r->pub_p99 = med(c->pub_p99, o.runs, NULL, NULL);
			r->rate = med(c->rate, o.runs, NULL, NULL);
		}
		for (j = 0; j < NR_PROTOS; j++) {
			struct cell *c = &cell[i][j];
			struct result *r = &res[i][j];

			r->ratio = res[i][NR_PROTOS - 1].rd > 0 ?
					   r->rd / res[i][NR_PROTOS - 1].rd :
					   0;
			printf("  %8.0f  %-28s %9.2f %8.3f %9.2f %10.0f %10.0f "
			       "%10.0f %8llu %8llu\n",
			       rates[i], pr[j]->label, r->rd, r->ratio,
			       r->rd_wall, r->pub, r->pub_p99, r->rate,
			       (unsigned long long)c->torn,
			       (unsigned long long)c->stale);
			if (csv)
				fprintf(csv,
					"%.0f,%s,%s,%.3f,%.3f,%.3f,%.4f,%.3f,"
					"%.0f,%.0f,%.0f,%llu,%llu,%llu,%llu,"
					"%llu,%llu,%llu,%d,%.2f\n",
					rates[i], pr[j]->name, pr[j]->label,
					r->rd, r->rd_lo, r->rd_hi, r->ratio,
					r->rd_wall, r->pub, r->pub_p99, r->rate,
					(unsigned long long)c->torn,
					(unsigned long long)c->backwards,
					(unsigned long long)c->stale,
					(unsigned long long)c->errors,
					(unsigned long long)c->late,
					(unsigned long long)c->reads,
					(unsigned long long)c->publishes,
					o.runs, o.secs);
		}
	}
	md = bench_md(o.csv);
	if (md) {
		fprintf(md,
			"Writer paced (64 B payload), reader reading and "
			"checking every word; medians of %d interleaved rounds "
			"of %.2f s. Reader: ns per read of its CPU time (x: "
			"ratio to the shared counter's reader at the same "
			"rate). Writer: ns per publish, median (p99). Torn: "
			"over all rounds.\n\n"
			"| publishes/s | membarrier: reader | membarrier: "
			"writer | fence/xchg: reader | fence/xchg: writer | "
			"floor, plain-store pin: reader | floor, xchg pin: "
			"reader | floor, no pin: reader | shared counter: "
			"reader | shared counter: writer | torn (mb / xchg / "
			"counter) |\n"
			"|---|---|---|---|---|---|---|---|---|---|---|\n",
			o.runs, o.secs);
		for (i = 0; i < nr; i++) {
			fprintf(md, "| %.0f |", rates[i]);
			for (j = 0; j < NR_PROTOS; j++) {
				struct result *r = &res[i][j];
				/* The floors: the reader only (no grace). */
				bool floor = pr[j]->in_process_only;

				fprintf(md, " %.2f ns", r->rd);
				if (j < NR_PROTOS - 1)
					fprintf(md, " (**%.2fx**)", r->ratio);
				if (!floor)
					fprintf(md, " | %.0f ns (%.0f)", r->pub,
						r->pub_p99);
				if (!floor && r->rate < 0.95 * rates[i])
					fprintf(md, ", only %.0f/s", r->rate);
				fprintf(md, " |");
			}
			fprintf(md, " %llu / %llu / %llu |\n",
				(unsigned long long)cell[i][0].torn,
				(unsigned long long)cell[i][1].torn,
				(unsigned long long)cell[i][ctr].torn);
		}
		fclose(md);
	}
	if (csv)
		fclose(csv);
	bench_shm_free(s, sizeof(*s));
	return 0;
}
