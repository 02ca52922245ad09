// SPDX-License-Identifier: MIT
/*
 * write_raw.c - the C equivalent of mmap-sync's write_raw() and read path
 * (write_raw.h says what each step stands for).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "write_raw.h"

/* The crate's default grace period, and the sleep the issue tuned to 1 us. */
#define GRACE_NS 1000000000ull
#define SLEEP_NS 1000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	/* Instant::now(): CLOCK_MONOTONIC through the vDSO. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void path_of(char *out, size_t n, const char *prefix, const char *sfx)
{
	snprintf(out, n, "%s%s", prefix, sfx);
}

int wraw_open(struct wraw *w, const char *prefix)
{
	char path[256];
	void *p;

	memset(w, 0, sizeof(*w));
	w->state_fd = w->data_fd[0] = w->data_fd[1] = -1;
	w->grace_ns = GRACE_NS;
	w->sleep_ns = SLEEP_NS;
	snprintf(w->prefix, sizeof(w->prefix), "%s", prefix);
	path_of(path, sizeof(path), prefix, "_state");
	w->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (w->state_fd < 0)
		return -errno;
	/* prepare_mmap(): the file is exactly one State, zeroed. */
	if (ftruncate(w->state_fd, sizeof(struct wraw_state)) < 0)
		goto fail;
	p = mmap(NULL, sizeof(struct wraw_state), PROT_READ | PROT_WRITE,
		 MAP_SHARED, w->state_fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	w->st = p;
	return 0;
fail:
	close(w->state_fd);
	w->state_fd = -1;
	return -errno;
}

/*
 * DataContainer::write()'s open-and-map: only when the copy was never
 * mapped or its mapping is shorter than the payload. posix_fallocate()
 * grows the file (utils::set_len on Linux); the mapping is the whole file.
 */
static int map_copy(struct wraw *w, unsigned int idx, size_t len)
{
	char path[256], sfx[16];
	struct stat st;
	void *p;
	int err;

	snprintf(sfx, sizeof(sfx), "_data_%u", idx);
	path_of(path, sizeof(path), w->prefix, sfx);
	if (w->data_fd[idx] < 0) {
		w->data_fd[idx] =
			open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (w->data_fd[idx] < 0)
			return -errno;
	}
	if (fstat(w->data_fd[idx], &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < len) {
		err = posix_fallocate(w->data_fd[idx], 0, (off_t)len);
		if (err)
			return -err;
		st.st_size = (off_t)len;
	}
	if (w->map[idx])
		munmap(w->map[idx], w->map_len[idx]);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 w->data_fd[idx], 0);
	w->map[idx] = p == MAP_FAILED ? NULL : p;
	if (!w->map[idx])
		return -errno;
	w->map_len[idx] = (size_t)st.st_size;
	return 0;
}

int wraw_publish(struct wraw *w, const void *buf, size_t len)
{
	struct timespec ts = { 0, (long)w->sleep_ns };
	uint64_t sum, v, deadline;
	unsigned int idx;
	uint32_t *readers;
	int err;

	/* hasher.write(data); hasher.finish() */
	sum = XXH3_64bits(buf, len);

	/* acquire_next_idx(); our own last swap: pairs with nothing. */
	v = __atomic_load_n(&w->st->version, __ATOMIC_SEQ_CST);
	idx = v ? (unsigned int)(v & 1) ^ 1 : 0;
	readers = &w->st->idx_readers[idx];
	deadline = now_ns() + w->grace_ns;
	/* Pairs with the readers' seq_cst fetch_add in rlock(). */
	while (__atomic_load_n(readers, __ATOMIC_SEQ_CST) > 0) {
		if (now_ns() > deadline) {
			/* The crate's blind reset; pairs with nothing. */
			__atomic_store_n(readers, 0, __ATOMIC_SEQ_CST);
			w->resets++;
			break;
		}
		nanosleep(&ts, NULL);
	}

	/* DataContainer::write() */
	if (!w->map[idx] || w->map_len[idx] < len) {
		err = map_copy(w, idx, len);
		if (err)
			return err;
	}
	memcpy(w->map[idx], buf, len);
	/* mmap.flush(): msync(MS_SYNC) of the whole mapping. */
	if (msync(w->map[idx], w->map_len[idx], MS_SYNC) < 0)
		return -errno;

	/* switch_version(); pairs with the readers' seq_cst version loads. */
	__atomic_exchange_n(&w->st->version, wraw_version(idx, len, sum),
			    __ATOMIC_SEQ_CST);
	return 0;
}

void wraw_close(struct wraw *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (w->map[i])
			munmap(w->map[i], w->map_len[i]);
		if (w->data_fd[i] >= 0)
			close(w->data_fd[i]);
	}
	if (w->st)
		munmap(w->st, sizeof(*w->st));
	if (w->state_fd >= 0)
		close(w->state_fd);
	memset(w, 0, sizeof(*w));
	w->state_fd = w->data_fd[0] = w->data_fd[1] = -1;
}

void wraw_unlink(const char *prefix)
{
	static const char *const sfx[] = { "_state", "_data_0", "_data_1" };
	char path[256];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		path_of(path, sizeof(path), prefix, sfx[i]);
		unlink(path);
	}
}

int wraw_reader_open(struct wraw_reader *r, const char *prefix)
{
	char path[256];
	void *p;

	memset(r, 0, sizeof(*r));
	r->state_fd = r->data_fd[0] = r->data_fd[1] = -1;
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
	path_of(path, sizeof(path), prefix, "_state");
	/* The crate's readers map the state read-write: the counters. */
	r->state_fd = open(path, O_RDWR | O_CLOEXEC);
	if (r->state_fd < 0)
		return -errno;
	p = mmap(NULL, sizeof(struct wraw_state), PROT_READ | PROT_WRITE,
		 MAP_SHARED, r->state_fd, 0);
	if (p == MAP_FAILED) {
		close(r->state_fd);
		r->state_fd = -1;
		return -errno;
	}
	r->st = p;
	return 0;
}

int wraw_reader_map(struct wraw_reader *r, unsigned int idx, size_t size)
{
	char path[256], sfx[16];
	struct stat st;
	void *p;

	snprintf(sfx, sizeof(sfx), "_data_%u", idx);
	path_of(path, sizeof(path), r->prefix, sfx);
	if (r->data_fd[idx] >= 0)
		close(r->data_fd[idx]);
	r->data_fd[idx] = open(path, O_RDONLY | O_CLOEXEC);
	if (r->data_fd[idx] < 0)
		return -errno;
	/* data(): a file shorter than the version says is refused. */
	if (fstat(r->data_fd[idx], &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < size)
		return -EBADMSG;
	if (r->map[idx])
		munmap((void *)r->map[idx], r->map_len[idx]);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED,
		 r->data_fd[idx], 0);
	r->map[idx] = p == MAP_FAILED ? NULL : p;
	if (!r->map[idx]) {
		r->map_len[idx] = 0;
		return -errno;
	}
	r->map_len[idx] = (size_t)st.st_size;
	return 0;
}

void wraw_reader_close(struct wraw_reader *r)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (r->map[i])
			munmap((void *)r->map[i], r->map_len[i]);
		if (r->data_fd[i] >= 0)
			close(r->data_fd[i]);
	}
	if (r->st)
		munmap(r->st, sizeof(*r->st));
	if (r->state_fd >= 0)
		close(r->state_fd);
	memset(r, 0, sizeof(*r));
	r->state_fd = r->data_fd[0] = r->data_fd[1] = -1;
}
