# tests/fuzz.mk - the libFuzzer harnesses of tests/fuzz/ (included by the
# top Makefile).
#
#   make fuzz            build/fuzz/fuzz_reader, build/fuzz/fuzz_writer:
#                        clang, libFuzzer, ASan and UBSan, the library
#                        compiled again here with coverage
#   make fuzz-smoke      each harness for FUZZ_SMOKE_SECONDS (60) on its
#                        corpus in build/fuzz/corpus/; fails on any crash,
#                        leak or hang (.ci/run)
#   make fuzz-long FUZZ_SECONDS=3600 [FUZZ_HARNESSES="reader writer"]
#                        the long campaign: FUZZ_SECONDS per harness, one
#                        after the other (run two makes with one harness
#                        each to use two cores); a failing input is kept,
#                        the campaign goes on and fails at the end
#
# make check runs $(OUT)/tests/fuzz_replay instead: the seeds, the
# regression inputs and mutated seeds through the same harness code, built
# with $(CC) in the variant being tested, so that it needs no clang.
# tests/fuzz/README is in the comments at the top of each harness.

FUZZ_CC ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null))
# The library sources: another copy (a patched one, to see that a harness
# catches a bug put back in) is FUZZ_LIB=DIR with TOP=another build.
FUZZ_LIB ?= lib
FUZZ_OUT := $(TOP)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -g -O1 $(WARN) -Iinclude -I$(FUZZ_LIB) -Itests/fuzz \
	$(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIBS := $(LIB_LIBS) -lpthread
FUZZ_HARNESSES ?= reader writer
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_SECONDS ?= 3600

FUZZ_HDRS := $(wildcard tests/fuzz/*.h) include/mmsync.h $(FUZZ_LIB)/layout.h
FUZZ_COMMON := chan edit prog reader_ops writer_ops
FUZZ_LIB_OBJS := $(patsubst $(FUZZ_LIB)/%.c,$(FUZZ_OUT)/lib/%.o,\
	$(wildcard $(FUZZ_LIB)/*.c))
FUZZ_COMMON_OBJS := $(patsubst %,$(FUZZ_OUT)/obj/%.o,$(FUZZ_COMMON))
FUZZ_BINS := $(FUZZ_OUT)/fuzz_reader $(FUZZ_OUT)/fuzz_writer
FUZZ_SEEDS := $(FUZZ_OUT)/seeds/reader.stamp $(FUZZ_OUT)/seeds/writer.stamp

.PHONY: fuzz fuzz-smoke fuzz-long fuzz-check-cc
# Objects made by chained pattern rules: keep them between builds.
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_COMMON_OBJS) $(FUZZ_OUT)/obj/reader.o \
	$(FUZZ_OUT)/obj/writer.o

fuzz-check-cc:
	@test -n "$(FUZZ_CC)" || { echo "fuzz: no clang (Debian: clang-14); set FUZZ_CC=" >&2; exit 1; }

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-check-cc
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS) $(FUZZ_SEEDS)

$(FUZZ_OUT)/lib/%.o: $(FUZZ_LIB)/%.c $(FUZZ_LIB)/*.h include/mmsync.h
	@mkdir -p $(@D)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fvisibility=hidden -c $< -o $@

$(FUZZ_OUT)/obj/%.o: tests/fuzz/%.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/%.o $(FUZZ_COMMON_OBJS) $(FUZZ_LIB_OBJS)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ $(FUZZ_LIBS)

$(FUZZ_OUT)/fuzz_seeds: tests/fuzz/seeds.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) -std=gnu11 -g -O1 $(WARN) -Iinclude -Ilib -Itests/fuzz \
		-DFZ_SEEDS_MAIN $< -o $@

$(FUZZ_OUT)/seeds/%.stamp: $(FUZZ_OUT)/fuzz_seeds
	$(Q)rm -rf $(FUZZ_OUT)/seeds/$* && mkdir -p $(FUZZ_OUT)/seeds/$*
	$(Q)$< $* $(FUZZ_OUT)/seeds/$*
	$(Q)touch $@

fuzz-smoke: fuzz
	$(Q)rc=0; for h in $(FUZZ_HARNESSES); do \
		tests/fuzz/campaign.sh smoke $$h $(FUZZ_SMOKE_SECONDS) $(FUZZ_OUT) || rc=1; \
	done; exit $$rc

fuzz-long: fuzz
	$(Q)rc=0; for h in $(FUZZ_HARNESSES); do \
		tests/fuzz/campaign.sh long $$h $(FUZZ_SECONDS) $(FUZZ_OUT) || rc=1; \
	done; exit $$rc

# The replay test of make check, in the variant's own build.
FUZZ_REPLAY_SRCS := tests/fuzz/replay.c tests/fuzz/seeds.c \
	$(patsubst %,tests/fuzz/%.c,$(FUZZ_COMMON))

$(OUT)/tests/fuzz_replay: $(FUZZ_REPLAY_SRCS) $(FUZZ_HDRS) $(OUT)/libmmsync.so | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(CFLAGS) -Itests/fuzz \
		-DFZ_SRC='"$(abspath tests/fuzz)"' $(FUZZ_REPLAY_SRCS) -o $@ \
		$(LDFLAGS) $(LINK_SO)

tests: $(OUT)/tests/fuzz_replay
