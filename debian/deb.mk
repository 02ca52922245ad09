# debian/deb.mk - `make deb`: the Debian packages libmmsync0, libmmsync-dev
# and mmsync-tools, built offline with dpkg-buildpackage, then checked with
# lintian (errors fail). Included by the top-level Makefile.
#
#   make deb                             build/deb/*.deb (tests run)
#   make deb DEB_BUILD_OPTIONS=nocheck   the same without the tests
#
# The package is built from a copy of the tree's files (tracked, and new
# ones not ignored) in $(DEB_OUT), as a packager would from a clean
# checkout: nothing of this tree's build/ goes in, and dpkg-buildpackage
# writes the .debs next to the copy, inside build/, never into the repo.

DEB_OUT := $(TOP)/deb
DEB_SRC := $(DEB_OUT)/libmmsync-$(VERSION)
DEB_JOBS ?= 2
# The system's tools only, as on a build daemon: no rustup or pyenv shims
# from a developer's $PATH (rustup's cargo fails under the HOME that
# debhelper gives the build, and the packages do not use it).
DEB_PATH ?= /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

.PHONY: deb
deb:
	$(Q)rm -rf $(DEB_OUT) && mkdir -p $(DEB_SRC)
	$(call msg,COPY,$(DEB_SRC))
	$(Q)if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -co --exclude-standard | \
			tar --null -T - -cf - | tar -C $(DEB_SRC) -xf -; \
	else \
		tar --exclude=./build --exclude='./build-*' --exclude=./.git \
			-cf - . | tar -C $(DEB_SRC) -xf -; \
	fi
	$(call msg,DPKG,$(DEB_OUT))
	$(Q)cd $(DEB_SRC) && env PATH=$(DEB_PATH) dpkg-buildpackage -us -uc -b -j$(DEB_JOBS) \
		$(if $(Q),>../build.log 2>&1 || { tail -n 60 ../build.log; exit 1; })
	$(Q)ls $(DEB_OUT)/*.deb
	$(Q)if command -v lintian >/dev/null 2>&1; then \
		printf '  %-8s %s\n' LINTIAN "$(DEB_OUT)/*.changes"; \
		lintian --fail-on error $(DEB_OUT)/*.changes; \
	fi
