# tests/follow.mk - the tests of mmsync follow (tools/follow.c).
# Included by the top-level Makefile; each test is a wrapper in
# $(OUT)/tests/ that tests/run.sh runs like the others.
#
#   tests/follow_file.sh   follow NAME FILE: renames, rewrites, ConfigMap
#                          symlink swaps, slow writers, deletion, signals
#   tests/follow_etcd.sh   follow NAME --etcd URL KEY against a real etcd
#                          server it starts (skips without etcd-server,
#                          etcdctl, or an mmsync built without libcurl)
#   tools/follow_test.c    the base64 codec; also the --pin helper the
#                          file test uses to hold a view open

tests: $(OUT)/tests/follow_file $(OUT)/tests/follow_etcd $(OUT)/tests/follow_unit

$(OUT)/tests/follow_file: tests/follow_file.sh tests/follow_lib.sh | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec sh "%s/tests/follow_file.sh" "%s" "$$@"\n' \
		"$(CURDIR)" "$(abspath $(OUT))" > $@
	$(Q)chmod +x $@

$(OUT)/tests/follow_etcd: tests/follow_etcd.sh tests/follow_lib.sh | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec sh "%s/tests/follow_etcd.sh" "%s" "$$@"\n' \
		"$(CURDIR)" "$(abspath $(OUT))" > $@
	$(Q)chmod +x $@

$(OUT)/tests/follow_unit: tools/follow_test.c tools/follow_base64.c tools/follow.h \
		$(OUT)/libmmsync.so $(TOP)/kselftest/kselftest_harness.h | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -Itools $(CPPFLAGS) $(CFLAGS) tools/follow_test.c \
		tools/follow_base64.c -o $@ $(LDFLAGS) $(LINK_SO)
