# tests/examples.mk - the example programs, end to end (tests/examples.sh).
# Included by the top-level Makefile. The wrapper in $(OUT)/tests/ runs the
# script of this tree on this build's examples, which it needs built.

tests: $(OUT)/tests/examples

$(OUT)/tests/examples: tests/examples.sh $(EXAMPLES) | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec sh "%s/tests/examples.sh" "%s" "$$@"\n' \
		"$(CURDIR)" "$(abspath $(OUT))" > $@
	$(Q)chmod +x $@
