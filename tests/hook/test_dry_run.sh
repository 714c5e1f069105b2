#!/bin/sh
# --dry-run in a user's words: a rebind says which driver the device
# leaves (not the journal's "nvidia|" encoding), and a pre-start that would
# fail says it would, not that it was "undone" (nothing was done).
. tests/lib.sh
R=$T_DIR/root
sh $FIX/roots/mkroot.sh "$R"
dev() { # bdf class group driver
	d=$R/sys/bus/pci/devices/$1
	mkdir -p "$d" "$R/sys/kernel/iommu_groups/$3/devices" "$R/sys/bus/pci/drivers/$4"
	echo "$2" > "$d/class"; echo -1 > "$d/numa_node"; : > "$d/driver_override"
	ln -s ../../../../kernel/iommu_groups/$3 "$d/iommu_group"
	ln -s ../../../../bus/pci/drivers/$4 "$d/driver"
	ln -s ../../../../bus/pci/devices/$1 "$R/sys/kernel/iommu_groups/$3/devices/$1"
}
dev 0000:01:00.0 0x030000 1 nvidia
dev 0000:01:00.1 0x040300 1 snd_hda_intel
printf 'cores: 2\nmemory: 2048\nhostpci0: 0000:01:00\n' > "$T_DIR/100.conf"
pv() { "$PVEPIN" --root "$R" --topology $FIX/hosts/desktop-4c8t-1l3.xml --conf "$T_DIR/100.conf" "$@"; }
cp -a "$R" "$T_DIR/ref"

mkdir -p "$R/sys/bus/pci/drivers/vfio-pci" "$T_DIR/ref/sys/bus/pci/drivers/vfio-pci"
expect_rc "dry-run pre-start with a GPU: exit 0" 0 pv --dry-run 100 pre-start
expect_grep "rebind in words: the driver it leaves" "^would REBIND 0000:01:00.0: driver nvidia -> vfio-pci$" "$T_OUT"
expect_grep "... for each function" "^would REBIND 0000:01:00.1: driver snd_hda_intel -> vfio-pci$" "$T_OUT"
expect_eq "no journal encoding ('|') in the output" "$(grep -c '|' "$T_OUT")" 0

rmdir "$R/sys/bus/pci/drivers/vfio-pci" "$T_DIR/ref/sys/bus/pci/drivers/vfio-pci"
expect_rc "dry-run pre-start that would fail: exit 1" 1 pv --dry-run 100 pre-start
expect_grep "... says it would fail and that nothing changed" "^pvepin: VM 100 pre-start would fail \(dry run: nothing was changed\): vfio-pci is not loaded" "$T_OUT"
expect_eq "... not 'undone, the VM does not start'" "$(grep -c 'undone' "$T_OUT")" 0
# (run/pvepin: the lock, pvepin's own state dir)
if diff -r --no-dereference -x pvepin "$T_DIR/ref" "$R" > "$T_DIR/diff" 2>&1; then pass "the dry runs changed nothing"; else
	fail "the dry runs changed the tree: $(head -c 300 "$T_DIR/diff")"; fi

done_tests
