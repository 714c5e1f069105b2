#!/bin/sh
# Issue 14: real captures nobody here wrote. Every topology of hwloc's own
# test corpus (tests/fixtures/hwloc-corpus.tar.xz: tests/hwloc/xml of every
# hwloc release from 1.11.13 on, its format-3.0 files also re-exported in
# format 2 as NAME.v3tov2.xml, SOURCES inside) and the damaged files of
# tests/fixtures/damaged, through pvepin and the independent plan checker
# (tests/tools/plancheck.py): every plan passes it, every refusal is one line.
. tests/lib.sh
python3 tests/tools/corpus_check.py "$PVEPIN" $FIX/hwloc-corpus.tar.xz $FIX/damaged "$T_DIR/corpus" > "$T_OUT" 2>&1
rc=$?
grep -E '^(ok|not ok)' "$T_OUT"
grep '^#' "$T_OUT"
T_PASS=$(grep -c '^ok' "$T_OUT") T_FAIL=$(grep -c '^not ok' "$T_OUT")
[ $rc = 0 ] || [ "$T_FAIL" -gt 0 ] || fail "corpus_check.py exited $rc: $(tail -5 "$T_OUT")"
done_tests
