#!/bin/sh
# A phase's one line in PVE's task log (PVE passes no -v): every successful
# phase prints exactly one line on stdout naming what it changed, counts
# that add up to the steps it journaled, or "nothing to do"; nothing more,
# and none on a dry run or a failure (the error line says it then).
. tests/lib.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
HOST=tests/fixtures/hosts/desktop-4c8t-1l3.xml
cat > "$T/100.conf" <<'C'
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=0,memory=2048,policy=bind
C
printf '[host]\ngovernor = performance\n' > "$T/100.ini"
sh tests/fixtures/roots/mkroot.sh "$T/root"
pv() { "$PVEPIN" --root "$T/root" --topology $HOST --conf "$T/100.conf" --policy "$T/100.ini" "$@" \
	< /dev/null > "$T/out" 2> "$T/err"; }
lines() { wc -l < "$1" | tr -d ' '; }
# the counts of a summary line, added up
total() { sed 's/^pvepin: VM [0-9]* [a-z-]*: //' "$T/out" | grep -oE '[0-9]+ [A-Za-z]' | awk '{ s += $1 } END { print s + 0 }'; }

pv 100 pre-start
expect_eq "pre-start exits 0" "$?" 0
expect_eq "pre-start: one line on stdout" "$(lines "$T/out")" 1
expect_eq "pre-start: nothing on stderr" "$(cat "$T/err")" ""
expect_grep "pre-start names VM and phase" "^pvepin: VM 100 pre-start: " "$T/out"
expect_grep "pre-start: the hugepage pool" "reserved hugepages \(1 pool\)" "$T/out"
expect_grep "pre-start: the host's isolation" "moved host tasks off the VM's CPUs \([0-9]+ cpusets?\)" "$T/out"
expect_grep "pre-start: the governors" "set [0-9]+ CPU governors?" "$T/out"
expect_eq "pre-start: the counts add up to the steps journaled" "$(total)" \
	"$(grep -c '^S' "$T/root/run/pvepin/100.journal")"
# play the kernel: the grown pool's new page is free
printf '2\n' > "$T/root/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages"

pv 100 pre-start
expect_eq "pre-start again: exits 0" "$?" 0
expect_eq "pre-start again: nothing to do" "$(cat "$T/out")" \
	"pvepin: VM 100 pre-start: nothing to do (the host is as the plan wants it)"

pv 100 pre-stop
expect_eq "pre-stop: nothing to do" "$(cat "$T/out")" "pvepin: VM 100 pre-stop: nothing to do"
expect_eq "pre-stop: nothing on stderr" "$(cat "$T/err")" ""

n=$(grep -c '^S' "$T/root/run/pvepin/100.journal")
pv 100 post-stop
expect_eq "post-stop exits 0" "$?" 0
expect_eq "post-stop: one line on stdout" "$(lines "$T/out")" 1
expect_eq "post-stop: what it gave back" "$(cat "$T/out")" \
	"pvepin: VM 100 post-stop: gave the host back ($n changes undone)"
pv 100 post-stop
expect_eq "post-stop again: nothing to give back" "$(cat "$T/out")" \
	"pvepin: VM 100 post-stop: nothing to give back"

# post-stop and restore touch only what the journal names: no topology is
# read (issue 17): with the --topology file gone they work all the same
pv 100 pre-start
"$PVEPIN" --root "$T/root" --topology "$T/gone.xml" --conf "$T/100.conf" --policy "$T/100.ini" \
	100 post-stop < /dev/null > "$T/out" 2> "$T/err"
expect_eq "post-stop without a topology file exits 0" "$?" 0
expect_grep "and gives the host back" "^pvepin: VM 100 post-stop: gave the host back" "$T/out"
pv 100 pre-start
"$PVEPIN" --root "$T/root" --topology "$T/gone.xml" --conf "$T/100.conf" --policy "$T/100.ini" \
	restore 100 < /dev/null > "$T/out" 2> "$T/err"
expect_eq "restore without a topology file exits 0" "$?" 0
if command -v strace > /dev/null; then
	pv 100 pre-start
	strace -f -e trace=openat,open -o "$T/trace" "$PVEPIN" --root "$T/root" --conf "$T/100.conf" \
		--policy "$T/100.ini" 100 post-stop < /dev/null > /dev/null 2>&1
	if grep -E 'topology|/sys/devices/system/cpu/cpu[0-9]+/topology|/sys/bus/pci/devices/[^/]+/(class|vendor)' "$T/trace" > "$T/found"; then
		fail "post-stop opens no topology or discovery file: $(head -3 "$T/found")"
	else
		pass "post-stop opens no topology or discovery file"
	fi
fi

pv --dry-run 100 pre-start
expect_eq "dry run exits 0" "$?" 0
if grep -q '^pvepin: VM' "$T/out"; then fail "dry run prints no summary: $(cat "$T/out")"; else pass "dry run prints no summary"; fi

# a failed phase: the error, and no summary claiming success
printf '0\n' > "$T/root/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages"
PVEPIN_FAULT_AT=2 pv 100 pre-start
rc=$?
check_fail() { [ "$rc" != 0 ] && pass "$1" || fail "$1: exit 0"; }
check_fail "pre-start with a fault fails"
expect_eq "failed pre-start: no summary on stdout" "$(cat "$T/out")" ""
expect_grep "failed pre-start: says so on stderr" "fault injected" "$T/err"
done_tests
