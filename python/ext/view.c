// SPDX-License-Identifier: MIT
/*
 * view.c - mmsync.View: one snapshot, exported zero-copy through the
 * buffer protocol, between mmsync_read_begin_ool() and _end_ool().
 *
 * The safety rule: a view ends only when no buffer export is alive.
 * Ending it (end(), leaving the with block, Reader.close()) while a
 * memoryview or numpy array still holds its buffer raises BufferError and
 * leaves the view open. The other choice, deferring read_end until the
 * last export goes, was rejected: the pin would outlive the block
 * invisibly, the writer would evict it after the grace period, and the
 * -ESTALE that read_end then returns could only be dropped, in
 * releasebuffer, which cannot raise. A numpy array would keep reading
 * rewritten bytes with nobody told. With BufferError every byte Python can
 * reach is read before a read_end whose result is raised, and once a view
 * has ended no new export can be made (ValueError).
 */
#include "pymmsync.h"

#include <errno.h>

/* Byte access and ending: only the opening thread of the opening process. */
static int view_check(pym_view *v)
{
	if (pym_check_process(v->epoch, "this mmsync.View") < 0)
		return -1;
	if (v->thread != PyThread_get_thread_ident()) {
		PyErr_SetString(PyExc_RuntimeError,
				"an mmsync.View belongs to the thread that "
				"opened it");
		return -1;
	}
	if (v->ended) {
		PyErr_SetString(PyExc_ValueError,
				"the mmsync.View has ended: its bytes are no "
				"longer reachable");
		return -1;
	}
	return 0;
}

PyObject *pym_view_open(pym_reader *rd)
{
	struct pym_state *st = pym_state_of((PyObject *)rd);
	pym_view *v;
	int err;

	if (!st)
		return NULL;
	v = PyObject_New(pym_view, st->view_type);
	if (!v)
		return NULL;
	v->reader = NULL;
	v->thread = PyThread_get_thread_ident();
	v->epoch = rd->epoch;
	v->exports = 0;
	v->ended = 1;
	memset(&v->v, 0, sizeof(v->v));
	err = pym_read_begin(rd, &v->v);
	if (err) {
		Py_DECREF((PyObject *)v);
		return pym_raise(st, err, NULL);
	}
	v->ended = 0;
	Py_INCREF((PyObject *)rd);
	v->reader = rd;
	rd->view = v;
	return (PyObject *)v;
}

/* Forget the reader: the view is over, whether read_end ran or not. */
void pym_view_detach(pym_view *v)
{
	pym_reader *rd = v->reader;

	v->ended = 1;
	v->reader = NULL;
	if (rd) {
		if (rd->view == v)
			rd->view = NULL;
		Py_DECREF((PyObject *)rd);
	}
}

static PyObject *view_end(PyObject *self, PyObject *unused)
{
	pym_view *v = (pym_view *)self;
	struct pym_state *st;
	int err;

	if (v->ended && v->epoch == pym_fork_epoch())
		Py_RETURN_NONE;
	if (view_check(v) < 0)
		return NULL;
	if (v->exports) {
		PyErr_Format(PyExc_BufferError,
			     "cannot end the mmsync.View: %zd buffer export(s) "
			     "(memoryview, numpy array, ...) still use its "
			     "bytes; release them (del, .release()) first",
			     v->exports);
		return NULL;
	}
	err = mmsync_read_end_ool(v->reader->r, &v->v);
	pym_view_detach(v);
	if (err) {
		st = pym_state_of(self);
		return pym_raise(st, err, NULL);
	}
	Py_RETURN_NONE;
}

static PyObject *view_enter(PyObject *self, PyObject *unused)
{
	if (view_check((pym_view *)self) < 0)
		return NULL;
	Py_INCREF(self);
	return self;
}

static PyObject *view_exit(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	PyObject *r = view_end(self, NULL);

	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static void view_dealloc(PyObject *self)
{
	pym_view *v = (pym_view *)self;
	PyTypeObject *tp = Py_TYPE(self);

	if (!v->ended && v->reader) {
		/*
		 * A parent's view in a fork child: no warning (the child did
		 * not open it) and no read_end; closing the Reader ends it.
		 */
		if (v->epoch == pym_fork_epoch()) {
			pym_dealloc_warning(
				"mmsync.View of generation %llu was never "
				"ended: whether it was evicted is lost",
				(unsigned long long)v->v.gen);
			mmsync_read_end_ool(v->reader->r, &v->v);
		}
		pym_view_detach(v);
	}
	PyObject_Free(self);
	Py_DECREF(tp);
}

static int view_getbuffer(PyObject *self, Py_buffer *buf, int flags)
{
	pym_view *v = (pym_view *)self;

	if (view_check(v) < 0) {
		buf->obj = NULL;
		return -1;
	}
	/* Read-only: a PyBUF_WRITABLE request fails with BufferError. */
	if (PyBuffer_FillInfo(buf, self, (void *)v->v.data,
			      (Py_ssize_t)v->v.size, 1, flags) < 0)
		return -1;
	v->exports++;
	return 0;
}

static void view_releasebuffer(PyObject *self, Py_buffer *buf)
{
	((pym_view *)self)->exports--;
}

static Py_ssize_t view_len(PyObject *self)
{
	return (Py_ssize_t)((pym_view *)self)->v.size;
}

static PyObject *view_get_gen(PyObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(((pym_view *)self)->v.gen);
}

static PyObject *view_get_checksum(PyObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(((pym_view *)self)->v.checksum);
}

static PyObject *view_get_ended(PyObject *self, void *closure)
{
	return PyBool_FromLong(((pym_view *)self)->ended);
}

static PyObject *view_get_exports(PyObject *self, void *closure)
{
	return PyLong_FromSsize_t(((pym_view *)self)->exports);
}

static PyObject *view_repr(PyObject *self)
{
	pym_view *v = (pym_view *)self;

	return PyUnicode_FromFormat("<mmsync.View gen=%llu size=%zu %s>",
				    (unsigned long long)v->v.gen, v->v.size,
				    v->ended ? "ended" : "open");
}

static PyMethodDef view_methods[] = {
	{ "end", view_end, METH_NOARGS,
	  "end()\n--\n\n"
	  "End the view (mmsync_read_end); idempotent. Raises StaleError if\n"
	  "the writer evicted it (the bytes may have changed while they\n"
	  "were read: discard what was read), and BufferError, leaving the\n"
	  "view open, while buffer exports are alive." },
	{ "__enter__", view_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)(void (*)(void))view_exit, METH_FASTCALL,
	  NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef view_getset[] = {
	{ "gen", view_get_gen, NULL, "The snapshot's generation.", NULL },
	{ "checksum", view_get_checksum, NULL,
	  "XXH3-64 of the snapshot's bytes, as the writer computed it.", NULL },
	{ "ended", view_get_ended, NULL, "True once the view has ended.",
	  NULL },
	{ "exports", view_get_exports, NULL,
	  "Buffer exports alive (memoryviews, numpy arrays, ...).", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyType_Slot view_slots[] = {
	{ Py_tp_doc,
	  "A zero-copy, read-only view of one snapshot (Reader.view()).\n\n"
	  "Supports the buffer protocol: memoryview(v), bytes(v),\n"
	  "numpy.frombuffer(v, dtype) point into the shared mapping. len(v),\n"
	  ".gen and .checksum describe the snapshot. The bytes stay\n"
	  "unchanged until the view ends, unless the writer evicts it after\n"
	  "the grace period; then ending it raises StaleError. Ending it\n"
	  "while exports are alive raises BufferError; after it ended, no\n"
	  "buffer can be taken. Bytes and end() belong to the opening\n"
	  "thread (RuntimeError elsewhere)." },
	{ Py_tp_dealloc, view_dealloc },
	{ Py_tp_repr, view_repr },
	{ Py_tp_methods, view_methods },
	{ Py_tp_getset, view_getset },
	{ Py_bf_getbuffer, view_getbuffer },
	{ Py_bf_releasebuffer, view_releasebuffer },
	{ Py_sq_length, view_len },
	{ 0, NULL },
};

PyType_Spec pym_view_spec = {
	.name = "mmsync.View",
	.basicsize = sizeof(pym_view),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
	.slots = view_slots,
};
