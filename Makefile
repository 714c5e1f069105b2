# pvepin — see README.md. `make` builds ./pvepin; `make check` runs every test.
CC       ?= cc
PKGS     := hwloc inih libsystemd
BUILD    ?= build
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -I. $(shell pkg-config --cflags $(PKGS))
DEPFLAGS  = -MMD -MP
# libsystemd is dlopened by the systemd backend alone (engine/sdbus_dl.h)
LDLIBS   += $(shell pkg-config --libs $(filter-out libsystemd,$(PKGS))) -lpthread
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

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/libpvepin.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/pvepin: $(BUILD)/hook/main.o $(BUILD)/libpvepin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

pvepin: $(BUILD)/pvepin
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/tests/%: tests/%.c $(BUILD)/libpvepin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -o $@ $< $(BUILD)/libpvepin.a $(LDLIBS)

$(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -o $@ $< $(LDLIBS)

unit: $(UNIT_BINS)
helpers: $(HELPER_BINS)

# The README's test command. Fixture and unit tests always; the real-kernel
# VM suite too unless VM=0 (it needs qemu-system-x86 and a Debian kernel).
# The binary under test is $(BUILD)'s: `make asan` tests build-asan/pvepin
# and leaves ./pvepin (what install, bench and demo use) as it was.
check: lint $(if $(filter build,$(BUILD)),pvepin) $(BUILD)/pvepin $(UNIT_BINS) $(HELPER_BINS)
	PVEPIN=$(BUILD)/pvepin BUILD=$(BUILD) LAYERS="$(LAYERS)" sh tests/run.sh

# The include direction and "only engine/ changes the host", from the source.
lint:
	LAYERS="$(LAYERS)" sh tests/tools/lint.sh

# Same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDLIBS_EXTRA= check VM=0 ASAN=1

# libFuzzer targets (clang). FUZZ_SECONDS per target (default 300).
FUZZ_SECONDS ?= 300
FUZZ_BASE   := -std=c11 -D_GNU_SOURCE -O1 -g -fno-sanitize-recover=all -I. $(shell pkg-config --cflags $(PKGS))
FUZZ_CFLAGS := $(FUZZ_BASE) -fsanitize=fuzzer,address,undefined
# The library is built once, instrumented, into an archive: each target links
# only the objects it uses.
FUZZ_OBJS   := $(LIB_SRCS:%.c=build-fuzz/obj/%.o)
fuzz-build: $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_BASE) $(DEPFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build-fuzz/libpvepin.a: $(FUZZ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
build-fuzz/%: tests/fuzz/%.c build-fuzz/libpvepin.a
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -o $@ $< build-fuzz/libpvepin.a $(LDLIBS)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

$(BUILD)/bench/%: bench/%.c $(BUILD)/libpvepin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -o $@ $< $(BUILD)/libpvepin.a $(LDLIBS)

bench: pvepin $(BUILD)/bench/bench_plan $(BUILD)/bench/bench_journal
	BUILD=$(BUILD) sh bench/run.sh

vmcheck: pvepin $(HELPER_BINS)
	sh tests/vm/run.sh

# PVE 9 is Debian 13: build and test there too, in a debootstrapped chroot
check-debian13:
	sh tests/distro/debian13.sh

demo:
	sh tests/vm/demo.sh

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
	cd $(BUILD)/deb/pvepin && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
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

.PHONY: all pvepin unit helpers check lint asan fuzz fuzz-build bench vmcheck check-debian13 demo install deb clean doc-images

-include $(shell find $(BUILD) build-fuzz -name '*.d' 2>/dev/null)
