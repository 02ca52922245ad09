# tools/tools.mk - the mmsync CLI, mmsync-trace and its BPF program.
# Included by the top-level Makefile, whose variables it uses ($(OUT), $(CC),
# $(BASE_CFLAGS), $(CPPFLAGS), $(CFLAGS), $(LDFLAGS), $(LINK_SO),
# $(LINK_DIST), $(BPF_ARCH), $(Q), $(msg)).
#
#   make tools        the mmsync CLI, and mmsync-trace where it can be built
#   make trace        mmsync-trace, or an error that says what is missing
#
# mmsync needs only gcc and libmmsync (and, for `follow --etcd`, libcurl
# and json-c: see FOLLOW_ETCD_MISSING). mmsync-trace is a CO-RE BPF tool:
# vmlinux.h is generated from the running kernel's BTF into $(OUT)/bpf/
# (never committed), the BPF object is built with clang and embedded with
# `bpftool gen skeleton`. Where clang, llvm-strip, bpftool, the libbpf and
# libelf headers or the kernel's BTF are missing, `make` skips it with a
# message and `make check` skips the BPF tests.
#
# Binaries in $(TOOLS_OUT) run from the build tree: mmsync has an rpath to
# this build's library. `make install` installs the copies linked in
# $(TOOLS_OUT)/dist/ without one.

TOOLS_OUT   := $(OUT)/tools
BPF_OUT     := $(OUT)/bpf
CLANG       ?= clang
LLVM_STRIP  ?= llvm-strip
BPFTOOL     ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_CFLAGS  := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall \
	-I$(BPF_OUT) -Ibpf

MMSYNC_BIN := $(TOOLS_OUT)/mmsync
TRACE_BIN  := $(TOOLS_OUT)/mmsync-trace
TRACE_LIBS := -lbpf -lelf -lz -lm
TOOLS_CFLAGS := $(BASE_CFLAGS) -Itools -DMMSYNC_TOOLS_VERSION='"$(VERSION)"'

# Does this compiler find header $(1)? (For what Debian -dev packages add.)
HASH := \#
have_header = $(shell echo '$(HASH)include <$(1)>' | \
	$(CC) $(CPPFLAGS) -E -x c - >/dev/null 2>&1 && echo yes)

# mmsync follow (tools/follow.c, a source per file): the file source needs
# nothing more than the library does (xxhash); the etcd source needs
# libcurl and json-c (pkg-config, or the compiler's own paths). Without
# them `follow --etcd` is a stub that says what is missing, and the etcd
# tests skip; only the mmsync binary links them.
FOLLOW_ETCD_MISSING := $(strip \
	$(if $(call have_header,curl/curl.h),,libcurl4-openssl-dev) \
	$(if $(call have_header,json-c/json.h),,libjson-c-dev))
FOLLOW_ETCD_PC := $(if $(FOLLOW_ETCD_MISSING),,$(shell \
	pkg-config --exists libcurl json-c 2>/dev/null && echo yes))
FOLLOW_ETCD_CFLAGS := $(if $(FOLLOW_ETCD_PC),$(shell \
	pkg-config --cflags libcurl json-c))
FOLLOW_LIBS := -lxxhash $(if $(FOLLOW_ETCD_MISSING),,$(if \
	$(FOLLOW_ETCD_PC),$(shell pkg-config --libs libcurl json-c),-lcurl -ljson-c))
FOLLOW_SRCS := tools/follow.c tools/follow_base64.c tools/source_file.c \
	$(if $(FOLLOW_ETCD_MISSING),tools/source_etcd_missing.c,tools/source_etcd.c)

MMSYNC_SRCS := tools/mmsync.c tools/cli.c tools/cli_writer_opts.c \
	tools/cmd_put.c tools/put_feed.c \
	tools/cmd_cat.c tools/cmd_watch.c tools/cmd_ls.c tools/cmd_stat.c \
	tools/fmt.c $(FOLLOW_SRCS)
MMSYNC_OBJS := $(patsubst tools/%.c,$(TOOLS_OUT)/obj/%.o,$(MMSYNC_SRCS))
MMSYNC_HDRS := tools/cli.h tools/put.h tools/fmt.h tools/follow.h \
	include/mmsync.h
$(TOOLS_OUT)/obj/source_etcd.o: TOOLS_CFLAGS += $(FOLLOW_ETCD_CFLAGS)
$(TOOLS_OUT)/obj/source_etcd_missing.o: TOOLS_CFLAGS += \
	-DFOLLOW_ETCD_MISSING='"$(FOLLOW_ETCD_MISSING)"'

# What mmsync-trace needs that is not here, in words; empty: build it.
TRACE_MISSING := $(strip \
	$(if $(filter x86 arm64,$(BPF_ARCH)),,USDT support for $(UNAME_M)) \
	$(if $(shell command -v $(CLANG) 2>/dev/null),,$(CLANG)) \
	$(if $(shell command -v $(LLVM_STRIP) 2>/dev/null),,$(LLVM_STRIP)) \
	$(if $(wildcard $(BPFTOOL)),,bpftool) \
	$(if $(call have_header,bpf/libbpf.h),,libbpf-dev) \
	$(if $(call have_header,gelf.h),,libelf-dev) \
	$(if $(wildcard $(VMLINUX_BTF)),,kernel BTF ($(VMLINUX_BTF))))

.PHONY: tools trace trace-skipped
tools: $(MMSYNC_BIN) $(if $(TRACE_MISSING),trace-skipped,$(TRACE_BIN))
all: tools
trace: $(TRACE_BIN)
tests: $(MMSYNC_BIN) $(if $(TRACE_MISSING),,$(TRACE_BIN)) $(OUT)/tests/usdt

trace-skipped:
	@echo "  SKIP     mmsync-trace, missing: $(TRACE_MISSING)" \
		"(scripts/deps.sh lists what to install)"

$(BPF_OUT)/vmlinux.h: | $(BPF_OUT)
	@if [ ! -r "$(VMLINUX_BTF)" ]; then \
		echo "error: no kernel BTF at $(VMLINUX_BTF)." >&2; \
		echo "  mmsync-trace is CO-RE: it needs a kernel built with CONFIG_DEBUG_INFO_BTF=y" >&2; \
		echo "  (or VMLINUX_BTF=/path/to/vmlinux-with-BTF). 'make' and 'make check' work without it." >&2; \
		exit 1; \
	fi
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(BPF_OUT)/mmsync_trace.bpf.o: bpf/mmsync_trace.bpf.c bpf/mmsync_trace.h \
		$(BPF_OUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(BPF_OUT)/mmsync_trace.skel.h: $(BPF_OUT)/mmsync_trace.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name mmsync_trace_bpf > $@

# No rpath: the tracer finds this build's library next to itself (see
# default_library()), and does not link it.
$(TRACE_BIN): tools/mmsync-trace.c tools/usdt.c tools/usdt_arg.c tools/usdt.h \
		tools/fmt.c tools/fmt.h bpf/mmsync_trace.h \
		$(BPF_OUT)/mmsync_trace.skel.h | $(TOOLS_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -I$(BPF_OUT) -Ibpf -Itools $(CPPFLAGS) $(CFLAGS) \
		tools/mmsync-trace.c tools/usdt.c tools/usdt_arg.c tools/fmt.c \
		-o $@ $(LDFLAGS) $(TRACE_LIBS)

$(TOOLS_OUT)/obj/%.o: tools/%.c $(MMSYNC_HDRS) | $(TOOLS_OUT)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(TOOLS_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(MMSYNC_BIN): $(MMSYNC_OBJS) $(OUT)/libmmsync.so | $(TOOLS_OUT)
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) $(CFLAGS) $(MMSYNC_OBJS) -o $@ $(LDFLAGS) \
		$(LINK_SO) $(FOLLOW_LIBS) -lpthread -lm

$(TOOLS_OUT)/dist/mmsync: $(MMSYNC_OBJS) $(OUT)/libmmsync.so | $(TOOLS_OUT)/dist
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) $(CFLAGS) $(MMSYNC_OBJS) -o $@ $(LDFLAGS) \
		$(LINK_DIST) $(FOLLOW_LIBS) -lpthread -lm

# The USDT argument parser on both syntaxes; on the library's own notes
# too where libelf is here.
USDT_TEST_ELF := $(if $(call have_header,gelf.h),yes)
$(OUT)/tests/usdt: tools/usdt_test.c tools/usdt_arg.c tools/usdt.c tools/usdt.h \
		bpf/mmsync_trace.h $(OUT)/libmmsync.so \
		$(TOP)/kselftest/kselftest_harness.h | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -Itools -Ibpf $(CPPFLAGS) $(CFLAGS) \
		$(if $(USDT_TEST_ELF),-DUSDT_TEST_NOTES) tools/usdt_test.c \
		tools/usdt_arg.c $(if $(USDT_TEST_ELF),tools/usdt.c) -o $@ \
		$(LDFLAGS) $(if $(USDT_TEST_ELF),-lelf)

# make install: the tools linked without an rpath.
INSTALL_PARTS   += install-tools
UNINSTALL_PARTS += uninstall-tools
TOOLS_INSTALL   := $(TOOLS_OUT)/dist/mmsync $(if $(TRACE_MISSING),,$(TRACE_BIN))

.PHONY: install-tools uninstall-tools
install-tools: $(TOOLS_INSTALL)
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/$(notdir $(TOOLS_INSTALL)))
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(Q)$(INSTALL) -m 0755 $(TOOLS_INSTALL) $(DESTDIR)$(BINDIR)/

uninstall-tools:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/mmsync $(DESTDIR)$(BINDIR)/mmsync-trace

$(TOOLS_OUT) $(TOOLS_OUT)/obj $(TOOLS_OUT)/dist $(BPF_OUT):
	$(Q)mkdir -p $@
