// SPDX-License-Identifier: MIT
/*
 * nosyscall.c - the read path makes no syscall once the channel is open.
 *
 * A child opens a reader, then enters seccomp strict mode, where any
 * syscall but read, write, _exit and sigreturn kills it with SIGKILL. It
 * then runs read_begin/read_end (inline and out-of-line) a million times
 * while the writer keeps publishing, and reports through a pipe.
 */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"

struct job {
	const char *name;
	int pipe[2];
	long reads;
	int ool;
};

struct result {
	long reads;
	long clean;
	uint64_t first_gen;
	uint64_t last_gen;
};

static int strict_reader(void *arg)
{
	struct job *j = arg;
	struct result res = { 0 };
	struct mmsync_reader *r;
	struct mmsync_view v;
	long i;
	int err;

	if (mmsync_reader_open(j->name, NULL, &r))
		return 1;
	/* Map both slots while syscalls are still allowed. */
	while (mmsync_reader_gen(r) < 2)
		usleep(100);
	if (mmsync_read_begin(r, &v) || mmsync_read_end(r, &v))
		return 2;
	res.first_gen = v.gen;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
		return 3;
	/*
	 * At least j->reads reads, and on until ten publishes raced with
	 * them (a loaded machine may run the writer rarely), within bounds.
	 */
	for (i = 0; i < j->reads ||
		    (res.last_gen < res.first_gen + 10 && i < j->reads * 500);
	     i++) {
		err = j->ool ? mmsync_read_begin_ool(r, &v) :
			       mmsync_read_begin(r, &v);
		if (err)
			continue;
		res.last_gen = v.gen;
		err = j->ool ? mmsync_read_end_ool(r, &v) :
			       mmsync_read_end(r, &v);
		res.reads++;
		res.clean += err == 0;
	}
	if (write(j->pipe[1], &res, sizeof(res)) != sizeof(res))
		syscall(SYS_exit, 4);
	syscall(SYS_exit, 0); /* exit_group is not allowed in strict mode */
	return 5;
}

FIXTURE(nosys)
{
	struct tdir dir;
	char name[256];
	struct mmsync_writer *w;
	int pipe[2];
};

FIXTURE_VARIANT(nosys)
{
	int ool;
};

FIXTURE_VARIANT_ADD(nosys, inline_path){
	.ool = 0,
};

FIXTURE_VARIANT_ADD(nosys, out_of_line_path){
	.ool = 1,
};

FIXTURE_SETUP(nosys)
{
#if defined(__SANITIZE_THREAD__)
	/* Its runtime makes syscalls of its own (and forks poorly). */
	SKIP(return, "TSan build: seccomp strict mode cannot host TSan");
#endif
	self->pipe[0] = self->pipe[1] = -1;
	ASSERT_EQ(0, tdir_make(&self->dir));
	tdir_chan(&self->dir, "n", self->name, sizeof(self->name));
	ASSERT_EQ(0, mmsync_writer_open(self->name, NULL, &self->w));
	ASSERT_EQ(0, pipe(self->pipe));
}

FIXTURE_TEARDOWN(nosys)
{
	if (self->pipe[0] >= 0) {
		close(self->pipe[0]);
		close(self->pipe[1]);
	}
	mmsync_writer_close(self->w);
	tdir_remove(&self->dir);
}

TEST_F(nosys, read_path_makes_no_syscall)
{
	struct job j = { .name = self->name, .ool = variant->ool };
	const char *env = getenv("MMSYNC_NOSYS_READS");
	struct result res;
	char buf[512];
	uint64_t n = 0;
	int pid, st;

	j.reads = env ? atol(env) : 1000000;
	j.pipe[0] = self->pipe[0];
	j.pipe[1] = self->pipe[1];
	memset(buf, 1, sizeof(buf));
	ASSERT_EQ(0, mmsync_publish(self->w, buf, 100, NULL));
	ASSERT_EQ(0, mmsync_publish(self->w, buf, sizeof(buf), NULL));
	pid = spawn(strict_reader, &j);
	ASSERT_LT(0, pid);
	/* Keep publishing (same sizes: no remap) until the child is done. */
	while (waitpid(pid, &st, WNOHANG) == 0) {
		mmsync_publish(self->w, buf, (n++ & 1) ? 100 : sizeof(buf),
			       NULL);
		usleep(50);
	}
	ASSERT_TRUE(WIFEXITED(st))
	{
		TH_LOG("reader died with signal %d: a syscall on the read path",
		       WTERMSIG(st));
	}
	ASSERT_EQ(0, WEXITSTATUS(st));
	ASSERT_EQ(sizeof(res), read(self->pipe[0], &res, sizeof(res)));
	EXPECT_LE(j.reads, res.reads);
	EXPECT_LT(res.first_gen, res.last_gen); /* it saw publishes */
	ksft_print_msg(
		"measured: %ld reads under seccomp strict mode, %ld clean, generations %llu..%llu, %llu publishes meanwhile\n",
		res.reads, res.clean, (unsigned long long)res.first_gen,
		(unsigned long long)res.last_gen, (unsigned long long)n);
}

TEST_HARNESS_MAIN
