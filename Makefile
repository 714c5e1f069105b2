# pvepin — see README.md. `make` builds ./pvepin; `make check` runs every test.
CC       ?= cc
PKGS     := hwloc inih libsystemd
BUILD    ?= build
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -I. $(PKG_CFLAGS)
DEPFLAGS  = -MMD -MP
# libsystemd is dlopened by the systemd backend alone (engine/sdbus_dl.h).
# hwloc and inih are linked in (their .a, from libhwloc-dev and libinih-dev),
# and libm's one function hwloc uses with them: every phase, post-stop too,
# would otherwise pay the loader for four libraries (libudev with them), most
# of a process start. pinner/topo.c says what stands in for libudev.
# STATIC=0 links them as shared libraries.
# pkg-config runs once, when a compile first needs it, not while make reads
# this file: `make demo` on a machine without the libraries yet says nothing
# until it has installed them. A library really missing stops the build at
# pkg-deps with one line naming the packages.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(shell pkg-config --libs $(filter-out libsystemd,$(PKGS)) 2>/dev/null))$(PKG_LIBS)
STATIC   ?= 1
ifeq ($(STATIC),1)
LDLIBS   += -Wl,-Bstatic $(PKG_LIBS) -lm -Wl,-Bdynamic -lpthread
else
CFLAGS   += -DPV_HWLOC_SHARED
LDLIBS   += $(PKG_LIBS) -lpthread
endif
PREFIX   ?= /usr
SYSCONFDIR ?= /etc
MANDIR   ?= $(PREFIX)/share/man

# The layers, lowest first; an include may only point down this list
# (tests/tools/lint.sh, run by `make check`). See doc/DESIGN.md "Layers".
LAYERS   := common conf pinner irqtune engine vmctx agent check draw hook
LIB_SRCS := $(filter-out hook/main.c,$(foreach d,$(LAYERS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(foreach d,$(LAYERS),$(wildcard tests/$(d)/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRCS:%.c=$(BUILD)/%)

all: pvepin

pkg-deps:
	@pkg-config --exists $(PKGS) 2>/dev/null || { echo "make: pkg-config finds no $(PKGS):" \
		"apt-get install pkg-config libhwloc-dev libinih-dev libsystemd-dev (or: make demo)" >&2; exit 1; }

$(BUILD)/%.o: %.c | pkg-deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/libpvepin.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/pvepin: $(BUILD)/hook/main.o $(BUILD)/libpvepin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

pvepin: $(BUILD)/pvepin
	cp $< $@.tmp && mv -f $@.tmp $@

# The test build: the same objects but common/testknob.c compiled with
# -DPVEPIN_TEST_BUILD, which reads the PVEPIN_* fault knobs and keeps the
# environment (common/testknob.h). make check and the VM suite run it;
# ./pvepin, install, bench and the .deb are the release build, which ignores
# them. Linked before the archive, its object is the one used.
$(BUILD)/test/common/testknob.o: common/testknob.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DPVEPIN_TEST_BUILD $(DEPFLAGS) -c -o $@ $<

$(BUILD)/pvepin-test: $(BUILD)/hook/main.o $(BUILD)/test/common/testknob.o $(BUILD)/libpvepin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libpvepin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -o $@ $< $(BUILD)/libpvepin.a $(LDLIBS)

$(BUILD)/tests/helpers/%: tests/helpers/%.c | pkg-deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -o $@ $< $(LDLIBS)

unit: $(UNIT_BINS)
helpers: $(HELPER_BINS)

# The README's test command. Fixture and unit tests always; the real-kernel
# VM suites too unless VM=0 (they need qemu-system-x86 and a Debian kernel;
# the systemd suite, left out with VM2=0, also debootstrap, cached under
# tests/vm2/work; VM2_CASES picks its cases, default "10 20 21 30").
# The binary under test is $(BUILD)'s test build (pvepin-test; the release
# $(BUILD)/pvepin for the checks that it ignores the knobs): `make asan`
# tests build-asan's and leaves ./pvepin (install, bench, demo) as it was.
check: lint $(if $(filter build,$(BUILD)),pvepin) $(BUILD)/pvepin $(BUILD)/pvepin-test $(UNIT_BINS) $(HELPER_BINS)
	PVEPIN=$(BUILD)/pvepin-test PVEPIN_RELEASE=$(BUILD)/pvepin BUILD=$(BUILD) LAYERS="$(LAYERS)" sh tests/run.sh

# The include direction and "only engine/ changes the host", from the source.
lint:
	LAYERS="$(LAYERS)" sh tests/tools/lint.sh

# Same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDLIBS_EXTRA= check VM=0 ASAN=1

# libFuzzer targets (clang). FUZZ_SECONDS per target (default 300).
FUZZ_SECONDS ?= 300
FUZZ_BASE    = -std=c11 -D_GNU_SOURCE -O1 -g -fno-sanitize-recover=all -I. $(PKG_CFLAGS)
FUZZ_CFLAGS  = $(FUZZ_BASE) -fsanitize=fuzzer,address,undefined
# The library is built once, instrumented, into an archive: each target links
# only the objects it uses.
FUZZ_OBJS   := $(LIB_SRCS:%.c=build-fuzz/obj/%.o)
fuzz-build: $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
build-fuzz/obj/%.o: %.c | pkg-deps
	@mkdir -p $(dir $@)
	clang $(FUZZ_BASE) $(DEPFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build-fuzz/libpvepin.a: $(FUZZ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
# libm dynamic here: its static archive's ifuncs do not link into clang's
# sanitizer runtime (undefined _dl_x86_cpu_features)
build-fuzz/%: tests/fuzz/%.c build-fuzz/libpvepin.a
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -o $@ $< build-fuzz/libpvepin.a $(filter-out -lm,$(LDLIBS)) -lm
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

$(BUILD)/bench/%: bench/%.c $(BUILD)/libpvepin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -o $@ $< $(BUILD)/libpvepin.a $(LDLIBS)

bench: pvepin $(BUILD)/bench/bench_plan $(BUILD)/bench/bench_journal
	BUILD=$(BUILD) sh bench/run.sh

vmcheck: $(BUILD)/pvepin-test $(HELPER_BINS)
	PVEPIN=$(BUILD)/pvepin-test BUILD=$(BUILD) sh tests/vm/run.sh

# The systemd suite: Debian 12 with systemd as PID 1, a real QEMU per VM,
# started by a qm driver in qemu-server's order (tests/vm2/README.md).
vmcheck2: $(BUILD)/pvepin-test $(HELPER_BINS)
	BUILD_DIR=$(abspath $(BUILD)) bash tests/vm2/run.sh

# Faults at every write(2) of every phase, in both VM suites: EIO and SIGKILL at the k-th
# write for every k, each followed by what PVE does next (tests/vm 76, tests/vm2 40 and 41).
# About 80 minutes under TCG on 2 CPUs, so not part of `make check`.
faultcheck: $(BUILD)/pvepin-test $(HELPER_BINS)
	rc=0; \
	EXTRA_APPEND=pvt.sweep=1 TIMEOUT=7200 CASE_TIMEOUT=7000 PVEPIN=$(BUILD)/pvepin-test \
		BUILD=$(BUILD) sh tests/vm/run.sh 76 || rc=1; \
	EXTRA_APPEND=vm2.faultmax=1000 TIMEOUT=7200 BUILD_DIR=$(abspath $(BUILD)) \
		bash tests/vm2/run.sh 40 41 || rc=1; \
	exit $$rc

# PVE 9 is Debian 13: build and test there too, in a debootstrapped chroot
check-debian13:
	sh tests/distro/debian13.sh

demo:
	sh tests/vm/demo.sh

# A new user's first hour: `make demo` then `make check` from a fresh clone
# on a fresh Debian 12 (git and make only), in a debootstrapped chroot
check-fresh:
	sh tests/distro/fresh.sh

install: pvepin
	install -D -m 0755 pvepin $(DESTDIR)$(PREFIX)/sbin/pvepin
	install -D -m 0644 doc/pvepin.8 $(DESTDIR)$(MANDIR)/man8/pvepin.8
	install -D -m 0644 doc/pvepin.ini.5 $(DESTDIR)$(MANDIR)/man5/pvepin.ini.5
	install -D -m 0644 doc/bash-completion/pvepin $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pvepin
	install -D -m 0644 doc/example.ini $(DESTDIR)$(PREFIX)/share/doc/pvepin/examples/example.ini
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/pvepin

# Debian package (debhelper 13) into $(BUILD)/deb/, built from a copy of the
# tree so debhelper's clean step and work files never touch this one. The
# tests are `make check`'s job: DEB_BUILD_OPTIONS= runs them in the build too.
DEB_BUILD_OPTIONS ?= nocheck
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/pvepin
	(git ls-files -co --exclude-standard 2>/dev/null || find . -path ./build -prune -o -type f -print) | \
		tar -c --ignore-failed-read --warning=no-failed-read --verbatim-files-from -T - -f - | tar -x -C $(BUILD)/deb/pvepin
	# a clean environment: no MAKEFLAGS (OPT=, -j, jobserver) of this make in the package build
	cd $(BUILD)/deb/pvepin && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u OPT -u BUILD -u ASAN -u VM \
		DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	@ls $(BUILD)/deb/*.deb

clean:
	rm -rf build build-asan build-fuzz pvepin

# The README's picture: the seed host (7970X in NPS4) with gaming VM 100
# placed, from the fixtures alone (an empty --root: no policy, ledger or
# sysfs of this machine). A PNG too where rsvg-convert (librsvg2-bin) is.
doc-images: pvepin
	@mkdir -p doc/img $(BUILD)/docroot
	./pvepin --root $(BUILD)/docroot --topology tests/fixtures/seed/tr7970x.xml \
		--conf tests/fixtures/seed/100.conf plan 100 --svg doc/img/seed-7970x-vm100.svg > /dev/null
	if command -v rsvg-convert > /dev/null; then \
		rsvg-convert doc/img/seed-7970x-vm100.svg -o doc/img/seed-7970x-vm100.png; fi

.PHONY: all pkg-deps pvepin unit helpers check lint asan fuzz fuzz-build bench vmcheck vmcheck2 faultcheck check-debian13 demo check-fresh install deb clean doc-images

# (not the distro chroots of check-debian13 and check-fresh: their /etc/*.d)
-include $(shell find $(BUILD) build-fuzz \( -name "debian13*" -o -name "fresh*" \) -prune -o -name '*.d' -type f -print 2>/dev/null)
