# tools/tools.mk - the mmsync CLI, mmsync-trace and its BPF program.
# Included by the top-level Makefile, whose variables it uses ($(OUT), $(CC),
# $(BASE_CFLAGS), $(CFLAGS), $(LINK_SO), $(Q), $(msg)).
#
#   make tools        both tools, into $(OUT)/tools/
#
# mmsync-trace is a CO-RE BPF tool: vmlinux.h is generated from the running
# kernel's BTF into $(OUT)/bpf/ (never committed), the BPF object is built
# with clang and embedded with `bpftool gen skeleton`. Without kernel BTF
# `make tools` (and so `make`) stops with a message; `make check` then only
# skips the BPF tests.

TOOLS_OUT   := $(OUT)/tools
BPF_OUT     := $(OUT)/bpf
CLANG       ?= clang
LLVM_STRIP  ?= llvm-strip
BPFTOOL     ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_CFLAGS  := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall \
	-I$(BPF_OUT) -Ibpf

MMSYNC_BIN := $(TOOLS_OUT)/mmsync
TRACE_BIN  := $(TOOLS_OUT)/mmsync-trace
TRACE_LIBS := -lbpf -lelf -lz -lm

# Can this machine build the BPF tool? The tests use it only if so.
TRACE_BUILDABLE := $(shell test -r $(VMLINUX_BTF) && \
	command -v $(CLANG) >/dev/null 2>&1 && \
	test -x $(BPFTOOL) && echo yes)

.PHONY: tools
tools: $(MMSYNC_BIN) $(TRACE_BIN)
all: tools
tests: $(MMSYNC_BIN) $(if $(TRACE_BUILDABLE),$(TRACE_BIN))

$(BPF_OUT)/vmlinux.h: | $(BPF_OUT)
	@if [ ! -r "$(VMLINUX_BTF)" ]; then \
		echo "error: no kernel BTF at $(VMLINUX_BTF)." >&2; \
		echo "  mmsync-trace is CO-RE: it needs a kernel built with CONFIG_DEBUG_INFO_BTF=y" >&2; \
		echo "  (or VMLINUX_BTF=/path/to/vmlinux-with-BTF). 'make lib check' works without it." >&2; \
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

# The rpath lets the default target (the libmmsync.so that the dynamic
# linker would load) resolve to this build's library.
$(TRACE_BIN): tools/mmsync-trace.c tools/usdt.c tools/usdt.h tools/fmt.c tools/fmt.h \
		bpf/mmsync_trace.h $(BPF_OUT)/mmsync_trace.skel.h | $(TOOLS_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -I$(BPF_OUT) -Ibpf -Itools $(CFLAGS) \
		tools/mmsync-trace.c tools/usdt.c tools/fmt.c -o $@ $(LDFLAGS) $(TRACE_LIBS) \
		-Wl,-rpath,$(abspath $(OUT))

$(MMSYNC_BIN): tools/mmsync.c tools/fmt.c tools/fmt.h include/mmsync.h \
		$(OUT)/libmmsync.so | $(TOOLS_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -Itools $(CFLAGS) tools/mmsync.c tools/fmt.c \
		-o $@ $(LDFLAGS) $(LINK_SO)

$(TOOLS_OUT) $(BPF_OUT):
	$(Q)mkdir -p $@
