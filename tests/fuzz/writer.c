// SPDX-License-Identifier: MIT
/*
 * fuzz_writer - libFuzzer harness for the writer side of libmmsync on
 * fuzzed channel files.
 *
 * The channel is built and edited as in fuzz_reader (reader.c), and the
 * actions add a writer: mmsync_writer_open (a second one must get
 * -EBUSY), mmsync_publish, mmsync_publish_iov, reserve/commit/abort,
 * close, mmsync_unlink, with reader handles and edits of the reader table
 * (what hostile readers do) in between. Whenever the writer accepted the
 * files and published, a new reader must read exactly the published bytes,
 * generation, size and XXH3; views held across publishes end 0 exactly
 * when their slot was not reused, and unchanged. fuzz.h has the input
 * language, prog.c the contract.
 *
 *   make fuzz                              build (clang, libFuzzer, ASan, UBSan)
 *   build/fuzz/fuzz_writer CORPUS SEEDS    fuzz
 *   build/fuzz/fuzz_writer CRASH-FILE      reproduce one input
 *   make fuzz-smoke / fuzz-long            tests/fuzz.mk
 */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(data, size, OP_NR_ALL);
}
