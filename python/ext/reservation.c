// SPDX-License-Identifier: MIT
/*
 * reservation.c - mmsync.Reservation: the writable bytes of the next
 * generation's slot, from Writer.reserve() until commit/abort.
 *
 * Writes through a buffer that outlived its reservation would land in a
 * slot that readers may be reading (a published snapshot changing under
 * them, with no -ESTALE to tell). So, as for views, the reservation ends
 * only when no export is alive (BufferError otherwise), and a reservation
 * that ended gives no new buffer (ValueError).
 */
#include "pymmsync.h"

static int res_current(pym_reservation *res)
{
	pym_writer *wr = res->writer;

	if (pym_check_process(wr->epoch, "this mmsync.Writer") < 0)
		return -1;
	if (!wr->w || !wr->reserved || wr->res_epoch != res->epoch) {
		PyErr_SetString(PyExc_ValueError,
				"the mmsync.Reservation has ended (committed, "
				"aborted, replaced or closed)");
		return -1;
	}
	/* A commit hashing the slot in another thread: hands off. */
	if (wr->busy) {
		PyErr_SetString(
			PyExc_RuntimeError,
			"mmsync.Writer is publishing in another thread");
		return -1;
	}
	return 0;
}

static int res_getbuffer(PyObject *self, Py_buffer *buf, int flags)
{
	pym_reservation *res = (pym_reservation *)self;
	pym_writer *wr = res->writer;

	if (res_current(res) < 0) {
		buf->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(buf, self, wr->res_ptr, (Py_ssize_t)res->len, 0,
			      flags) < 0)
		return -1;
	wr->res_exports++;
	return 0;
}

static void res_releasebuffer(PyObject *self, Py_buffer *buf)
{
	/* Exports only exist while the reservation is current. */
	((pym_reservation *)self)->writer->res_exports--;
}

static Py_ssize_t res_len(PyObject *self)
{
	return (Py_ssize_t)((pym_reservation *)self)->len;
}

static PyObject *res_commit(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	pym_reservation *res = (pym_reservation *)self;

	if (n > 1) {
		PyErr_SetString(PyExc_TypeError,
				"commit() takes at most 1 argument");
		return NULL;
	}
	if (res_current(res) < 0)
		return NULL;
	return pym_writer_commit(res->writer, n ? args[0] : NULL);
}

static PyObject *res_abort(PyObject *self, PyObject *unused)
{
	pym_reservation *res = (pym_reservation *)self;

	if (res_current(res) < 0)
		return NULL;
	return pym_writer_abort(res->writer);
}

static PyObject *res_enter(PyObject *self, PyObject *unused)
{
	if (res_current((pym_reservation *)self) < 0)
		return NULL;
	Py_INCREF(self);
	return self;
}

/* Leaving the block without commit() publishes nothing (abort). */
static PyObject *res_exit(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	pym_reservation *res = (pym_reservation *)self;
	pym_writer *wr = res->writer;
	PyObject *r;

	if (pym_check_process(wr->epoch, "this mmsync.Writer") < 0)
		return NULL;
	if (wr->w && wr->reserved && wr->res_epoch == res->epoch) {
		r = pym_writer_abort(wr);
		if (!r)
			return NULL;
		Py_DECREF(r);
	}
	Py_RETURN_FALSE;
}

static PyObject *res_get_active(PyObject *self, void *closure)
{
	pym_reservation *res = (pym_reservation *)self;
	pym_writer *wr = res->writer;

	return PyBool_FromLong(wr->w && wr->reserved &&
			       wr->res_epoch == res->epoch);
}

static void res_dealloc(PyObject *self)
{
	pym_reservation *res = (pym_reservation *)self;
	PyTypeObject *tp = Py_TYPE(self);

	/* Dropping it does not abort: the C reservation lives in the Writer. */
	Py_CLEAR(res->writer);
	PyObject_Free(self);
	Py_DECREF(tp);
}

static PyObject *res_repr(PyObject *self)
{
	pym_reservation *res = (pym_reservation *)self;
	pym_writer *wr = res->writer;
	int active = wr && wr->w && wr->reserved && wr->res_epoch == res->epoch;

	return PyUnicode_FromFormat("<mmsync.Reservation %zu bytes %s>",
				    res->len, active ? "open" : "ended");
}

static PyMethodDef res_methods[] = {
	{ "commit", (PyCFunction)(void (*)(void))res_commit, METH_FASTCALL,
	  "commit(n=None) -> int\n--\n\nWriter.commit()." },
	{ "abort", res_abort, METH_NOARGS, "abort()\n--\n\nWriter.abort()." },
	{ "__enter__", res_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)(void (*)(void))res_exit, METH_FASTCALL,
	  NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef res_getset[] = {
	{ "active", res_get_active, NULL,
	  "True until committed, aborted, replaced or closed.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyType_Slot res_slots[] = {
	{ Py_tp_doc,
	  "The writable bytes of a reservation (Writer.reserve()).\n\n"
	  "Fill it through the buffer protocol (memoryview(res)[:] = ...,\n"
	  "numpy.frombuffer(res, dtype)[...] = ...), then commit(n) or\n"
	  "abort(). As a context manager, leaving the block without commit\n"
	  "aborts. Ending it while exports are alive raises BufferError." },
	{ Py_tp_dealloc, res_dealloc },
	{ Py_tp_repr, res_repr },
	{ Py_tp_methods, res_methods },
	{ Py_tp_getset, res_getset },
	{ Py_bf_getbuffer, res_getbuffer },
	{ Py_bf_releasebuffer, res_releasebuffer },
	{ Py_sq_length, res_len },
	{ 0, NULL },
};

PyType_Spec pym_reservation_spec = {
	.name = "mmsync.Reservation",
	.basicsize = sizeof(pym_reservation),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
	.slots = res_slots,
};
