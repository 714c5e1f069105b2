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

# --- fault knobs: the test build honours them, the release binary does not
REL=${PVEPIN_RELEASE:-}
if [ -z "$REL" ] || [ ! -x "$REL" ]; then
	fail "PVEPIN_RELEASE (the release binary) not given: make check sets it to \$(BUILD)/pvepin"
else
	fresh
	PVEPIN_KILL_AT=1 pvb "$PVEPIN" 100 pre-start > "$T/out" 2>&1; rc=$?
	expect_eq "test build: PVEPIN_KILL_AT=1 kills pre-start after step 1" "$rc" 137
	expect_rc "test build: restore after the kill" 0 pvb "$PVEPIN" restore 100
	if same; then pass "test build: restored"; else fail "test build restore: $(head -c 300 "$T/diff")"; fi
	fresh
	PVEPIN_KILL_AT=1 PVEPIN_FAULT_AT=1 pvb "$REL" 100 pre-start > "$T/out" 2>&1; rc=$?
	expect_eq "release: PVEPIN_KILL_AT=1 PVEPIN_FAULT_AT=1 ignored, pre-start completes" "$rc" 0
	n=$(grep -c '^S' "$T/root/run/pvepin/100.journal" 2>/dev/null)
	d=$(grep -c '^D' "$T/root/run/pvepin/100.journal" 2>/dev/null)
	expect_eq "release: every journaled step is done" "$d" "$n"
	expect_eq "release: more than one step ran" "$([ "${n:-0}" -gt 1 ] && echo yes)" yes
	expect_eq "release: governor applied" "$(cat "$T/root/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")" performance
	PVEPIN_KILL_UNDO_AT=1 pvb "$REL" 100 post-stop > "$T/out" 2>&1; rc=$?
	expect_eq "release: PVEPIN_KILL_UNDO_AT=1 ignored, post-stop completes" "$rc" 0
	if same; then pass "release: host given back"; else fail "release post-stop: $(head -c 300 "$T/diff")"; fi

	# --- the environment: hwloc's HWLOC_XMLFILE replaces the host it
	# discovers (read-only `topo` of this machine); the release binary
	# runs with its own environment, the test build keeps the caller's
	X=$(pwd)/tests/fixtures/hosts/epyc9654-2s.xml
	"$REL" topo > "$T/rel0" 2>&1
	HWLOC_XMLFILE=$X HWLOC_COMPONENTS=xml LD_LIBRARY_PATH=/nonexistent DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent \
		"$REL" topo > "$T/rel1" 2>&1
	if cmp -s "$T/rel0" "$T/rel1"; then pass "release: HWLOC_*/LD_*/DBUS_* change nothing"; else fail "release topo changed by the environment: $(diff "$T/rel0" "$T/rel1" | head -5)"; fi
	"$PVEPIN" topo > "$T/tst0" 2>&1
	HWLOC_XMLFILE=$X "$PVEPIN" topo > "$T/tst1" 2>&1
	expect_grep "test build: HWLOC_XMLFILE is honoured (the variable does matter)" "EPYC 9654.*384 CPUs" "$T/tst1"
	if cmp -s "$T/tst0" "$T/tst1"; then fail "test build: HWLOC_XMLFILE changed nothing (the check above proves nothing)"; else pass "test build: the environment reaches hwloc"; fi
fi

done_tests
