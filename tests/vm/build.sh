#!/bin/bash
# Build the test VM's initramfs into tests/vm/work/initrd.img: two gzip'd
# cpio archives back to back (the kernel unpacks both):
#   base.cpio.gz  busybox, the Debian kernel's own modules, hwloc's PCI plugin
#   top.cpio.gz   $BUILD/pvepin-test + its libraries, test helpers, init, lib.sh, cases,
#                 the demo
# Each part is rebuilt only when the stat of its inputs changed, so editing a
# case costs a fraction of a second.
#   KVER=...      kernel (default: newest /boot/vmlinuz-* with /lib/modules)
#   BUILD=build   where make put the helpers
#   PVEPIN=FILE   the pvepin binary to test (default $BUILD/pvepin-test,
#                 the test build: case 75 injects faults through its knobs)
#   FORCE=1       rebuild both parts
#   IRQBALANCE=auto|0|FILE  irqbalance for the case that runs it: auto =
#                 /usr/sbin/irqbalance, else the Debian package fetched once
#                 with `apt-get download` into work/ (not installed)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
VM=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$VM/../.." && pwd)
W=$VM/work
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
PVEPIN=${PVEPIN:-$BUILD/pvepin-test}
case $PVEPIN in /*) ;; *) PVEPIN=$TOP/$PVEPIN ;; esac
mkdir -p "$W"

newest_kernel() {
	local k v
	for k in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
		v=${k#/boot/vmlinuz-}
		[ -f "/lib/modules/$v/modules.dep" ] && { echo "$v"; return 0; }
	done
	return 1
}
KVER=${KVER:-$(newest_kernel)} || { echo "build.sh: no /boot/vmlinuz-* with /lib/modules/<ver>/modules.dep (apt-get install linux-image-amd64)" >&2; exit 1; }
MODDIR=/lib/modules/$KVER
echo "$KVER" > "$W/kver.tmp"; cmp -s "$W/kver.tmp" "$W/kver" 2>/dev/null || mv "$W/kver.tmp" "$W/kver"; rm -f "$W/kver.tmp"

# Modules the suite needs; their dependencies are added in modules.dep order.
# e1000e: NICs; xhci_pci: USB controller; e1000: the two NICs behind the
# conventional PCI bridge (one shared IOMMU group); snd_hda_intel: the audio
# function of the GPU-like multi-function device; vfio*: passthrough.
WANT="e1000e e1000 xhci_pci snd_hda_intel vfio vfio_iommu_type1 vfio_pci"

BB=$(command -v busybox || true)
[ -n "$BB" ] && file -L "$BB" | grep -q 'statically linked' ||
	{ echo "build.sh: need a static busybox (apt-get install busybox-static)" >&2; exit 1; }

helpers="fakeqemu hoststate phasetime"
need_make=0
[ -x "$PVEPIN" ] || need_make=1
for h in $helpers; do [ -x "$BUILD/tests/helpers/$h" ] || need_make=1; done
if [ $need_make = 1 ]; then
	echo "build.sh: building pvepin and test helpers" >&2
	make -C "$TOP" -s "$BUILD/pvepin-test" helpers BUILD="$BUILD" >&2 || true
fi
for h in $helpers; do
	[ -x "$BUILD/tests/helpers/$h" ] || { echo "build.sh: missing $BUILD/tests/helpers/$h (make helpers)" >&2; exit 1; }
done

# Shared libraries of a dynamic binary (ldd prints /lib/... paths; Debian 12
# is merged-/usr, the guest only needs them at the same path).
libs_of() { ldd "$1" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}'; }
copy_file() { # src [dst] into rootfs $R
	local dst=${2:-$1}
	mkdir -p "$R$(dirname "$dst")"
	cp -L "$1" "$R$dst"
}
copy_bin() { # binary [dst]: the binary and its libraries
	local l
	copy_file "$1" "${2:-$1}"
	for l in $(libs_of "$1"); do [ -e "$R$l" ] || copy_file "$l"; done
}
stamp() { stat -L -c '%n %s %Y' "$@" 2>/dev/null | md5sum | cut -d' ' -f1; }
pack() { # rootfs out
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$2.tmp"
	mv "$2.tmp" "$2"
}

HWPCI=/usr/lib/x86_64-linux-gnu/hwloc/hwloc_pci.so

find_irqbalance() {
	local c=$W/irqbalance/usr/sbin/irqbalance
	case ${IRQBALANCE:-auto} in
	0) return 0 ;;
	auto) ;;
	*) echo "$IRQBALANCE"; return 0 ;;
	esac
	[ -x /usr/sbin/irqbalance ] && { echo /usr/sbin/irqbalance; return 0; }
	if [ ! -x "$c" ] && [ ! -e "$W/irqbalance.none" ]; then
		(cd "$W" && rm -f irqbalance_*.deb &&
			timeout 120 apt-get download -q irqbalance && dpkg-deb -x irqbalance_*.deb irqbalance &&
			rm -f irqbalance_*.deb) >"$W/irqbalance.log" 2>&1 ||
			{ touch "$W/irqbalance.none"; echo "build.sh: no irqbalance (see work/irqbalance.log)" >&2; }
	fi
	[ -x "$c" ] && echo "$c"
	return 0
}
IRQB=$(find_irqbalance)

# ---------------------------------------------------------------- base
base_stamp=$(stamp "$VM/build.sh" "$BB" "$MODDIR/modules.dep" "$MODDIR/modules.builtin" $HWPCI $IRQB; echo "$KVER $WANT")
if [ "${FORCE:-0}" = 1 ] || [ ! -f "$W/base.cpio.gz" ] || [ "$(cat "$W/base.stamp" 2>/dev/null)" != "$base_stamp" ]; then
	R=$W/base
	rm -rf "$R"
	mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,root,mnt,lib64,lib/modules/$KVER}
	cp "$BB" "$R/bin/busybox"
	for a in $("$BB" --list); do
		[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
	done
	ORDER=$R/etc/modules.order
	: > "$ORDER"
	declare -A SEEN=()
	add_mod() { # path relative to $MODDIR, after its dependencies
		local rel=$1 dep dst
		[ -n "${SEEN[$rel]:-}" ] && return 0
		SEEN[$rel]=1
		for dep in $(grep -E "^${rel//./\\.}:" "$MODDIR/modules.dep" | cut -d: -f2-); do
			add_mod "$dep"
		done
		dst=$R/lib/modules/$KVER/$rel
		mkdir -p "$(dirname "$dst")"
		case $rel in
		*.ko.xz) xz -dc "$MODDIR/$rel" > "${dst%.xz}"; rel=${rel%.xz} ;;
		*.ko.zst) zstd -dc "$MODDIR/$rel" > "${dst%.zst}"; rel=${rel%.zst} ;;
		*.ko.gz) gzip -dc "$MODDIR/$rel" > "${dst%.gz}"; rel=${rel%.gz} ;;
		*) cp "$MODDIR/$rel" "$dst" ;;
		esac
		echo "/lib/modules/$KVER/$rel" >> "$ORDER"
	}
	for m in $WANT; do
		pat=${m//[-_]/[-_]}
		if grep -qE "/${pat}\.ko" "$MODDIR/modules.builtin"; then continue; fi
		p=$(grep -E "(^|/)${pat}\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -1 | cut -d: -f1)
		[ -n "$p" ] || { echo "build.sh: module $m not in $MODDIR" >&2; exit 1; }
		add_mod "$p"
	done
	# hwloc finds PCI devices through this plugin (libpciaccess) on a real host
	[ -f $HWPCI ] && copy_bin $HWPCI
	[ -n "$IRQB" ] && copy_bin "$IRQB" /usr/sbin/irqbalance
	pack "$R" "$W/base.cpio.gz"
	echo "$base_stamp" > "$W/base.stamp"
	rm -f "$W/initrd.img"
	echo "build.sh: base image for $KVER ($(wc -l < "$ORDER") modules)" >&2
fi

# ---------------------------------------------------------------- top
# The guides' hookscript (bench/hookscript-guide.sh) and the tools it runs,
# under /opt/guide so busybox stays the shell of every case: case 90 times it
# beside pvepin on this kernel.
GUIDE_TOOLS=$(for t in bash ps taskset; do command -v $t; done)
TOPFILES="$PVEPIN $(for h in $helpers; do echo "$BUILD/tests/helpers/$h"; done) $VM/init $VM/lib.sh $VM/demo-guest.sh $VM/cases/*.sh $TOP/bench/hookscript-guide.sh $GUIDE_TOOLS"
top_stamp=$(stamp "$VM/build.sh" $TOPFILES $(libs_of "$PVEPIN"))
if [ "${FORCE:-0}" = 1 ] || [ ! -f "$W/top.cpio.gz" ] || [ "$(cat "$W/top.stamp" 2>/dev/null)" != "$top_stamp" ]; then
	R=$W/top
	rm -rf "$R"
	mkdir -p "$R/usr/sbin" "$R/tests/cases"
	if [ -x "$PVEPIN" ]; then
		copy_bin "$PVEPIN" /usr/sbin/pvepin
	else
		echo "build.sh: warning: no $PVEPIN, cases that run it will fail" >&2
	fi
	for h in $helpers; do copy_bin "$BUILD/tests/helpers/$h" /usr/bin/$h; done
	# the fault sweep (cases/76-strace-faults.sh) injects at each write syscall
	STRACE=$(command -v strace || true)
	[ -n "$STRACE" ] && copy_bin "$STRACE" /usr/bin/strace
	install -m 0755 "$VM/init" "$R/init"
	install -m 0644 "$VM/lib.sh" "$R/tests/lib.sh"
	install -m 0755 "$VM/demo-guest.sh" "$R/tests/demo.sh"
	install -m 0755 "$TOP/bench/hookscript-guide.sh" "$R/tests/hookscript-guide.sh"
	for t in $GUIDE_TOOLS; do copy_bin "$t" "/opt/guide/bin/${t##*/}"; done
	for c in "$VM"/cases/*.sh; do install -m 0755 "$c" "$R/tests/cases/"; done
	pack "$R" "$W/top.cpio.gz"
	echo "$top_stamp" > "$W/top.stamp"
	rm -f "$W/initrd.img"
fi

if [ ! -f "$W/initrd.img" ]; then
	cat "$W/base.cpio.gz" "$W/top.cpio.gz" > "$W/initrd.img.tmp"
	mv "$W/initrd.img.tmp" "$W/initrd.img"
fi
