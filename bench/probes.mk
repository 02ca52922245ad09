# bench/probes.mk - what the USDT probes cost the read path (issue 5).
# Included by the top-level Makefile, whose variables it uses.
#
#   make bench-probes         bench/results/probes.{csv,md}: instructions per
#                             read (callgrind) and ns per read, for a build
#                             without probes, with probes and no tracer, and
#                             with mmsync-trace attached (root only)
#   make bench-probes-build   only build into $(OUT)/bench-probes/
#
# The build without probes is a second copy of the library compiled with
# -DMMSYNC_NO_PROBES, in $(OUT)/bench-probes/noprobes/.

PROBEBENCH_OUT := $(OUT)/bench-probes
PROBEBENCH_NP  := $(PROBEBENCH_OUT)/noprobes
PROBEBENCH_NP_OBJS := $(patsubst lib/%.c,$(PROBEBENCH_NP)/lib/%.o,$(LIB_SRCS))
PROBEBENCH_BINS := $(PROBEBENCH_OUT)/probe_bench \
	$(PROBEBENCH_OUT)/probe_bench_noprobes

.PHONY: bench-probes bench-probes-build

bench-probes-build: $(PROBEBENCH_BINS)

$(PROBEBENCH_NP)/lib/%.o: lib/%.c lib/*.h include/mmsync.h
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(LIB_CFLAGS) $(CFLAGS) -DMMSYNC_NO_PROBES -c $< -o $@

$(PROBEBENCH_NP)/$(SONAME): $(PROBEBENCH_NP_OBJS) lib/libmmsync.map
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=lib/libmmsync.map -Wl,-z,defs \
		$(LDFLAGS) -o $@ $(PROBEBENCH_NP_OBJS) $(LIB_LIBS)
	$(Q)ln -sf $(SONAME) $(PROBEBENCH_NP)/libmmsync.so

$(PROBEBENCH_OUT)/probe_bench: bench/probe_bench.c include/mmsync.h \
		$(OUT)/libmmsync.so
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LINK_SO)

$(PROBEBENCH_OUT)/probe_bench_noprobes: bench/probe_bench.c include/mmsync.h \
		$(PROBEBENCH_NP)/$(SONAME)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -DMMSYNC_NO_PROBES $< -o $@ \
		$(LDFLAGS) -L$(PROBEBENCH_NP) -lmmsync \
		-Wl,-rpath,$(abspath $(PROBEBENCH_NP)) $(LIB_LIBS)

# mmsync-trace is optional here: without it (no BTF, not root) the traced
# rows say n/a.
bench-probes: $(PROBEBENCH_BINS)
	-$(Q)$(MAKE) --no-print-directory tools
	$(Q)mkdir -p bench/results
	$(Q)bench/probes.sh $(PROBEBENCH_OUT) $(OUT)/tools/mmsync-trace \
		bench/results
