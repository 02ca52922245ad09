/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what every libmmsync benchmark program shares: clocks, CPU
 * pinning, statistics, shared memory, a start gate for child processes,
 * command-line options and CSV output.
 *
 * Numbers on a shared 2-vCPU VM are noisy, so every program repeats each
 * measurement (--runs, at least 5 for `make bench`), interleaves the cases
 * it compares inside every run, reports medians and divides by a baseline
 * measured in the same run.
 */
#ifndef MMSYNC_BENCH_H
#define MMSYNC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

/* Command-line options common to all bench programs. */
struct bench_opts {
	int runs; /* -r: repetitions; medians are taken over these */
	double secs; /* -t: seconds per timed phase, where it applies */
	const char *csv; /* -o: CSV output path, NULL: stdout only */
	const char *dir; /* -d: private directory for channel files */
	const char *arg; /* -a: program-specific argument */
	bool quick; /* -q: smaller sizes and fewer samples */
};

/*
 * Parse -r -t -o -d -a -q into @o, whose fields the caller preset to the
 * program's defaults. Exits with @usage on bad options.
 */
void bench_parse(int argc, char **argv, struct bench_opts *o,
		 const char *usage);

/* CLOCK_MONOTONIC in ns. */
uint64_t bench_now_ns(void);
/* CPU time (user + system) of the calling thread in ns, up to now. */
uint64_t bench_thread_cpu_ns(void);
void bench_sleep_ns(uint64_t ns);

/* Number of CPUs this process may run on. */
int bench_nr_cpus(void);
/*
 * Pin the calling thread to the @idx-th allowed CPU (modulo their number).
 * Returns the CPU number, or -errno.
 */
int bench_pin(int idx);

/* Median, percentile (0..100) of @n values; @v is sorted in place. */
double bench_median(double *v, int n);
double bench_percentile(double *v, int n, double pct);

/* A zeroed MAP_SHARED anonymous mapping that survives fork(); NULL: fail. */
void *bench_shm(size_t len);
void bench_shm_free(void *p, size_t len);

/*
 * A start/stop gate in shared memory for forked workers. Workers call
 * bench_gate_ready() then bench_gate_wait_go(); the parent waits for all of
 * them with bench_gate_wait_ready(), opens the gate, and later sets stop.
 */
/*
 * On a cache line of its own: workers poll it while they run, so a counter
 * that a worker bumps beside it would make every poll of another worker a
 * miss, and every bump after it one more (false sharing that the first
 * pace runs measured as part of the reader's cost).
 */
struct bench_gate {
	uint32_t ready; /* workers that finished their setup */
	uint32_t failed; /* workers whose setup failed */
	uint32_t go; /* set once by the parent */
	uint32_t stop; /* set once by the parent */
} __attribute__((aligned(64)));

void bench_gate_ready(struct bench_gate *g, bool ok);
void bench_gate_wait_go(struct bench_gate *g);
/* 0 once @n workers are ready; -EIO if one failed; -ETIMEDOUT after 60 s. */
int bench_gate_wait_ready(struct bench_gate *g, uint32_t n);
void bench_gate_open(struct bench_gate *g);
void bench_gate_stop(struct bench_gate *g);
static inline bool bench_gate_stopped(const struct bench_gate *g)
{
	/* Pairs with the release store in bench_gate_stop(). */
	return __atomic_load_n(&g->stop, __ATOMIC_ACQUIRE) != 0;
}

/* fork() a child that runs fn(arg) and _exit()s with its return value. */
pid_t bench_spawn(int (*fn)(void *), void *arg);
/* Reap @pid: its exit code, or 128 + signal. */
int bench_reap(pid_t pid);

/* Open @path for writing and print @header as its first line. */
FILE *bench_csv(const char *path, const char *header);
/* The markdown table beside CSV @csv (X.csv -> X.md); NULL if @csv is. */
FILE *bench_md(const char *csv);

/* splitmix64: a fast, decent PRNG step. */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Keep @v alive so the compiler cannot drop the loop that made it. */
static inline void bench_sink(uint64_t v)
{
	__asm__ volatile("" : : "r"(v) : "memory");
}

/* Print to stderr and exit(1). */
void bench_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif /* MMSYNC_BENCH_H */
