// SPDX-License-Identifier: MIT
/*
 * contend.c - issue 6, part 2: one writer process publishing as fast as it
 * can on one CPU, one reader process reading as fast as it can on the
 * other. Reads/s, publishes/s, and every read checked for tearing: all
 * payload words must hold one generation, the one the metadata announced,
 * checked before the unpin. The shared-counter protocol of mmap-sync is
 * expected to tear; libmmsync must not, ever.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define PAYLOAD 64
#define MAX_PROTOS 16
#define MAX_RUNS 64

static const char usage[] = "  -t  seconds per protocol per run (default 1)\n"
			    "  -a  payload bytes (default 64)\n";

struct slot {
	const struct proto_ops *p;
	struct proto_env e;
	double rps[MAX_RUNS], pps[MAX_RUNS];
	struct proto_count rd, wr; /* totals over all runs */
	int err;
	bool up;
};

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 5, .secs = 1 };
	struct slot sl[MAX_PROTOS];
	struct proto_count rd, wr;
	double base = 0, v[MAX_RUNS];
	int np = 0, i, k, run;
	size_t size = PAYLOAD;
	FILE *csv;

	bench_parse(argc, argv, &o, usage);
	if (o.arg)
		size = (size_t)strtoull(o.arg, NULL, 0) / 8 * 8;
	if (size < 64)
		size = 64;
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	for (i = 0; proto_all[i] && np < MAX_PROTOS; i++) {
		struct slot *s = &sl[np];

		if (proto_all[i]->in_process_only ||
		    proto_all[i] == &proto_mmsync_ool)
			continue;
		memset(s, 0, sizeof(*s));
		s->p = proto_all[i];
		s->err = proto_setup(s->p, &s->e, o.dir, size);
		s->up = !s->err;
		np++;
	}
	for (run = 0; run < o.runs; run++) {
		for (k = 0; k < np; k++) {
			struct slot *s = &sl[(k + run) % np];

			if (s->err)
				continue;
			s->err = proto_run_procs(s->p, &s->e, 1, true, o.secs,
						 &rd, &wr);
			if (s->err)
				continue;
			s->rps[run] = rd.ns ? rd.reads * 1e9 / rd.ns : 0;
			s->pps[run] = wr.ns ? wr.publishes * 1e9 / wr.ns : 0;
			s->rd.reads += rd.reads;
			s->rd.torn += rd.torn;
			s->rd.backwards += rd.backwards;
			s->rd.stale += rd.stale;
			s->rd.retries += rd.retries;
			s->rd.errors += rd.errors + wr.errors;
			s->rd.ns += rd.ns;
			s->wr.publishes += wr.publishes;
		}
	}
	for (i = 0; i < np; i++) {
		if (sl[i].p == &proto_counter && !sl[i].err) {
			memcpy(v, sl[i].rps, sizeof(double) * (size_t)o.runs);
			base = bench_median(v, o.runs);
		}
	}

	csv = bench_csv(o.csv,
			"proto,label,reads_per_s,publishes_per_s,ns_per_read,"
			"read_ratio_to_counter,torn,backwards,stale,retries,"
			"errors,reads_total,publishes_total,secs_total,runs,"
			"payload");
	printf("1 writer + 1 reader process, %zu-byte payload, %d runs of "
	       "%.1f s, writer on CPU 0, reader on CPU 1\n",
	       size, o.runs, o.secs);
	printf("  %-30s %12s %12s %9s %8s %10s %10s %9s\n", "protocol",
	       "reads/s", "publishes/s", "ns/read", "x ctr", "torn",
	       "backwards", "retries");
	for (i = 0; i < np; i++) {
		struct slot *s = &sl[i];
		double rps, pps, ns;

		if (s->err) {
			printf("  %-30s %12s (%s)\n", s->p->label, "n/a",
			       strerror(-s->err));
			if (csv)
				fprintf(csv, "%s,%s,,,,,,,,,,,,,%d,%zu\n",
					s->p->name, s->p->label, o.runs, size);
			continue;
		}
		memcpy(v, s->rps, sizeof(double) * (size_t)o.runs);
		rps = bench_median(v, o.runs);
		memcpy(v, s->pps, sizeof(double) * (size_t)o.runs);
		pps = bench_median(v, o.runs);
		ns = rps > 0 ? 1e9 / rps : 0;
		printf("  %-30s %12.0f %12.0f %9.2f %8.3f %10llu %10llu "
		       "%9llu\n",
		       s->p->label, rps, pps, ns, base > 0 ? base / rps : 0,
		       (unsigned long long)s->rd.torn,
		       (unsigned long long)s->rd.backwards,
		       (unsigned long long)s->rd.retries);
		if (csv)
			fprintf(csv,
				"%s,%s,%.0f,%.0f,%.3f,%.4f,%llu,%llu,%llu,"
				"%llu,%llu,%llu,%llu,%.2f,%d,%zu\n",
				s->p->name, s->p->label, rps, pps, ns,
				base > 0 ? base / rps : 0,
				(unsigned long long)s->rd.torn,
				(unsigned long long)s->rd.backwards,
				(unsigned long long)s->rd.stale,
				(unsigned long long)s->rd.retries,
				(unsigned long long)s->rd.errors,
				(unsigned long long)s->rd.reads,
				(unsigned long long)s->wr.publishes,
				s->rd.ns / 1e9, o.runs, size);
	}
	for (i = 0; i < np; i++)
		if (sl[i].up)
			sl[i].p->teardown(&sl[i].e);
	if (csv)
		fclose(csv);
	return 0;
}
