// SPDX-License-Identifier: MIT
/*
 * read_cost.c - issue 6, part 1: what one read costs with one reader and an
 * idle writer. A read is: pin, load the first cache line of the snapshot,
 * unpin. Every protocol runs in every round, in a rotating order, in one
 * process pinned to one CPU; the table gives medians over the rounds and
 * the ratio to the shared-counter protocol of mmap-sync measured in the
 * same rounds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define PAYLOAD 64
#define MAX_RUNS 64
#define MAX_PROTOS 16
#define CALIBRATE_READS 200000ull

static const char usage[] =
	"  -t  seconds per protocol per round (default 0.03: many short\n"
	"      rounds, so that a burst of other load spoils few of them)\n"
	"  -d  directory for channel files (default /dev/shm)\n";

struct slot {
	const struct proto_ops *p;
	struct proto_env e;
	void *r;
	uint64_t n; /* reads per round */
	double ns[MAX_RUNS]; /* ns per read, one per round */
	int err;
	bool up; /* setup() succeeded */
};

static double one_round(struct slot *s)
{
	struct proto_count c;

	memset(&c, 0, sizeof(c));
	s->p->touch_loop(s->r, s->n, &c);
	if (c.errors || !c.reads)
		return -1;
	bench_sink(c.sink);
	return (double)c.ns / (double)c.reads;
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 21, .secs = 0.03 };
	struct slot sl[MAX_PROTOS];
	double base = 0, med, v[MAX_RUNS];
	int np = 0, i, k, run, cpu;
	FILE *csv;

	bench_parse(argc, argv, &o, usage);
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	cpu = bench_pin(1);
	for (i = 0; proto_all[i] && np < MAX_PROTOS; i++, np++) {
		struct slot *s = &sl[np];

		memset(s, 0, sizeof(*s));
		s->p = proto_all[i];
		s->err = proto_setup(s->p, &s->e, o.dir, PAYLOAD);
		s->up = !s->err;
		if (!s->err)
			s->err = s->p->reader_open(&s->e, &s->r);
		if (s->err) {
			fprintf(stderr, "read_cost: %s: %s\n", s->p->name,
				strerror(-s->err));
			continue;
		}
		/* Size a round to about -t seconds. */
		s->n = CALIBRATE_READS;
		med = one_round(s);
		if (med <= 0) {
			s->err = -EIO;
			continue;
		}
		s->n = (uint64_t)(o.secs * 1e9 / med) + 1000;
	}
	for (run = 0; run < o.runs; run++) {
		for (k = 0; k < np; k++) {
			struct slot *s = &sl[(k + run) % np];

			if (!s->err)
				s->ns[run] = one_round(s);
			if (!s->err && s->ns[run] < 0)
				s->err = -EIO;
		}
	}
	for (i = 0; i < np; i++) {
		if (sl[i].p == &proto_counter && !sl[i].err) {
			memcpy(v, sl[i].ns, sizeof(double) * (size_t)o.runs);
			base = bench_median(v, o.runs);
		}
	}

	csv = bench_csv(o.csv, "proto,label,ns_per_read,ns_min,ns_max,runs,"
			       "ratio_to_counter");
	printf("read cost: pin + one cache line + unpin, 1 reader, idle "
	       "writer, pinned to CPU %d, median of %d rounds\n",
	       cpu, o.runs);
	printf("  %-42s %9s %9s %9s %10s\n", "protocol", "ns/read", "min",
	       "max", "x counter");
	for (i = 0; i < np; i++) {
		struct slot *s = &sl[i];
		double mn, mx;

		if (s->err) {
			printf("  %-42s %9s (%s)\n", s->p->label, "n/a",
			       strerror(-s->err));
			if (csv)
				fprintf(csv, "%s,%s,,,,%d,\n", s->p->name,
					s->p->label, o.runs);
			continue;
		}
		memcpy(v, s->ns, sizeof(double) * (size_t)o.runs);
		med = bench_median(v, o.runs);
		mn = v[0];
		mx = v[o.runs - 1];
		printf("  %-42s %9.2f %9.2f %9.2f %10.3f\n", s->p->label, med,
		       mn, mx, base > 0 ? med / base : 0);
		if (csv)
			fprintf(csv, "%s,%s,%.3f,%.3f,%.3f,%d,%.4f\n",
				s->p->name, s->p->label, med, mn, mx, o.runs,
				base > 0 ? med / base : 0);
	}
	for (i = 0; i < np; i++) {
		if (sl[i].r)
			sl[i].p->reader_close(sl[i].r);
		if (sl[i].up)
			sl[i].p->teardown(&sl[i].e);
	}
	if (csv)
		fclose(csv);
	return 0;
}
