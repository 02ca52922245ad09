// SPDX-License-Identifier: MIT
/* writer.c - publish one hello-world snapshot (mmap-sync's example, in C). */
#include <stdio.h>
#include <string.h>

#include <mmsync.h>

#include "hello.h"

int main(void)
{
	struct hello_world hello = { .version = 7, .nr_messages = 3 };
	struct mmsync_publish_info info;
	struct mmsync_writer *w;
	int err;

	strcpy(hello.messages[0], "Hello");
	strcpy(hello.messages[1], "World");
	strcpy(hello.messages[2], "!");

	err = mmsync_writer_open(HELLO_CHANNEL, NULL, &w);
	if (err) {
		fprintf(stderr, "writer: open: %s\n", strerror(-err));
		return 1;
	}
	err = mmsync_publish(w, &hello, sizeof(hello), &info);
	if (err) {
		fprintf(stderr, "writer: publish: %s\n", strerror(-err));
		mmsync_writer_close(w);
		return 1;
	}
	printf("writer: published version %u: %s %s %s (generation %llu, %zu bytes)\n",
	       hello.version, hello.messages[0], hello.messages[1],
	       hello.messages[2], (unsigned long long)info.gen, sizeof(hello));
	mmsync_writer_close(w);
	return 0;
}
