# pvepin — see README.md. `make` builds ./pvepin; `make check` runs every test.
CC       ?= cc
PKGS     := hwloc numa libcgroup inih libsystemd
BUILD    ?= build
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lpthread
PREFIX   ?= /usr

LIB_SRCS := $(wildcard common/*.c conf/*.c pinner/*.c irqtune/*.c) \
            $(filter-out hook/main.c,$(wildcard hook/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRCS:%.c=$(BUILD)/%)

all: pvepin

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libpvepin.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/pvepin: $(BUILD)/hook/main.o $(BUILD)/libpvepin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

pvepin: $(BUILD)/pvepin
	cp $< $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libpvepin.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libpvepin.a $(LDLIBS)

$(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

unit: $(UNIT_BINS)
helpers: $(HELPER_BINS)

# The README's test command. Fixture and unit tests always; the real-kernel
# VM suite too unless VM=0 (it needs qemu-system-x86 and a Debian kernel).
check: pvepin $(UNIT_BINS) $(HELPER_BINS)
	BUILD=$(BUILD) sh tests/run.sh

# Same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDLIBS_EXTRA= check VM=0 ASAN=1

# libFuzzer targets (clang). FUZZ_SECONDS per target (default 300).
FUZZ_SECONDS ?= 300
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(shell pkg-config --cflags $(PKGS))
fuzz-build: $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
# The parsers under fuzz need only common/ and conf/.
FUZZ_LIB_SRCS := $(wildcard common/*.c conf/*.c)
build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) $(wildcard common/*.h conf/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(LDLIBS)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

$(BUILD)/bench/%: bench/%.c $(BUILD)/libpvepin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libpvepin.a $(LDLIBS)

bench: pvepin $(BUILD)/bench/bench_plan
	BUILD=$(BUILD) sh bench/run.sh

vmcheck: pvepin $(HELPER_BINS)
	sh tests/vm/run.sh

demo:
	sh tests/vm/demo.sh

install: pvepin
	install -D -m 0755 pvepin $(DESTDIR)$(PREFIX)/sbin/pvepin

clean:
	rm -rf build build-asan build-fuzz pvepin

.PHONY: all pvepin unit helpers check asan fuzz fuzz-build bench vmcheck demo install clean
