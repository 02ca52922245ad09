# bench/follow.mk - how fast `mmsync follow` passes a change on: from an
# etcd put (over the gateway, and with `etcdctl put`) and from a rename to
# the new generation being readable. Included by the top-level Makefile.
#
#   make bench-follow      build, then bench/follow.sh (1,000 changes each;
#                          needs etcd and etcdctl, and an mmsync built with
#                          libcurl and json-c)
#
# Not part of `make bench` (bench/run.sh): it needs an etcd server.

FOLLOW_BENCH := $(OUT)/bench/follow_bench

.PHONY: bench-follow
bench-follow: $(FOLLOW_BENCH) $(MMSYNC_BIN)
	$(Q)bench/follow.sh $(OUT) $(FOLLOW_BENCH_N)

$(FOLLOW_BENCH): bench/follow_bench.c tools/follow_base64.c tools/follow.h \
		$(OUT)/libmmsync.so
	$(Q)mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -Itools $(FOLLOW_ETCD_CFLAGS) $(CPPFLAGS) \
		$(CFLAGS) bench/follow_bench.c tools/follow_base64.c -o $@ \
		$(LDFLAGS) $(LINK_SO) $(or $(filter-out -lxxhash,$(FOLLOW_LIBS)),-lcurl -ljson-c)
