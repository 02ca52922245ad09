/* SPDX-License-Identifier: MIT */
/*
 * prog.h - the state of one fuzz input while it runs (prog.c), shared by
 * the reader-side actions (reader_ops.c) and the writer-side ones
 * (writer_ops.c).
 */
#ifndef MMSYNC_FUZZ_PROG_H
#define MMSYNC_FUZZ_PROG_H

#include "fuzz.h"

#define VIEW_COPY FZ_IMG_MAX

struct handle {
	struct mmsync_reader *r;
	uint32_t flags; /* MMSYNC_READ_* it was opened with */
	bool view;
	struct mmsync_view v;
	unsigned char *copy; /* the view's bytes at begin (VIEW_COPY max) */
	size_t copied;
	bool replaced; /* its files are no longer the channel's names */
	int fd; /* what mmsync_reader_fd() gave, or -1 */
};

/* A generation published by this input: its payload is make_payload(). */
struct known {
	uint64_t gen, len;
	uint32_t seed;
};

struct prog {
	struct fz_chan c;
	int ops; /* OP_NR_READER or OP_NR_ALL */
	int edits; /* build edits: 0 means the template as it is */
	struct handle h[FZ_MAX_HANDLES];
	struct mmsync_writer *w;
	uint32_t policy;
	int64_t grace_ns;
	bool w_advert; /* the writer took the "alive" lock at open */
	bool w_replaced; /* the writer's files are no longer the names */
	bool resv; /* a reservation is open */
	/* The next slot was waited for by a reserve: no publish waits again. */
	bool slot_waited;
	uint64_t resv_len;
	uint32_t resv_seed;
	struct known known[4];
	uint64_t gone[256]; /* pins of held entries the writer gave up on */
	bool replaced; /* some file was replaced or unlinked live */
};

/* What a reader must make of the files, judged from them (the mirror). */
struct mirror {
	bool refuse; /* not a valid channel for a reader */
	const char *why; /* why not */
	uint32_t nr; /* entries */
	struct mmsync_hdr h;
};

/* prog.c */
extern unsigned char fz_payload[FZ_MAX_PAYLOAD + 1];
extern unsigned char fz_scratch[FZ_IMG_MAX];
bool fz_known(const char *bug);
bool is_errno(int rc);
uint64_t now_ns(void);
void make_payload(uint32_t seed, size_t len);
const struct known *known_gen(const struct prog *p, uint64_t gen);
void remember(struct prog *p, uint64_t gen, uint64_t len, uint32_t seed);
int open_handles(const struct prog *p);
void mark_replaced(struct prog *p);
void check_same(const struct prog *p, const struct fz_snap *before, int from,
		int to, const char *who, int rc);
void reader_mirror(const struct prog *p, struct mirror *m);
int64_t free_entries(const struct prog *p, const struct mirror *m);

/* reader_ops.c */
void act_ropen(struct prog *p, const struct fz_rec *r);
void act_read(struct prog *p, const struct fz_rec *r);
void act_begin(struct prog *p, const struct fz_rec *r);
void act_end(struct prog *p, const struct fz_rec *r);
void act_wait(struct prog *p, const struct fz_rec *r);
void act_stat(struct prog *p, const struct fz_rec *r);
void act_foreach(struct prog *p, const struct fz_rec *r);
void act_rfd(struct prog *p, const struct fz_rec *r);
void act_rclose(struct prog *p, const struct fz_rec *r);
void end_view(struct prog *p, struct handle *h);
void close_handle(struct handle *h);
void check_woken(const struct prog *p);
bool live_pin_blocks(const struct prog *p, uint64_t next, uint64_t *pins);

/* writer_ops.c */
void writer_action(struct prog *p, const struct fz_rec *r);
void act_wopen(struct prog *p, const struct fz_rec *r);
void act_publish(struct prog *p, const struct fz_rec *r);
void act_wclose(struct prog *p);

#endif /* MMSYNC_FUZZ_PROG_H */
