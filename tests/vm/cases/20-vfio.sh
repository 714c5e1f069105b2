# needs: engine
# vfio-pci rebind in pre-start and the host driver back in post-stop, for
# each kind of device; refusals that must leave the host untouched.
. /tests/lib.sh
snap /tmp/v0

# gpu_like VMID BDF...: every listed function on vfio-pci, group node present
on_vfio() { # VMID BDF...
	local vm=$1 b
	shift
	for b in "$@"; do
		expect_eq "VM $vm: $b on vfio-pci" "$(pci_drv $b)" vfio-pci
		expect_eq "VM $vm: $b driver_override" "$(pci_override $b)" vfio-pci
		check "VM $vm: /dev/vfio/$(pci_group $b) present" test -c /dev/vfio/$(pci_group $b)
	done
}

# --- the GPU-like slot: VGA without a host driver + HDA audio, one group
pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 1024
hostpci0: 0000:81:00,pcie=1,x-vga=1
C
if start_ok 100; then
	on_vfio 100 0000:81:00.0 0000:81:00.1
	pvepin status 100 > /tmp/st 2>&1
	expect_eq "pvepin status 100 exits 0 while it runs" "$?" 0
	expect_grep "status names the passed-through function" '81:00' /tmp/st
	stop_ok 100
fi
expect_eq "81:00.1 back on snd_hda_intel" "$(pci_drv 0000:81:00.1)" snd_hda_intel
expect_eq "81:00.0 back to no driver" "$(pci_drv 0000:81:00.0)" -
expect_eq "81:00.0 override cleared" "$(pci_override 0000:81:00.0)" "(null)"
check "/dev/vfio/$(pci_group 0000:81:00.0) gone" test ! -e /dev/vfio/$(pci_group 0000:81:00.0)
snap_same "GPU VM: host as before" /tmp/v0

# --- a USB controller, one function named with .0
pve_conf 101 <<'C'
cores: 1
memory: 512
hostpci0: 0000:00:03.0
C
if start_ok 101; then
	on_vfio 101 0000:00:03.0
	stop_ok 101
fi
expect_eq "00:03.0 back on xhci_hcd" "$(pci_drv 0000:00:03.0)" xhci_hcd
snap_same "USB VM: host as before" /tmp/v0

# --- a give-back cut short after its first write: driver_override already put back, the
# function still on vfio-pci (tests/vm2 40: EIO at restore's 2nd write). The next restore
# finishes it, not "changed by someone else".
if start_ok 101; then
	echo > /sys/bus/pci/devices/0000:00:03.0/driver_override
	stop_ok 101
fi
expect_eq "cut-short give-back finished: 00:03.0 back on xhci_hcd" "$(pci_drv 0000:00:03.0)" xhci_hcd
snap_same "USB VM, give-back cut short: host as before" /tmp/v0

# --- half of a shared group is refused; the whole group is fine
pve_conf 102 <<'C'
cores: 1
memory: 512
hostpci0: 0000:01:01.0
C
refused 102 "01:01.0 without 01:02.0 of its group" 'group|01:02\.0'
pve_conf 102 <<'C'
cores: 1
memory: 512
hostpci0: 0000:01:01.0
hostpci1: 0000:01:02.0
C
if start_ok 102; then
	on_vfio 102 0000:01:01.0 0000:01:02.0
	expect_eq "the bridge in the group keeps no driver" "$(pci_drv 0000:00:04.0)" -
	stop_ok 102
fi
expect_eq "01:01.0 back on e1000" "$(pci_drv 0000:01:01.0)" e1000
expect_eq "01:02.0 back on e1000" "$(pci_drv 0000:01:02.0)" e1000
snap_same "shared-group VM: host as before" /tmp/v0

# --- the NIC with the default route is refused
pve_conf 103 <<'C'
cores: 1
memory: 512
hostpci0: 0000:00:02.0
C
refused 103 "the default-route NIC" 'route|network|NIC'
check "default route still there" sh -c 'ip route | grep -q ^default'

# --- a function the admin already keeps on vfio-pci stays there
pci_bind 0000:02:00.0 vfio-pci
snap /tmp/v1
pve_conf 104 <<'C'
cores: 1
memory: 512
hostpci0: 0000:02:00.0
C
if start_ok 104; then
	stop_ok 104
fi
expect_eq "02:00.0 still on vfio-pci, as the admin had it" "$(pci_drv 0000:02:00.0)" vfio-pci
snap_same "admin's vfio-pci binding kept" /tmp/v1
pci_bind 0000:02:00.0 ""

for v in 100 101 102 103 104; do pve_forget $v; done
snap_same "vfio case: host as before" /tmp/v0
done_case
