// SPDX-License-Identifier: MIT
/*
 * scaling.c - issue 6, part 3: 1..N reader processes (N = the CPUs we may
 * use), each pinned to its own CPU, reading as fast as they can; the
 * writer is idle, so what is measured is how readers slow each other down.
 * A shared counter bounces one cache line between all reader CPUs; a
 * reader table with one line per reader does not.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define PAYLOAD 64
#define MAX_PROTOS 16
#define MAX_RUNS 64
#define MAX_READERS 256

static const char usage[] =
	"  -t  seconds per protocol, per reader count, per run (default 0.5)\n"
	"  -a  most readers (default: the CPUs this process may use)\n";

struct slot {
	const struct proto_ops *p;
	struct proto_env e;
	double per[MAX_RUNS]; /* reads/s per reader, this reader count */
	double one; /* median reads/s per reader with one reader */
	int err;
	bool up;
};

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 5, .secs = 0.5 };
	struct slot sl[MAX_PROTOS];
	struct proto_count rd, wr;
	int np = 0, i, k, run, n, maxr;
	double v[MAX_RUNS], med, ctr;
	FILE *csv;

	bench_parse(argc, argv, &o, usage);
	maxr = o.arg ? atoi(o.arg) : bench_nr_cpus();
	if (maxr < 1 || maxr > MAX_READERS)
		bench_die("scaling: -a must be 1..%d", MAX_READERS);
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	for (i = 0; proto_all[i] && np < MAX_PROTOS; i++) {
		struct slot *s = &sl[np];

		if (proto_all[i]->in_process_only ||
		    proto_all[i] == &proto_mmsync_ool)
			continue;
		memset(s, 0, sizeof(*s));
		s->p = proto_all[i];
		s->err = proto_setup(s->p, &s->e, o.dir, PAYLOAD);
		s->up = !s->err;
		np++;
	}
	csv = bench_csv(o.csv, "proto,label,readers,reads_per_s_per_reader,"
			       "reads_per_s_total,per_reader_vs_1,"
			       "per_reader_vs_counter,runs");
	printf("reader scaling: 1..%d reader processes, one per CPU, idle "
	       "writer, %d runs of %.2f s\n",
	       maxr, o.runs, o.secs);
	printf("  %-30s %7s %14s %14s %8s %8s\n", "protocol", "readers",
	       "reads/s/reader", "reads/s total", "vs 1", "x ctr");
	for (n = 1; n <= maxr; n++) {
		for (run = 0; run < o.runs; run++) {
			for (k = 0; k < np; k++) {
				struct slot *s = &sl[(k + run) % np];

				if (s->err)
					continue;
				s->err = proto_run_procs(s->p, &s->e, n, false,
							 o.secs, &rd, &wr);
				s->per[run] =
					rd.ns ? rd.reads * 1e9 / rd.ns : 0;
			}
		}
		ctr = 0;
		for (i = 0; i < np; i++) {
			if (sl[i].p == &proto_counter && !sl[i].err) {
				memcpy(v, sl[i].per,
				       sizeof(double) * (size_t)o.runs);
				ctr = bench_median(v, o.runs);
			}
		}
		for (i = 0; i < np; i++) {
			struct slot *s = &sl[i];

			if (s->err) {
				printf("  %-30s %7d %14s (%s)\n", s->p->label,
				       n, "n/a", strerror(-s->err));
				continue;
			}
			memcpy(v, s->per, sizeof(double) * (size_t)o.runs);
			med = bench_median(v, o.runs);
			if (n == 1)
				s->one = med;
			printf("  %-30s %7d %14.0f %14.0f %8.3f %8.3f\n",
			       s->p->label, n, med, med * n,
			       s->one > 0 ? med / s->one : 0,
			       ctr > 0 ? med / ctr : 0);
			if (csv)
				fprintf(csv,
					"%s,%s,%d,%.0f,%.0f,%.4f,%.4f,%d\n",
					s->p->name, s->p->label, n, med,
					med * n, s->one > 0 ? med / s->one : 0,
					ctr > 0 ? med / ctr : 0, o.runs);
		}
	}
	for (i = 0; i < np; i++)
		if (sl[i].up)
			sl[i].p->teardown(&sl[i].e);
	if (csv)
		fclose(csv);
	return 0;
}
