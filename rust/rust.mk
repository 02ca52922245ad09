# rust/rust.mk - the Rust crate in `make check` (README.md, "Rust").
# Included by the top-level Makefile, whose $(OUT), $(SANITIZE), $(Q) and
# $(msg) it uses.
#
#   make check          runs $(OUT)/tests/rust with the rest: cargo test,
#                       clippy, fmt, link modes (rust/tap.sh), as TAP
#   make rust-check     only those, after building the library

RUST_TAP := $(OUT)/tests/rust

.PHONY: rust-check

tests: $(RUST_TAP)

# A stub, so that tests/run.sh finds an executable; the checks themselves
# live in rust/tap.sh and need cargo only when they run.
$(RUST_TAP): rust/rust.mk | $(OUT)/tests
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec "%s/rust/tap.sh" "%s" "%s"\n' \
		"$(abspath .)" "$(abspath $(OUT))" "$(SANITIZE)" >$@
	$(Q)chmod +x $@

rust-check: lib examples $(RUST_TAP)
	$(Q)tests/run.sh $(OUT)/tests rust
