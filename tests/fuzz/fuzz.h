/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the fuzz harnesses share: the input language, the channel
 * under test and its files, and the checks.
 *
 * An input is a small program over one channel, decoded so that every byte
 * string is a valid program (missing bytes read as 0):
 *
 *   byte 0      bits 0-2: which template the channel starts from (chan.c:
 *               valid channels made once with mmsync_writer_open +
 *               mmsync_publish); bits 3-7: what the epilogue does (prog.c)
 *   then        records of 12 bytes: op, a (u8), b (u16 LE), v (u64 LE)
 *
 * Edit records (OP_STATE_FIELD ... OP_RDLOCK_STATE) change the channel's
 * files: header fields of lib/layout.h by name, raw bytes, file sizes,
 * kinds (missing, symlink, FIFO, directory), owners, object ids, checksums,
 * and locks that stand for other processes. Until the first action they
 * edit in-memory images; the first action writes the images out as the
 * files NAME_state, NAME_readers, NAME_data_0/1 and NAME_lock. After that
 * an edit changes the live files (never shrinking them: nothing is
 * truncated under a mapping in a single-threaded harness).
 *
 * Action records call the library (prog.c says what each one checks):
 * reader handles (open, views, wait, fd, close), the observers (stat,
 * foreach_reader) and, in the writer harness, a writer (open, publish,
 * publish_iov, reserve/commit/abort, close, unlink).
 */
#ifndef MMSYNC_FUZZ_H
#define MMSYNC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmsync.h"
#include "layout.h"

/* Hot loops of the harness that coverage feedback would only slow down. */
#if defined(__clang__)
#define FZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FZ_NO_COVERAGE
#endif

/* The channel's files, in the order records name them. */
enum fz_file {
	FZ_STATE,
	FZ_TABLE,
	FZ_DATA0,
	FZ_DATA1,
	FZ_LOCK,
	FZ_NFILES,
};

enum fz_kind {
	FZ_REG,
	FZ_MISSING,
	FZ_SYMLINK, /* dangling, to NAME_target */
	FZ_FIFO,
	FZ_DIR,
	FZ_NKINDS,
};

enum fz_op {
	/* Edits of the files. */
	OP_STATE_FIELD,
	OP_TABLE_FIELD,
	OP_POKE,
	OP_SIZE,
	OP_KIND,
	OP_OWNER,
	OP_SET_ID,
	OP_FIXSUM,
	OP_FILL,
	OP_LOCK_ENTRY,
	OP_LOCK_WRITER,
	OP_RDLOCK_STATE,
	/* Reader side and observers. */
	OP_ROPEN,
	OP_READ,
	OP_BEGIN,
	OP_END,
	OP_WAIT,
	OP_STAT,
	OP_FOREACH,
	OP_RFD,
	OP_RCLOSE,
	OP_NR_READER, /* the reader harness uses the ops above */
	/* Writer side. */
	OP_WOPEN = OP_NR_READER,
	OP_PUBLISH,
	OP_PUBLISH_IOV,
	OP_RESERVE,
	OP_COMMIT,
	OP_ABORT,
	OP_WCLOSE,
	OP_UNLINK,
	OP_NR_ALL,
};

#define FZ_RECORD 12
#define FZ_MAX_RECORDS 96
#define FZ_MAX_HANDLES 3
/* Files never grow past this: the fuzzer must not fill the machine. */
#define FZ_MAX_FSIZE (4u << 20)
/* Bytes of each file kept in its image; the rest of a file is zeros. */
#define FZ_IMG_MAX (256u << 10)
#define FZ_MAX_PAYLOAD (128u << 10)

struct fz_rec {
	uint8_t op, a;
	uint16_t b;
	uint64_t v;
};

/* Reads records off an input; past its end everything is 0. */
struct fz_in {
	const uint8_t *p;
	size_t n, off;
};

bool fz_next(struct fz_in *in, struct fz_rec *r);

/* One file as the harness means it to be. */
struct fz_img {
	int kind;
	uint64_t size;
	unsigned char *buf; /* FZ_IMG_MAX bytes; [0, min(size, FZ_IMG_MAX)) */
	bool other_owner; /* chown to 65534 (root only) */
	mode_t mode;
};

/* What a file was, to tell whether anyone changed it. */
struct fz_snap {
	int kind;
	uint64_t dev, ino, size, hash;
	uid_t uid;
	mode_t mode;
	unsigned char head[512]; /* the first bytes, to say what changed */
};

struct fz_chan {
	char dir[128];
	char name[160]; /* dir + "/c": a path prefix */
	char path[FZ_NFILES][192];
	struct fz_img img[FZ_NFILES];
	bool live; /* files written: edits go to the files */
	/* Someone (the owner) edited state or data files under the handles. */
	bool taint;
	bool taint_table; /* the reader table was scribbled on */
	/* Locks held for other processes (their own descriptions). */
	int lock_fd[4]; /* table entries, writer lock, state read lock */
	uint64_t entry_locks[4]; /* bitmap of entries 0..255 held */
	bool writer_locked; /* NAME_lock byte 0 held by "another writer" */
	bool state_rdlocked; /* read lock on NAME_state byte 0 */
	int tmpl;
};

/* Object ids in a template's state: "the id of file f" (chan.c). */
#define FZ_MARK_DEV(f) (0x4d4b444556000000ull | (uint64_t)(f))
#define FZ_MARK_INO(f) (0x4d4b494e4f000000ull | (uint64_t)(f))

/* chan.c */
void fz_init(void);
void fz_remove_dir_of(pid_t pid);
int fz_templates(void);
void fz_begin(struct fz_chan *c, int tmpl);
void fz_materialize(struct fz_chan *c);
void fz_end(struct fz_chan *c);
void fz_edit(struct fz_chan *c, const struct fz_rec *r);
void fz_snap_all(const struct fz_chan *c, struct fz_snap s[FZ_NFILES]);
bool fz_snap_same(const struct fz_snap *a, const struct fz_snap *b);
void fz_snap_diff(const struct fz_snap *a, const struct fz_snap *b);
void fz_file_stat(const struct fz_chan *c, int f, struct fz_snap *s);
void fz_file_meta(const struct fz_chan *c, int f, struct fz_snap *s);
bool fz_read_hdr(const struct fz_chan *c, struct mmsync_hdr *h);
bool fz_ident_ok(const struct mmsync_hdr *h);
bool fz_id_is(const struct fz_chan *c, const struct mmsync_obj_id *id, int f);
uint64_t fz_file_size(const struct fz_chan *c, int f);
uint64_t fz_template_size(int tmpl, int f);
ssize_t fz_pread(const struct fz_chan *c, int f, void *buf, size_t n,
		 uint64_t off);
bool fz_entry_held(const struct fz_chan *c, uint32_t i);
bool fz_writer_locked(const struct fz_chan *c);
bool fz_state_rdlocked(const struct fz_chan *c);
bool fz_membarrier(void);
uint32_t fz_locked_entries(const struct fz_chan *c, uint32_t n);
/* chan.c, for edit.c: the files behind the edits. */
uint64_t fz_img_len(const struct fz_img *m);
int fz_open_live(const struct fz_chan *c, int f, int flags);
int fz_make_kind(struct fz_chan *c, int f, int kind);
int fz_lock_at(struct fz_chan *c, int slot, int f, int flags, short type,
	       off_t off);
void fz_put_bytes(struct fz_chan *c, int f, uint64_t off, const void *p,
		  size_t n);
uint64_t fz_get_word(const struct fz_chan *c, int f, uint64_t off, int w);
void fz_put_word(struct fz_chan *c, int f, uint64_t off, int w, uint64_t v);

void fz_fail(const char *what, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
#define FZ_CHECK(cond, ...)                   \
	do {                                  \
		if (!(cond))                  \
			fz_fail(__VA_ARGS__); \
	} while (0)

/* prog.c: run one input; @ops: OP_NR_READER or OP_NR_ALL. */
int fz_run(const uint8_t *data, size_t size, int ops);

/* seeds.c: the seed inputs of a harness, handed one by one to @emit. */
typedef void (*fz_emit_fn)(const char *name, const uint8_t *p, size_t n,
			   void *arg);
void fz_seeds(int ops, fz_emit_fn emit, void *arg);

#endif /* MMSYNC_FUZZ_H */
