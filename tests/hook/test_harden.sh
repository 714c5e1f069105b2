#!/bin/sh
# Hardening of the hook itself (issue 15): pvepin's state directory must be
# root's alone; the release binary ignores the test builds' fault knobs and
# the environment variables that would change what libraries do.
#   PVEPIN          the binary under test (make check: the test build)
#   PVEPIN_RELEASE  the release binary (make check: $(BUILD)/pvepin)
. tests/lib.sh
T=$T_DIR/h
mkdir -p "$T/in"
HOST=tests/fixtures/hosts/desktop-4c8t-1l3.xml
cat > "$T/in/100.conf" <<'C'
cores: 2
memory: 2048
C
printf '[host]\ngovernor = performance\n' > "$T/in/100.ini"
fresh() { rm -rf "$T/root" "$T/ref"; sh tests/fixtures/roots/mkroot.sh "$T/root"; cp -a "$T/root" "$T/ref"; }
pvb() { b=$1; shift; "$b" --root "$T/root" --topology $HOST --conf "$T/in/100.conf" --policy "$T/in/100.ini" "$@"; }
same() { diff -r -x pvepin "$T/ref" "$T/root" > "$T/diff" 2>&1; }

# --- /run/pvepin: root's own, nobody else may write it
fresh
mkdir -p "$T/root/run/pvepin" && chmod 0777 "$T/root/run/pvepin"
pvb "$PVEPIN" 100 pre-start > "$T/out" 2>&1; rc=$?
expect_eq "world-writable /run/pvepin: pre-start refused" "$([ $rc != 0 ] && echo refused)" refused
expect_grep "the line says what and the fix" "refusing .*/run/pvepin: writable by group or others \(mode 0777\) \(fix: chmod go-w" "$T/out"
if same; then pass "nothing applied"; else fail "refused pre-start changed the tree: $(head -c 300 "$T/diff")"; fi
chmod 0700 "$T/root/run/pvepin"; chown 65534 "$T/root/run/pvepin"
pvb "$PVEPIN" 100 pre-start > "$T/out" 2>&1; rc=$?
expect_eq "user-owned /run/pvepin: pre-start refused" "$([ $rc != 0 ] && echo refused)" refused
expect_grep "names the owner" "owned by uid 65534, not root \(fix: chown root:root" "$T/out"
rm -rf "$T/root/run/pvepin"; ln -s /tmp "$T/root/run/pvepin"
pvb "$PVEPIN" 100 pre-start > "$T/out" 2>&1; rc=$?
expect_eq "symlinked /run/pvepin: pre-start refused" "$([ $rc != 0 ] && echo refused)" refused
expect_grep "says it is a link" "not a directory but a symbolic link" "$T/out"
rm -f "$T/root/run/pvepin"
expect_rc "a fresh /run/pvepin (0700 root): pre-start" 0 pvb "$PVEPIN" 100 pre-start
expect_eq "created 0700" "$(stat -c %a "$T/root/run/pvepin")" 700
expect_rc "post-stop" 0 pvb "$PVEPIN" 100 post-stop

done_tests
