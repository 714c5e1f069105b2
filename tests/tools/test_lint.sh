#!/bin/sh
# make lint (tests/tools/lint.sh) on a copy of the source tree: the clean
# copy passes; each planted violation, one at a time, fails it with a line
# naming the file, the line and the rule; and what is no violation (a
# primitive named in a comment, the engine calling its own writers) adds
# nothing.
. tests/lib.sh
# lint.sh's own layer list, whatever LAYERS run.sh was given to pick tests
LAYERS=$(sed -n 's/^LAYERS=\${LAYERS:-\(.*\)}$/\1/p' tests/tools/lint.sh)
[ -n "$LAYERS" ] || { fail "no LAYERS default in tests/tools/lint.sh"; done_tests; exit; }
LINT=${LINT:-$(pwd)/tests/tools/lint.sh} # LINT=: another lint.sh to test
W=$T_DIR/src
mkdir -p "$W" || exit 2
for d in $LAYERS; do cp -r "$d" "$W/" || exit 2; done

lint() { ROOT=$W LAYERS=$LAYERS sh "$LINT" > "$T_DIR/lint.out" 2>&1; echo $? > "$T_DIR/lint.rc"; }
first() { ls "$W/$1"/*.c | head -1 | sed "s|^$W/||"; } # a file of a layer

lint
expect_eq "clean tree passes" "$(cat "$T_DIR/lint.rc")" 0
expect_grep "clean tree says ok" "^lint: ok \([0-9]+ layers" "$T_DIR/lint.out"
grep '^lint: .*:[0-9]*: ' "$T_DIR/lint.out" > "$T_DIR/base" # violations already there

# plant WHAT FILE TEXT WANT: append TEXT to FILE; lint must fail with
# "lint: FILE:LINE: WANT..." at TEXT's last line, then FILE is put back.
plant() {
	what=$1 f=$2 text=$3 want=$4
	cp "$W/$f" "$T_DIR/keep" || exit 2
	n=$(($(wc -l < "$W/$f") + $(printf '%s\n' "$text" | wc -l)))
	printf '%s\n' "$text" >> "$W/$f"
	lint
	expect_eq "$what: lint fails" "$(cat "$T_DIR/lint.rc")" 1
	expect_grep "$what: names $f:$n" "^lint: $f:$n: $want" "$T_DIR/lint.out"
	cp "$T_DIR/keep" "$W/$f"
}
# harmless WHAT FILE TEXT: append TEXT to FILE; lint says what it said before
harmless() {
	what=$1 f=$2 text=$3
	cp "$W/$f" "$T_DIR/keep" || exit 2
	printf '%s\n' "$text" >> "$W/$f"
	lint
	grep '^lint: .*:[0-9]*: ' "$T_DIR/lint.out" > "$T_DIR/now"
	if cmp -s "$T_DIR/base" "$T_DIR/now"; then pass "$what"; else fail "$what: $(diff "$T_DIR/base" "$T_DIR/now" | head -5)"; fi
	cp "$T_DIR/keep" "$W/$f"
}

CHK=$(first check) PIN=$(first pinner) CONF=$(first conf) HOOK=$(first hook)
plant "sched_setaffinity in check/" "$CHK" \
	'static void planted(void) { sched_setaffinity(0, sizeof(cpu_set_t), &cs); }' \
	"sched_setaffinity changes the host: only engine/ may call it"
plant "engine header from pinner/" "$PIN" '#include "engine/journal.h"' \
	'pinner/ may not include engine/ \("engine/journal.h"\)'
plant "relative include" "$CONF" '#include "../common/err.h"' \
	'relative include "\.\./common/err.h"'
plant "engine/steps.h from hook/" "$HOOK" '#include "engine/steps.h"' \
	"engine/steps.h is the engine's own"
plant "peer include pinner -> irqtune" "$PIN" '#include "irqtune/irqtune.h"' \
	'pinner/ may not include irqtune/'
plant "upward include conf -> vmctx" "$CONF" '#include "vmctx/vmctx.h"' \
	'conf/ may not include vmctx/'
plant "include without its folder" "$(first common)" '#include "err.h"' \
	'include "err.h" without its folder'
plant "header that does not exist" "$CONF" '#include "common/nope.h"' \
	'"common/nope.h" does not exist'
plant "angle-bracket pvepin header" "$CHK" '#include <engine/journal.h>' \
	'<engine/journal.h> is pvepin'"'"'s own'
plant "spaced include directive" "$PIN" '#  include "engine/ledger.h"' \
	'pinner/ may not include engine/'
plant "attribute writer in agent/" "$(first agent)" '	pv_write_file(path, "1", e);' \
	"pv_write_file changes the host"
plant "hugepage pool writer in vmctx/" "$(first vmctx)" '	if (pv_hp_set(0, 2048, 4, &got, e) < 0)' \
	"pv_hp_set changes the host"
plant "raw sched_setaffinity syscall in draw/" "$(first draw)" '	syscall(SYS_sched_setaffinity, tid, sz, set);' \
	"SYS_sched_setaffinity changes the host"
plant "systemd unit change in check/" "$CHK" '	r = call(bus, "StartTransientUnit", &m);' \
	"StartTransientUnit changes the host"
plant "engine step from agent/" "$(first agent)" '	pv_engine_step (en, &st, e);' \
	"pv_engine_step changes the host"
# a "//" inside a /* */ comment once opened a comment that hid the next lines
plant "a call after a comment holding a URL" "$CHK" '/* see http://example.org */
static void planted(void) { sched_setaffinity(0, 0, 0); }' \
	"sched_setaffinity changes the host"
harmless "a primitive named in a // comment" "$CHK" '	x = 1; // sched_setaffinity(tid) is the engine'"'"'s'
harmless "a primitive named in a /* */ comment" "$CHK" '/* not pv_write_file(x),
 * nor sendmsg(fd) */'
harmless "the engine calls its own writers" "$(first engine)" 'static void own(void) { sched_setaffinity(0, 0, 0); pv_write_file("/sys/x", "1", 0); }'
harmless "a longer name is not the primitive" "$CHK" '	my_sched_setaffinity_log(0);'
harmless "system headers in <>" "$CHK" '#include <sys/types.h>'

# the copy was put back each time: it passes as it did at first
lint
expect_eq "tree put back passes again" "$(cat "$T_DIR/lint.rc")" 0
done_tests
