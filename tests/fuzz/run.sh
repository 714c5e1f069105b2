#!/bin/sh
# Runs each libFuzzer target tests/fuzz/fuzz_<target>.c (built by `make
# fuzz-build`) for $FUZZ_SECONDS (default 300), seeded from
# tests/fuzz/corpus/<target> (plus extra seed dirs below). New inputs go to
# a scratch dir, so the repository's corpus only changes on request. Fails
# if any target crashes, leaks, hangs or breaks one of its assertions; the
# input is kept in build-fuzz/artifacts/.
#   FUZZ_TARGETS="policy bdf"  run only these
#   FUZZ_MERGE=1               afterwards, minimize corpus + new finds back
#                              into tests/fuzz/corpus/<target> (-merge=1)
FUZZ_SECONDS=${FUZZ_SECONDS:-300}
cd "$(dirname "$0")/../.." || exit 2
if [ -z "${FUZZ_TARGETS:-}" ]; then
	FUZZ_TARGETS=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
fi
extra_seeds() { # seed dirs kept elsewhere in the tree
	case $1 in
	procinterrupts) echo tests/fixtures/irq ;;
	esac
}
out=build-fuzz
mkdir -p "$out/artifacts" "$out/logs" || exit 2
failed=""
for t in $FUZZ_TARGETS; do
	bin=$out/fuzz_$t corpus=tests/fuzz/corpus/$t work=$out/work/$t log=$out/logs/$t.log
	if [ ! -x "$bin" ]; then
		echo "fuzz $t: $bin missing (run make fuzz-build)"; failed="$failed $t"; continue
	fi
	rm -rf "$work" && mkdir -p "$work" "$corpus" || exit 2
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	"$bin" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" $dict \
		"$work" "$corpus" $(extra_seeds "$t") > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
	if [ "$rc" != 0 ]; then
		echo "fuzz $t: FAILED (rc=$rc) after ${execs:-?} runs; log $log"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -20
		failed="$failed $t"
		continue
	fi
	echo "fuzz $t: ok, ${execs:-?} runs in ${FUZZ_SECONDS}s, cov ${cov:-?}, $(ls "$work" | wc -l) new inputs"
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		# Hand-written seed-* files stay; found inputs are kept only
		# where they add edge coverage to them.
		rm -rf "$work.min" && mkdir -p "$work.min"
		for f in "$corpus"/seed-*; do [ -f "$f" ] && cp "$f" "$work.min"/; done
		"$bin" -merge=1 -use_counters=0 -max_len=4096 "$work.min" "$corpus" "$work" >> "$log" 2>&1 || {
			echo "fuzz $t: merge failed; log $log"; failed="$failed $t"; continue; }
		rm -f "$corpus"/* && cp "$work.min"/* "$corpus"/ || exit 2
		echo "fuzz $t: corpus now $(ls "$corpus" | wc -l) files"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
echo "fuzz: all targets ok"
