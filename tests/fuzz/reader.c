// SPDX-License-Identifier: MIT
/*
 * fuzz_reader - libFuzzer harness for the reader side of libmmsync on
 * fuzzed channel files.
 *
 * Each input builds a channel in a private tmpfs directory from one of the
 * templates (valid channels the library made), edits its four files
 * (NAME_state, NAME_readers, NAME_data_0/1: header fields by name, raw
 * bytes, sizes, kinds, owners, object ids, checksums, entry locks that
 * stand for other live readers), then runs reader actions on it:
 * mmsync_reader_open, read_begin/read_end (first and last byte of every
 * view touched), mmsync_wait(r, x, 0), mmsync_reader_fd, mmsync_stat,
 * mmsync_foreach_reader, close. fuzz.h has the input language, prog.c the
 * contract each call is held to.
 *
 *   make fuzz                              build (clang, libFuzzer, ASan, UBSan)
 *   build/fuzz/fuzz_reader CORPUS SEEDS    fuzz
 *   build/fuzz/fuzz_reader CRASH-FILE      reproduce one input
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
	return fz_run(data, size, OP_NR_READER);
}
