// SPDX-License-Identifier: MIT
/*
 * lib_ab.c - the 64 B publish cost of two or more builds of libmmsync, in
 * one process, interleaved: what a library change costs a publish, apart
 * from the load of the machine. Issue 10 asks that a publish nobody waits
 * for costs what it cost before notification; lib_ab.sh builds the
 * library of the commit before it and runs this against both.
 *
 *   lib_ab [-r RUNS] [-q] [-d DIR] [-o CSV] LIB.so LIB.so ...
 *
 * Each build is loaded with dlmopen() into a namespace of its own (its own
 * copy of everything it links). For each build and fence mode there are
 * two channels: one nobody reads ("none") and one a reader process of that
 * build holds open after one read, not waiting ("idle"). A round times a
 * burst of publishes on every (build, mode, case), in an order that
 * rotates from round to round; the table has the medians of the rounds,
 * by the clock and by the thread's CPU time (which leaves out what others
 * ran on the CPU meanwhile), and the medians of each round's ratio to the
 * first build.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mmsync.h>

#include "bench.h"

#define MAX_LIBS 6
#define MAX_ROUNDS 128
#define NR_MODES 2
#define NR_CASES 2

static const char usage[] = "  LIB.so...  the builds to compare, the first is "
			    "the baseline\n"
			    "  -r  rounds are 6 x RUNS + 1 (5: 31)\n";

static const uint32_t mode_val[NR_MODES] = { MMSYNC_FENCE_MEMBARRIER,
					     MMSYNC_FENCE_XCHG };
static const char *const mode_key[NR_MODES] = { "membarrier", "xchg" };
static const char *const case_key[NR_CASES] = { "none", "idle" };

/* The calls this needs, from one build. */
struct lib {
	const char *path;
	int (*writer_open)(const char *, const struct mmsync_writer_opts *,
			   struct mmsync_writer **);
	int (*publish)(struct mmsync_writer *, const void *, size_t,
		       struct mmsync_publish_info *);
	void (*writer_close)(struct mmsync_writer *);
	int (*reader_open)(const char *, const struct mmsync_reader_opts *,
			   struct mmsync_reader **);
	int (*read_begin)(struct mmsync_reader *, struct mmsync_view *);
	int (*read_end)(struct mmsync_reader *, struct mmsync_view *);
	int (*unlink)(const char *);
	struct mmsync_writer *w[NR_MODES][NR_CASES];
	char chan[NR_MODES][NR_CASES][256];
	pid_t reader[NR_MODES];
	/* ns per publish by the clock [0] and by CPU time [1], per round */
	double ns[2][NR_MODES][NR_CASES][MAX_ROUNDS];
};

static void *sym(void *h, const char *path, const char *name)
{
	void *p = dlsym(h, name);

	if (!p)
		bench_die("lib_ab: %s: no %s", path, name);
	return p;
}

static void load(struct lib *l, const char *path)
{
	/* A namespace of its own: same soname, separate copies. */
	void *h = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		bench_die("lib_ab: %s", dlerror());
	l->path = path;
	l->writer_open = sym(h, path, "mmsync_writer_open");
	l->publish = sym(h, path, "mmsync_publish");
	l->writer_close = sym(h, path, "mmsync_writer_close");
	l->reader_open = sym(h, path, "mmsync_reader_open");
	l->read_begin = sym(h, path, "mmsync_read_begin_ool");
	l->read_end = sym(h, path, "mmsync_read_end_ool");
	l->unlink = sym(h, path, "mmsync_unlink");
}

struct reader_arg {
	struct lib *l;
	const char *chan;
	struct bench_gate *gate;
};

/* Open, read once (the entry is claimed), then sleep until killed. */
static int reader_main(void *arg)
{
	struct reader_arg *a = arg;
	struct mmsync_reader *r;
	struct mmsync_view v;
	int err;

	bench_pin(1);
	err = a->l->reader_open(a->chan, NULL, &r);
	if (!err)
		err = a->l->read_begin(r, &v);
	if (!err)
		err = a->l->read_end(r, &v);
	bench_gate_ready(a->gate, !err);
	for (;;)
		pause();
	return 0;
}

static void setup(struct lib *l, int idx, const char *dir,
		  struct bench_gate *gate)
{
	struct reader_arg a = { .l = l, .gate = gate };
	char buf[64] = { 0 };
	int m, c, err;

	for (m = 0; m < NR_MODES; m++) {
		MMSYNC_OPTS(mmsync_writer_opts, wo, .fence_mode = mode_val[m]);

		for (c = 0; c < NR_CASES; c++) {
			snprintf(l->chan[m][c], sizeof(l->chan[m][c]),
				 "%s/ab-%d-%d-%d-%d", dir, (int)getpid(), idx,
				 m, c);
			l->unlink(l->chan[m][c]);
			err = l->writer_open(l->chan[m][c], &wo, &l->w[m][c]);
			if (!err)
				err = l->publish(l->w[m][c], buf, sizeof(buf),
						 NULL);
			if (err)
				bench_die("lib_ab: %s: %s: %s", l->path,
					  l->chan[m][c], strerror(-err));
		}
		a.chan = l->chan[m][1];
		l->reader[m] = bench_spawn(reader_main, &a);
		if (l->reader[m] < 0)
			bench_die("lib_ab: fork: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 5, .secs = 1 };
	static struct lib libs[MAX_LIBS];
	struct bench_gate *gate = bench_shm(sizeof(*gate));
	int nl, rounds, burst, n, rd, k, i, m, c, j, q, err;
	double med[2], xr[2], r[MAX_ROUNDS];
	char buf[64] = { 0 };
	uint64_t t, c0;
	FILE *csv;

	bench_parse(argc, argv, &o, usage);
	nl = argc - optind;
	if (nl < 1 || nl > MAX_LIBS)
		bench_die("lib_ab: 1 to %d libraries, please", MAX_LIBS);
	rounds = o.quick ? 7 : 6 * o.runs + 1;
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	burst = o.quick ? 1000 : 5000;
	if (!gate)
		bench_die("lib_ab: no shared memory");
	bench_pin(0);
	for (i = 0; i < nl; i++) {
		load(&libs[i], argv[optind + i]);
		setup(&libs[i], i, o.dir, gate);
	}
	err = bench_gate_wait_ready(gate, (uint32_t)(nl * NR_MODES));
	if (err)
		bench_die("lib_ab: readers: %s", strerror(-err));

	n = nl * NR_MODES * NR_CASES;
	for (rd = 0; rd < rounds; rd++) {
		for (k = 0; k < n; k++) {
			int x = (k + rd * 5) % n;
			struct lib *l = &libs[x / (NR_MODES * NR_CASES)];

			m = x / NR_CASES % NR_MODES;
			c = x % NR_CASES;
			for (j = 0; j < 64; j++) /* warm up */
				l->publish(l->w[m][c], buf, sizeof(buf), NULL);
			/* CPU time: what others ran on CPU 0 meanwhile is not ours. */
			c0 = bench_thread_cpu_ns();
			t = bench_now_ns();
			for (j = 0; j < burst; j++)
				l->publish(l->w[m][c], buf, sizeof(buf), NULL);
			l->ns[0][m][c][rd] =
				(double)(bench_now_ns() - t) / burst;
			l->ns[1][m][c][rd] =
				(double)(bench_thread_cpu_ns() - c0) / burst;
		}
	}

	csv = bench_csv(o.csv, "lib,fence,case,ns,cpu_ns,x_first,cpu_x_first,"
			       "rounds");
	printf("lib_ab: 64 B publish, %d rounds of %d, medians (ns) by the clock "
	       "and by CPU time; x first: medians of each round's ratio to the "
	       "first library\n",
	       rounds, burst);
	for (i = 0; i < nl; i++) {
		for (m = 0; m < NR_MODES; m++) {
			for (c = 0; c < NR_CASES; c++) {
				for (q = 0; q < 2; q++) {
					memcpy(r, libs[i].ns[q][m][c],
					       sizeof(double) * rounds);
					med[q] = bench_median(r, rounds);
					for (rd = 0; rd < rounds; rd++)
						r[rd] = libs[i].ns[q][m][c]
								  [rd] /
							libs[0].ns[q][m][c][rd];
					xr[q] = bench_median(r, rounds);
				}
				printf("  %-10s %-4s %9.1f %9.1f cpu %6.3fx "
				       "%6.3fx cpu  %s\n",
				       mode_key[m], case_key[c], med[0], med[1],
				       xr[0], xr[1], libs[i].path);
				if (csv)
					fprintf(csv,
						"%s,%s,%s,%.1f,%.1f,%.3f,%.3f,"
						"%d\n",
						libs[i].path, mode_key[m],
						case_key[c], med[0], med[1],
						xr[0], xr[1], rounds);
			}
		}
	}
	if (csv)
		fclose(csv);
	for (i = 0; i < nl; i++) {
		for (m = 0; m < NR_MODES; m++) {
			kill(libs[i].reader[m], SIGKILL);
			bench_reap(libs[i].reader[m]);
			for (c = 0; c < NR_CASES; c++) {
				libs[i].writer_close(libs[i].w[m][c]);
				libs[i].unlink(libs[i].chan[m][c]);
			}
		}
	}
	bench_shm_free(gate, sizeof(*gate));
	return 0;
}
