#!/bin/sh
# Does each test need its fixtures? For every fixture file a test names,
# run that test in a scratch copy of tests/ with the file removed: the test
# must fail (a tally with failures, a non-zero exit or no tally at all).
# Prints one line per (test, fixture) and "knockout: N survived" at the end;
# exit 1 if a test passed without a fixture it names. Not part of `make
# check` (it runs each test once per fixture): run it after changing tests.
#   sh tests/tools/knockout.sh [test ...]   default: every unit test binary
#                                           and tests/*/test_*.sh
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.." || exit 2
top=$(pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/pvepin-knockout.XXXXXX") || exit 2
trap 'rm -rf "$W"' EXIT
cp -r tests "$W/" && ln -s "$top/$BUILD" "$W/$BUILD" && ln -s "$top/pvepin" "$W/pvepin" || exit 2
for d in common conf pinner irqtune engine vmctx agent check draw hook doc debian; do
	[ -e "$d" ] && ln -s "$top/$d" "$W/$d"
done
[ -e README.md ] && ln -s "$top/README.md" "$W/README.md"
[ -e Makefile ] && ln -s "$top/Makefile" "$W/Makefile"

if [ $# = 0 ]; then
	set -- $(ls "$BUILD"/tests/*/test_* 2>/dev/null | grep -v '\.d$') tests/*/test_*.sh
fi
survived=0 runs=0 timeouts=0
for t in "$@"; do
	case $t in
	*.sh) src=$t run="sh $t" ;;
	*) src=$(echo "$t" | sed "s|^$BUILD/||").c run=$t ;;
	esac
	[ -f "$src" ] || continue
	for f in $(cd tests/fixtures && find . -type f | sed 's|^\./||'); do
		base=${f##*/} stem=${base%.*}
		# named by path; by file name, or (for loops over a list) by a
		# stem of 8 characters or more, where no other fixture has it
		if ! grep -qF -e "$f" "$src"; then
			[ "$(cd tests/fixtures && find . -name "$stem.*" | wc -l)" = 1 ] || continue
			grep -qF -e "$base" "$src" || { [ "$run" != "$t" ] && [ ${#stem} -ge 8 ] && grep -qF -e "$stem" "$src"; } || continue
		fi
		mv "$W/tests/fixtures/$f" "$W/gone" || exit 2
		(cd "$W" && PVEPIN=./$BUILD/pvepin BUILD=$BUILD timeout "${KNOCKOUT_TIMEOUT:-900}" $run > "$W/out" 2>&1)
		rc=$?
		mv "$W/gone" "$W/tests/fixtures/$f"
		runs=$((runs + 1))
		if [ "$rc" = 124 ]; then # undecided: say so, do not count it killed
			echo "TIMEOUT  $t without $f (KNOCKOUT_TIMEOUT=${KNOCKOUT_TIMEOUT:-900} s)"
			timeouts=$((timeouts + 1)); continue
		fi
		line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' "$W/out" | tail -1)
		case $line in
		*" 0 failed"*) [ "$rc" = 0 ] && { echo "SURVIVED $t without $f: $line"; survived=$((survived + 1)); continue; } ;;
		esac
		echo "killed   $t without $f: ${line:-no tally} (rc $rc)"
	done
done
echo "knockout: $runs runs, $survived survived, $timeouts timed out"
[ "$survived" = 0 ] && [ "$timeouts" = 0 ]
