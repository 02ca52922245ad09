// SPDX-License-Identifier: MIT
/* state.c - validate and map a channel's state file. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "internal.h"
#include "backing.h"

/*
 * Everything a reader or writer relies on before it trusts the mapping.
 * Only the immutable identity line is checked here; values that change
 * (generation, slot metadata, pins) are validated where they are used.
 */
int mmsync_state_check(const struct mmsync_hdr *h, uint64_t file_size)
{
	uint32_t n;

	if (file_size < MMSYNC_HDR_SIZE)
		return -EBADMSG;
	if (READ_SHARED(h->magic) != MMSYNC_MAGIC)
		return -EBADMSG;
	if (READ_SHARED(h->format) != MMSYNC_FORMAT)
		return -EBADMSG;
	if (READ_SHARED(h->hdr_size) != MMSYNC_HDR_SIZE ||
	    READ_SHARED(h->entry_size) != MMSYNC_ENTRY_SIZE ||
	    READ_SHARED(h->table_off) != MMSYNC_HDR_SIZE)
		return -EBADMSG;
	n = READ_SHARED(h->nr_entries);
	if (n == 0 || n > MMSYNC_MAX_ENTRIES)
		return -EBADMSG;
	if (READ_SHARED(h->file_size) != mmsync_state_size(n) ||
	    file_size != mmsync_state_size(n))
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
 * The size the state in a file of @file_size bytes may claim. A file on
 * hugetlbfs holds whole huge pages: it is the state rounded up to them.
 */
uint64_t mmsync_claimed_size(const struct mmsync_hdr *h, uint64_t file_size,
			     uint64_t page, bool huge)
{
	uint64_t claimed = READ_SHARED(h->file_size);

	if (huge && claimed <= file_size &&
	    mmsync_round_up(claimed, page) == file_size)
		return claimed;
	return file_size;
}

/*
 * Map the header page first, check it, then map the whole file. A file
 * shorter than it claims is rejected before any access past its end, so a
 * bad file can never raise SIGBUS.
 */
int mmsync_map_state(int fd, struct mmsync_hdr **out, size_t *len)
{
	uint64_t page;
	struct stat st;
	bool huge;
	void *p;
	int err;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if ((uint64_t)st.st_size < MMSYNC_HDR_SIZE)
		return -EBADMSG;
	/* On hugetlbfs, whole huge pages or munmap() fails. */
	page = mmsync_fd_granule(fd, &huge);
	if (!huge)
		page = MMSYNC_HDR_SIZE;
	else if ((uint64_t)st.st_size % page)
		return -EBADMSG;
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	err = mmsync_state_check(
		p, mmsync_claimed_size(p, (uint64_t)st.st_size, page, huge));
	munmap(p, page);
	if (err)
		return err;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Re-check: the file could have been swapped between the two maps. */
	err = mmsync_state_check(
		p, mmsync_claimed_size(p, (uint64_t)st.st_size, page, huge));
	if (err) {
		munmap(p, (size_t)st.st_size);
		return err;
	}
	*out = p;
	*len = (size_t)st.st_size;
	return 0;
}
