# libmmsync - plain Makefile. `make V=1` shows the commands.
#
#   make                 library, examples, tools
#   make demo            build, then run the hello-world writer and reader
#   make check           build and run the kselftest suite
#   make SANITIZE=address,undefined check
#   make SANITIZE=thread check    (fence mode only: TSan can't see membarrier)
#   make WERROR=1 ...    warnings are errors (CI does this)
#   make install PREFIX=/usr/local DESTDIR=...

VERSION   := 0.1.0
SOMAJOR   := 0
PREFIX    ?= /usr/local
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR   ?=

CC        ?= cc
CFLAGS    ?= -O2 -g
LDFLAGS   ?=
SANITIZE  ?=

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
LINK_SO := -L$(OUT) -lmmsync -Wl,-rpath,$(abspath $(OUT)) $(LIB_LIBS)

.PHONY: all lib examples tests check demo install uninstall clean deps
.DELETE_ON_ERROR:

all: lib examples

lib: $(SO) $(OUT)/libmmsync.so $(ARCHIVE) $(PC)

$(OUT)/lib/%.o: lib/%.c lib/*.h include/mmsync.h | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(SO): $(LIB_OBJS) lib/libmmsync.map
	$(call msg,LD,$@)
	$(Q)$(CC) $(SANFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=lib/libmmsync.map -Wl,-z,defs \
		$(LDFLAGS) -o $@ $(LIB_OBJS) $(LIB_LIBS)

$(OUT)/libmmsync.so: $(SO)
	$(Q)ln -sf $(notdir $(SO)) $(OUT)/$(SONAME)
	$(Q)ln -sf $(notdir $(SO)) $@

$(ARCHIVE): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(PC): lib/libmmsync.pc.in | $(OUT)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		$< > $@

examples: $(EXAMPLES)

$(OUT)/examples/%: examples/%.c include/mmsync.h $(OUT)/libmmsync.so | $(OUT)/examples
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LINK_SO)

deps:
	$(Q)scripts/deps.sh $(TOP)

$(TOP)/kselftest/kselftest_harness.h:
	$(Q)scripts/deps.sh $(TOP)

tests: $(TESTS)

$(OUT)/tests/%: tests/%.c tests/helpers.c tests/helpers.h include/mmsync.h lib/layout.h \
		$(OUT)/libmmsync.so $(TOP)/kselftest/kselftest_harness.h | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(CFLAGS) $< tests/helpers.c -o $@ $(LDFLAGS) \
		$(LINK_SO) -lpthread

# The public header must compile as C++ too (g++, -Wall -Wextra).
CXX ?= c++
$(OUT)/tests/header_cxx.o: tests/cxx/header.cc include/mmsync.h | $(OUT)/tests
	$(call msg,CXX,$@)
	$(Q)$(CXX) -std=c++17 $(filter-out -Wstrict-prototypes -Wmissing-prototypes,$(WARN)) \
		-Iinclude -c $< -o $@

check: deps
	$(Q)$(MAKE) --no-print-directory lib examples tests $(OUT)/tests/header_cxx.o
	$(Q)tests/run.sh $(OUT)/tests $(if $(SANITIZE),--sanitize=$(SANITIZE))

demo: deps
	$(Q)$(MAKE) --no-print-directory lib examples
	$(Q)MMSYNC_DIR=$${MMSYNC_DIR:-/dev/shm} $(OUT)/examples/writer
	$(Q)MMSYNC_DIR=$${MMSYNC_DIR:-/dev/shm} $(OUT)/examples/reader

# Optional parts add their rules here (each owns its directory): bench/,
# tools/, man/, python/, rust/, tests/ (fuzzing). A part that has tests for
# `make check` adds an executable that prints kselftest TAP output to
# $(OUT)/tests/ and makes `tests` depend on it; tests/run.sh runs it.
-include $(wildcard bench/*.mk tools/*.mk man/*.mk python/*.mk rust/*.mk \
	tests/*.mk debian/*.mk)

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0644 include/mmsync.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/libmmsync.so
	install -m 0644 $(ARCHIVE) $(DESTDIR)$(LIBDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		lib/libmmsync.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libmmsync.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/mmsync.h \
		$(DESTDIR)$(LIBDIR)/$(notdir $(SO)) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libmmsync.so \
		$(DESTDIR)$(LIBDIR)/libmmsync.a \
		$(DESTDIR)$(LIBDIR)/pkgconfig/libmmsync.pc

$(OUT) $(OUT)/lib $(OUT)/examples $(OUT)/tests:
	$(Q)mkdir -p $@

clean:
	rm -rf $(TOP)
