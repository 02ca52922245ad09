# bench/publish.mk - the publish-path benchmark of issue 4 (publish_fd,
# publish, reserve/commit, publish_iov against read()/mmap/memcpy+XXH3
# baselines in the same run). Included by the top-level Makefile, whose
# variables it uses.
#
#   make bench-publish         1 MiB, 64 MiB, 1 GiB, 7 runs (~1 min):
#                              bench/results/publish.{csv,md}
#   make bench-publish-sweep   publish_fd queue depth x chunk size, the
#                              numbers behind its defaults:
#                              bench/results/publish_sweep.{csv,md}
#   make bench-publish-build   only build $(OUT)/bench-publish/publish_bench
#
# The source file goes to $TMPDIR (default /var/tmp): a disk file system,
# page-cached, so that O_DIRECT has something to bypass.

PUBBENCH_OUT := $(OUT)/bench-publish
PUBBENCH_BIN := $(PUBBENCH_OUT)/publish_bench
PUBBENCH_RUNS ?= 7

.PHONY: bench-publish bench-publish-sweep bench-publish-build

bench-publish-build: $(PUBBENCH_BIN)

$(PUBBENCH_BIN): bench/publish_bench.c include/mmsync.h $(OUT)/libmmsync.so \
		| $(PUBBENCH_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LINK_SO)

bench-publish: $(PUBBENCH_BIN)
	$(Q)mkdir -p bench/results
	$(Q)$(PUBBENCH_BIN) -r $(PUBBENCH_RUNS) -o bench/results/publish.csv \
		-m bench/results/publish.md

bench-publish-sweep: $(PUBBENCH_BIN)
	$(Q)mkdir -p bench/results
	$(Q)$(PUBBENCH_BIN) --sweep -r $(PUBBENCH_RUNS) \
		-o bench/results/publish_sweep.csv \
		-m bench/results/publish_sweep.md

$(PUBBENCH_OUT):
	$(Q)mkdir -p $@
