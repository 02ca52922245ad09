# bench/bench.mk - the benchmarks of issues 6 and 10. Included by the top-level
# Makefile, whose variables it uses ($(OUT), $(CC), $(BASE_CFLAGS), ...).
#
#   make bench          whole suite (< 15 min): CSV + PNG in bench/results/,
#                       headline table in bench/RESULTS.md
#   make bench-quick    smoke run (< 2 min) into $(TOP)/bench-quick/
#   make bench-build    only build the programs into $(OUT)/bench/
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

.PHONY: bench bench-quick bench-build bench-deps
.SECONDARY: $(BENCH_PROTO_OBJS) $(BENCH_UTIL_OBJS) $(BENCH_BINS:=.o)

bench-deps:
	$(Q)scripts/deps.sh $(TOP) bench

bench-build: lib $(BENCH_BINS)

bench: bench-deps
	$(Q)$(MAKE) --no-print-directory bench-build
	$(Q)bench/run.sh full $(BENCH_OUT) bench/results

bench-quick: bench-deps
	$(Q)$(MAKE) --no-print-directory bench-build
	$(Q)bench/run.sh quick $(BENCH_OUT) $(TOP)/bench-quick

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
