/* SPDX-License-Identifier: MIT */
/*
 * pymmsync.h - what the files of the mmsync extension share.
 *
 * The extension is built for the stable ABI (Py_LIMITED_API 3.11, the first
 * version whose limited API has the buffer protocol), so it uses heap types
 * made from specs, module state instead of globals, and no CPython
 * internals. It calls the library's exported symbols only: the read path
 * goes through mmsync_read_begin_ool()/mmsync_read_end_ool(), never the
 * header's inline copies, so that the extension keeps working when the
 * exposed part of the reader handle changes.
 *
 * Rules every object follows (README.md, "Python"):
 *   - A handle belongs to the process that opened it. After fork() a child
 *     refuses to use inherited handles and views (RuntimeError) but may
 *     close or drop them: the library made the child's copies safe to
 *     close at fork time (lib/fork.c), nothing of the parent's is touched.
 *   - Calls that may block release the GIL, and mark the handle busy so
 *     that another thread cannot use or close it meanwhile.
 *   - A view ends (mmsync_read_end) only when no buffer export is alive:
 *     BufferError otherwise. Bytes are never reachable after read_end.
 */
#ifndef PYMMSYNC_H
#define PYMMSYNC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include <mmsync.h>

/*
 * Run one statement without the GIL: Py_BEGIN/END_ALLOW_THREADS, in a form
 * that keeps the statement visible (and clang-format sane).
 */
#define PYM_NOGIL(stmt)                                       \
	do {                                                  \
		PyThreadState *pym__ts = PyEval_SaveThread(); \
		stmt;                                         \
		PyEval_RestoreThread(pym__ts);                \
	} while (0)

struct pym_state {
	PyObject *stale_error; /* mmsync.StaleError(OSError) */
	PyTypeObject *reader_type;
	PyTypeObject *view_type;
	PyTypeObject *writer_type;
	PyTypeObject *reservation_type;
	PyTypeObject *stats_type; /* struct sequences */
	PyTypeObject *reader_info_type;
	PyTypeObject *publish_info_type;
};

struct pym_view;

typedef struct {
	PyObject ob_base; /* PyObject_HEAD */
	struct mmsync_reader *r; /* NULL once closed */
	PyObject *name; /* str */
	struct pym_view *view; /* the open view (borrowed), or NULL */
	unsigned long epoch; /* fork epoch at open */
	int busy; /* a call on r runs without the GIL */
	int verify; /* opened with MMSYNC_READ_VERIFY */
} pym_reader;

typedef struct pym_view {
	PyObject ob_base; /* PyObject_HEAD */
	pym_reader *reader; /* strong while the view is open, then NULL */
	struct mmsync_view v;
	unsigned long thread; /* PyThread_get_thread_ident() of the opener */
	unsigned long epoch;
	Py_ssize_t exports; /* live buffer exports */
	int ended;
} pym_view;

typedef struct {
	PyObject ob_base; /* PyObject_HEAD */
	struct mmsync_writer *w; /* NULL once closed */
	PyObject *name; /* str */
	PyObject *last; /* PublishInfo of the last publish, or NULL */
	unsigned long epoch;
	int busy; /* publish/reserve/commit runs without the GIL */
	int serving; /* serve() runs without the GIL */
	/* The open reservation (reserve() until commit/abort/publish/close). */
	int reserved;
	uint64_t res_epoch; /* bumped whenever a reservation opens or ends */
	void *res_ptr;
	size_t res_len;
	Py_ssize_t res_exports; /* live exports of the open reservation */
} pym_writer;

typedef struct {
	PyObject ob_base; /* PyObject_HEAD */
	pym_writer *writer; /* strong */
	uint64_t epoch; /* writer->res_epoch of this reservation */
	size_t len;
} pym_reservation;

/* module.c */
struct pym_state *pym_state_of(PyObject *obj);
struct pym_state *pym_state_of_type(PyTypeObject *type);
unsigned long pym_fork_epoch(void);
int pym_check_process(unsigned long epoch, const char *what);
PyObject *pym_raise(struct pym_state *st, int err, PyObject *name);
void pym_dealloc_warning(const char *fmt, ...);
int pym_name_converter(PyObject *obj, void *out);
int pym_seconds_ns(PyObject *obj, const char *what, int64_t *out);

/* reader.c, view.c, writer.c, reservation.c, stats.c */
extern PyType_Spec pym_reader_spec, pym_view_spec, pym_writer_spec,
	pym_reservation_spec;
int pym_read_begin(pym_reader *rd, struct mmsync_view *v);
PyObject *pym_view_open(pym_reader *rd);
void pym_view_detach(pym_view *v);
PyObject *pym_writer_commit(pym_writer *wr, PyObject *arg);
PyObject *pym_writer_abort(pym_writer *wr);
PyObject *pym_publish_info(struct pym_state *st,
			   const struct mmsync_publish_info *info);
int pym_stats_init(PyObject *module, struct pym_state *st);
PyObject *pym_stat(struct pym_state *st, PyObject *name);
PyObject *pym_readers(struct pym_state *st, PyObject *name);

#endif /* PYMMSYNC_H */
