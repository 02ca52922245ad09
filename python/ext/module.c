// SPDX-License-Identifier: MIT
/*
 * module.c - the mmsync._mmsync module: state, errors, fork detection,
 * argument helpers and the module-level functions.
 */
#include "pymmsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>

PyMODINIT_FUNC PyInit__mmsync(void);

/*
 * Bumped in every child of fork(), by the pthread_atfork() handler (which
 * glibc runs for os.fork(), multiprocessing and C extensions alike). A
 * handle remembers the epoch it was opened in; a different epoch means
 * "inherited from a parent". Comparing a word costs nothing, where
 * getpid() would be a syscall on every view (glibc no longer caches it).
 * Only the forking thread survives in the child, and it runs the handler
 * before fork() returns, so relaxed accesses are enough.
 */
static unsigned long fork_epoch;
static int atfork_registered; /* under the GIL of the first import */

static void after_fork_child(void)
{
	__atomic_fetch_add(&fork_epoch, 1, __ATOMIC_RELAXED);
}

unsigned long pym_fork_epoch(void)
{
	return __atomic_load_n(&fork_epoch, __ATOMIC_RELAXED);
}

int pym_check_process(unsigned long epoch, const char *what)
{
	if (epoch == pym_fork_epoch())
		return 0;
	PyErr_Format(PyExc_RuntimeError,
		     "%s was opened before fork(): a child must not use "
		     "inherited handles; open new ones in this process",
		     what);
	return -1;
}

struct pym_state *pym_state_of_type(PyTypeObject *type)
{
	PyObject *m = PyType_GetModule(type);

	return m ? (struct pym_state *)PyModule_GetState(m) : NULL;
}

struct pym_state *pym_state_of(PyObject *obj)
{
	/* Our types are final, so Py_TYPE(obj) is the module's own type. */
	return pym_state_of_type(Py_TYPE(obj));
}

/*
 * Raise the OSError for library error @err (a -errno): OSError() maps the
 * errno to its subclass (FileNotFoundError, BlockingIOError, TimeoutError,
 * ...); ESTALE, which has none, raises mmsync.StaleError.
 */
PyObject *pym_raise(struct pym_state *st, int err, PyObject *name)
{
	PyObject *type = PyExc_OSError;

	if (err == -ESTALE && st)
		type = st->stale_error;
	errno = err < 0 ? -err : EINVAL;
	if (name)
		return PyErr_SetFromErrnoWithFilenameObject(type, name);
	return PyErr_SetFromErrno(type);
}

/*
 * Warn (ResourceWarning) from a destructor. The dying object is never
 * handed to the warning or to the unraisable hook as its source: both may
 * keep what they are given (pytest does), and the object is freed when
 * the destructor returns.
 */
void pym_dealloc_warning(const char *fmt, ...)
{
	PyObject *et, *ev, *tb, *msg;
	const char *text;
	va_list ap;

	PyErr_Fetch(&et, &ev, &tb);
	va_start(ap, fmt);
	msg = PyUnicode_FromFormatV(fmt, ap);
	va_end(ap);
	text = msg ? PyUnicode_AsUTF8AndSize(msg, NULL) : NULL;
	if (!text || PyErr_WarnEx(PyExc_ResourceWarning, text, 1) < 0)
		PyErr_WriteUnraisable(NULL);
	Py_XDECREF(msg);
	PyErr_Restore(et, ev, tb);
}

/* "O&" converter: str, bytes or os.PathLike to a new bytes reference. */
int pym_name_converter(PyObject *obj, void *out)
{
	return PyUnicode_FSConverter(obj, out);
}

/*
 * Seconds (int or float, >= 0) to nanoseconds, rounded up so that a wait
 * never ends early; huge values and inf saturate at INT64_MAX (292 years).
 */
int pym_seconds_ns(PyObject *obj, const char *what, int64_t *out)
{
	double s = PyFloat_AsDouble(obj), ns;

	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (!(s >= 0.0)) {
		PyErr_Format(PyExc_ValueError,
			     "%s must be a number of seconds >= 0", what);
		return -1;
	}
	ns = s * 1e9;
	if (ns >= 9.2e18) {
		*out = INT64_MAX;
		return 0;
	}
	*out = (int64_t)ns;
	if ((double)*out < ns)
		(*out)++;
	return 0;
}

static PyObject *mod_unlink(PyObject *module, PyObject *arg)
{
	PyObject *fsname = NULL;
	int err;

	if (!pym_name_converter(arg, &fsname))
		return NULL;
	err = mmsync_unlink(PyBytes_AsString(fsname));
	Py_DECREF(fsname);
	if (err)
		return pym_raise(PyModule_GetState(module), err, arg);
	Py_RETURN_NONE;
}

static PyObject *mod_stat(PyObject *module, PyObject *arg)
{
	return pym_stat(PyModule_GetState(module), arg);
}

static PyObject *mod_readers(PyObject *module, PyObject *arg)
{
	return pym_readers(PyModule_GetState(module), arg);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * What releasing and re-taking the GIL costs, per pair, in ns: the price
 * view() would pay to release it around a read that takes a few ns. The
 * benchmark (python/bench/bench_views.py) reports it next to view().
 */
static PyObject *mod_allow_threads_ns(PyObject *module, PyObject *arg)
{
	long n = PyLong_AsLong(arg), i;
	uint64_t t0, t1;

	if (n == -1 && PyErr_Occurred())
		return NULL;
	if (n <= 0) {
		PyErr_SetString(PyExc_ValueError, "n must be > 0");
		return NULL;
	}
	t0 = mono_ns();
	for (i = 0; i < n; i++) {
		PYM_NOGIL(__asm__ volatile("" ::: "memory"));
	}
	t1 = mono_ns();
	return PyFloat_FromDouble((double)(t1 - t0) / (double)n);
}

static PyMethodDef mod_methods[] = {
	{ "unlink", mod_unlink, METH_O,
	  "unlink(name)\n--\n\n"
	  "Remove the files of channel *name* (NAME_state, NAME_data_0,\n"
	  "NAME_data_1, NAME_sock). Open handles keep working on the unlinked\n"
	  "files. Raises FileNotFoundError if there was no such channel." },
	{ "stat", mod_stat, METH_O,
	  "stat(name) -> Stats\n--\n\n"
	  "The counters of channel *name*, read from its state file without\n"
	  "joining the channel (no reader entry is taken, nothing is written).\n"
	  "A racy snapshot: the writer and readers keep going meanwhile.\n"
	  "Raises FileNotFoundError if there is no such channel (memfd\n"
	  "channels have no state file)." },
	{ "readers", mod_readers, METH_O,
	  "readers(name) -> list[ReaderInfo]\n--\n\n"
	  "The used entries of channel *name*'s reader table, live or dead,\n"
	  "in table order. Like stat(), it only reads." },
	{ "_allow_threads_ns", mod_allow_threads_ns, METH_O,
	  "_allow_threads_ns(n) -> float\n--\n\n"
	  "Benchmark hook: ns per Py_BEGIN/END_ALLOW_THREADS pair, over n." },
	{ NULL, NULL, 0, NULL },
};

static PyObject *new_type(PyObject *m, PyType_Spec *spec)
{
	return PyType_FromModuleAndSpec(m, spec, NULL);
}

static int add_type(PyObject *m, PyTypeObject **slot, PyType_Spec *spec,
		    const char *name)
{
	PyObject *t = new_type(m, spec);

	if (!t)
		return -1;
	*slot = (PyTypeObject *)t;
	Py_INCREF(t);
	if (PyModule_AddObject(m, name, t) < 0) {
		Py_DECREF(t);
		return -1;
	}
	return 0;
}

static int mod_exec(PyObject *m)
{
	struct pym_state *st = PyModule_GetState(m);

	if (!atfork_registered) {
		if (pthread_atfork(NULL, NULL, after_fork_child)) {
			PyErr_SetString(PyExc_ImportError,
					"mmsync: pthread_atfork() failed");
			return -1;
		}
		atfork_registered = 1;
	}
	st->stale_error = PyErr_NewExceptionWithDoc(
		"mmsync.StaleError",
		"The view was evicted: the writer reused its slot after the\n"
		"grace period, so the bytes may have changed while they were\n"
		"read. Discard what was read and read again. An OSError with\n"
		"errno ESTALE.",
		PyExc_OSError, NULL);
	if (!st->stale_error)
		return -1;
	Py_INCREF(st->stale_error);
	if (PyModule_AddObject(m, "StaleError", st->stale_error) < 0) {
		Py_DECREF(st->stale_error);
		return -1;
	}
	if (add_type(m, &st->reader_type, &pym_reader_spec, "Reader") < 0 ||
	    add_type(m, &st->view_type, &pym_view_spec, "View") < 0 ||
	    add_type(m, &st->writer_type, &pym_writer_spec, "Writer") < 0 ||
	    add_type(m, &st->reservation_type, &pym_reservation_spec,
		     "Reservation") < 0)
		return -1;
	if (pym_stats_init(m, st) < 0)
		return -1;
	if (PyModule_AddStringConstant(m, "__version__", "0.1.0") < 0 ||
	    PyModule_AddIntConstant(m, "LIBRARY_VERSION_MAJOR",
				    MMSYNC_VERSION_MAJOR) < 0 ||
	    PyModule_AddIntConstant(m, "LIBRARY_VERSION_MINOR",
				    MMSYNC_VERSION_MINOR) < 0)
		return -1;
	return 0;
}

static int mod_traverse(PyObject *m, visitproc visit, void *arg)
{
	struct pym_state *st = PyModule_GetState(m);

	Py_VISIT(st->stale_error);
	Py_VISIT(st->reader_type);
	Py_VISIT(st->view_type);
	Py_VISIT(st->writer_type);
	Py_VISIT(st->reservation_type);
	Py_VISIT(st->stats_type);
	Py_VISIT(st->reader_info_type);
	Py_VISIT(st->publish_info_type);
	return 0;
}

static int mod_clear(PyObject *m)
{
	struct pym_state *st = PyModule_GetState(m);

	Py_CLEAR(st->stale_error);
	Py_CLEAR(st->reader_type);
	Py_CLEAR(st->view_type);
	Py_CLEAR(st->writer_type);
	Py_CLEAR(st->reservation_type);
	Py_CLEAR(st->stats_type);
	Py_CLEAR(st->reader_info_type);
	Py_CLEAR(st->publish_info_type);
	return 0;
}

static void mod_free(void *m)
{
	mod_clear(m);
}

static PyModuleDef_Slot mod_slots[] = {
	{ Py_mod_exec, mod_exec },
	{ 0, NULL },
};

static struct PyModuleDef mod_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "mmsync._mmsync",
	.m_doc = "libmmsync: one writer publishes snapshots of bytes, many\n"
		 "reader processes read the latest one in place, zero-copy.\n"
		 "The C extension behind the mmsync package.",
	.m_size = sizeof(struct pym_state),
	.m_methods = mod_methods,
	.m_slots = mod_slots,
	.m_traverse = mod_traverse,
	.m_clear = mod_clear,
	.m_free = mod_free,
};

PyMODINIT_FUNC PyInit__mmsync(void)
{
	return PyModuleDef_Init(&mod_def);
}
