// SPDX-License-Identifier: MIT
/* reader.c - read the hello-world snapshot in place, with no copy. */
#include <stdio.h>
#include <string.h>

#include <mmsync.h>

#include "hello.h"

int main(void)
{
	const struct hello_world *hello;
	struct mmsync_reader *r;
	struct mmsync_view v;
	unsigned int i;
	int err;

	err = mmsync_reader_open(HELLO_CHANNEL, NULL, &r);
	if (err) {
		fprintf(stderr, "reader: open: %s\n", strerror(-err));
		return 1;
	}
	/* Wait up to a second for a first snapshot. */
	if (mmsync_reader_gen(r) == 0 && mmsync_wait(r, 0, 1000000000) < 0) {
		fprintf(stderr, "reader: nothing published yet\n");
		mmsync_reader_close(r);
		return 1;
	}
	err = mmsync_read_begin(r, &v);
	if (err || v.size != sizeof(*hello)) {
		fprintf(stderr, "reader: read: %s\n",
			err ? strerror(-err) : "unexpected size");
		mmsync_reader_close(r);
		return 1;
	}
	hello = v.data; /* points into the shared mapping: zero-copy */
	printf("reader: version %u:", hello->version);
	for (i = 0; i < hello->nr_messages && i < 3; i++)
		printf(" %.16s", hello->messages[i]);
	printf(" (generation %llu, checksum %016llx)\n",
	       (unsigned long long)v.gen, (unsigned long long)v.checksum);
	err = mmsync_read_end(r, &v);
	mmsync_reader_close(r);
	if (err) {
		fprintf(stderr, "reader: snapshot changed under us: %s\n",
			strerror(-err));
		return 1;
	}
	return 0;
}
