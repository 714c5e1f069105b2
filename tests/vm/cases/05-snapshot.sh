# hoststate: stable back to back, and it sees each kind of change pvepin makes.
. /tests/lib.sh

snap /tmp/s1
snap /tmp/s2
check "two snapshots back to back are identical" cmp -s /tmp/s1 /tmp/s2
expect_eq "sections in a fixed order" "$(cut -d' ' -f1 /tmp/s1 | uniq | tr '\n' ' ')" "pci hugepages cgroup irq "
check "IRQs in numeric order" sh -c "grep '^irq [0-9]' /tmp/s1 | cut -d' ' -f2 | sort -n -c"
check "PCI functions in order" sh -c "grep '^pci ' /tmp/s1 | cut -d' ' -f2 | sort -c"
expect_grep "has PCI drivers" '^pci 0000:81:00.1 driver=snd_hda_intel override=\(null\)$' /tmp/s1
expect_grep "has 1G pages per node" '^hugepages node1 1048576kB nr=1 free=1 surplus=0$' /tmp/s1
expect_grep "has cgroup cpusets" '^cgroup /system.slice cpus= effective=0-7 ' /tmp/s1
expect_grep "has IRQ affinities" '^irq [0-9]+ affinity=' /tmp/s1
expect_grep "names MSI vectors by function" '^irq msi 0000:00:03.0#0 affinity=' /tmp/s1

# changed -> diff names exactly that; undone -> identical again
changed() { # WHAT LINES ERE: LINES lines changed, one of them matches ERE
	snap /tmp/s3
	diff /tmp/s1 /tmp/s3 > /tmp/sd
	if grep -qE "^\+$3" /tmp/sd && [ "$(grep -c '^+[^+]' /tmp/sd)" = "$2" ]; then
		pass "diff shows $1"
	else
		fail "diff for $1: $(tr '\n' '|' < /tmp/sd)"
	fi
}
B=0000:81:00.1
echo vfio-pci > $PCI/$B/driver_override
changed "a driver_override" 1 "pci $B driver=snd_hda_intel override=vfio-pci"
echo > $PCI/$B/driver_override

f=/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
echo 4 > $f
changed "2M pages on node0 (and the global count)" 2 "hugepages node0 2048kB nr=4 free=4"
echo 0 > $f

# (an empty cgroup: a populated one cannot go back to an empty cpuset.cpus)
echo 4-7 > $CG/qemu.slice/cpuset.cpus
changed "a cgroup cpuset" 1 "cgroup /qemu.slice cpus=4-7 effective=4-7 "
echo > $CG/qemu.slice/cpuset.cpus

i=$(pci_msi_irqs 0000:00:02.0 | cut -d' ' -f1)
old=$(irq_aff "$i")
echo 6 > /proc/irq/"$i"/smp_affinity_list
changed "an IRQ affinity" 1 "irq msi 0000:00:02.0#0 affinity=6$"
echo "$old" > /proc/irq/"$i"/smp_affinity_list

# A rebind gives the vectors new IRQ numbers; the snapshot must not care.
# (while it is away, vfio vectors of another function take its numbers)
x=$(pci_msi_irqs 0000:00:03.0)
pci_bind 0000:00:03.0 vfio-pci
pci_bind 0000:02:00.0 vfio-pci
kvm -id 995 -pidfile /tmp/995.pid --vfio-dev 0000:02:00.0 --msix 4 > /tmp/995.log 2>&1 &
wait_for 10 test -s /tmp/995.pid || note "fakeqemu: $(cat /tmp/995.log)"
pci_bind 0000:00:03.0 ""
kill $!
wait $!
pci_bind 0000:02:00.0 ""
note "xhci MSI-X IRQs before a rebind: $x, after: $(pci_msi_irqs 0000:00:03.0)"
snap /tmp/s3
check "back to the first snapshot after undoing everything" cmp -s /tmp/s1 /tmp/s3
diff /tmp/s1 /tmp/s3 | sed 's/^/#   /' | head -10

hoststate --root /nonexistent > /tmp/s4 2>/dev/null
expect_eq "a missing /sys is an error, not an empty snapshot" "$?" 1
done_case
