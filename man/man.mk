# man/man.mk - the man pages: hand-written roff, nothing to build.
# Included by the top-level Makefile.
#
#   man1/  mmsync(1), mmsync-trace(1)
#   man3/  one page per exported function; aliases are ".so" links
#   man7/  mmsync(7), the concepts
#
# `make check` runs man/check.sh (coverage against the version script and
# the header, groff warnings, cross references, the CLI's options).

MAN1_PAGES := man/man1/mmsync.1 $(if $(TRACE_MISSING),,man/man1/mmsync-trace.1)
MAN3_PAGES := $(wildcard man/man3/*.3)
MAN7_PAGES := $(wildcard man/man7/*.7)

tests: $(OUT)/tests/man

# A wrapper, so that tests/run.sh finds it with the others.
$(OUT)/tests/man: man/check.sh | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec "%s/man/check.sh" "%s" "%s"\n' \
		"$(CURDIR)" "$(CURDIR)" "$(abspath $(OUT))" > $@
	$(Q)chmod +x $@

INSTALL_PARTS   += install-man
UNINSTALL_PARTS += uninstall-man

.PHONY: install-man uninstall-man
install-man:
	$(call msg,INSTALL,$(DESTDIR)$(MANDIR))
	$(Q)$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man7
	$(Q)$(INSTALL) -m 0644 $(MAN1_PAGES) $(DESTDIR)$(MANDIR)/man1/
	$(Q)$(INSTALL) -m 0644 $(MAN3_PAGES) $(DESTDIR)$(MANDIR)/man3/
	$(Q)$(INSTALL) -m 0644 $(MAN7_PAGES) $(DESTDIR)$(MANDIR)/man7/

# Every page of this tree (mmsync-trace(1) whether it was installed or not).
uninstall-man:
	$(Q)rm -f $(DESTDIR)$(MANDIR)/man1/mmsync.1 \
		$(DESTDIR)$(MANDIR)/man1/mmsync-trace.1 \
		$(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3_PAGES))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7_PAGES)))
