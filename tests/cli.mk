# tests/cli.mk - the shell tests of the mmsync CLI, `make install` and
# scripts/deps.sh.
# Included by the top-level Makefile. Each test is a wrapper in
# $(OUT)/tests/ that tests/run.sh runs like the others; it runs the script
# of this tree on this build.
#
#   tests/cli.sh       the mmsync command line, end to end
#   tests/install.sh   make install into a DESTDIR, an outside program built
#                      with pkg-config against it, make uninstall
#   tests/deps.sh      scripts/deps.sh installs only when it may

tests: $(OUT)/tests/cli $(OUT)/tests/install

$(OUT)/tests/cli: tests/cli.sh | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec sh "%s/tests/cli.sh" "%s" "$$@"\n' \
		"$(CURDIR)" "$(abspath $(OUT))" > $@
	$(Q)chmod +x $@

# The install test runs `make install` of this very build: same compiler,
# flags and variant.
$(OUT)/tests/install: tests/install.sh | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec sh "%s/tests/install.sh" "%s" "%s" %s "$$@"\n' \
		"$(CURDIR)" "$(CURDIR)" "$(abspath $(OUT))" \
		"'CC=$(CC)' 'TOP=$(abspath $(TOP))' 'SANITIZE=$(SANITIZE)' 'CFLAGS=$(CFLAGS)' 'CPPFLAGS=$(CPPFLAGS)' 'LDFLAGS=$(LDFLAGS)'" > $@
	$(Q)chmod +x $@

# scripts/deps.sh: installs only when it may, lists what is missing else.
tests: $(OUT)/tests/deps
$(OUT)/tests/deps: tests/deps.sh | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec sh "%s/tests/deps.sh" "%s" "$$@"\n' \
		"$(CURDIR)" "$(CURDIR)" > $@
	$(Q)chmod +x $@
