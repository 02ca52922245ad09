// SPDX-License-Identifier: MIT
/* reader.c - mmsync.Reader: open a channel, views, copies, waits. */
#include "pymmsync.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Copies at least this big release the GIL (it costs ~100 ns). */
#define COPY_NOGIL_BYTES (256u << 10)
/* A blocking wait wakes up this often to run signal handlers (Ctrl-C). */
#define WAIT_SLICE_NS 100000000ll
/* read() retries a copy that was evicted under it this many times. */
#define READ_TRIES 4

/* May the calling thread use @rd now? Sets an exception if not. */
static int reader_check(pym_reader *rd)
{
	if (pym_check_process(rd->epoch, "this mmsync.Reader") < 0)
		return -1;
	if (!rd->r) {
		PyErr_SetString(PyExc_ValueError,
				"operation on a closed mmsync.Reader");
		return -1;
	}
	if (rd->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"mmsync.Reader is in use by another thread "
				"(a handle belongs to one thread at a time)");
		return -1;
	}
	if (rd->view && rd->view->thread != PyThread_get_thread_ident()) {
		PyErr_SetString(PyExc_RuntimeError,
				"mmsync.Reader has a view open in another "
				"thread; the handle belongs to that thread "
				"until the view ends");
		return -1;
	}
	return 0;
}

static PyObject *reader_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {
		"name",		 "verify",	    "xchg", "sigbus_guard",
		"poll_interval", "handoff_timeout", NULL
	};
	PyObject *fsname = NULL, *name = NULL, *poll = Py_None,
		 *handoff = Py_None;
	int verify = 0, xchg = 0, guard = 1, err;
	int64_t poll_ns = 0, handoff_ns = 0;
	struct mmsync_reader *r = NULL;
	pym_reader *self;
	const char *cname;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$pppOO:Reader", kwlist,
					 pym_name_converter, &fsname, &verify,
					 &xchg, &guard, &poll, &handoff))
		return NULL;
	if (poll != Py_None) {
		if (pym_seconds_ns(poll, "poll_interval", &poll_ns) < 0)
			goto fail;
		if (poll_ns == 0) {
			PyErr_SetString(PyExc_ValueError,
					"poll_interval must be > 0");
			goto fail;
		}
	}
	if (handoff != Py_None) {
		if (pym_seconds_ns(handoff, "handoff_timeout", &handoff_ns) < 0)
			goto fail;
		if (handoff_ns == 0) /* 0 would mean "the default" */
			handoff_ns = 1;
	}

	MMSYNC_OPTS(mmsync_reader_opts, o,
		    .flags = (verify ? MMSYNC_READ_VERIFY : 0) |
			     (xchg ? MMSYNC_READ_XCHG : 0) |
			     (guard ? 0 : MMSYNC_READ_NO_SIGBUS_GUARD),
		    .poll_ns = poll_ns, .handoff_timeout_ns = handoff_ns);
	cname = PyBytes_AsString(fsname);
	name = cname ? PyUnicode_DecodeFSDefault(cname) : NULL;
	if (!name)
		goto fail;
	/* A memfd channel's open waits for its writer to serve us. */
	PYM_NOGIL(err = mmsync_reader_open(cname, &o, &r));
	if (err) {
		pym_raise(pym_state_of_type(type), err, name);
		goto fail;
	}
	self = (pym_reader *)((allocfunc)PyType_GetSlot(type, Py_tp_alloc))(
		type, 0);
	if (!self) {
		mmsync_reader_close(r);
		goto fail;
	}
	Py_DECREF(fsname);
	self->name = name;
	self->r = r;
	self->view = NULL;
	self->epoch = pym_fork_epoch();
	self->busy = 0;
	self->verify = verify;
	return (PyObject *)self;
fail:
	Py_XDECREF(name);
	Py_XDECREF(fsname);
	return NULL;
}

/*
 * Drop the C handle. In a fork child too: the library let go of the
 * parent's shared state in the child at fork time (lib/fork.c: the table
 * mapping became private, the descriptors new ones), so closing the
 * inherited copy frees its memory and descriptors without touching the
 * parent's entry or pin.
 */
static void reader_release(pym_reader *rd)
{
	struct mmsync_reader *r = rd->r;

	rd->r = NULL;
	if (rd->view)
		pym_view_detach(rd->view);
	mmsync_reader_close(r);
}

static void reader_dealloc(PyObject *self)
{
	pym_reader *rd = (pym_reader *)self;
	PyTypeObject *tp = Py_TYPE(self);

	if (rd->r && rd->epoch == pym_fork_epoch())
		pym_dealloc_warning("unclosed mmsync.Reader %R", rd->name);
	reader_release(rd);
	Py_CLEAR(rd->name);
	((freefunc)PyType_GetSlot(tp, Py_tp_free))(self);
	Py_DECREF(tp);
}

static PyObject *reader_close(PyObject *self, PyObject *unused)
{
	pym_reader *rd = (pym_reader *)self;

	if (!rd->r)
		Py_RETURN_NONE;
	if (rd->epoch != pym_fork_epoch()) {
		/* An inherited copy may always be closed (see reader_release). */
		reader_release(rd);
		Py_RETURN_NONE;
	}
	if (reader_check(rd) < 0)
		return NULL;
	if (rd->view && rd->view->exports) {
		PyErr_Format(PyExc_BufferError,
			     "cannot close the mmsync.Reader: its view has %zd "
			     "buffer export(s) (memoryview, numpy array, ...) "
			     "still using the bytes; release them first",
			     rd->view->exports);
		return NULL;
	}
	reader_release(rd);
	Py_RETURN_NONE;
}

static PyObject *reader_enter(PyObject *self, PyObject *unused)
{
	pym_reader *rd = (pym_reader *)self;

	if (reader_check(rd) < 0)
		return NULL;
	Py_INCREF(self);
	return self;
}

static PyObject *reader_exit(PyObject *self, PyObject *const *args,
			     Py_ssize_t n)
{
	return reader_close(self, NULL);
}

static PyObject *reader_view(PyObject *self, PyObject *unused)
{
	pym_reader *rd = (pym_reader *)self;

	if (reader_check(rd) < 0)
		return NULL;
	return pym_view_open(rd);
}

/* read_begin through the exported symbol; see view() for the GIL. */
int pym_read_begin(pym_reader *rd, struct mmsync_view *v)
{
	int err;

	if (!rd->verify)
		return mmsync_read_begin_ool(rd->r, v);
	/* Verifying hashes the whole snapshot: let other threads run. */
	rd->busy = 1;
	PYM_NOGIL(err = mmsync_read_begin_ool(rd->r, v));
	rd->busy = 0;
	return err;
}

static PyObject *reader_read(PyObject *self, PyObject *unused)
{
	pym_reader *rd = (pym_reader *)self;
	struct pym_state *st = pym_state_of(self);
	struct mmsync_view v;
	PyObject *out;
	char *dst;
	int err, tries;

	if (reader_check(rd) < 0)
		return NULL;
	for (tries = 1;; tries++) {
		err = pym_read_begin(rd, &v);
		if (err)
			return pym_raise(st, err, NULL);
		out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)v.size);
		dst = out ? PyBytes_AsString(out) : NULL;
		if (!dst) {
			mmsync_read_end_ool(rd->r, &v);
			Py_XDECREF(out);
			return NULL;
		}
		if (v.size >= COPY_NOGIL_BYTES) {
			rd->busy = 1;
			PYM_NOGIL(memcpy(dst, v.data, v.size));
			rd->busy = 0;
		} else {
			memcpy(dst, v.data, v.size);
		}
		err = mmsync_read_end_ool(rd->r, &v);
		if (!err)
			return out;
		Py_DECREF(out);
		/* Evicted while copying (slower than the grace period). */
		if (err != -ESTALE || tries == READ_TRIES)
			return pym_raise(st, err, NULL);
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static PyObject *reader_wait(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "after_gen", "timeout", NULL };
	pym_reader *rd = (pym_reader *)self;
	PyObject *after_obj, *timeout = Py_None;
	unsigned long long after;
	int64_t total = -1, slice;
	uint64_t start = 0, spent;
	int err;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:wait", kwlist,
					 &after_obj, &timeout))
		return NULL;
	after = PyLong_AsUnsignedLongLong(after_obj);
	if (after == (unsigned long long)-1 && PyErr_Occurred())
		return NULL;
	if (timeout != Py_None &&
	    pym_seconds_ns(timeout, "timeout", &total) < 0)
		return NULL;
	if (reader_check(rd) < 0)
		return NULL;
	if (total > 0)
		start = mono_ns();
	/*
	 * Block in slices so that signal handlers (KeyboardInterrupt) run
	 * between them; each slice checks the generation first, so no
	 * publish is missed.
	 */
	for (;;) {
		slice = total < 0 || total > WAIT_SLICE_NS ? WAIT_SLICE_NS :
							     total;
		if (total > 0) {
			spent = mono_ns() - start;
			slice = spent >= (uint64_t)total ?
					0 :
					(int64_t)((uint64_t)total - spent);
			if (slice > WAIT_SLICE_NS)
				slice = WAIT_SLICE_NS;
		}
		rd->busy = 1;
		PYM_NOGIL(err = mmsync_wait(rd->r, after, slice));
		rd->busy = 0;
		if (err == 0)
			Py_RETURN_TRUE;
		if (err != -ETIMEDOUT)
			return pym_raise(pym_state_of(self), err, NULL);
		if (total == 0 ||
		    (total > 0 && mono_ns() - start >= (uint64_t)total))
			Py_RETURN_FALSE;
		if (PyErr_CheckSignals() < 0)
			return NULL;
	}
}

static PyObject *reader_fileno(PyObject *self, PyObject *unused)
{
	pym_reader *rd = (pym_reader *)self;
	int fd;

	if (reader_check(rd) < 0)
		return NULL;
	fd = mmsync_reader_fd(rd->r);
	if (fd < 0)
		return pym_raise(pym_state_of(self), fd, NULL);
	return PyLong_FromLong(fd);
}

/* stat() and readers() read by name; they never touch the handle. */
static int reader_open_here(pym_reader *rd)
{
	if (pym_check_process(rd->epoch, "this mmsync.Reader") < 0)
		return -1;
	if (!rd->r) {
		PyErr_SetString(PyExc_ValueError,
				"operation on a closed mmsync.Reader");
		return -1;
	}
	return 0;
}

static PyObject *reader_stat(PyObject *self, PyObject *unused)
{
	pym_reader *rd = (pym_reader *)self;

	if (reader_open_here(rd) < 0)
		return NULL;
	return pym_stat(pym_state_of(self), rd->name);
}

static PyObject *reader_readers(PyObject *self, PyObject *unused)
{
	pym_reader *rd = (pym_reader *)self;

	if (reader_open_here(rd) < 0)
		return NULL;
	return pym_readers(pym_state_of(self), rd->name);
}

static PyObject *reader_get_gen(PyObject *self, void *closure)
{
	pym_reader *rd = (pym_reader *)self;

	if (reader_open_here(rd) < 0)
		return NULL;
	return PyLong_FromUnsignedLongLong(mmsync_reader_gen(rd->r));
}

static PyObject *reader_get_name(PyObject *self, void *closure)
{
	pym_reader *rd = (pym_reader *)self;

	Py_INCREF(rd->name);
	return rd->name;
}

static PyObject *reader_get_closed(PyObject *self, void *closure)
{
	return PyBool_FromLong(((pym_reader *)self)->r == NULL);
}

static PyObject *reader_repr(PyObject *self)
{
	pym_reader *rd = (pym_reader *)self;

	return PyUnicode_FromFormat("<mmsync.Reader %R %s>", rd->name,
				    rd->r ? "open" : "closed");
}

static PyMethodDef reader_methods[] = {
	{ "view", reader_view, METH_NOARGS,
	  "view() -> View\n--\n\n"
	  "Open a zero-copy view of the current snapshot (read_begin): a\n"
	  "read-only buffer with .gen and .checksum, valid until it ends.\n"
	  "Use it as a context manager; leaving the block ends the view\n"
	  "(read_end) and raises StaleError if the writer evicted it.\n"
	  "One view at a time per Reader (OSError EBUSY otherwise); OSError\n"
	  "ENODATA before the first publish. Holds the GIL: it costs about\n"
	  "as much as creating a small object (README, Python); with\n"
	  "verify=True it releases the GIL while it hashes." },
	{ "read", reader_read, METH_NOARGS,
	  "read() -> bytes\n--\n\n"
	  "A copy of the current snapshot. A copy evicted under it (it took\n"
	  "longer than the grace period) is retried; StaleError after\n"
	  "4 tries. Releases the GIL while copying 256 KiB or more." },
	{ "wait", (PyCFunction)(void (*)(void))reader_wait,
	  METH_VARARGS | METH_KEYWORDS,
	  "wait(after_gen, timeout=None) -> bool\n--\n\n"
	  "Wait until a generation > after_gen is published: True once it\n"
	  "is, False after *timeout* seconds (None: forever; 0: check once\n"
	  "and, once notification exists, arm fileno()). Releases the GIL;\n"
	  "signal handlers run every 100 ms. BrokenPipeError on a memfd\n"
	  "channel whose writer is gone." },
	{ "fileno", reader_fileno, METH_NOARGS,
	  "fileno() -> int\n--\n\n"
	  "A descriptor that polls readable once a generation was published\n"
	  "since wait() last consumed notifications (selectors, asyncio's\n"
	  "loop.add_reader). Owned by the Reader: do not read or close it.\n"
	  "Readable can be spurious: call wait(gen, 0) to learn what\n"
	  "happened. OSError EOPNOTSUPP where the library has no\n"
	  "notification (then wait() sleep-polls)." },
	{ "stat", reader_stat, METH_NOARGS,
	  "stat() -> Stats\n--\n\nmmsync.stat() of this Reader's name." },
	{ "readers", reader_readers, METH_NOARGS,
	  "readers() -> list[ReaderInfo]\n--\n\n"
	  "mmsync.readers() of this Reader's name." },
	{ "close", reader_close, METH_NOARGS,
	  "close()\n--\n\n"
	  "Close the handle; idempotent. An open view ends with it, without\n"
	  "telling whether it was evicted (end it first to know). BufferError\n"
	  "if the view still has buffer exports. In a child of fork(), an\n"
	  "inherited Reader can only be closed." },
	{ "__enter__", reader_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)(void (*)(void))reader_exit, METH_FASTCALL,
	  NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef reader_getset[] = {
	{ "gen", reader_get_gen, NULL,
	  "The channel's current generation (0: nothing published yet).",
	  NULL },
	{ "name", reader_get_name, NULL, "The channel name it was opened with.",
	  NULL },
	{ "closed", reader_get_closed, NULL, "True once closed.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyType_Slot reader_slots[] = {
	{ Py_tp_doc,
	  "Reader(name, *, verify=False, xchg=False, sigbus_guard=True,\n"
	  "       poll_interval=None, handoff_timeout=None)\n--\n\n"
	  "A reader handle of channel *name* (mmsync_reader_open): a name\n"
	  "without '/' lives in $MMSYNC_DIR or /dev/shm, a name with '/' is\n"
	  "a path prefix; memfd channels are fetched from their writer's\n"
	  "socket. verify: check the XXH3-64 of every view (OSError EIO on\n"
	  "mismatch). xchg: pin with xchg even on a membarrier channel.\n"
	  "sigbus_guard=False: no SIGBUS guard. poll_interval: seconds\n"
	  "between checks of a sleep-polling wait() (default 2 ms).\n"
	  "handoff_timeout: seconds to wait for a memfd writer to serve us\n"
	  "(default 10; math.inf: forever).\n\n"
	  "Raises FileNotFoundError if the channel does not exist, OSError\n"
	  "EBADMSG if its files are not a valid channel, EUSERS if its\n"
	  "reader table is full. A Reader belongs to one thread at a time\n"
	  "and to the process that opened it. Use it as a context manager\n"
	  "or close() it." },
	{ Py_tp_new, reader_new },
	{ Py_tp_dealloc, reader_dealloc },
	{ Py_tp_repr, reader_repr },
	{ Py_tp_methods, reader_methods },
	{ Py_tp_getset, reader_getset },
	{ 0, NULL },
};

PyType_Spec pym_reader_spec = {
	.name = "mmsync.Reader",
	.basicsize = sizeof(pym_reader),
	.flags = Py_TPFLAGS_DEFAULT,
	.slots = reader_slots,
};
