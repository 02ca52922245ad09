// SPDX-License-Identifier: MIT
/*
 * state.c - validate and map a channel's objects.
 *
 * Nothing is trusted before it is checked: a state object must carry the
 * format-2 identity, the table and data objects must be the very files the
 * state names (device and inode), and every mapping covers only bytes the
 * file really holds, so a bad or short file gives -EBADMSG, never SIGBUS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "internal.h"
#include "backing.h"

/*
 * The immutable identity line. Values that change (the hot line, caps,
 * pins) are validated where they are used.
 */
int mmsync_state_check(const struct mmsync_hdr *h, uint64_t file_size)
{
	uint32_t n;

	if (file_size < MMSYNC_STATE_SIZE)
		return -EBADMSG;
	if (READ_SHARED(h->magic) != MMSYNC_MAGIC ||
	    READ_SHARED(h->format) != MMSYNC_FORMAT ||
	    READ_SHARED(h->state_size) != MMSYNC_STATE_SIZE ||
	    READ_SHARED(h->entry_size) != MMSYNC_ENTRY_SIZE ||
	    READ_SHARED(h->flags) != 0)
		return -EBADMSG;
	n = READ_SHARED(h->nr_entries);
	if (n == 0 || n > MMSYNC_MAX_ENTRIES)
		return -EBADMSG;
	if (READ_SHARED(h->table_size) != mmsync_table_size(n))
		return -EBADMSG;
	switch (READ_SHARED(h->fence_mode)) {
	case MMSYNC_FENCE_MEMBARRIER:
	case MMSYNC_FENCE_XCHG:
		break;
	default:
		return -EBADMSG;
	}
	return 0;
}

/*
 * Map @size bytes of @fd, rounded up to the file system's pages (huge
 * ones on hugetlbfs, where a mapping is whole pages or nothing); if
 * @sized, only once we know the file holds them.
 */
static int map_object(int fd, uint64_t size, bool writable, bool sized,
		      void **out, size_t *len)
{
	int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
	uint64_t page, want;
	struct stat st;
	bool huge;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	page = mmsync_fd_granule(fd, &huge);
	want = mmsync_round_up(size, page);
	if (sized && (uint64_t)st.st_size < want)
		return -EBADMSG;
	p = mmap(NULL, want, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno == EACCES ? -EACCES : -errno;
	*out = p;
	*len = (size_t)want;
	return 0;
}

/*
 * Map the state object: PROT_READ for readers (who may have nothing but
 * a read-only descriptor), read-write for the writer, and check it.
 */
int mmsync_map_state(int fd, bool writable, void **out, size_t *len)
{
	int err;

	err = map_object(fd, MMSYNC_STATE_SIZE, writable, true, out, len);
	if (err)
		return err;
	err = mmsync_state_check(*out, *len);
	if (err) {
		munmap(*out, *len);
		*out = NULL;
	}
	return err;
}

/*
 * The reader table: @size bytes that matter, mapped whole, whatever the
 * file holds right now. Any reader may truncate it at any moment, so a
 * size checked here would prove nothing a moment later: the caller gives
 * it its pages back first and guards the mapping (sigbus.c), and whoever
 * touches a page it lost gets it repaired, never SIGBUS.
 */
int mmsync_map_table(int fd, uint64_t size, bool writable, void **out,
		     size_t *len)
{
	return map_object(fd, size, writable, false, out, len);
}

/*
 * Is @fd the object the state names, a regular file of at least
 * @min_size bytes? -EBADMSG if not: a look-alike (planted, or a file of
 * another channel) is never used.
 */
int mmsync_check_obj(int fd, const struct mmsync_obj_id *id, uint64_t min_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_dev != READ_SHARED(id->dev) ||
	    (uint64_t)st.st_ino != READ_SHARED(id->ino) ||
	    (uint64_t)st.st_size < min_size)
		return -EBADMSG;
	return 0;
}
