// SPDX-License-Identifier: MIT
/*
 * wake.c - issue 10: how soon a waiting reader wakes after a publish, what
 * an idle waiter costs, and what waking costs the writer's publish.
 *
 * Waiters, each in its own process pinned to CPU 1 (the writer: CPU 0):
 *   notify  mmsync_wait(r, g, timeout), blocking on notification
 *   epoll   mmsync_reader_fd(r) in epoll: epoll_wait(), then the
 *           consuming mmsync_wait(r, g, 0)
 *   poll    the old sleep-polling path: MMSYNC_READ_NO_NOTIFY, the
 *           default poll interval (2 ms)
 *   pipe    the floor, measured in the same run: a process blocked in
 *           poll() on a pipe, woken by a one-byte write
 *
 * -a wake (default): wake-up latency and idle CPU.
 *   Latency: the waiter says it is about to block; the writer sleeps a
 *   random 0.2..2.2 ms (so the waiter is asleep, and the 2 ms poll is met
 *   at a random phase), stamps t0 and makes the generation visible
 *   (mmsync_commit() after a mmsync_reserve(), which did the grace wait:
 *   t0 to visible is the generation store and the notifying syscall) or
 *   writes the pipe; latency is t0 to the return of the waiter's wait.
 *   Blocks of samples alternate between the kinds, a fresh waiter process
 *   per block, so all kinds see the same background load. p50, p99 and
 *   max per run; the table has their medians over runs (and the worst
 *   max of all runs), and the medians of each run's ratios to the pipe
 *   floor of that run. The channel's notify counter says how many
 *   publishes of each kind woke someone: 1 per publish for notify and
 *   epoll, 0 for poll, or the waiter was not waiting the way it says.
 *   Idle CPU: one waiter of each kind at once, waiting for a publish that
 *   does not come for -t seconds per run; its thread's CPU time
 *   (CLOCK_THREAD_CPUTIME_ID) over wall time, % of one core.
 *
 * -a publish: writer cost of a 64 B mmsync_publish(), for
 *   none    no reader at all
 *   idle    one reader process with the channel open, not waiting
 *   waiter  one reader process blocked in mmsync_wait() (the writer makes
 *           the notifying syscall at every publish)
 *   both back to back ("burst": the mean of a run of publishes, by the
 *   clock and by the thread's CPU time, which leaves out the time others
 *   ran on CPU 0) and one at a time 200 us apart ("spaced": the median of
 *   single publishes, less the cost of reading the clock, each of which
 *   wakes the waiter), on a membarrier and on a fence (xchg) channel;
 *   cases interleaved within every round, medians over rounds, ratios to
 *   no reader taken within each round.
 *
 * -a syscalls: what the notifying syscall costs by itself on tmpfs,
 *   futimens() with no inotify watch, with a watch nobody reads and with
 *   a watcher blocked in poll(), against a 1-byte pwrite() and a 1-byte
 *   pipe write: the numbers behind what lib/notify.c chose.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmsync.h>

#include "bench.h"

#define MAX_RUNS 32
#define MAX_SAMPLES 1000
#define BLOCK 25 /* latency samples per waiter process */
#define LIMIT_NS 5000000000ll /* a wait that long is a failure */
#define DELAY_MIN_NS 200000ull
#define DELAY_SPAN_NS 2000000ull

static const char usage[] =
	"  -a  wake (latency and idle CPU, default), publish[:CASES] (of\n"
	"      none,idle,waiter; all by default) or syscalls\n"
	"  -t  seconds of idle waiting per run (2)\n"
	"  -q  fewer samples and rounds\n";

enum kind { NOTIFY, EPOLL, POLL, PIPE, NR_KINDS };
static const char *const kind_key[] = { "notify", "epoll", "poll", "pipe" };
static const char *const kind_name[] = { "mmsync_wait (notify)", "fd in epoll",
					 "sleep-poll 2 ms (old)",
					 "pipe -> poll() floor" };

/* ---- Waiters ------------------------------------------------------------ */

struct lat_shm {
	struct bench_gate gate;
	uint64_t t0; /* when the current sample's publish started */
	uint64_t asleep; /* samples the waiter is about to block for */
	uint64_t ack; /* samples the waiter has taken */
	uint64_t lat[MAX_SAMPLES];
	/* Idle: what the waiter measured, or an errno. */
	uint64_t cpu_ns, wall_ns;
	int err;
};

struct waiter {
	enum kind kind;
	const char *chan;
	int pipe_rd;
	int samples; /* 0: the idle measurement instead */
	double idle_secs;
	struct lat_shm *s;
};

/* A waiter's means of waiting, by kind. */
struct wctx {
	enum kind kind;
	struct mmsync_reader *r;
	int ep, pipe_rd;
	uint64_t gen; /* the last generation seen */
};

static int wctx_open(struct wctx *c, const struct waiter *w)
{
	MMSYNC_OPTS(mmsync_reader_opts, o);
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, err;

	c->kind = w->kind;
	c->ep = -1;
	c->pipe_rd = w->pipe_rd;
	c->r = NULL;
	if (w->kind == PIPE)
		return 0;
	if (w->kind == POLL)
		o.flags |= MMSYNC_READ_NO_NOTIFY; /* poll_ns 0: the default */
	err = mmsync_reader_open(w->chan, &o, &c->r);
	if (err)
		return err;
	c->gen = mmsync_reader_gen(c->r);
	if (w->kind != EPOLL)
		return 0;
	fd = mmsync_reader_fd(c->r);
	if (fd < 0)
		return fd;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0 || epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	/* Consume what is there: from now on, only new publishes count. */
	mmsync_wait(c->r, c->gen, 0);
	return 0;
}

static void wctx_close(struct wctx *c)
{
	if (c->ep >= 0)
		close(c->ep);
	mmsync_reader_close(c->r);
}

/*
 * Wait up to @ns for the next generation (or pipe byte). @asleep, if not
 * NULL, is told just before the waiter blocks. 0, -ETIMEDOUT or -errno.
 */
static int wctx_wait(struct wctx *c, int64_t ns, uint64_t *asleep,
		     uint64_t mark)
{
	uint64_t end = bench_now_ns() + (uint64_t)ns;
	struct pollfd pfd = { .fd = c->pipe_rd, .events = POLLIN };
	struct epoll_event ev;
	int64_t left;
	char byte;
	int err, n;

	/* Pairs with the writer's acquire load of asleep. */
	if (asleep)
		__atomic_store_n(asleep, mark, __ATOMIC_RELEASE);
	switch (c->kind) {
	case NOTIFY:
	case POLL:
		err = mmsync_wait(c->r, c->gen, ns);
		break;
	case EPOLL:
		/* Consume, then sleep: no lost wake-up (mmsync_reader_fd()). */
		while ((err = mmsync_wait(c->r, c->gen, 0)) == -ETIMEDOUT) {
			left = (int64_t)(end - bench_now_ns());
			if (left <= 0)
				break;
			n = epoll_wait(c->ep, &ev, 1,
				       (int)(left / 1000000) + 1);
			if (n < 0 && errno != EINTR)
				return -errno;
		}
		break;
	default:
		n = poll(&pfd, 1, (int)(ns / 1000000));
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		return read(c->pipe_rd, &byte, 1) == 1 ? 0 : -EIO;
	}
	if (!err)
		c->gen = mmsync_reader_gen(c->r);
	return err;
}

static int latency_waiter(struct waiter *w, struct wctx *c)
{
	struct lat_shm *s = w->s;
	uint64_t t1;
	int k, err = 0;

	for (k = 0; k < w->samples && !err; k++) {
		err = wctx_wait(c, LIMIT_NS, &s->asleep, (uint64_t)k + 1);
		t1 = bench_now_ns();
		/*
		 * Relaxed: t0 was stored before the writer's release (or
		 * seq_cst) store of the generation, which our wait loaded
		 * with acquire, or before its pipe write, which our read
		 * follows in the kernel's order of the pipe.
		 */
		s->lat[k] = t1 - __atomic_load_n(&s->t0, __ATOMIC_RELAXED);
		/* Pairs with the writer's acquire load of ack. */
		__atomic_store_n(&s->ack, (uint64_t)k + 1, __ATOMIC_RELEASE);
	}
	return err;
}

static int idle_waiter(struct waiter *w, struct wctx *c)
{
	int64_t ns = (int64_t)(w->idle_secs * 1e9);
	uint64_t c0, t0;
	int err;

	c0 = bench_thread_cpu_ns();
	t0 = bench_now_ns();
	err = wctx_wait(c, ns, NULL, 0);
	w->s->cpu_ns = bench_thread_cpu_ns() - c0;
	w->s->wall_ns = bench_now_ns() - t0;
	return err == -ETIMEDOUT ? 0 : err ? err : -EPROTO;
}

/*
 * bench_gate_wait_go() spins; waiters sleep instead, for they share CPU 1
 * (four at once for the idle measurement) and may run under SCHED_FIFO,
 * where a spinning one would keep the others from getting ready.
 */
static void gate_sleep_go(struct bench_gate *g)
{
	/* Pairs with the release store in bench_gate_open(). */
	while (!__atomic_load_n(&g->go, __ATOMIC_ACQUIRE))
		bench_sleep_ns(20000);
}

static int waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct wctx c;
	int err;

	bench_pin(1);
	err = wctx_open(&c, w);
	w->s->err = err;
	bench_gate_ready(&w->s->gate, !err);
	if (err)
		return 1;
	gate_sleep_go(&w->s->gate);
	err = w->samples ? latency_waiter(w, &c) : idle_waiter(w, &c);
	wctx_close(&c);
	w->s->err = err;
	return err ? 1 : 0;
}

/* ---- Latency ------------------------------------------------------------ */

static uint64_t notifies(const char *chan)
{
	MMSYNC_OPTS(mmsync_stats, st);

	return mmsync_stat(chan, &st) ? 0 : st.notifies;
}

/* Spin-sleep until *@word >= @want; -ETIMEDOUT after LIMIT_NS. */
static int wait_word(const uint64_t *word, uint64_t want)
{
	uint64_t t = bench_now_ns();

	/* Pairs with the waiter's release stores. */
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) < want) {
		if (bench_now_ns() - t > (uint64_t)LIMIT_NS)
			return -ETIMEDOUT;
		bench_sleep_ns(10000);
	}
	return 0;
}

/* Make one sample's wake-up happen; t0 stamped just before. */
static int wake_one(enum kind k, struct mmsync_writer *mw, int pipe_wr,
		    struct lat_shm *s)
{
	uint64_t *p;
	int err;

	if (k == PIPE) {
		/* Ordered before the waiter's read by the pipe itself. */
		__atomic_store_n(&s->t0, bench_now_ns(), __ATOMIC_RELAXED);
		return write(pipe_wr, "x", 1) == 1 ? 0 : -EIO;
	}
	/* The grace wait and the slot's preparation: not a wake-up's part. */
	err = mmsync_reserve(mw, 64, (void **)&p);
	if (err)
		return err;
	memset(p, 0x5a, 64);
	/* Ordered before the waiter's acquire load of the generation. */
	__atomic_store_n(&s->t0, bench_now_ns(), __ATOMIC_RELAXED);
	return mmsync_commit(mw, 64, NULL);
}

struct lat_run {
	double v[MAX_SAMPLES]; /* us */
	int n;
	uint64_t publishes, notified;
};

static int latency_block(enum kind k, const char *chan,
			 struct mmsync_writer *mw, int samples, uint64_t *seed,
			 struct lat_run *out)
{
	struct lat_shm *s = bench_shm(sizeof(*s));
	struct waiter w = { .kind = k, .chan = chan, .samples = samples };
	int fds[2] = { -1, -1 }, err = 0, n;
	uint64_t n0 = notifies(chan);
	pid_t pid = -1;

	if (!s)
		return -ENOMEM;
	w.s = s;
	if (pipe2(fds, O_CLOEXEC) < 0)
		err = -errno;
	w.pipe_rd = fds[0];
	if (!err) {
		pid = bench_spawn(waiter_main, &w);
		if (pid < 0)
			err = -errno;
	}
	if (!err)
		err = bench_gate_wait_ready(&s->gate, 1);
	bench_gate_open(&s->gate);
	for (n = 0; n < samples && !err; n++) {
		err = wait_word(&s->asleep, (uint64_t)n + 1);
		if (err)
			break;
		bench_sleep_ns(DELAY_MIN_NS + bench_rand(seed) % DELAY_SPAN_NS);
		err = wake_one(k, mw, fds[1], s);
		if (!err)
			err = wait_word(&s->ack, (uint64_t)n + 1);
	}
	if (err && pid > 0)
		kill(pid, SIGKILL);
	if (pid > 0 && bench_reap(pid) && !err)
		err = s->err ? s->err : -ECHILD;
	for (n = 0; n < samples && !err; n++)
		out->v[out->n++] = (double)s->lat[n] / 1000.0;
	if (k != PIPE) {
		out->publishes += (uint64_t)samples;
		out->notified += notifies(chan) - n0;
	}
	close(fds[0]);
	close(fds[1]);
	bench_shm_free(s, sizeof(*s));
	return err;
}

/* ---- Idle CPU ----------------------------------------------------------- */

/* One idle waiter of every kind at once: % of a core each. */
static int idle_run(const char *chan, double secs, double pct[NR_KINDS])
{
	struct lat_shm *s[NR_KINDS] = { 0 };
	struct waiter w[NR_KINDS];
	int fds[2] = { -1, -1 }, k, err = 0;
	pid_t pid[NR_KINDS];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	for (k = 0; k < NR_KINDS; k++) {
		pid[k] = -1;
		s[k] = bench_shm(sizeof(*s[k]));
		if (!s[k]) {
			err = -ENOMEM;
			break;
		}
		w[k] = (struct waiter){ .kind = (enum kind)k,
					.chan = chan,
					.pipe_rd = fds[0],
					.idle_secs = secs,
					.s = s[k] };
		pid[k] = bench_spawn(waiter_main, &w[k]);
		if (pid[k] < 0)
			err = -errno;
	}
	for (k = 0; k < NR_KINDS && !err; k++)
		err = bench_gate_wait_ready(&s[k]->gate, 1);
	for (k = 0; k < NR_KINDS; k++) {
		if (s[k])
			bench_gate_open(&s[k]->gate);
	}
	for (k = 0; k < NR_KINDS; k++) {
		if (pid[k] > 0 && bench_reap(pid[k]) && !err)
			err = s[k]->err ? s[k]->err : -ECHILD;
		if (!err)
			pct[k] = 100.0 * (double)s[k]->cpu_ns /
				 (double)s[k]->wall_ns;
		bench_shm_free(s[k], sizeof(*s[k]));
	}
	close(fds[0]);
	close(fds[1]);
	return err;
}

/* ---- -a wake ------------------------------------------------------------ */

struct kind_res {
	double p50[MAX_RUNS], p99[MAX_RUNS], max[MAX_RUNS], cpu[MAX_RUNS];
	double max_all;
	uint64_t publishes, notified;
};

static double med(const double *v, int n)
{
	double t[MAX_RUNS];

	memcpy(t, v, sizeof(double) * (size_t)n);
	return bench_median(t, n);
}

static int bench_wake(const struct bench_opts *o, const char *chan,
		      struct mmsync_writer *mw)
{
	static struct lat_run lr[NR_KINDS];
	static struct kind_res res[NR_KINDS];
	int samples = o->quick ? 100 : MAX_SAMPLES, blocks = samples / BLOCK;
	double pct[NR_KINDS], p50[NR_KINDS], p99[NR_KINDS], mx[NR_KINDS];
	double cpu[NR_KINDS], x50[NR_KINDS], x99[NR_KINDS];
	uint64_t seed = 42;
	int run, b, kk, k, err, wcpu = bench_pin(0);
	FILE *csv;

	printf("wake-up latency: %d runs of %d samples per waiter, blocks of "
	       "%d interleaved; idle CPU: %.1f s per run; writer on CPU %d, "
	       "waiters on CPU %d\n",
	       o->runs, samples, BLOCK, o->secs, wcpu,
	       bench_nr_cpus() > 1 ? 1 : 0);
	for (run = 0; run < o->runs; run++) {
		err = idle_run(chan, o->secs, pct);
		if (err)
			bench_die("wake: idle run: %s", strerror(-err));
		for (k = 0; k < NR_KINDS; k++) {
			res[k].cpu[run] = pct[k];
			lr[k].n = 0;
		}
		for (b = 0; b < blocks; b++) {
			for (kk = 0; kk < NR_KINDS; kk++) {
				k = (kk + b + run) % NR_KINDS;
				err = latency_block((enum kind)k, chan, mw,
						    BLOCK, &seed, &lr[k]);
				if (err)
					bench_die("wake: %s: %s", kind_key[k],
						  strerror(-err));
			}
		}
		for (k = 0; k < NR_KINDS; k++) {
			struct kind_res *r = &res[k];

			r->p50[run] = bench_percentile(lr[k].v, lr[k].n, 50);
			r->p99[run] = bench_percentile(lr[k].v, lr[k].n, 99);
			r->max[run] = lr[k].v[lr[k].n - 1]; /* sorted now */
			if (r->max[run] > r->max_all)
				r->max_all = r->max[run];
			r->publishes += lr[k].publishes;
			r->notified += lr[k].notified;
			lr[k].publishes = lr[k].notified = 0;
		}
		printf("  run %d: p50 us", run + 1);
		for (k = 0; k < NR_KINDS; k++)
			printf(" %s %.1f", kind_key[k], res[k].p50[run]);
		printf("\n");
	}

	for (k = 0; k < NR_KINDS; k++) {
		double q50[MAX_RUNS], q99[MAX_RUNS];

		p50[k] = med(res[k].p50, o->runs);
		p99[k] = med(res[k].p99, o->runs);
		mx[k] = med(res[k].max, o->runs);
		cpu[k] = med(res[k].cpu, o->runs);
		/* Ratios to the floor of the same run, then their median. */
		for (run = 0; run < o->runs; run++) {
			q50[run] = res[k].p50[run] / res[PIPE].p50[run];
			q99[run] = res[k].p99[run] / res[PIPE].p99[run];
		}
		x50[k] = med(q50, o->runs);
		x99[k] = med(q99, o->runs);
	}
	csv = bench_csv(o->csv, "waiter,p50_us,p99_us,max_us,max_all_us,"
				"idle_cpu_pct,p50_x_pipe,p99_x_pipe,"
				"notifies_per_publish,samples,runs,idle_s");
	printf("  %-24s %9s %9s %9s %10s %11s %8s %8s %9s\n", "waiter",
	       "p50 us", "p99 us", "max us", "worst max", "idle cpu %",
	       "p50/pipe", "p99/pipe", "notified");
	for (k = 0; k < NR_KINDS; k++) {
		double np = res[k].publishes ?
				    (double)res[k].notified /
					    (double)res[k].publishes :
				    0;

		printf("  %-24s %9.1f %9.1f %9.1f %10.1f %11.4f %8.2f %8.2f "
		       "%9.3f\n",
		       kind_name[k], p50[k], p99[k], mx[k], res[k].max_all,
		       cpu[k], x50[k], x99[k], np);
		if (csv)
			fprintf(csv,
				"%s,%.1f,%.1f,%.1f,%.1f,%.5f,%.3f,%.3f,%.3f,"
				"%d,%d,%.2f\n",
				kind_key[k], p50[k], p99[k], mx[k],
				res[k].max_all, cpu[k], x50[k], x99[k], np,
				samples, o->runs, o->secs);
	}
	if (csv)
		fclose(csv);
	return 0;
}

/* ---- -a publish --------------------------------------------------------- */

enum pcase { P_NONE, P_IDLE, P_WAITER, NR_PCASES };
static const char *const pcase_key[] = { "none", "idle", "waiter" };
static const char *const pcase_name[] = { "no reader at all",
					  "1 reader, nobody waiting",
					  "1 waiter blocked" };

struct preader_shm {
	struct bench_gate gate;
	int err;
};

struct preader {
	const char *chan;
	bool wait; /* block in mmsync_wait() rather than on the pipe */
	int stop_rd, stop_wr; /* EOF on stop_rd: close and exit */
	struct preader_shm *s;
};

/* A reader that holds the channel open, waiting on it or not. */
static int preader_main(void *arg)
{
	struct preader *p = arg;
	struct mmsync_reader *r;
	struct pollfd pfd = { .fd = p->stop_rd, .events = POLLIN };
	struct mmsync_view v;
	int err;

	bench_pin(1);
	close(p->stop_wr); /* the parent's: its close is our EOF */
	err = mmsync_reader_open(p->chan, NULL, &r);
	if (!err)
		err = mmsync_read_begin(r, &v);
	if (!err)
		err = mmsync_read_end(r, &v);
	p->s->err = err;
	bench_gate_ready(&p->s->gate, !err);
	if (err)
		return 1;
	if (!p->wait) {
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	} else {
		/*
		 * A generation that never comes: every publish wakes us, we
		 * look and sleep again. Every 100 ms a look at the pipe.
		 */
		while (poll(&pfd, 1, 0) == 0)
			mmsync_wait(r, UINT64_MAX / 2, 100000000);
	}
	mmsync_reader_close(r);
	return 0;
}

/* Until the channel's counts say the case is set up (or 5 s). */
static int settle(const char *chan, enum pcase c)
{
	MMSYNC_OPTS(mmsync_stats, st);
	uint64_t t = bench_now_ns();
	int err;

	for (;;) {
		err = mmsync_stat(chan, &st);
		if (err)
			return err;
		if (st.readers == (c != P_NONE) &&
		    st.waiters == (c == P_WAITER))
			return 0;
		if (bench_now_ns() - t > 5000000000ull)
			return -ETIMEDOUT;
		bench_sleep_ns(1000000);
	}
}

/* The cost of the clock reads around a single timed call. */
static double clock_cost_ns(void)
{
	double v[1001];
	uint64_t a;
	int i;

	for (i = 0; i < 1001; i++) {
		a = bench_now_ns();
		v[i] = (double)(bench_now_ns() - a);
	}
	return bench_median(v, 1001);
}

#define MAX_ROUNDS (4 * MAX_RUNS + 1)

/* ns per publish: burst by the clock and by CPU time, spaced. */
enum pmetric { M_BURST, M_BURST_CPU, M_SPACED, NR_METRICS };

struct pcell {
	double v[NR_METRICS][MAX_ROUNDS];
	uint64_t publishes, notified;
};

/* One round of one case: ns per publish, into @out[metric]. */
static int publish_round(struct mmsync_writer *mw, const char *chan,
			 enum pcase c, int burst, int spaced, double clk,
			 double out[NR_METRICS], struct pcell *cell)
{
	static double v[1000];
	struct preader_shm *s = NULL;
	struct preader p = { .chan = chan, .wait = c == P_WAITER };
	char buf[64];
	int fds[2] = { -1, -1 }, i, err = 0;
	uint64_t t, c0, n0;
	pid_t pid = -1;

	memset(buf, 0xa5, sizeof(buf));
	if (c != P_NONE) {
		s = bench_shm(sizeof(*s));
		if (!s || pipe2(fds, O_CLOEXEC) < 0)
			return -ENOMEM;
		p.stop_rd = fds[0];
		p.stop_wr = fds[1];
		p.s = s;
		pid = bench_spawn(preader_main, &p);
		if (pid < 0)
			err = -errno;
		if (!err)
			err = bench_gate_wait_ready(&s->gate, 1);
	}
	if (!err)
		err = settle(chan, c);
	n0 = notifies(chan);
	/* Warm up, then the burst. */
	for (i = 0; i < 16 && !err; i++)
		err = mmsync_publish(mw, buf, sizeof(buf), NULL);
	/*
	 * CPU time too: on a shared machine the clock also counts the time
	 * others ran on our CPU; the thread's CPU time is what a publish
	 * costs (membarrier() waits for its IPIs on the CPU, so it counts).
	 */
	c0 = bench_thread_cpu_ns();
	t = bench_now_ns();
	for (i = 0; i < burst && !err; i++)
		err = mmsync_publish(mw, buf, sizeof(buf), NULL);
	out[M_BURST] = (double)(bench_now_ns() - t) / burst;
	out[M_BURST_CPU] = (double)(bench_thread_cpu_ns() - c0) / burst;
	for (i = 0; i < spaced && !err; i++) {
		bench_sleep_ns(200000);
		t = bench_now_ns();
		err = mmsync_publish(mw, buf, sizeof(buf), NULL);
		v[i] = (double)(bench_now_ns() - t) - clk;
	}
	out[M_SPACED] = bench_median(v, spaced);
	cell->publishes += (uint64_t)(16 + burst + spaced);
	cell->notified += notifies(chan) - n0;
	if (pid > 0) {
		close(fds[1]); /* EOF: the reader closes and exits */
		fds[1] = -1;
		if (bench_reap(pid) && !err)
			err = s->err ? s->err : -ECHILD;
	}
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	bench_shm_free(s, sizeof(*s));
	return err;
}

/* "none,idle": the cases named in @list, in enum order; all for NULL. */
static int parse_pcases(const char *list, bool on[NR_PCASES])
{
	int c, n = 0;

	for (c = 0; c < NR_PCASES; c++) {
		on[c] = !list || strstr(list, pcase_key[c]);
		n += on[c];
	}
	return n;
}

static int bench_publish(const struct bench_opts *o, const char *dir,
			 const char *list)
{
	static const uint32_t modes[] = { MMSYNC_FENCE_MEMBARRIER,
					  MMSYNC_FENCE_XCHG };
	static const char *const mode_key[] = { "membarrier", "xchg" };
	static struct pcell cell[2][NR_PCASES];
	int rounds = o->quick ? 7 : 4 * o->runs + 1;
	int burst = o->quick ? 500 : 2000, spaced = o->quick ? 100 : 300;
	double clk, med_v[NR_METRICS], med_x[NR_METRICS], r[MAX_ROUNDS];
	double one[NR_METRICS];
	int mt;
	char chan[2][256];
	struct mmsync_writer *mw[2];
	int m, rd, cc, c, err, pc[NR_PCASES], npc = 0;
	bool on[NR_PCASES];
	FILE *csv;

	if (!parse_pcases(list, on))
		bench_die("wake: -a publish:CASES, of none, idle, waiter");
	for (c = 0; c < NR_PCASES; c++) {
		if (on[c])
			pc[npc++] = c;
	}
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	bench_pin(0);
	clk = clock_cost_ns();
	for (m = 0; m < 2; m++) {
		MMSYNC_OPTS(mmsync_writer_opts, wo, .fence_mode = modes[m]);

		snprintf(chan[m], sizeof(chan[m]), "%s/wake-pub-%s-%d", dir,
			 mode_key[m], (int)getpid());
		mmsync_unlink(chan[m]);
		err = mmsync_writer_open(chan[m], &wo, &mw[m]);
		if (!err)
			err = mmsync_publish(mw[m], "x", 1, NULL);
		if (err)
			bench_die("wake: %s: %s", chan[m], strerror(-err));
	}
	printf("publish cost, 64 B: %d rounds; burst of %d, %d spaced 200 us "
	       "apart (clock cost %.0f ns subtracted); reader on CPU %d\n",
	       rounds, burst, spaced, clk, bench_nr_cpus() > 1 ? 1 : 0);
	for (rd = 0; rd < rounds; rd++) {
		for (m = 0; m < 2; m++) {
			for (cc = 0; cc < npc; cc++) {
				c = pc[(cc + rd) % npc];
				err = publish_round(
					mw[m], chan[m], (enum pcase)c, burst,
					spaced, clk, one, &cell[m][c]);
				if (err)
					bench_die("wake: publish %s %s: %s",
						  mode_key[m], pcase_key[c],
						  strerror(-err));
				for (mt = 0; mt < NR_METRICS; mt++)
					cell[m][c].v[mt][rd] = one[mt];
			}
		}
	}
	for (m = 0; m < 2; m++) {
		mmsync_writer_close(mw[m]);
		mmsync_unlink(chan[m]);
	}

	csv = bench_csv(o->csv, "fence,case,burst_ns,burst_cpu_ns,spaced_ns,"
				"burst_x_none,burst_cpu_x_none,spaced_x_none,"
				"notifies_per_publish,rounds");
	printf("  medians of the rounds; x none: the medians of each round's "
	       "ratio to no reader\n");
	printf("  %-10s %-26s %9s %9s %9s %7s %7s %7s %8s\n", "fence", "case",
	       "burst ns", "cpu ns", "spaced ns", "x none", "x none", "x none",
	       "notified");
	for (m = 0; m < 2; m++) {
		for (c = 0; c < NR_PCASES; c++) {
			struct pcell *pc0 = &cell[m][P_NONE], *p = &cell[m][c];
			double np = (double)p->notified / (double)p->publishes;

			if (!on[c])
				continue;
			for (mt = 0; mt < NR_METRICS; mt++) {
				memcpy(r, p->v[mt], sizeof(double) * rounds);
				med_v[mt] = bench_median(r, rounds);
				for (rd = 0; rd < rounds && on[P_NONE]; rd++)
					r[rd] = p->v[mt][rd] / pc0->v[mt][rd];
				med_x[mt] = on[P_NONE] ?
						    bench_median(r, rounds) :
						    0;
			}
			printf("  %-10s %-26s %9.1f %9.1f %9.1f %7.3f %7.3f "
			       "%7.3f %8.3f\n",
			       mode_key[m], pcase_name[c], med_v[M_BURST],
			       med_v[M_BURST_CPU], med_v[M_SPACED],
			       med_x[M_BURST], med_x[M_BURST_CPU],
			       med_x[M_SPACED], np);
			if (csv)
				fprintf(csv,
					"%s,%s,%.1f,%.1f,%.1f,%.3f,%.3f,%.3f,"
					"%.3f,%d\n",
					mode_key[m], pcase_key[c],
					med_v[M_BURST], med_v[M_BURST_CPU],
					med_v[M_SPACED], med_x[M_BURST],
					med_x[M_BURST_CPU], med_x[M_SPACED], np,
					rounds);
		}
	}
	if (csv)
		fclose(csv);
	return 0;
}

/* ---- -a syscalls -------------------------------------------------------- */

enum scase {
	S_FUTIMENS,
	S_FUTIMENS_WATCHED,
	S_FUTIMENS_WAKE,
	S_PWRITE_WATCHED,
	S_PREAD_WATCHED,
	S_PREAD_WAKE,
	S_PIPE_WAKE,
	S_EMPTY_READ,
	NR_SCASES
};
static const char *const scase_key[] = {
	"futimens",	  "futimens_watched",  "futimens_wakes",
	"pwrite_watched", "pread_watched",     "pread_wakes",
	"pipe_wakes",	  "inotify_read_empty"
};
static const char *const scase_name[] = { "futimens(), no watch",
					  "futimens(), 1 watch, unread",
					  "futimens(), waking poll()",
					  "pwrite(1 B), 1 watch, unread",
					  "pread(1 B), 1 watch, unread",
					  "pread(1 B), waking poll()",
					  "write(pipe, 1 B), waking poll()",
					  "read(inotify fd), empty: EAGAIN" };

struct swatcher {
	int fd; /* inotify or pipe read end: poll, drain, again */
	int stop_rd, stop_wr; /* EOF on stop_rd: exit */
	struct bench_gate *gate;
};

/* Sleep in poll() on @fd, drain it at each wake-up, until stop_rd ends. */
static int swatcher_main(void *arg)
{
	struct swatcher *w = arg;
	struct pollfd pfd[2] = { { .fd = w->fd, .events = POLLIN },
				 { .fd = w->stop_rd, .events = POLLIN } };
	char buf[4096] __attribute__((aligned(8)));

	bench_pin(1);
	close(w->stop_wr); /* the parent's: its close is our EOF */
	bench_gate_ready(w->gate, true);
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (pfd[1].revents)
			return 0;
		if (pfd[0].revents && read(w->fd, buf, sizeof(buf)) < 0 &&
		    errno != EAGAIN)
			return 1;
	}
}

/* ns per call of one case, the calls 100 us apart, median of @n. */
static double syscall_case(enum scase c, const char *path, int n, double clk)
{
	static double v[2000];
	struct bench_gate *g = bench_shm(sizeof(*g));
	int fd, ino = -1, p[2] = { -1, -1 }, stop[2] = { -1, -1 }, i;
	struct swatcher w = { .fd = -1, .gate = g };
	pid_t pid = -1;
	struct inotify_event ev;
	uint64_t t;
	int ok = 0;
	char byte;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || !g || pipe2(stop, O_CLOEXEC) < 0)
		bench_die("wake: syscalls: %s", strerror(errno));
	if (c != S_FUTIMENS && c != S_PIPE_WAKE) {
		/* IN_ACCESS: what a pread() of the file would tell watchers. */
		ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ino < 0 ||
		    inotify_add_watch(ino, path,
				      IN_ATTRIB | IN_MODIFY | IN_ACCESS) < 0)
			bench_die("wake: inotify: %s", strerror(errno));
		w.fd = ino;
	}
	if (c == S_PIPE_WAKE) {
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			bench_die("wake: pipe: %s", strerror(errno));
		w.fd = p[0];
	}
	if (c == S_FUTIMENS_WAKE || c == S_PREAD_WAKE || c == S_PIPE_WAKE) {
		w.stop_rd = stop[0];
		w.stop_wr = stop[1];
		pid = bench_spawn(swatcher_main, &w);
		if (pid < 0 || bench_gate_wait_ready(g, 1))
			bench_die("wake: watcher: %s", strerror(errno));
	}
	for (i = 0; i < n; i++) {
		bench_sleep_ns(100000);
		t = bench_now_ns();
		switch (c) {
		case S_PWRITE_WATCHED:
			ok = pwrite(fd, "x", 1, 0) == 1;
			break;
		case S_PREAD_WATCHED:
		case S_PREAD_WAKE:
			ok = pread(fd, &byte, 1, 0) == 1;
			break;
		case S_PIPE_WAKE:
			ok = write(p[1], "x", 1) == 1;
			break;
		case S_EMPTY_READ:
			ok = read(ino, &ev, sizeof(ev)) < 0 && errno == EAGAIN;
			break;
		default:
			ok = futimens(fd, NULL) == 0;
		}
		v[i] = (double)(bench_now_ns() - t) - clk;
		if (!ok)
			bench_die("wake: %s: %s", scase_key[c],
				  strerror(errno));
		/* An unread watch: keep its queue short, as a drain would. */
		if (ino >= 0 && pid < 0 && i % 64 == 63) {
			char buf[4096] __attribute__((aligned(8)));

			while (read(ino, buf, sizeof(buf)) > 0)
				;
		}
	}
	if (pid > 0) {
		close(stop[1]);
		stop[1] = -1;
		bench_reap(pid);
	}
	close(stop[0]);
	if (stop[1] >= 0)
		close(stop[1]);
	if (ino >= 0)
		close(ino);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	close(fd);
	bench_shm_free(g, sizeof(*g));
	return bench_median(v, n);
}

static int bench_syscalls(const struct bench_opts *o, const char *dir)
{
	static double v[NR_SCASES][4 * MAX_RUNS + 1];
	int rounds = o->quick ? 5 : 2 * o->runs + 1, n = o->quick ? 200 : 500;
	double clk, m[NR_SCASES];
	char path[256];
	int rd, cc, c, fd;
	FILE *csv;

	bench_pin(0);
	clk = clock_cost_ns();
	snprintf(path, sizeof(path), "%s/wake-sys-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		bench_die("wake: %s: %s", path, strerror(errno));
	close(fd);
	printf("notifying syscalls on %s: %d rounds of %d calls 100 us apart "
	       "(clock cost %.0f ns subtracted)\n",
	       dir, rounds, n, clk);
	for (rd = 0; rd < rounds; rd++) {
		for (cc = 0; cc < NR_SCASES; cc++) {
			c = (cc + rd) % NR_SCASES;
			v[c][rd] = syscall_case((enum scase)c, path, n, clk);
		}
	}
	unlink(path);
	csv = bench_csv(o->csv, "case,ns,x_futimens,rounds");
	for (c = 0; c < NR_SCASES; c++)
		m[c] = bench_median(v[c], rounds);
	for (c = 0; c < NR_SCASES; c++) {
		printf("  %-34s %8.1f ns %6.2fx\n", scase_name[c], m[c],
		       m[c] / m[S_FUTIMENS]);
		if (csv)
			fprintf(csv, "%s,%.1f,%.3f,%d\n", scase_key[c], m[c],
				m[c] / m[S_FUTIMENS], rounds);
	}
	if (csv)
		fclose(csv);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 5, .secs = 2.0 };
	const char *what;
	struct mmsync_writer *mw;
	char chan[256];
	int err;

	bench_parse(argc, argv, &o, usage);
	if (o.runs > MAX_RUNS)
		o.runs = MAX_RUNS;
	what = o.arg ? o.arg : "wake";
	if (!strncmp(what, "publish", 7) && (!what[7] || what[7] == ':'))
		return bench_publish(&o, o.dir, what[7] ? what + 8 : NULL);
	if (!strcmp(what, "syscalls"))
		return bench_syscalls(&o, o.dir);
	if (strcmp(what, "wake"))
		bench_die("wake: -a wake, publish or syscalls, not %s", what);

	snprintf(chan, sizeof(chan), "%s/wake-%d", o.dir, (int)getpid());
	mmsync_unlink(chan);
	err = mmsync_writer_open(chan, NULL, &mw);
	if (!err)
		err = mmsync_publish(mw, "x", 1, NULL);
	if (err)
		bench_die("wake: %s: %s", chan, strerror(-err));
	err = bench_wake(&o, chan, mw);
	mmsync_writer_close(mw);
	mmsync_unlink(chan);
	return err ? 1 : 0;
}
