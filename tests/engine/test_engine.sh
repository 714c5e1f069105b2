#!/bin/sh
# The engine against a fake host tree (--root): pre-start applies, restore
# gives back byte for byte; a fault or a crash at every step leaves a tree
# that rollback or `pvepin restore` brings back to exactly what it was;
# compare-and-swap leaves values someone else changed alone.
. tests/lib.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
HOST=tests/fixtures/hosts/desktop-4c8t-1l3.xml
mkdir -p "$T/in"
cat > "$T/in/100.conf" <<'C'
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=0,memory=2048,policy=bind
C
printf '[host]\ngovernor = performance\n' > "$T/in/100.ini"
fresh() { rm -rf "$T/root" "$T/ref"; sh tests/fixtures/roots/mkroot.sh "$T/root"; cp -a "$T/root" "$T/ref"; }
pv() { "$PVEPIN" --root "$T/root" --topology $HOST --conf "$T/in/100.conf" --policy "$T/in/100.ini" "$@"; }
# the tree, minus pvepin's own state dir (checked on its own)
same() { diff -r -x pvepin "$T/ref" "$T/root" > "$T/diff" 2>&1; }
clean_state() { [ ! -e "$T/root/run/pvepin/100.journal" ] && [ ! -e "$T/root/run/pvepin/ledger" ]; }
rd() { cat "$T/root/$1"; }

# one clear failure, not sixty, while hook/main.c does not dispatch yet
if "$PVEPIN" --root "$T" status 2>&1 | grep -q "unknown command"; then
	fail "$PVEPIN has no status/restore/phase commands: dispatch to hook/cmd_hook.h in hook/main.c"
	done_tests
	exit
fi

# --- --dry-run says what it would do and writes nothing
fresh
pv --dry-run 100 pre-start > "$T/out" 2>&1; rc=$?
expect_eq "dry-run pre-start" "$rc" 0
expect_grep "dry-run names a step" "^would PARTCPUS cgroupfs:qemu.slice: '' -> '0-1,4-5'" "$T/out"
expect_grep "dry-run names the partition" "^would PARTITION qemu.slice: 'member' -> 'root'" "$T/out"
if same && [ ! -e "$T/root/run/pvepin/ledger" ]; then pass "dry-run wrote nothing"; else fail "dry-run changed the tree"; fi

# --- happy path: apply, check every value, restore, identical
fresh
expect_rc "pre-start" 0 pv 100 pre-start
expect_eq "1G pool grown to 2" "$(rd sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages)" 2
expect_eq "root subtree_control untouched" "$(rd sys/fs/cgroup/cgroup.subtree_control)" "cpuset cpu io memory pids"
# the host keeps 2-3,6-7 through a partition of every other CPU: the host
# slices' own files are not written (the kernel keeps "" from coming back)
expect_eq "qemu.slice holds every CPU but the host's" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)" "0-1,4-5"
expect_eq "qemu.slice is a partition root" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus.partition)" root
expect_eq "system.slice not written" "$(rd sys/fs/cgroup/system.slice/cpuset.cpus)" ""
expect_eq "init.scope not written" "$(rd sys/fs/cgroup/init.scope/cpuset.cpus)" ""
expect_eq "user.slice not written" "$(rd sys/fs/cgroup/user.slice/cpuset.cpus)" "0-6"
expect_grep "ledger shares the partition" "^shared	PARTITION	qemu.slice	member	root	[0-9a-f]{8}$" "$T/root/run/pvepin/ledger"
expect_grep "ledger shares its CPUs" "^shared	PARTCPUS	cgroupfs:qemu.slice		0-1,4-5	[0-9a-f]{8}$" "$T/root/run/pvepin/ledger"
expect_eq "governor cpu4" "$(rd sys/devices/system/cpu/cpu4/cpufreq/scaling_governor)" performance
expect_eq "governor cpu2 untouched" "$(rd sys/devices/system/cpu/cpu2/cpufreq/scaling_governor)" schedutil
expect_grep "ledger holds VM 100" "^vm	100	starting	0-1,4-5	2-3,6-7" "$T/root/run/pvepin/ledger"
expect_grep "journal has a done hugepage step" "^D	3	2	" "$T/root/run/pvepin/100.journal"
n=$(grep -c '^S' "$T/root/run/pvepin/100.journal")
expect_eq "steps journaled" "$n" 7
# play the kernel: a grown pool has its new page free
HPF=$T/root/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages
printf '2\n' > "$HPF"
expect_rc "pre-start again" 0 pv 100 pre-start
expect_eq "pre-start twice journals nothing new" "$(grep -c '^S' "$T/root/run/pvepin/100.journal")" 7
expect_eq "pool not grown twice" "$(rd sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages)" 2
pv status 100 > "$T/status" 2>&1
expect_grep "status: one line per group by default" "^  cpusets: 2 held$" "$T/status"
expect_grep "status: governors as one line" "^  governors: 4 set \(performance\)$" "$T/status"
expect_rc "status: no detail rows by default" 1 grep -q "want .* now " "$T/status"
pv status -v 100 > "$T/status" 2>&1
expect_grep "status shows the partition's CPUs" "cpuset qemu.slice +want 0-1,4-5 +now 0-1,4-5 +ok" "$T/status"
expect_grep "status shows the partition" "partition qemu.slice +want root +now root +ok" "$T/status"
pv --json status > "$T/status.json" 2>&1
expect_rc "status --json parses" 0 python3 -c "import json,sys; d=json.load(open('$T/status.json')); assert d['vms'][0]['vmid']==100 and d['vms'][0]['drift']==0"
printf 'powersave\n' > "$T/root/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"
pv status 100 > "$T/status" 2>&1
expect_grep "status sees drift" "governor cpu1 .*DRIFT" "$T/status"
expect_grep "status counts drift per item" "^  governors: 3 set \(performance\), 1 drifted$" "$T/status"
expect_eq "status: only the drifted row by default" "$(grep -c ' want ' "$T/status")" 1
expect_grep "status: the drift total" "^  1 drift" "$T/status"
printf 'performance\n' > "$T/root/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"
expect_rc "pre-stop does nothing" 0 pv 100 pre-stop
expect_rc "post-stop" 0 pv 100 post-stop
printf '1\n' > "$HPF"
if same; then pass "post-stop: tree identical"; else fail "post-stop: tree differs: $(head -c 600 "$T/diff")"; fi
if clean_state; then pass "post-stop: journal and ledger gone"; else fail "post-stop left state: $(ls "$T/root/run/pvepin")"; fi
expect_rc "restore twice is a no-op" 0 pv restore 100
if same; then pass "second restore: still identical"; else fail "second restore changed the tree"; fi

# --- a corrupt ledger is rebuilt from the journals: VM 100 runs (its pid
# file names a process of the tree's /proc), so the next phase under the
# lock rebuilds exactly what pre-start recorded, sets the corrupt file
# aside and says so in one line; post-stop then gives the tree back from
# the rebuilt ledger's values. Once stale (no pid file: under --root no
# agent counts), VM 100 is left out and `restore` still gives it back.
L=$T/root/run/pvepin/ledger
corrupt() { # how
	case $1 in
	truncated) head -c "$(($(wc -c < "$T/good") / 2))" "$T/good" > "$L" ;;
	garbage) printf '\177ELF\002\001\001\000\000garbage\n\377' > "$L" ;;
	checksum) sed '/^vm	100	/s/0-1,4-5/0-1,4-6/' "$T/good" > "$L" ;;
	esac
	cp "$L" "$T/bad"
}
# a ledger's records without header, end and checksums, sorted
fields() { grep -v '^pvepin-ledger	\|^end	' "$1" | sed 's/	[0-9a-f]\{8\}$//' | sort; }
for how in truncated garbage checksum; do
	fresh
	pv 100 pre-start > /dev/null 2>&1
	cp "$L" "$T/good"
	mkdir -p "$T/root/run/qemu-server" "$T/root/proc/4242"
	echo 4242 > "$T/root/run/qemu-server/100.pid"
	corrupt $how
	expect_rc "$how ledger: status works on a rebuilt one" 0 pv status 100
	expect_grep "$how ledger: status says it rebuilt" "using a ledger rebuilt from the journals: VM 100" "$T_OUT"
	expect_rc "$how ledger: status leaves the file as it was" 0 cmp "$L" "$T/bad"
	# another VM's phase: nothing re-enters VM 100 from its plan
	pv 101 post-stop > "$T/out" 2>&1; rc=$?
	expect_eq "$how ledger: the next phase runs" "$rc" 0
	expect_eq "$how ledger: one line about it" "$(grep -c 'ledger' "$T/out")" 1
	expect_grep "$how ledger: the line names the file set aside and what was rebuilt" \
		"set aside as .*/ledger\.corrupt and rebuilt from the journals: VM 100 \(CPUs 0-1,4-5, 0 devices, 1 page\), 2 shared settings$" "$T/out"
	expect_grep "$how ledger: the good one had the plan's 2 pages" "^page	100	0	1048576	2	" "$T/good"
	expect_rc "$how ledger: the corrupt file is kept as it was" 0 cmp "$L.corrupt" "$T/bad"
	# what pre-start recorded, but the pages: the journal knows the one it
	# added, not the one that was free already
	fields "$T/good" | sed 's/^\(page	100	0	1048576	\)2$/\11/' > "$T/want"
	fields "$L" > "$T/now"
	expect_rc "$how ledger: rebuilt to exactly what the journal says" 0 cmp "$T/want" "$T/now"
	rm -rf "$T/root/run/qemu-server" "$T/root/proc/4242" # QEMU ends
	expect_rc "$how ledger: post-stop from the rebuilt ledger" 0 pv 100 post-stop
	printf '1\n' > "$HPF"
	if same && clean_state; then pass "$how ledger: tree identical after stop"; else fail "$how ledger: $(head -c 400 "$T/diff") $(ls "$T/root/run/pvepin")"; fi
done
fresh
pv 100 pre-start > /dev/null 2>&1
cp "$L" "$T/good"
corrupt checksum
pv status > "$T/out" 2>&1
expect_grep "stale VM 100 is left out of the rebuilt ledger" "no VM, 2 shared settings; left out, as neither QEMU nor agent runs: VM 100 " "$T/out"
expect_rc "the stale VM's restore gives the tree back" 0 pv restore 100
printf '1\n' > "$HPF"
if same && [ ! -e "$T/root/run/pvepin/100.journal" ]; then pass "stale VM: tree identical after restore"; else fail "stale VM: $(head -c 400 "$T/diff")"; fi
expect_rc "stale VM: the corrupt ledger was set aside" 0 cmp "$L.corrupt" "$T/bad"

# --- compare-and-swap: a value changed since is left alone, and said so
fresh
pv 100 pre-start > /dev/null 2>&1
printf '1-3\n' > "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus"
printf 'powersave\n' > "$T/root/sys/devices/system/cpu/cpu5/cpufreq/scaling_governor"
pv restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "restore with foreign changes succeeds" "$rc" 0
expect_eq "foreign cpuset kept" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)" "1-3"
expect_eq "foreign governor kept" "$(rd sys/devices/system/cpu/cpu5/cpufreq/scaling_governor)" powersave
expect_grep "says it left the cpuset alone" "qemu.slice: changed by someone else since .*left alone" "$T/out"
expect_eq "ours restored beside it: the partition" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus.partition)" member
expect_eq "user.slice still the admin's" "$(rd sys/fs/cgroup/user.slice/cpuset.cpus)" "0-6"
if clean_state; then pass "left-alone values do not keep the ledger"; else fail "state left: $(cat "$T/root/run/pvepin/ledger" 2>&1)"; fi
fresh
pv 100 pre-start > /dev/null 2>&1
printf 'member\n' > "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus.partition"
pv restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "restore with the partition turned off by hand" "$rc" 0
if same && clean_state; then pass "partition off by hand: tree identical"; else fail "partition off by hand: $(head -c 400 "$T/diff")"; fi
# the partition left on (here by hand; on a real kernel by a failed write of
# 'member'): its CPUs stay, as Linux 6.1 never gives a partition root's CPUs
# back to the parent once they are written away, and the restore says what
# to do; done, the next restore gives the tree back
fresh
pv 100 pre-start > /dev/null 2>&1
printf 'isolated\n' > "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus.partition"
was=$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)
pv restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "restore with the partition still on fails" "$rc" 1
expect_grep "... says why and what to do" "qemu.slice is still a cpuset partition \('isolated'\): its CPUs stay until it is a member again \(write 'member'" "$T/out"
expect_eq "... and keeps the partition's CPUs" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)" "$was"
printf 'member\n' > "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus.partition"
expect_rc "the partition a member again: restore" 0 pv restore 100
if same && clean_state; then pass "partition left on, then off: tree identical"; else fail "partition left on, then off: $(head -c 400 "$T/diff")"; fi
# EIO writing "" back to qemu.slice's cpuset.cpus (strace injects it): the
# step fails and the next restore writes "", never the parent's CPUs, which
# stand in for "" only where the kernel refuses it (ENOSPC: populated)
if command -v strace > /dev/null; then
	fresh
	pv 100 pre-start > /dev/null 2>&1
	cp -a "$T/root" "$T/mid"
	strace -qq -y -o "$T/trace" -e trace=write "$PVEPIN" --root "$T/root" --topology $HOST \
		--conf "$T/in/100.conf" --policy "$T/in/100.ini" restore 100 > /dev/null 2>&1
	k=$(grep -n 'qemu.slice/cpuset.cpus>, "\\n"' "$T/trace" | cut -d: -f1 | head -1)
	rm -rf "$T/root"; mv "$T/mid" "$T/root"
	if [ -n "$k" ]; then
		strace -qq -o /dev/null -e trace=write -e inject=write:error=EIO:when=$k \
			"$PVEPIN" --root "$T/root" --topology $HOST --conf "$T/in/100.conf" \
			--policy "$T/in/100.ini" restore 100 > "$T/out" 2>&1; rc=$?
		expect_eq "EIO writing qemu.slice's cpus back: restore fails" "$rc" 1
		expect_grep "... naming the step" "could not restore PARTCPUS cgroupfs:qemu.slice: .*Input/output error" "$T/out"
		# (a file of the fake tree is emptied at its open, as cgroupfs
		# files are not: '' here is the write that failed)
		v=$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)
		expect_rc "... and leaves no value of its own there (reads '$v')" 0 \
			test "$v" != "$(rd sys/fs/cgroup/cpuset.cpus.effective)"
		expect_rc "the next restore" 0 pv restore 100
		printf '\n' > "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus"
		if same && clean_state; then pass "EIO at the cpus' undo, then restore: tree identical"; else fail "EIO at the cpus' undo: $(head -c 400 "$T/diff")"; fi
	else
		fail "no write of \"\" to qemu.slice/cpuset.cpus in the restore's trace"
	fi
else
	skip "EIO at a cpuset undo" "no strace"
fi
# the cpuset controller gone from qemu.slice (systemd turns it off once no
# unit asks for AllowedCPUs=; a restore cut short between the two leaves
# that): no partition file is no partition, and restore finishes
fresh
pv 100 pre-start > /dev/null 2>&1
rm "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus.partition"
pv restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "restore with qemu.slice's cpuset controller gone" "$rc" 0
printf 'member\n' > "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus.partition"
if same && clean_state; then pass "cpuset controller gone: tree identical, ledger gone"; else fail "cpuset controller gone: $(head -c 400 "$T/diff") $(cat "$T/out")"; fi

# --- no partitions (kernel before them, or refused: tests/vm does that on a
# real kernel): undone, and the host cgroups narrowed directly, one line
fresh
rm "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus.partition"
rm -rf "$T/ref"; cp -a "$T/root" "$T/ref"
pv 100 pre-start > "$T/out" 2>&1; rc=$?
expect_eq "pre-start without partitions" "$rc" 0
expect_grep "says so in one line" "^pvepin: qemu.slice as a cpuset partition: the kernel has no cpuset partitions: narrowing the host cgroups instead$" "$T/out"
expect_grep "and the phase's summary line" "^pvepin: VM 100 pre-start: " "$T/out"
expect_eq "nothing else said" "$(grep -vc '^pvepin: VM 100 pre-start: ' "$T/out")" 1
expect_eq "fallback: qemu.slice back to ''" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)" ""
expect_eq "fallback: system.slice off the VM" "$(rd sys/fs/cgroup/system.slice/cpuset.cpus)" "2-3,6-7"
expect_eq "fallback: user.slice off the VM" "$(rd sys/fs/cgroup/user.slice/cpuset.cpus)" "2-3,6-7"
expect_eq "fallback: init.scope off the VM" "$(rd sys/fs/cgroup/init.scope/cpuset.cpus)" "2-3,6-7"
expect_grep "fallback: journal has the undone partition CPUs" "^U	1	restored ''" "$T/root/run/pvepin/100.journal"
printf '2\n' > "$HPF"
expect_rc "fallback: post-stop" 0 pv 100 post-stop
printf '1\n' > "$HPF"
if same && clean_state; then pass "fallback: tree identical"; else fail "fallback: $(head -c 600 "$T/diff")"; fi

# --- two VMs overlapping: the second joins the partition (its old value is
# the one from before the first, not "root"), each stop leaves the other's
# isolation in place, the last one out gives back the tree; both orders,
# and with a second VM that does not isolate (it only makes room for its
# CPUs in the partition; alone it does not keep one)
cat > "$T/in/101.conf" <<'C'
cores: 1
memory: 1024
C
pv1() { "$PVEPIN" --root "$T/root" --topology $HOST --conf "$T/in/101.conf" --policy "$T/in/101.ini" "$@"; }
qs() { echo "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus) $(rd sys/fs/cgroup/qemu.slice/cpuset.cpus.partition)"; }
stop() { if [ "$1" = 100 ]; then pv 100 post-stop; else pv1 101 post-stop; fi > "$T/out" 2>&1; }
for iso in yes no; do
	printf '[host]\ngovernor = performance\nisolate = %s\n' $iso > "$T/in/101.ini"
	for order in "100 101" "101 100"; do
		w="isolate=$iso, $order:"
		fresh
		pv 100 pre-start > /dev/null 2>&1 || fail "$w VM 100 pre-start"
		pv1 101 pre-start > "$T/out" 2>&1 || fail "$w VM 101 pre-start: $(cat "$T/out")"
		expect_eq "$w both run: the partition holds both VMs' CPUs" "$(qs)" "0-2,4-6 root"
		expect_grep "$w VM 101 joins with the first one's old value" \
			"^S	[0-9]+	pre-start	PARTITION	qemu.slice	member	root	" "$T/root/run/pvepin/101.journal"
		expect_eq "$w the host slices not written" "$(rd sys/fs/cgroup/system.slice/cpuset.cpus)" ""
		first=${order%% *} second=${order##* }
		printf '2\n' > "$HPF"
		stop $first || fail "$w post-stop of $first: $(cat "$T/out")"
		case $first/$iso in
		100/yes) want="2,6 root" ;;
		100/no) want=" member" ;; # VM 101 alone does not isolate
		101/*) want="0-1,4-5 root" ;;
		esac
		expect_eq "$w VM $first stopped: VM $second's isolation" "$(qs)" "$want"
		expect_grep "$w the values from before VM 100 are still in the ledger" \
			"^shared	PARTITION	qemu.slice	member	" "$T/root/run/pvepin/ledger"
		stop $second || fail "$w post-stop of $second: $(cat "$T/out")"
		printf '1\n' > "$HPF"
		if same && [ ! -e "$T/root/run/pvepin/ledger" ] && [ ! -e "$T/root/run/pvepin/101.journal" ]; then
			pass "$w both stopped: tree identical"
		else
			fail "$w both stopped: $(head -c 600 "$T/diff") $(ls "$T/root/run/pvepin")"
		fi
	done
done

# --- both refused the partition (here: no partitions at all): both narrow
# the host cgroups, sharing them as before partitions; both orders
for order in "100 101" "101 100"; do
	printf '[host]\ngovernor = performance\n' > "$T/in/101.ini"
	fresh
	rm "$T/root/sys/fs/cgroup/qemu.slice/cpuset.cpus.partition"
	rm -rf "$T/ref"; cp -a "$T/root" "$T/ref"
	pv 100 pre-start > /dev/null 2>&1 || fail "fallback $order: VM 100 pre-start"
	pv1 101 pre-start > /dev/null 2>&1 || fail "fallback $order: VM 101 pre-start"
	expect_eq "fallback $order: system.slice off both" "$(rd sys/fs/cgroup/system.slice/cpuset.cpus)" "3,7"
	expect_eq "fallback $order: qemu.slice untouched" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)" ""
	printf '2\n' > "$HPF"
	stop ${order%% *} || fail "fallback $order: first post-stop: $(cat "$T/out")"
	stop ${order##* } || fail "fallback $order: second post-stop: $(cat "$T/out")"
	printf '1\n' > "$HPF"
	if same && clean_state; then pass "fallback $order: tree identical"; else fail "fallback $order: $(head -c 600 "$T/diff")"; fi
done

# --- a fault at every step: pre-start fails, rollback leaves the tree as it was
k=1
while [ $k -le 12 ]; do
	fresh
	PVEPIN_FAULT_AT=$k pv 100 pre-start > "$T/out" 2>&1; rc=$?
	[ $rc = 0 ] && break
	if ! grep -q "fault injected at step $k" "$T/out"; then fail "fault $k: message: $(cat "$T/out")"; fi
	if same && clean_state; then pass "fault at step $k rolled back"; else fail "fault at step $k: $(head -c 400 "$T/diff") $(ls "$T/root/run/pvepin")"; fi
	k=$((k + 1))
done
expect_eq "faults tried at every step" "$k" 8

# --- a crash (kill -9 like) right after every step: restore finishes the job
k=1
while [ $k -le 12 ]; do
	fresh
	PVEPIN_KILL_AT=$k pv 100 pre-start > /dev/null 2>&1; rc=$?
	[ $rc = 0 ] && break
	[ $rc = 137 ] || fail "kill $k: rc $rc"
	pv restore 100 > "$T/out" 2>&1 || fail "restore after kill $k: $(cat "$T/out")"
	if same && clean_state; then pass "crash after step $k restored"; else fail "crash after step $k: $(head -c 400 "$T/diff")"; fi
	k=$((k + 1))
done
expect_eq "crashes tried at every step" "$k" 8

# --- a crash inside restore itself: the next restore finishes
k=1
while [ $k -le 12 ]; do
	fresh
	pv 100 pre-start > /dev/null 2>&1
	PVEPIN_KILL_UNDO_AT=$k pv restore 100 > /dev/null 2>&1; rc=$?
	[ $rc = 0 ] && break
	pv restore 100 > "$T/out" 2>&1 || fail "second restore after undo kill $k: $(cat "$T/out")"
	if same && clean_state; then pass "crash in restore at undo $k finished"; else fail "crash in restore at undo $k: $(head -c 400 "$T/diff")"; fi
	k=$((k + 1))
done
expect_eq "restore crashes tried at every undo" "$k" 8

# --- a torn last journal record (crash mid-write) is ignored with a warning
fresh
PVEPIN_KILL_AT=3 pv 100 pre-start > /dev/null 2>&1
printf 'S\t4\tpre-start\tATTR\t/sys/x' >> "$T/root/run/pvepin/100.journal"
pv restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "restore over a torn record" "$rc" 0
expect_grep "torn record warned" "torn" "$T/out"
if same && clean_state; then pass "torn journal: tree identical"; else fail "torn journal: $(head -c 400 "$T/diff")"; fi

# --- a step that fails for real (the pool refuses the write): one line
# saying what failed, the earlier steps undone. (A kernel granting fewer
# pages, "got X of Y", needs real 1G pages: the VM test bed does that.)
fresh
HP=$T/root/sys/devices/system/node/node0/hugepages/hugepages-1048576kB
rm -f "$HP/nr_hugepages"; ln -s /proc/self/stat "$HP/nr_hugepages"
printf '0\n' > "$HP/free_hugepages"
rm -rf "$T/ref"; cp -a "$T/root" "$T/ref"
pv 100 pre-start > "$T/out" 2>&1; rc=$?
expect_eq "pre-start fails when the pool write fails" "$rc" 1
expect_eq "one line of error" "$(wc -l < "$T/out")" 1
expect_grep "says what failed" "pvepin: VM 100 pre-start \(undone, the VM does not start\): .*nr_hugepages" "$T/out"
if same && clean_state; then pass "failed pre-start: tree identical"; else fail "failed pre-start: $(head -c 400 "$T/diff")"; fi
# --- journal records are checksummed lines: jline FIELDS... prints one
jline() { python3 - "$@" <<'PY'
import sys
line = "\t".join(sys.argv[1:])
h = 2166136261
for b in line.encode():
    h = ((h ^ b) * 16777619) & 0xffffffff
print("%s\t%08x" % (line, h))
PY
}

# --- undo checks a journal entry's target as apply did: a tampered
# journal cannot make restore write elsewhere; every other step is restored
fresh
mkdir -p "$T/root/etc" "$T/ref/etc"; printf 'secret\n' > "$T/root/etc/shadow"; cp "$T/root/etc/shadow" "$T/ref/etc/shadow"
expect_rc "pre-start (tamper)" 0 pv 100 pre-start
{ jline S 90 pre-start ATTR /etc/shadow secret x; jline D 90 x
  jline S 91 pre-start IRQ '/proc/irq/1/../../etc/shadow' secret x
  jline S 92 pre-start CPUSET 'cgroupfs:../../etc' '' 0
  jline S 93 pre-start AFFINITY '1/1@1; rm' 0-7 0; } >> "$T/root/run/pvepin/100.journal"
pv 100 post-stop > "$T/out" 2>&1; rc=$?
expect_eq "post-stop with tampered entries fails" "$rc" 1
expect_grep "names the tampered ATTR" "refusing to restore ATTR '/etc/shadow'" "$T/out"
expect_grep "names the tampered IRQ" "refusing to restore IRQ '/proc/irq/1/\.\./\.\./etc/shadow'" "$T/out"
expect_grep "names the tampered CPUSET" "refusing to restore CPUSET 'cgroupfs:\.\./\.\./etc'" "$T/out"
expect_grep "names the tampered AFFINITY" "refusing to restore AFFINITY '1/1@1; rm'" "$T/out"
expect_grep "says how to go on" "restore 100. again \(--force gives up on them\)" "$T/out"
expect_eq "the tampered target untouched" "$(rd etc/shadow)" secret
expect_eq "governor restored all the same" "$(rd sys/devices/system/cpu/cpu4/cpufreq/scaling_governor)" schedutil
pv --force restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "restore --force gets the host unstuck" "$rc" 0
expect_grep "--force says where the journal went" "journal moved to .*100.journal.corrupt" "$T/out"
if same && clean_state; then pass "tampered journal: tree identical after --force"; else fail "tampered: $(head -c 400 "$T/diff")"; fi
expect_rc "a later pre-start is not blocked" 0 pv 100 pre-start
expect_rc "and its post-stop" 0 pv 100 post-stop

# --- one line with a wrong checksum: restore applies every other entry,
# names the line, keeps the journal; --force gets the host unstuck
fresh
expect_rc "pre-start (bad checksum)" 0 pv 100 pre-start
J=$T/root/run/pvepin/100.journal
n=$(grep -n '^S	3	' "$J" | cut -d: -f1)
sed -i "${n}s/.\$/X/" "$J"
pv 100 post-stop > "$T/out" 2>&1; rc=$?
expect_eq "post-stop over a bad line fails" "$rc" 1
expect_grep "names the line" "lines? $n(, [0-9]+)* failed their checksum: every other step was restored" "$T/out"
expect_eq "other steps restored" "$(rd sys/devices/system/cpu/cpu4/cpufreq/scaling_governor)" schedutil
expect_rc "the journal is kept" 0 test -e "$J"
pv restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "plain restore still refuses" "$rc" 1
pv --force restore 100 > "$T/out" 2>&1; rc=$?
expect_eq "restore --force over a bad line" "$rc" 0
expect_rc "VM gone from the ledger" 0 sh -c "! grep -qs '^vm	100' $T/root/run/pvepin/ledger"
expect_rc "pre-start works again" 0 pv 100 pre-start
expect_rc "post-stop clean" 0 pv 100 post-stop
# the bad line is the partition's: it stays on, and so do its CPUs (never
# written away from a partition root), said in one line
fresh
pv 100 pre-start > /dev/null 2>&1
n=$(grep -n '^S	2	pre-start	PARTITION' "$J" | cut -d: -f1)
sed -i "${n}s/.\$/X/" "$J"
pv 100 post-stop > "$T/out" 2>&1; rc=$?
expect_eq "post-stop over a bad partition line fails" "$rc" 1
expect_grep "... keeping the partition's CPUs, and saying so" "could not restore PARTCPUS cgroupfs:qemu.slice: qemu.slice is still a cpuset partition \('root'\)" "$T/out"
expect_eq "... which it keeps" "$(rd sys/fs/cgroup/qemu.slice/cpuset.cpus)" 0-1,4-5
expect_rc "restore --force gives up on both" 0 pv --force restore 100
# --- hugepages bounded by what the node can give (issue 15.6): its free
# pages of that size plus its free memory less [memory] reserve (auto:
# 1 GiB here), compared before any write; with room, the same start passes
fresh
MI=$T/root/sys/devices/system/node/node0/meminfo
printf 'Node 0 MemTotal:       16777216 kB\nNode 0 MemFree:         1572864 kB\n' > "$MI"
cp "$MI" "$T/ref/sys/devices/system/node/node0/meminfo"
pv 100 pre-start > "$T/out" 2>&1; rc=$?
expect_eq "pre-start past the node's memory refused" "$rc" 1
expect_grep "says what the node can give" "VM 100 wants 2 1 GiB hugepages on node 0, which can give 1 \(1 free, 1536 MiB free memory, 1024 MiB kept for the host by \[memory\] reserve\)" "$T/out"
if same && [ ! -e "$T/root/run/pvepin/100.journal" ]; then pass "refused before any write"; else fail "hugepage bound: $(head -c 400 "$T/diff")"; fi
printf 'Node 0 MemTotal:       16777216 kB\nNode 0 MemFree:         3145728 kB\n' > "$MI"
expect_rc "with room for the page the same pre-start passes" 0 pv 100 pre-start
expect_rc "and its post-stop" 0 pv 100 post-stop
done_tests
