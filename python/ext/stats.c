// SPDX-License-Identifier: MIT
/*
 * stats.c - mmsync.stat(), mmsync.readers() and the named tuples they
 * return (struct sequences, like os.stat_result), and PublishInfo.
 */
#include "pymmsync.h"

#include <string.h>

static PyStructSequence_Field stats_fields[] = {
	{ "gen", "current generation (0: nothing published)" },
	{ "chan_id", "the channel id the USDT probes pass" },
	{ "pub_age_ns", "ns since the last publish (0: none)" },
	{ "created_ns", "CLOCK_REALTIME ns when the channel was created" },
	{ "publishes", "publishes so far" },
	{ "grace_waits", "publishes that had to wait for a reader" },
	{ "evictions", "live readers evicted after the grace period" },
	{ "reclaims", "dead readers' pins reclaimed" },
	{ "refusals", "publishes refused (refuse=True)" },
	{ "waited_ns", "total ns publishes waited for readers" },
	{ "writer_opens", "times a writer opened the channel" },
	{ "slot_gen", "(gen, gen): generation in each data slot (0: in flux)" },
	{ "slot_size", "(bytes, bytes): payload in each slot" },
	{ "slot_cap", "(bytes, bytes): capacity of each slot's file" },
	{ "writer_pid", "last writer's pid, in its namespace (0: none)" },
	{ "writer_alive", "True while a writer holds the channel" },
	{ "fence_mode", "'membarrier' or 'xchg'" },
	{ "max_readers", "reader-table entries" },
	{ "readers", "live reader handles" },
	{ "pinned", "live readers with a view open" },
	{ "dead", "dead readers whose pin was not reclaimed yet" },
	{ "max_lag", "most generations an open view is behind" },
	{ NULL, NULL },
};

static PyStructSequence_Desc stats_desc = {
	"mmsync.Stats",
	"Counters of a channel (mmsync.stat()): a racy snapshot.",
	stats_fields,
	22,
};

static PyStructSequence_Field reader_info_fields[] = {
	{ "index", "reader-table entry" },
	{ "pid", "the reader's pid, in its own PID namespace" },
	{ "comm", "its thread name when it opened the handle" },
	{ "pinned_gen", "generation of its open view (0: none)" },
	{ "lag", "current generation - pinned_gen (0: no view)" },
	{ "age_ns", "ns since the handle was opened" },
	{ "evictions", "times the writer evicted this entry" },
	{ "flags", "MMSYNC_READ_* flags it opened with" },
	{ "alive", "True: its process holds the entry; False: dead; "
		   "None: unknown" },
	{ "evicted", "True: its current pin was evicted or reclaimed" },
	{ NULL, NULL },
};

static PyStructSequence_Desc reader_info_desc = {
	"mmsync.ReaderInfo",
	"One entry of a channel's reader table (mmsync.readers()).",
	reader_info_fields,
	10,
};

static PyStructSequence_Field publish_info_fields[] = {
	{ "gen", "the generation published" },
	{ "checksum", "XXH3-64 of the payload" },
	{ "waited_ns", "ns spent waiting for readers" },
	{ "evicted", "live readers evicted after the grace period" },
	{ "reclaimed", "dead readers' pins reclaimed" },
	{ "size", "payload bytes published" },
	{ NULL, NULL },
};

static PyStructSequence_Desc publish_info_desc = {
	"mmsync.PublishInfo",
	"What a publish did (Writer.last_publish).",
	publish_info_fields,
	6,
};

static int add_struct_type(PyObject *m, PyTypeObject **slot,
			   PyStructSequence_Desc *desc, const char *name)
{
	PyTypeObject *t = PyStructSequence_NewType(desc);

	if (!t)
		return -1;
	*slot = t;
	Py_INCREF((PyObject *)t);
	if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
		Py_DECREF((PyObject *)t);
		return -1;
	}
	return 0;
}

int pym_stats_init(PyObject *m, struct pym_state *st)
{
	if (add_struct_type(m, &st->stats_type, &stats_desc, "Stats") < 0 ||
	    add_struct_type(m, &st->reader_info_type, &reader_info_desc,
			    "ReaderInfo") < 0 ||
	    add_struct_type(m, &st->publish_info_type, &publish_info_desc,
			    "PublishInfo") < 0)
		return -1;
	return 0;
}

/* Fill @seq from @items (new references, NULL = failed); steals them. */
static PyObject *fill(PyObject *seq, PyObject **items, int n)
{
	int i, ok = seq != NULL;

	for (i = 0; i < n; i++)
		if (!items[i])
			ok = 0;
	if (!ok) {
		for (i = 0; i < n; i++)
			Py_XDECREF(items[i]);
		Py_XDECREF(seq);
		return NULL;
	}
	for (i = 0; i < n; i++)
		PyStructSequence_SetItem(seq, i, items[i]);
	return seq;
}

static PyObject *u64(uint64_t v)
{
	return PyLong_FromUnsignedLongLong(v);
}

static PyObject *pair(const uint64_t v[2])
{
	return Py_BuildValue("(KK)", (unsigned long long)v[0],
			     (unsigned long long)v[1]);
}

PyObject *pym_publish_info(struct pym_state *st,
			   const struct mmsync_publish_info *info)
{
	PyObject *items[6] = {
		u64(info->gen),	    u64(info->checksum),  u64(info->waited_ns),
		u64(info->evicted), u64(info->reclaimed), u64(info->size),
	};

	return fill(PyStructSequence_New(st->publish_info_type), items, 6);
}

/* The name as the library wants it, or NULL with an exception. */
static PyObject *fs_name(PyObject *name)
{
	PyObject *fsname = NULL;

	if (!pym_name_converter(name, &fsname))
		return NULL;
	return fsname;
}

PyObject *pym_stat(struct pym_state *st, PyObject *name)
{
	PyObject *fsname = fs_name(name);
	const char *fence;
	int err;

	if (!fsname)
		return NULL;
	MMSYNC_OPTS(mmsync_stats, s);
	err = mmsync_stat(PyBytes_AsString(fsname), &s);
	Py_DECREF(fsname);
	if (err)
		return pym_raise(st, err, name);
	fence = s.fence_mode == MMSYNC_FENCE_MEMBARRIER ? "membarrier" :
		s.fence_mode == MMSYNC_FENCE_XCHG	? "xchg" :
							  "unknown";
	{
		PyObject *items[22] = {
			u64(s.gen),
			u64(s.chan_id),
			u64(s.pub_age_ns),
			u64(s.created_ns),
			u64(s.publishes),
			u64(s.grace_waits),
			u64(s.evictions),
			u64(s.reclaims),
			u64(s.refusals),
			u64(s.waited_ns),
			u64(s.writer_opens),
			pair(s.slot_gen),
			pair(s.slot_size),
			pair(s.slot_cap),
			u64(s.writer_pid),
			PyBool_FromLong(s.writer_alive != 0),
			PyUnicode_FromString(fence),
			u64(s.max_readers),
			u64(s.readers),
			u64(s.pinned),
			u64(s.dead),
			u64(s.max_lag),
		};

		return fill(PyStructSequence_New(st->stats_type), items, 22);
	}
}

struct collect {
	struct pym_state *st;
	PyObject *list;
	int failed;
};

static PyObject *alive_of(int32_t alive)
{
	if (alive < 0)
		Py_RETURN_NONE;
	return PyBool_FromLong(alive == 1);
}

static int collect_one(const struct mmsync_reader_info *ri, void *arg)
{
	struct collect *c = arg;
	char comm[sizeof(ri->comm) + 1];
	PyObject *item;

	memcpy(comm, ri->comm, sizeof(ri->comm));
	comm[sizeof(ri->comm)] = '\0';
	{
		PyObject *items[10] = {
			u64(ri->index),
			u64(ri->pid),
			PyUnicode_DecodeFSDefault(comm),
			u64(ri->pinned_gen),
			u64(ri->lag),
			u64(ri->age_ns),
			u64(ri->evictions),
			u64(ri->flags),
			alive_of(ri->alive),
			PyBool_FromLong(ri->evicted != 0),
		};

		item = fill(PyStructSequence_New(c->st->reader_info_type),
			    items, 10);
	}
	if (!item || PyList_Append(c->list, item) < 0) {
		Py_XDECREF(item);
		c->failed = 1;
		return 1; /* stop */
	}
	Py_DECREF(item);
	return 0;
}

PyObject *pym_readers(struct pym_state *st, PyObject *name)
{
	PyObject *fsname = fs_name(name);
	struct collect c = { st, NULL, 0 };
	int n;

	if (!fsname)
		return NULL;
	c.list = PyList_New(0);
	if (!c.list) {
		Py_DECREF(fsname);
		return NULL;
	}
	n = mmsync_foreach_reader(PyBytes_AsString(fsname), collect_one, &c);
	Py_DECREF(fsname);
	if (c.failed) {
		Py_DECREF(c.list);
		return NULL;
	}
	if (n < 0) {
		Py_DECREF(c.list);
		return pym_raise(st, n, name);
	}
	return c.list;
}
