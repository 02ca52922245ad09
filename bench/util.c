// SPDX-License-Identifier: MIT
/* util.c - clocks, pinning, statistics, shared memory and the start gate. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void bench_parse(int argc, char **argv, struct bench_opts *o, const char *usage)
{
	int c;

	/* Line by line through a pipe too: run.sh tees the tables. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "r:t:o:d:a:qh")) != -1) {
		switch (c) {
		case 'r':
			o->runs = atoi(optarg);
			break;
		case 't':
			o->secs = atof(optarg);
			break;
		case 'o':
			o->csv = optarg;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'a':
			o->arg = optarg;
			break;
		case 'q':
			o->quick = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-r runs] [-t secs] [-o csv] "
				"[-d dir] [-a arg] [-q]\n%s",
				argv[0], usage);
			exit(c == 'h' ? 0 : 2);
		}
	}
	if (o->runs < 1 || o->secs <= 0)
		bench_die("%s: -r must be >= 1 and -t > 0", argv[0]);
	if (!o->dir)
		o->dir = "/dev/shm";
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * CLOCK_THREAD_CPUTIME_ID, not getrusage(RUSAGE_THREAD): getrusage reads
 * the scheduler's runtime as of the thread's last accounting point (a
 * tick or a switch), so a reading taken while the thread runs misses what
 * it ran since, and the next one, after it slept, charges that time to
 * the sleep: milliseconds of CPU "spent" in a single poll(). The clock
 * adds the running part in.
 */
uint64_t bench_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static cpu_set_t allowed;
static int nr_allowed;

static void load_allowed(void)
{
	if (nr_allowed)
		return;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
		CPU_ZERO(&allowed);
		CPU_SET(0, &allowed);
	}
	nr_allowed = CPU_COUNT(&allowed);
}

int bench_nr_cpus(void)
{
	load_allowed();
	return nr_allowed;
}

int bench_pin(int idx)
{
	cpu_set_t one;
	int cpu, seen = -1;

	load_allowed();
	idx %= nr_allowed;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &allowed) && ++seen == idx)
			break;
	}
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0)
		return -errno;
	return cpu;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_percentile(double *v, int n, double pct)
{
	double pos, frac;
	int i;

	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	/* Linear interpolation between closest ranks. */
	pos = pct / 100.0 * (n - 1);
	i = (int)pos;
	frac = pos - i;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + frac * (v[i + 1] - v[i]);
}

double bench_median(double *v, int n)
{
	return bench_percentile(v, n, 50);
}

void *bench_shm(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void bench_shm_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

void bench_gate_ready(struct bench_gate *g, bool ok)
{
	/* Pairs with the acquire loads in bench_gate_wait_ready(). */
	__atomic_fetch_add(ok ? &g->ready : &g->failed, 1, __ATOMIC_RELEASE);
}

void bench_gate_wait_go(struct bench_gate *g)
{
	/* Pairs with the release store in bench_gate_open(). */
	while (!__atomic_load_n(&g->go, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

int bench_gate_wait_ready(struct bench_gate *g, uint32_t n)
{
	uint64_t t0 = bench_now_ns();

	/* Pairs with the release add in bench_gate_ready(). */
	while (__atomic_load_n(&g->ready, __ATOMIC_ACQUIRE) < n) {
		if (__atomic_load_n(&g->failed, __ATOMIC_ACQUIRE))
			return -EIO;
		/* A worker that crashed before it got ready. */
		if (bench_now_ns() - t0 > 60000000000ull)
			return -ETIMEDOUT;
		bench_sleep_ns(100000);
	}
	return 0;
}

void bench_gate_open(struct bench_gate *g)
{
	/* Pairs with the acquire load in bench_gate_wait_go(). */
	__atomic_store_n(&g->go, 1, __ATOMIC_RELEASE);
}

void bench_gate_stop(struct bench_gate *g)
{
	/* Pairs with the acquire load in bench_gate_stopped(). */
	__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
}

pid_t bench_spawn(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int bench_reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

FILE *bench_csv(const char *path, const char *header)
{
	FILE *f;

	if (!path)
		return NULL;
	f = fopen(path, "w");
	if (!f)
		bench_die("open %s: %s", path, strerror(errno));
	fprintf(f, "%s\n", header);
	return f;
}

FILE *bench_md(const char *csv)
{
	size_t n = csv ? strlen(csv) : 0;
	char path[512];
	FILE *f;

	if (!csv)
		return NULL;
	/* X.csv -> X.md; any other name gets .md appended. */
	if (n > 4 && !strcmp(csv + n - 4, ".csv"))
		n -= 4;
	snprintf(path, sizeof(path), "%.*s.md", (int)n, csv);
	f = fopen(path, "w");
	if (!f)
		bench_die("open %s: %s", path, strerror(errno));
	return f;
}
