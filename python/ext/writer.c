// SPDX-License-Identifier: MIT
/* writer.c - mmsync.Writer: open a channel, publish, reserve/commit, serve. */
#include "pymmsync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* serve(timeout) blocks in slices, running signal handlers in between. */
#define SERVE_SLICE_NS 100000000ll

static int writer_open_here(pym_writer *wr)
{
	if (pym_check_process(wr->epoch, "this mmsync.Writer") < 0)
		return -1;
	if (!wr->w) {
		PyErr_SetString(PyExc_ValueError,
				"operation on a closed mmsync.Writer");
		return -1;
	}
	return 0;
}

/* May the calling thread publish (or reserve, commit, abort, close)? */
static int writer_check(pym_writer *wr)
{
	if (writer_open_here(wr) < 0)
		return -1;
	if (wr->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"mmsync.Writer is publishing in another thread "
				"(one thread per writer handle)");
		return -1;
	}
	return 0;
}

/* The open reservation may end only when nothing can write into it. */
static int reservation_idle(pym_writer *wr, const char *what)
{
	if (!wr->res_exports)
		return 0;
	PyErr_Format(PyExc_BufferError,
		     "cannot %s: the reservation has %zd buffer export(s) "
		     "(memoryview, numpy array, ...) that could still write "
		     "into the slot; release them first",
		     what, wr->res_exports);
	return -1;
}

static void reservation_end(pym_writer *wr)
{
	if (wr->reserved) {
		wr->reserved = 0;
		wr->res_ptr = NULL;
		wr->res_len = 0;
		wr->res_epoch++;
	}
}

/* Convert an int option in [0, max]. */
static int get_uint(PyObject *obj, const char *what, unsigned long long max,
		    unsigned long long *out)
{
	unsigned long long v;

	if (obj == Py_None) {
		*out = 0;
		return 0;
	}
	v = PyLong_AsUnsignedLongLong(obj);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "%s out of range", what);
		}
		return -1;
	}
	if (v > max) {
		PyErr_Format(PyExc_ValueError, "%s out of range", what);
		return -1;
	}
	*out = v;
	return 0;
}

/* A sequence of ids into a new malloc()ed array (NULL, 0 if empty). */
static int get_ids(PyObject *seq, const char *what, unsigned int **out,
		   uint32_t *n)
{
	unsigned long long v;
	Py_ssize_t len, i;
	PyObject *item;
	unsigned int *ids;

	*out = NULL;
	*n = 0;
	if (seq == Py_None)
		return 0;
	len = PySequence_Size(seq);
	if (len < 0)
		return -1;
	if (len == 0)
		return 0;
	if (len > 65536) {
		PyErr_Format(PyExc_ValueError, "too many %s", what);
		return -1;
	}
	ids = calloc((size_t)len, sizeof(*ids));
	if (!ids) {
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i < len; i++) {
		item = PySequence_GetItem(seq, i);
		if (!item || get_uint(item, what, 0xfffffffeu, &v) < 0) {
			Py_XDECREF(item);
			free(ids);
			return -1;
		}
		Py_DECREF(item);
		ids[i] = (unsigned int)v;
	}
	*out = ids;
	*n = (uint32_t)len;
	return 0;
}

static int get_choice(PyObject *obj, const char *what, const char *const *names,
		      int n, uint32_t *out)
{
	const char *s;
	int i;

	if (!PyUnicode_Check(obj)) {
		PyErr_Format(PyExc_TypeError, "%s must be a str", what);
		return -1;
	}
	s = PyUnicode_AsUTF8AndSize(obj, NULL);
	if (!s)
		return -1;
	for (i = 0; i < n; i++)
		if (!strcmp(s, names[i])) {
			*out = (uint32_t)i;
			return 0;
		}
	PyErr_Format(PyExc_ValueError, "unknown %s %R", what, obj);
	return -1;
}

static const char *const backing_names[] = { "files", "memfd" };
static const char *const fence_names[] = { "auto", "membarrier", "xchg" };

static PyObject *writer_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {
		"name",	      "grace",
		"refuse",     "max_readers",
		"backing",    "huge_page_size",
		"fence",      "initial_capacity",
		"data_mode",  "state_mode",
		"table_mode", "allow_uids",
		"allow_gids", "publish_rate",
		NULL,
	};
	PyObject *fsname = NULL, *name = NULL, *grace = Py_None;
	PyObject *max_readers = Py_None, *backing = NULL, *huge = Py_None;
	PyObject *fence = NULL, *cap = Py_None, *dmode = Py_None;
	PyObject *smode = Py_None, *tmode = Py_None, *uids_obj = Py_None;
	PyObject *gids_obj = Py_None, *rate = Py_None;
	unsigned long long nreaders, hps, icap, dm, sm, tm, pr;
	unsigned int *uids = NULL, *gids = NULL;
	uint32_t nuids, ngids, bk = 0, fm = 0;
	struct mmsync_writer *w = NULL;
	int refuse = 0, err;
	int64_t grace_ns = 0;
	const char *cname;
	pym_writer *self;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$OpOOOOOOOOOOO:Writer",
					 kwlist, pym_name_converter, &fsname,
					 &grace, &refuse, &max_readers,
					 &backing, &huge, &fence, &cap, &dmode,
					 &smode, &tmode, &uids_obj, &gids_obj,
					 &rate))
		return NULL;
	if (grace != Py_None) {
		if (pym_seconds_ns(grace, "grace", &grace_ns) < 0)
			goto fail;
		if (grace_ns == 0) {
			PyErr_SetString(PyExc_ValueError, "grace must be > 0");
			goto fail;
		}
	}
	if (get_uint(max_readers, "max_readers", 0xffffffffu, &nreaders) < 0 ||
	    get_uint(huge, "huge_page_size", UINT64_MAX, &hps) < 0 ||
	    get_uint(cap, "initial_capacity", UINT64_MAX, &icap) < 0 ||
	    get_uint(dmode, "data_mode", 07777, &dm) < 0 ||
	    get_uint(smode, "state_mode", 07777, &sm) < 0 ||
	    get_uint(tmode, "table_mode", 07777, &tm) < 0 ||
	    get_uint(rate, "publish_rate", 0xffffffffu, &pr) < 0)
		goto fail;
	if (backing &&
	    get_choice(backing, "backing", backing_names, 2, &bk) < 0)
		goto fail;
	if (fence && get_choice(fence, "fence", fence_names, 3, &fm) < 0)
		goto fail;
	if (get_ids(uids_obj, "allow_uids", &uids, &nuids) < 0 ||
	    get_ids(gids_obj, "allow_gids", &gids, &ngids) < 0)
		goto fail;
	cname = PyBytes_AsString(fsname);
	name = cname ? PyUnicode_DecodeFSDefault(cname) : NULL;
	if (!name)
		goto fail;

	MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = grace_ns,
		    .grace_policy =
			    refuse ? MMSYNC_GRACE_REFUSE : MMSYNC_GRACE_EVICT,
		    .fence_mode = fm, .max_readers = (uint32_t)nreaders,
		    .data_mode = (uint32_t)dm, .state_mode = (uint32_t)sm,
		    .table_mode = (uint32_t)tm, .initial_capacity = icap,
		    .backing = bk, .huge_page_size = hps,
		    .allow_uids = (const uid_t *)uids, .nr_allow_uids = nuids,
		    .allow_gids = (const gid_t *)gids, .nr_allow_gids = ngids,
		    .publish_rate = (uint32_t)pr);
	PYM_NOGIL(err = mmsync_writer_open(cname, &o, &w));
	if (err) {
		pym_raise(pym_state_of_type(type), err, name);
		goto fail;
	}
	self = (pym_writer *)((allocfunc)PyType_GetSlot(type, Py_tp_alloc))(
		type, 0);
	if (!self) {
		mmsync_writer_close(w);
		goto fail;
	}
	free(uids);
	free(gids);
	Py_DECREF(fsname);
	/* tp_alloc zeroed the rest. */
	self->w = w;
	self->name = name;
	self->epoch = pym_fork_epoch();
	return (PyObject *)self;
fail:
	free(uids);
	free(gids);
	Py_XDECREF(name);
	Py_XDECREF(fsname);
	return NULL;
}

/*
 * Drop the C handle; in a fork child the library made the inherited copy
 * safe to close (it no longer holds the writer lock, never clears the
 * parent's writer pid, nor removes a memfd channel's socket).
 */
static void writer_release(pym_writer *wr)
{
	struct mmsync_writer *w = wr->w;

	wr->w = NULL;
	reservation_end(wr);
	mmsync_writer_close(w);
}

static void writer_dealloc(PyObject *self)
{
	pym_writer *wr = (pym_writer *)self;
	PyTypeObject *tp = Py_TYPE(self);

	if (wr->w && wr->epoch == pym_fork_epoch())
		pym_dealloc_warning("unclosed mmsync.Writer %R", wr->name);
	writer_release(wr);
	Py_CLEAR(wr->name);
	Py_CLEAR(wr->last);
	((freefunc)PyType_GetSlot(tp, Py_tp_free))(self);
	Py_DECREF(tp);
}

static PyObject *writer_close(PyObject *self, PyObject *unused)
{
	pym_writer *wr = (pym_writer *)self;

	if (!wr->w)
		Py_RETURN_NONE;
	if (wr->epoch != pym_fork_epoch()) {
		writer_release(wr);
		Py_RETURN_NONE;
	}
	if (writer_check(wr) < 0)
		return NULL;
	if (wr->serving) {
		PyErr_SetString(PyExc_RuntimeError,
				"mmsync.Writer is serving readers in another "
				"thread; close it when serve() returned");
		return NULL;
	}
	if (reservation_idle(wr, "close the mmsync.Writer") < 0)
		return NULL;
	writer_release(wr);
	Py_RETURN_NONE;
}

static PyObject *writer_enter(PyObject *self, PyObject *unused)
{
	if (writer_open_here((pym_writer *)self) < 0)
		return NULL;
	Py_INCREF(self);
	return self;
}

static PyObject *writer_exit(PyObject *self, PyObject *const *args,
			     Py_ssize_t n)
{
	return writer_close(self, NULL);
}

/* After a publish call: remember what it did, return the generation. */
static PyObject *published(pym_writer *wr, int err,
			   const struct mmsync_publish_info *info)
{
	struct pym_state *st = pym_state_of((PyObject *)wr);
	PyObject *last;

	if (err)
		return pym_raise(st, err, NULL);
	last = pym_publish_info(st, info);
	if (!last)
		return NULL;
	Py_XDECREF(wr->last);
	wr->last = last;
	return PyLong_FromUnsignedLongLong(info->gen);
}

static PyObject *writer_publish(PyObject *self, PyObject *data)
{
	pym_writer *wr = (pym_writer *)self;
	struct mmsync_publish_info info;
	Py_buffer buf;
	int err;

	if (writer_check(wr) < 0 ||
	    reservation_idle(wr, "publish while a reservation is open") < 0)
		return NULL;
	/* Any C-contiguous bytes-like object; held (unresizable) meanwhile. */
	if (PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE) < 0)
		return NULL;
	reservation_end(wr);
	wr->busy = 1;
	PYM_NOGIL(err = mmsync_publish(wr->w, buf.buf, (size_t)buf.len, &info));
	wr->busy = 0;
	PyBuffer_Release(&buf);
	return published(wr, err, &info);
}

static PyObject *writer_publish_file(PyObject *self, PyObject *args,
				     PyObject *kw)
{
	static char *kwlist[] = { "file", "length", "offset", NULL };
	pym_writer *wr = (pym_writer *)self;
	PyObject *file, *len_obj = Py_None, *off_obj = Py_None;
	unsigned long long len, off;
	struct mmsync_publish_info info;
	int fd, err;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:publish_file", kwlist,
					 &file, &len_obj, &off_obj))
		return NULL;
	if (get_uint(len_obj, "length", SIZE_MAX, &len) < 0 ||
	    get_uint(off_obj, "offset", INT64_MAX, &off) < 0)
		return NULL;
	fd = PyObject_AsFileDescriptor(file);
	if (fd < 0)
		return NULL;
	if (writer_check(wr) < 0 ||
	    reservation_idle(wr, "publish while a reservation is open") < 0)
		return NULL;
	reservation_end(wr);
	wr->busy = 1;
	PYM_NOGIL(err = mmsync_publish_fd(wr->w, fd, (off_t)off, (size_t)len,
					  &info));
	wr->busy = 0;
	return published(wr, err, &info);
}

static PyObject *writer_reserve(PyObject *self, PyObject *arg)
{
	pym_writer *wr = (pym_writer *)self;
	struct pym_state *st = pym_state_of(self);
	pym_reservation *res;
	unsigned long long n;
	void *ptr = NULL;
	int err;

	if (get_uint(arg, "n", SIZE_MAX, &n) < 0)
		return NULL;
	if (writer_check(wr) < 0 ||
	    reservation_idle(wr, "reserve again while a reservation is open") <
		    0)
		return NULL;
	res = PyObject_New(pym_reservation, st->reservation_type);
	if (!res)
		return NULL;
	res->writer = NULL;
	reservation_end(wr);
	wr->busy = 1;
	PYM_NOGIL(err = mmsync_reserve(wr->w, (size_t)n, &ptr));
	wr->busy = 0;
	if (err) {
		Py_DECREF((PyObject *)res);
		return pym_raise(st, err, NULL);
	}
	wr->reserved = 1;
	wr->res_epoch++;
	wr->res_ptr = ptr;
	wr->res_len = (size_t)n;
	Py_INCREF((PyObject *)wr);
	res->writer = wr;
	res->epoch = wr->res_epoch;
	res->len = (size_t)n;
	return (PyObject *)res;
}

PyObject *pym_writer_commit(pym_writer *wr, PyObject *arg)
{
	struct mmsync_publish_info info;
	unsigned long long n;
	int err;

	if (writer_check(wr) < 0 || reservation_idle(wr, "commit") < 0)
		return NULL;
	/* Never let the library commit a reservation we consider gone. */
	if (!wr->reserved)
		return pym_raise(pym_state_of((PyObject *)wr), -EINVAL, NULL);
	if (arg && arg != Py_None) {
		if (get_uint(arg, "n", SIZE_MAX, &n) < 0)
			return NULL;
	} else {
		n = wr->res_len;
	}
	/* Hashing the slot may take a while; nothing can touch it now. */
	wr->busy = 1;
	PYM_NOGIL(err = mmsync_commit(wr->w, (size_t)n, &info));
	wr->busy = 0;
	/* -EINVAL (nothing reserved, or n too big) leaves things as they are. */
	if (!err)
		reservation_end(wr);
	return published(wr, err, &info);
}

PyObject *pym_writer_abort(pym_writer *wr)
{
	if (writer_check(wr) < 0 || reservation_idle(wr, "abort") < 0)
		return NULL;
	mmsync_abort(wr->w);
	reservation_end(wr);
	Py_RETURN_NONE;
}

static PyObject *writer_commit(PyObject *self, PyObject *const *args,
			       Py_ssize_t n)
{
	if (n > 1) {
		PyErr_SetString(PyExc_TypeError,
				"commit() takes at most 1 argument");
		return NULL;
	}
	return pym_writer_commit((pym_writer *)self, n ? args[0] : NULL);
}

static PyObject *writer_abort(PyObject *self, PyObject *unused)
{
	return pym_writer_abort((pym_writer *)self);
}

static PyObject *writer_fileno(PyObject *self, PyObject *unused)
{
	pym_writer *wr = (pym_writer *)self;
	int fd;

	if (writer_open_here(wr) < 0)
		return NULL;
	fd = mmsync_writer_handoff_fd(wr->w);
	if (fd < 0)
		return pym_raise(pym_state_of(self), fd, NULL);
	return PyLong_FromLong(fd);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static PyObject *writer_serve(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	pym_writer *wr = (pym_writer *)self;
	PyObject *timeout = NULL;
	int64_t total = 0, slice;
	uint64_t start, spent;
	int ret;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:serve", kwlist,
					 &timeout))
		return NULL;
	if (timeout == Py_None)
		total = -1;
	else if (timeout && pym_seconds_ns(timeout, "timeout", &total) < 0)
		return NULL;
	if (writer_open_here(wr) < 0)
		return NULL;
	if (wr->serving) {
		PyErr_SetString(PyExc_RuntimeError,
				"mmsync.Writer is already serving in another "
				"thread");
		return NULL;
	}
	start = mono_ns();
	for (;;) {
		slice = total;
		if (total < 0) {
			slice = SERVE_SLICE_NS;
		} else if (total > 0) {
			spent = mono_ns() - start;
			slice = spent >= (uint64_t)total ?
					0 :
					(int64_t)((uint64_t)total - spent);
			if (slice > SERVE_SLICE_NS)
				slice = SERVE_SLICE_NS;
		}
		wr->serving = 1;
		PYM_NOGIL(ret = mmsync_writer_serve(wr->w, slice));
		wr->serving = 0;
		if (ret < 0)
			return pym_raise(pym_state_of(self), ret, NULL);
		if (ret > 0 || total == 0 ||
		    (total > 0 && mono_ns() - start >= (uint64_t)total))
			return PyLong_FromLong(ret);
		if (PyErr_CheckSignals() < 0)
			return NULL;
	}
}

static PyObject *writer_get_gen(PyObject *self, void *closure)
{
	pym_writer *wr = (pym_writer *)self;

	if (writer_open_here(wr) < 0)
		return NULL;
	return PyLong_FromUnsignedLongLong(mmsync_writer_gen(wr->w));
}

static PyObject *writer_get_name(PyObject *self, void *closure)
{
	pym_writer *wr = (pym_writer *)self;

	Py_INCREF(wr->name);
	return wr->name;
}

static PyObject *writer_get_closed(PyObject *self, void *closure)
{
	return PyBool_FromLong(((pym_writer *)self)->w == NULL);
}

static PyObject *writer_get_last(PyObject *self, void *closure)
{
	pym_writer *wr = (pym_writer *)self;
	PyObject *r = wr->last ? wr->last : Py_None;

	Py_INCREF(r);
	return r;
}

static PyObject *writer_stat(PyObject *self, PyObject *unused)
{
	pym_writer *wr = (pym_writer *)self;

	if (writer_open_here(wr) < 0)
		return NULL;
	return pym_stat(pym_state_of(self), wr->name);
}

static PyObject *writer_repr(PyObject *self)
{
	pym_writer *wr = (pym_writer *)self;

	return PyUnicode_FromFormat("<mmsync.Writer %R %s>", wr->name,
				    wr->w ? "open" : "closed");
}

static PyMethodDef writer_methods[] = {
	{ "publish", writer_publish, METH_O,
	  "publish(data) -> int\n--\n\n"
	  "Publish the bytes of *data* (any C-contiguous bytes-like object:\n"
	  "bytes, bytearray, memoryview, numpy array) as the next generation\n"
	  "and return it. Waits, at most the grace period, for readers of\n"
	  "the slot it reuses, then evicts them (their view ends with\n"
	  "StaleError), or with refuse=True raises TimeoutError and changes\n"
	  "nothing. Releases the GIL; do not modify *data* meanwhile.\n"
	  "OSError ENOSPC/ENOMEM/EFBIG when the slot cannot grow." },
	{ "publish_file", (PyCFunction)(void (*)(void))writer_publish_file,
	  METH_VARARGS | METH_KEYWORDS,
	  "publish_file(file, length=0, offset=0) -> int\n--\n\n"
	  "Publish bytes read from *file* (a descriptor, or an object with\n"
	  "fileno()) straight into the slot (mmsync_publish_fd, io_uring).\n"
	  "Regular files and block devices are read from *offset*, whatever\n"
	  "the file position (and Python-level buffers) say; pipes and\n"
	  "sockets from where they stand. length=0: to end of file. Releases\n"
	  "the GIL. OSError ENODATA if the source ended early: nothing is\n"
	  "published then." },
	{ "reserve", writer_reserve, METH_O,
	  "reserve(n) -> Reservation\n--\n\n"
	  "Reserve n bytes of the next generation's slot and return them as\n"
	  "a writable buffer, to serialize in place; then commit() or\n"
	  "abort(). Waits for readers like publish() (GIL released)." },
	{ "commit", (PyCFunction)(void (*)(void))writer_commit, METH_FASTCALL,
	  "commit(n=None) -> int\n--\n\n"
	  "Publish the first n bytes of the reservation (all of it by\n"
	  "default) and return the generation. BufferError while exports of\n"
	  "the reservation are alive; OSError EINVAL if nothing is reserved\n"
	  "or n exceeds it." },
	{ "abort", writer_abort, METH_NOARGS,
	  "abort()\n--\n\nAbandon the reservation; nothing is published." },
	{ "fileno", writer_fileno, METH_NOARGS,
	  "fileno() -> int\n--\n\n"
	  "The listening socket of a memfd channel: poll it for readability,\n"
	  "then call serve(). OSError EOPNOTSUPP for a file channel." },
	{ "serve", (PyCFunction)(void (*)(void))writer_serve,
	  METH_VARARGS | METH_KEYWORDS,
	  "serve(timeout=0) -> int\n--\n\n"
	  "Hand a memfd channel to the readers waiting to open it; return\n"
	  "how many were served. Waits up to *timeout* seconds for a first\n"
	  "one (0: do not wait; None: until one comes). Releases the GIL and\n"
	  "may run in another thread than publish(). OSError EOPNOTSUPP for\n"
	  "a file channel." },
	{ "stat", writer_stat, METH_NOARGS,
	  "stat() -> Stats\n--\n\nmmsync.stat() of this Writer's name." },
	{ "close", writer_close, METH_NOARGS,
	  "close()\n--\n\n"
	  "Release the writer lock; idempotent. The files stay for the next\n"
	  "writer (a memfd channel ends). An open reservation is abandoned;\n"
	  "BufferError while it has exports. In a child of fork(), an\n"
	  "inherited Writer can only be closed." },
	{ "__enter__", writer_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)(void (*)(void))writer_exit, METH_FASTCALL,
	  NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef writer_getset[] = {
	{ "gen", writer_get_gen, NULL,
	  "The last generation published on the channel (0: none).", NULL },
	{ "name", writer_get_name, NULL, "The channel name it was opened with.",
	  NULL },
	{ "closed", writer_get_closed, NULL, "True once closed.", NULL },
	{ "last_publish", writer_get_last, NULL,
	  "PublishInfo of the last successful publish, or None.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyType_Slot writer_slots[] = {
	{ Py_tp_doc,
	  "Writer(name, *, grace=1.0, refuse=False, max_readers=None,\n"
	  "       backing='files', huge_page_size=0, fence='auto',\n"
	  "       initial_capacity=0, data_mode=None, state_mode=None,\n"
	  "       table_mode=None, allow_uids=None, allow_gids=None,\n"
	  "       publish_rate=None)\n--\n\n"
	  "The writer of channel *name* (mmsync_writer_open), created if\n"
	  "needed; a reopened file channel continues its generations.\n"
	  "grace: seconds publish() waits for readers of the slot it reuses.\n"
	  "refuse: past the grace, refuse the publish (TimeoutError) rather\n"
	  "than evict. max_readers: reader-table entries (256), set at\n"
	  "creation. backing: 'files' (a directory, /dev/shm by default) or\n"
	  "'memfd' (anonymous memfds handed to readers by serve()).\n"
	  "huge_page_size: bytes per huge page (0: normal pages). fence:\n"
	  "'auto', 'membarrier' or 'xchg', fixed at creation. data_mode,\n"
	  "state_mode, table_mode: file modes at creation (0640, 0640, and\n"
	  "0660 for the reader table, which readers write). allow_uids,\n"
	  "allow_gids: who may receive a memfd channel. publish_rate:\n"
	  "publishes a second expected; with fence='auto', 1000 or more\n"
	  "makes a new channel 'xchg' (else 'membarrier').\n\n"
	  "OSError EBUSY if another writer holds the channel, EBADMSG if the\n"
	  "files are not a valid channel. Use it as a context manager or\n"
	  "close() it. One thread publishes at a time." },
	{ Py_tp_new, writer_new },
	{ Py_tp_dealloc, writer_dealloc },
	{ Py_tp_repr, writer_repr },
	{ Py_tp_methods, writer_methods },
	{ Py_tp_getset, writer_getset },
	{ 0, NULL },
};

PyType_Spec pym_writer_spec = {
	.name = "mmsync.Writer",
	.basicsize = sizeof(pym_writer),
	.flags = Py_TPFLAGS_DEFAULT,
	.slots = writer_slots,
};
