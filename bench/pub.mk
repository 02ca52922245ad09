# bench/pub.mk - the publish benchmarks of issue 15 (publish as fast as the
# hardware allows). Included by the top-level Makefile, whose variables it
# uses ($(OUT), $(CC), $(BASE_CFLAGS), $(CFLAGS), $(LINK_SO), $(Q), $(msg)).
#
#   make bench-pub         the whole set (~4 min): CSV + PNG + markdown in
#                          bench/results/pub_*, summary in
#                          bench/results/pub_summary.md
#   make bench-pub-quick   smoke run (< 1 min) into $(TOP)/bench-pub-quick/
#   make bench-pub-build   only build the programs into $(OUT)/bench-pub/
#
# The programs (bench/pub.sh says what each measures):
#   publish_raw   mmsync_publish vs the write_raw equivalent (write_raw.c)
#   pace          1 writer + 1 reader, writer paced at fixed rates
#   copy_hash     where a 1 MiB publish spends its time
#   pub_loop      N publishes, for strace -c
#   read_cost     bench/read_cost.c (issue 6), built here too so that it
#                 runs beside the old tree's own, same run
#   read_instr    read cost of an idle channel (callgrind and clock), built
#                 against this tree and, as read_instr_old, against the
#                 commit before state format 2 ($(PUBB_OLD_REV)), whose
#                 library and read_cost are built from `git archive` in
#                 $(PUBB_OUT)/old/ (no worktree, nothing else touched)
#
# `make check` runs bench/pub_test.sh (a quick pass of each program, its
# self-checks and strace's count) as $(OUT)/tests/pubbench.

PUBB_OUT := $(OUT)/bench-pub
PUBB_OLD_REV ?= 18a6b00
PUBB_OLD := $(PUBB_OUT)/old
PUBB_CFLAGS := $(BASE_CFLAGS) -Ibench
# pace reuses bench/'s protocol table, which links LMDB and liburcu.
# Not under TSan: the peers' fences are what TSan refuses (-Werror=tsan),
# and pub_test.sh skips pace there anyway (it needs membarrier channels).
PUBB_HAVE_PROTOS := $(if $(findstring thread,$(SANITIZE)),,$(shell printf '\043include <lmdb.h>\n\043include <urcu/urcu-memb.h>\n' | \
	$(CC) -E -x c - >/dev/null 2>&1 && echo 1))
PUBB_PROTO_OBJS := $(addprefix $(PUBB_OUT)/,protos.o proto_mmsync.o \
	proto_mmsync_ool.o proto_counter.o proto_rwlock.o proto_seqlock.o \
	proto_lmdb.o proto_urcu.o proto_floor.o proto_floor_xchg.o \
	proto_floor_nopin.o)
PUBB_BINS := $(addprefix $(PUBB_OUT)/,publish_raw copy_hash pub_loop \
	read_instr) $(if $(PUBB_HAVE_PROTOS),$(PUBB_OUT)/pace $(PUBB_OUT)/read_cost)

.PHONY: bench-pub bench-pub-quick bench-pub-build bench-pub-old
.SECONDARY: $(PUBB_PROTO_OBJS) $(PUBB_BINS:=.o) $(PUBB_OUT)/util.o \
	$(PUBB_OUT)/write_raw.o

bench-pub-build: lib $(PUBB_BINS)

# The old tree: its own library and read_cost, plain -O2 -g like ours.
bench-pub-old: $(PUBB_OUT)/read_instr_old

$(PUBB_OLD)/.src:
	$(Q)rm -rf $(PUBB_OLD)/src && mkdir -p $(PUBB_OLD)/src
	$(call msg,GIT,$(PUBB_OLD_REV) into $(PUBB_OLD)/src)
	$(Q)git archive $(PUBB_OLD_REV) | tar -x -C $(PUBB_OLD)/src
	$(Q)touch $@

$(PUBB_OLD)/.built: $(PUBB_OLD)/.src
	$(call msg,MAKE,$(PUBB_OLD)/src: lib and bench/read_cost)
	$(Q)$(MAKE) --no-print-directory -C $(PUBB_OLD)/src TOP=build \
		SANITIZE= CFLAGS='-O2 -g' V= lib build/default/bench/read_cost \
		>$(PUBB_OLD)/build.log 2>&1 || { tail -n 20 $(PUBB_OLD)/build.log; exit 1; }
	$(Q)touch $@

$(PUBB_OUT)/read_instr_old: bench/read_instr.c bench/util.c bench/bench.h \
		$(PUBB_OLD)/.built
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu11 -O2 -g -I$(PUBB_OLD)/src/include -Ibench \
		bench/read_instr.c bench/util.c -o $@ \
		-L$(PUBB_OLD)/src/build/default -lmmsync \
		-Wl,-rpath,$(abspath $(PUBB_OLD)/src/build/default) -lxxhash -luring

# Without git (a tarball) there is no old tree: pub.sh leaves that part out.
bench-pub: bench-pub-build
	-$(Q)$(MAKE) --no-print-directory bench-pub-old
	$(Q)bench/pub.sh full $(PUBB_OUT) bench/results

bench-pub-quick: bench-pub-build
	-$(Q)$(MAKE) --no-print-directory bench-pub-old
	$(Q)bench/pub.sh quick $(PUBB_OUT) $(TOP)/bench-pub-quick

$(PUBB_OUT)/%.o: bench/%.c bench/*.h include/mmsync.h | $(PUBB_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PUBB_CFLAGS) $(CFLAGS) -c $< -o $@

$(PUBB_OUT)/publish_raw: $(PUBB_OUT)/write_raw.o
$(PUBB_OUT)/copy_hash: $(PUBB_OUT)/write_raw.o
$(PUBB_OUT)/pace $(PUBB_OUT)/read_cost: $(PUBB_PROTO_OBJS)
$(PUBB_OUT)/pace $(PUBB_OUT)/read_cost: PUBB_LIBS := -llmdb -lurcu-memb -lpthread

$(PUBB_OUT)/%: $(PUBB_OUT)/%.o $(PUBB_OUT)/util.o $(OUT)/libmmsync.so
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) -o $@ $(filter %.o,$^) $(LDFLAGS) $(LINK_SO) \
		-lxxhash $(PUBB_LIBS)

$(PUBB_OUT):
	$(Q)mkdir -p $@

tests: $(OUT)/tests/pubbench

$(OUT)/tests/pubbench: bench/pub_test.sh $(PUBB_BINS) | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec sh "%s/bench/pub_test.sh" "%s" "%s" "$$@"\n' \
		"$(CURDIR)" "$(abspath $(PUBB_OUT))" "$(SANITIZE)" > $@
	$(Q)chmod +x $@
