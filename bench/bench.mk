# bench/bench.mk - the benchmarks of issues 6 and 10. Included by the
# top-level Makefile, whose variables it uses ($(OUT), $(CC), $(BASE_CFLAGS), ...).
#
#   make bench          whole suite (< 15 min): CSV + PNG in bench/results/,
#                       headline table in bench/RESULTS.md
#   make bench BENCH_STEPS="wake wake_publish"
#                       rerun only those steps of bench/run.sh, keeping the
#                       other results (machine.txt says what was rerun)
#   make bench-quick    smoke run (< 2 min) into $(TOP)/bench-quick/
#   make bench-build    only build the programs into $(OUT)/bench/
#   make bench-lib-ab   publish cost of this build against the library of
#                       the commit before notification (bench/lib_ab.sh;
#                       AB_ARGS="--aligned [REV]"): bench/results/lib_ab.*,
#                       and bench/RESULTS.md again
#
# Needs root for the hugepage part (it reserves and restores hugepages and
# mounts a private hugetlbfs); without root that part is skipped.

BENCH_OUT := $(OUT)/bench
BENCH_PROGS := read_cost contend scaling publish_size hugepage notify wake
BENCH_BINS := $(addprefix $(BENCH_OUT)/,$(BENCH_PROGS))
BENCH_PROTO_OBJS := $(addprefix $(BENCH_OUT)/,protos.o proto_mmsync.o \
	proto_mmsync_ool.o proto_counter.o proto_rwlock.o proto_seqlock.o \
	proto_lmdb.o proto_urcu.o proto_floor.o)
BENCH_UTIL_OBJS := $(BENCH_OUT)/util.o
# publish_fd is measured only once the public header declares it.
BENCH_HAVE_PUBLISH_FD := $(shell grep -qw mmsync_publish_fd include/mmsync.h \
	2>/dev/null && echo 1)
BENCH_CFLAGS := $(BASE_CFLAGS) -Ibench \
	$(if $(BENCH_HAVE_PUBLISH_FD),-DBENCH_HAVE_PUBLISH_FD=1)
BENCH_LIBS := $(LINK_SO) -llmdb -lurcu-memb -lpthread

.PHONY: bench bench-quick bench-build bench-deps bench-lib-ab
.SECONDARY: $(BENCH_PROTO_OBJS) $(BENCH_UTIL_OBJS) $(BENCH_BINS:=.o)

bench-deps:
	$(Q)scripts/deps.sh $(TOP) bench

bench-build: lib $(BENCH_BINS)

bench: bench-deps
	$(Q)$(MAKE) --no-print-directory bench-build
	$(Q)BENCH_STEPS="$(BENCH_STEPS)" bench/run.sh full $(BENCH_OUT) bench/results

bench-quick: bench-deps
	$(Q)$(MAKE) --no-print-directory bench-build
	$(Q)BENCH_STEPS="$(BENCH_STEPS)" bench/run.sh quick $(BENCH_OUT) \
		$(TOP)/bench-quick

bench-lib-ab: lib $(BENCH_OUT)/lib_ab
	$(Q)bench/lib_ab.sh $(BENCH_OUT) bench/results $(AB_ARGS)
	$(Q)bench/report.sh bench/results > bench/RESULTS.md

# It loads the libraries it compares itself (dlmopen), so links none.
$(BENCH_OUT)/lib_ab: $(BENCH_OUT)/lib_ab.o $(BENCH_UTIL_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) -o $@ $^ $(LDFLAGS) -ldl

$(BENCH_OUT)/%.o: bench/%.c bench/*.h include/mmsync.h | $(BENCH_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $(CFLAGS) -c $< -o $@

$(BENCH_OUT)/read_cost $(BENCH_OUT)/contend $(BENCH_OUT)/scaling: \
		$(BENCH_PROTO_OBJS)

$(BENCH_OUT)/%: $(BENCH_OUT)/%.o $(BENCH_UTIL_OBJS) $(OUT)/libmmsync.so
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) -o $@ $(filter %.o,$^) $(LDFLAGS) $(BENCH_LIBS)

$(BENCH_OUT):
	$(Q)mkdir -p $@
