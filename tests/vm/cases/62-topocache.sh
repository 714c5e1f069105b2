# needs: engine
# The host's topology is discovered once per boot: the second start plans
# from what the first kept (the same file, not rewritten), and a CPU taken
# offline or a PCI function removed between two starts makes the next
# pre-start discover the host afresh, never plan from the stale copy.
. /tests/lib.sh

X=/run/pvepin/host.topology.xml K=/run/pvepin/host.topology.key
GONE_CPU=6 GONE_PCI=0000:00:03.0
ino() { stat -c %i "$1" 2>/dev/null || echo none; }
# has_pu FILE N: hwloc's XML holds PU N
has_pu() { grep -q "type=\"PU\" os_index=\"$2\"" "$1"; }
has_pci() { grep -q "pci_busid=\"$2\"" "$1"; }

rm -f $X $K
# the GPU is local to node 1 (CPUs 4-7, cores 4+5 and 6+7): its vCPUs go
# to the cores' first threads there, CPU 6 among them while it is online
pve_conf 100 <<'EOF'
name: cache
cores: 2
memory: 1024
hostpci0: 0000:81:00,pcie=1
EOF

# --- first start: discovers and keeps the host's topology for this boot
if start_ok 100; then
	check "pre-start kept the host's topology ($X)" test -s $X
	check "and the key it holds for ($K)" test -s $K
	expect_eq "the key names this boot" "$(sed -n 's/^boot //p' $K)" "$(cat /proc/sys/kernel/random/boot_id)"
	expect_eq "the key names the CPUs online" "$(sed -n 's/^cpus //p' $K)" "$(cat /sys/devices/system/cpu/online)"
	expect_eq "the key names the kernel" "$(sed -n 's/^kernel //p' $K)" "$(uname -r)"
	expect_eq "VM 100's copy is the host's (one file, two names)" "$(ino /run/pvepin/100.topology.xml)" "$(ino $X)"
	check "the kept topology has CPU $GONE_CPU" has_pu $X $GONE_CPU
	check "the kept topology has $GONE_PCI" has_pci $X $GONE_PCI
	expect_grep "pre-start's line for the task log names the devices bound" \
		"^pvepin: VM 100 pre-start: bound 2 devices to vfio-pci" /tmp/hook.100.pre-start.out
	expect_grep "post-start's line for the task log names the threads pinned" \
		"^pvepin: VM 100 post-start: .*pinned [0-9]+ threads" /tmp/hook.100.post-start.out
	q=$(qemu_pid 100)
	note "vCPUs on CPUs $(task_cpus $(tid_of $q 'CPU 0/KVM')) and $(task_cpus $(tid_of $q 'CPU 1/KVM'))"
	stop_ok 100
fi
first=$(ino $X)
check "post-stop leaves the host's topology for the next start" test -s $X

# --- second start, nothing changed: planned from the kept topology
pvepin -v 100 pre-start < /dev/null > /tmp/cache.pre 2>&1
expect_eq "second pre-start exits 0" "$?" 0
expect_grep "pre-start -v says it used this boot's topology" "topology: this boot's, unchanged" /tmp/cache.pre
expect_eq "the host's topology was not rediscovered (same file)" "$(ino $X)" "$first"
expect_eq "VM 100's copy is that same file" "$(ino /run/pvepin/100.topology.xml)" "$first"
hook 100 post-stop
expect_eq "post-stop exits 0" "$HOOK_RC" 0

# --- the hardware changes: a CPU goes offline, a PCI function away
echo 0 > /sys/devices/system/cpu/cpu$GONE_CPU/online
echo 1 > $PCI/$GONE_PCI/remove
check "test bed: CPU $GONE_CPU is offline" sh -c "[ \$(cat /sys/devices/system/cpu/cpu$GONE_CPU/online) = 0 ]"
check "test bed: $GONE_PCI is gone" test ! -e $PCI/$GONE_PCI
if start_ok 100; then
	expect_ne "pre-start discovered the host again (a new file)" "$(ino $X)" "$first"
	check "the fresh topology has no CPU $GONE_CPU" sh -c "! grep -q 'type=\"PU\" os_index=\"$GONE_CPU\"' $X"
	check "the fresh topology has no $GONE_PCI" sh -c "! grep -q 'pci_busid=\"$GONE_PCI\"' $X"
	expect_eq "its key names the CPUs online now" "$(sed -n 's/^cpus //p' $K)" "$(cat /sys/devices/system/cpu/online)"
	q=$(qemu_pid 100)
	for n in 0 1; do
		t=$(tid_of $q "CPU $n/KVM")
		a=$(task_cpus $t)
		check "CPU $n/KVM pinned (to $a), not to the offline CPU $GONE_CPU" \
			sh -c "[ -n '$a' ] && [ '$a' != $GONE_CPU ]"
	done
	stop_ok 100
fi
second=$(ino $X)

# --- the hardware comes back: discovered again, with it
echo 1 > /sys/devices/system/cpu/cpu$GONE_CPU/online
echo 1 > /sys/bus/pci/rescan
wait_for 10 test -e $PCI/$GONE_PCI
check "test bed: $GONE_PCI is back" test -e $PCI/$GONE_PCI
pvepin 100 pre-start < /dev/null > /tmp/cache.pre2 2>&1
expect_eq "pre-start after the hardware came back exits 0" "$?" 0
expect_ne "and discovered the host again" "$(ino $X)" "$second"
check "with CPU $GONE_CPU" has_pu $X $GONE_CPU
check "and $GONE_PCI" has_pci $X $GONE_PCI
hook 100 post-stop
expect_eq "post-stop exits 0" "$HOOK_RC" 0

# --- a key that does not match (another boot's) is never trusted
sed -i 's/^boot .*/boot 00000000-0000-0000-0000-000000000000/' $K
third=$(ino $X)
pvepin 100 pre-start < /dev/null > /tmp/cache.pre3 2>&1
expect_eq "pre-start with another boot's key exits 0" "$?" 0
expect_ne "and discovered the host again" "$(ino $X)" "$third"
hook 100 post-stop
pve_forget 100
done_case
