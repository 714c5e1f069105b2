# Shell test helpers: source this. ok/not ok lines and a final tally.
T_PASS=0 T_FAIL=0 T_SKIP=0 T_NAME=${T_NAME:-$(basename "$0" .sh)}
PVEPIN=${PVEPIN:-${BUILD:-build}/pvepin-test} # the test build: fault knobs
SHARED=${SHARED:-../shared}
FIX=tests/fixtures
# Per-run scratch: two runs (or two worktrees) never share a file.
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pvepin-test.XXXXXX") || exit 2
T_OUT=$T_DIR/out
pass() { T_PASS=$((T_PASS + 1)); echo "ok $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "not ok $*"; }
# skip WHAT WHY: a check this machine cannot make. Counted and named (run.sh
# lists them), never as a pass; NO_SKIP=1 makes it a failure.
skip() {
	if [ "${NO_SKIP:-0}" = 1 ]; then fail "$1: skipped (NO_SKIP=1): $2"; return; fi
	T_SKIP=$((T_SKIP + 1)); echo "ok # SKIP $1: $2"
}
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2' want '$3'"; fi; }
# expect_rc WHAT WANT_RC cmd...
expect_rc() { w=$2; d=$1; shift 2; "$@" >"$T_OUT" 2>&1; r=$?; if [ "$r" = "$w" ]; then pass "$d"; else fail "$d: rc $r want $w: $(head -c 400 "$T_OUT")"; fi; }
# expect_grep WHAT PATTERN FILE
expect_grep() { if grep -qE -- "$2" "$3"; then pass "$1"; else fail "$1: /$2/ not in $(head -c 400 "$3")"; fi; }
done_tests() {
	rm -rf "$T_DIR"
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed$([ "$T_SKIP" = 0 ] || echo ", $T_SKIP skipped")"
	[ "$T_FAIL" = 0 ]
}
