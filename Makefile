# libmmsync - plain Makefile. `make V=1` shows the commands.
#
#   make                 library, examples, the mmsync CLI (and mmsync-trace
#                        where clang, bpftool and the kernel's BTF are here)
#   make demo            build, then run the hello-world writer and reader
#   make check           build and run the test suite
#   make SANITIZE=address,undefined check
#   make SANITIZE=thread check    (fence mode only: TSan can't see membarrier)
#   make WERROR=1 ...    warnings are errors (CI does this)
#   make install         PREFIX=/usr/local DESTDIR= BINDIR= LIBDIR=
#                        INCLUDEDIR= MANDIR= (ldconfig: as root, no DESTDIR)
#   make uninstall       removes what install installed (same variables)
#   make deb             Debian packages into build/deb/ (debian/deb.mk)
#
# CC, CXX, AR, RANLIB, CPPFLAGS, CFLAGS and LDFLAGS are taken from the
# command line or the environment; nothing needs more than gcc and the
# -dev packages scripts/deps.sh names.

VERSION   := 0.1.0
SOMAJOR   := 0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=

CC        ?= cc
AR        ?= ar
RANLIB    ?= ranlib
INSTALL   ?= install
LDCONFIG  ?= ldconfig
CPPFLAGS  ?=
CFLAGS    ?= -O2 -g
LDFLAGS   ?=
SANITIZE  ?=

# The CPU, as the kernel's headers name it (-D__TARGET_ARCH_$(BPF_ARCH)
# for the BPF build); override both to build for another one.
UNAME_M   ?= $(shell uname -m)
BPF_ARCH  ?= $(shell echo '$(UNAME_M)' | sed -e 's/x86_64/x86/' \
	-e 's/i.86/x86/' -e 's/aarch64.*/arm64/' -e 's/arm.*/arm/' \
	-e 's/riscv.*/riscv/' -e 's/s390x/s390/' -e 's/ppc.*/powerpc/' \
	-e 's/loongarch.*/loongarch/' -e 's/mips.*/mips/')

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

comma := ,
VARIANT := $(if $(SANITIZE),san-$(subst $(comma),-,$(SANITIZE)),default)
TOP     ?= build
OUT     := $(TOP)/$(VARIANT)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wpointer-arith -Wformat=2
ifeq ($(WERROR),1)
WARN += -Werror
endif
SANFLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer)

# Our -I options come before $(CPPFLAGS): this tree's header always wins
# over an installed one.
BASE_CFLAGS := -std=gnu11 $(WARN) -Iinclude $(SANFLAGS)
LIB_CFLAGS  := $(BASE_CFLAGS) -Ilib -fPIC -fvisibility=hidden
LIB_LIBS    := -lxxhash -luring

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst lib/%.c,$(OUT)/lib/%.o,$(LIB_SRCS))
SONAME   := libmmsync.so.$(SOMAJOR)
SO       := $(OUT)/libmmsync.so.$(VERSION)
ARCHIVE  := $(OUT)/libmmsync.a
PC       := $(OUT)/libmmsync.pc

EXAMPLES := $(patsubst examples/%.c,$(OUT)/examples/%,$(wildcard examples/*.c))

TEST_SRCS := $(filter-out tests/helpers.c,$(wildcard tests/*.c))
TESTS     := $(patsubst tests/%.c,$(OUT)/tests/%,$(TEST_SRCS))
# The harness is written for -Wall; its macros trip -Wsign-compare/-Wclobbered.
TEST_CFLAGS := $(BASE_CFLAGS) -I$(TOP)/kselftest -Itests -Ilib -Wno-missing-prototypes \
	-Wno-sign-compare -Wno-clobbered -Wno-format-truncation
# Programs that run from the build tree find this build's library through
# an rpath; what `make install` installs is linked with $(LINK_DIST), no
# rpath (it finds the installed library like any program does).
LINK_SO   := -L$(OUT) -lmmsync -Wl,-rpath,$(abspath $(OUT)) $(LIB_LIBS)
LINK_DIST := -L$(OUT) -lmmsync

.PHONY: all lib examples tests check demo install install-lib uninstall \
	uninstall-lib clean deps
.DELETE_ON_ERROR:

all: lib examples

lib: $(SO) $(OUT)/libmmsync.so $(ARCHIVE) $(PC)

$(OUT)/lib/%.o: lib/%.c lib/*.h include/mmsync.h | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(LIB_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(SO): $(LIB_OBJS) lib/libmmsync.map
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) $(CFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=lib/libmmsync.map -Wl,-z,defs \
		$(LDFLAGS) -o $@ $(LIB_OBJS) $(LIB_LIBS)

$(OUT)/libmmsync.so: $(SO)
	$(Q)ln -sf $(notdir $(SO)) $(OUT)/$(SONAME)
	$(Q)ln -sf $(notdir $(SO)) $@

$(ARCHIVE): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rc $@ $^ && $(RANLIB) $@

$(PC): lib/libmmsync.pc.in | $(OUT)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		$< > $@

examples: $(EXAMPLES)

$(OUT)/examples/%: examples/%.c include/mmsync.h $(OUT)/libmmsync.so | $(OUT)/examples
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LINK_SO)

# What the build and the tests need (scripts/deps.sh says what it does).
deps:
	$(Q)scripts/deps.sh $(TOP) check

$(TOP)/kselftest/kselftest_harness.h:
	$(Q)scripts/deps.sh $(TOP) harness

tests: $(TESTS)

$(OUT)/tests/%: tests/%.c tests/helpers.c tests/helpers.h include/mmsync.h lib/layout.h \
		$(OUT)/libmmsync.so $(TOP)/kselftest/kselftest_harness.h | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $< tests/helpers.c -o $@ \
		$(LDFLAGS) $(LINK_SO) -lpthread

# The public header must compile as C++ too (g++, -Wall -Wextra).
CXX ?= c++
$(OUT)/tests/header_cxx.o: tests/cxx/header.cc include/mmsync.h | $(OUT)/tests
	$(call msg,CXX,$@)
	$(Q)$(CXX) -std=c++17 $(filter-out -Wstrict-prototypes -Wmissing-prototypes,$(WARN)) \
		-Iinclude $(CPPFLAGS) -c $< -o $@

check: deps
	$(Q)$(MAKE) --no-print-directory all tests $(OUT)/tests/header_cxx.o
	$(Q)tests/run.sh $(OUT)/tests $(if $(SANITIZE),--sanitize=$(SANITIZE))

demo:
	$(Q)scripts/deps.sh $(TOP) build
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MMSYNC_DIR=$${MMSYNC_DIR:-/dev/shm} $(OUT)/examples/writer
	$(Q)MMSYNC_DIR=$${MMSYNC_DIR:-/dev/shm} $(OUT)/examples/reader
	$(Q)MMSYNC_DIR=$${MMSYNC_DIR:-/dev/shm} $(OUT)/tools/mmsync verify mmsync_hello

# Optional parts add their rules here (each owns its directory): bench/,
# tools/, man/, python/, rust/, tests/ (fuzzing). A part that has tests for
# `make check` adds an executable that prints kselftest TAP output to
# $(OUT)/tests/ and makes `tests` depend on it; tests/run.sh runs it. A part
# that installs files adds install-X/uninstall-X targets to INSTALL_PARTS
# and UNINSTALL_PARTS.
INSTALL_PARTS :=
UNINSTALL_PARTS :=
-include $(wildcard bench/*.mk tools/*.mk man/*.mk python/*.mk rust/*.mk \
	tests/*.mk debian/*.mk)

# ldconfig only for the live system: a staged install (DESTDIR) is for a
# package or an image, whose own installer runs it.
install: install-lib $(INSTALL_PARTS)
ifeq ($(DESTDIR),)
	$(Q)if [ "$$(id -u)" = 0 ] && command -v $(LDCONFIG) >/dev/null 2>&1; then \
		printf '  %-8s %s\n' LDCONFIG "$(LIBDIR)"; $(LDCONFIG); \
		$(LDCONFIG) -p | grep -q '$(LIBDIR)/$(SONAME)' || \
		echo "note: $(LIBDIR) is not in the dynamic linker's path (/etc/ld.so.conf.d)"; \
	fi
endif

install-lib: lib
	$(call msg,INSTALL,$(DESTDIR)$(LIBDIR)/$(notdir $(SO)))
	$(Q)$(INSTALL) -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	$(Q)$(INSTALL) -m 0644 include/mmsync.h $(DESTDIR)$(INCLUDEDIR)/
	$(Q)$(INSTALL) -m 0644 $(SO) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(Q)ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/libmmsync.so
	$(Q)$(INSTALL) -m 0644 $(ARCHIVE) $(DESTDIR)$(LIBDIR)/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		lib/libmmsync.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libmmsync.pc

uninstall: uninstall-lib $(UNINSTALL_PARTS)
ifeq ($(DESTDIR),)
	$(Q)if [ "$$(id -u)" = 0 ] && command -v $(LDCONFIG) >/dev/null 2>&1; then \
		$(LDCONFIG); fi
endif

uninstall-lib:
	$(Q)rm -f $(DESTDIR)$(INCLUDEDIR)/mmsync.h \
		$(DESTDIR)$(LIBDIR)/$(notdir $(SO)) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libmmsync.so \
		$(DESTDIR)$(LIBDIR)/libmmsync.a \
		$(DESTDIR)$(LIBDIR)/pkgconfig/libmmsync.pc

$(OUT) $(OUT)/lib $(OUT)/examples $(OUT)/tests:
	$(Q)mkdir -p $@

clean:
	rm -rf $(TOP)
