/* SPDX-License-Identifier: MIT */
/*
 * proto_mmsync.h - libmmsync as a benchmark protocol. The in-line and the
 * out-of-line read paths share the channel setup and the writer.
 */
#ifndef MMSYNC_BENCH_PROTO_MMSYNC_H
#define MMSYNC_BENCH_PROTO_MMSYNC_H

#include <mmsync.h>

#include "proto.h"

struct mmsync_rd {
	struct mmsync_reader *r;
	struct mmsync_view v;
	size_t words;
};

int pm_setup_membarrier(struct proto_env *e);
int pm_setup_xchg(struct proto_env *e);
void pm_teardown(struct proto_env *e);
int pm_reader_open(struct proto_env *e, void **out);
void pm_reader_close(void *arg);
int pm_writer_open(struct proto_env *e, void **out);
void pm_writer_close(void *arg);
int pm_publish(void *arg);

#endif /* MMSYNC_BENCH_PROTO_MMSYNC_H */
