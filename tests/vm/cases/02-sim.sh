# The kernel facts pvepin builds on, done by hand, and the QEMU stand-in:
# vfio-pci rebind and back for each kind of device, fakeqemu holding a
# group with live vfio MSI-X vectors, QEMU's thread names.
. /tests/lib.sh

# --- rebind by hand: driver_override, unbind, drivers_probe; and back
rebind() { # BDF HOSTDRV
	local g
	g=$(pci_group "$1")
	pci_bind "$1" vfio-pci
	expect_eq "$1 bound to vfio-pci by hand" "$(pci_drv "$1")" vfio-pci
	check "/dev/vfio/$g appears" test -c "/dev/vfio/$g"
	pci_bind "$1" ""
	expect_eq "$1 back on ${2}" "$(pci_drv "$1")" "$2"
	expect_eq "$1 driver_override cleared" "$(pci_override "$1")" "(null)"
}
rebind 0000:00:03.0 xhci_hcd
rebind 0000:02:00.0 e1000e
rebind 0000:81:00.1 snd_hda_intel
rebind 0000:81:00.0 -

# --- fakeqemu: thread names, pidfile, new thread on SIGUSR1
mkdir -p /tmp/fq
kvm -id 990 -pidfile /tmp/fq/990.pid --vcpus 3 --iothreads 1 > /tmp/fq/990.log 2>&1 &
fq=$!
check "fakeqemu writes its pidfile" wait_for 10 test -s /tmp/fq/990.pid
expect_eq "pidfile holds its pid" "$(cat /tmp/fq/990.pid)" "$fq"
expect_eq "main thread is kvm" "$(cat /proc/$fq/comm)" kvm
names=$(threads $fq | cut -f2 | sed 's/iou-wrk-[0-9]*/iou-wrk-N/' | sort | tr '\n' ',')
expect_eq "QEMU's thread names" "$names" \
	"CPU 0/KVM,CPU 1/KVM,CPU 2/KVM,IO iothread0,call_rcu,iou-wrk-N,kvm,worker,"
iou=$(threads $fq | awk -F'\t' '$2 ~ /^iou-wrk-/ {print $1}')
if taskset -p -c 0 "$iou" > /dev/null 2>&1; then
	note "fact: this kernel lets io_uring workers be pinned"
else
	note "fact: this kernel refuses to pin io_uring workers (PF_NO_SETAFFINITY)"
fi
kill -USR1 $fq
check "SIGUSR1 adds a worker thread" \
	wait_for 5 sh -c "[ \$(grep -lx worker /proc/$fq/task/*/comm | wc -l) = 2 ]"
kill -TERM $fq
wait $fq
expect_eq "fakeqemu exits 0 on SIGTERM" "$?" 0
check "pidfile removed on exit" test ! -e /tmp/fq/990.pid

# --- fakeqemu with a vfio device: group in use, vfio MSI-X vectors
NIC=0000:02:00.0
g=$(pci_group $NIC)
pci_bind $NIC vfio-pci
kvm -id 991 -pidfile /tmp/fq/991.pid --vfio-dev $NIC --msix 2 > /tmp/fq/991.log 2>&1 &
fq=$!
if wait_for 10 test -s /tmp/fq/991.pid; then
	pass "fakeqemu opened $NIC through vfio"
	check "fakeqemu holds /dev/vfio/$g" sh -c "ls -l /proc/$fq/fd | grep -q /dev/vfio/$g"
	check "group $g is busy for anyone else" sh -c "! cat /dev/vfio/$g 2>/dev/null"
	v=$(vfio_irqs $NIC)
	expect_eq "2 vfio-msix vectors in /proc/interrupts" "$(echo $v | wc -w)" 2
	for i in $v; do check "irq $i has /proc/irq/$i/smp_affinity_list" test -e /proc/irq/$i/smp_affinity_list; done
	kill -USR2 $fq
	check "SIGUSR2 enables every vector (5 on e1000e)" \
		wait_for 5 sh -c "[ \$(grep -c 'vfio-msix.*($NIC)' /proc/interrupts) = 5 ]"
	kill -TERM $fq
	wait $fq
	expect_eq "vfio vectors gone when QEMU exits" "$(vfio_irqs $NIC)" ""
else
	fail "fakeqemu with $NIC: $(tr '\n' '|' < /tmp/fq/991.log)"
	kill -9 $fq 2>/dev/null
	wait $fq 2>/dev/null
fi
pci_bind $NIC ""
expect_eq "$NIC back on e1000e" "$(pci_drv $NIC)" e1000e

# --- a group that is not viable (one member left on its host driver)
pci_bind 0000:81:00.0 vfio-pci
kvm -id 992 -pidfile /tmp/fq/992.pid --vfio-dev 0000:81:00.0 > /tmp/fq/992.log 2>&1
expect_eq "vfio refuses a group with a member on a host driver" "$?" 1
pci_bind 0000:81:00.0 ""
expect_eq "81:00.0 back to no driver" "$(pci_drv 0000:81:00.0)" -

# --- 1G pages can be faulted in on a chosen node
before=$(cat /sys/devices/system/node/node1/hugepages/hugepages-1048576kB/free_hugepages)
kvm -id 993 -pidfile /tmp/fq/993.pid --mem1g 1 --mem-node 1 > /tmp/fq/993.log 2>&1 &
fq=$!
if wait_for 20 test -s /tmp/fq/993.pid; then
	expect_eq "a 1G page in use on node1" \
		"$(cat /sys/devices/system/node/node1/hugepages/hugepages-1048576kB/free_hugepages)" \
		$((before - 1))
	check "numa_maps shows it on N1" sh -c "grep -q 'huge.*N1=1' /proc/$fq/numa_maps"
else
	fail "fakeqemu --mem1g: $(tr '\n' '|' < /tmp/fq/993.log)"
fi
kill -TERM $fq
wait $fq
done_case
