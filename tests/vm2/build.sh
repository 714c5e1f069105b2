#!/bin/bash
# build.sh - build the systemd guest of tests/vm2 (from ../shared/vm2, the PVE hookscript test bed).
#
# Stage 1 (slow, cached): debootstrap a Debian rootfs (minbase + systemd, dbus, udev, kmod,
#   procps, iproute2, python3-minimal and the nested qemu-system-x86), trim docs/locales and
#   cache it as $WORK/rootfs-$SUITE.tar.zst. Skipped when that tarball exists (REBUILD=1 forces).
# Stage 2 (fast, every call): unpack the tarball, add the kernel modules the test needs,
#   the guest scripts and units, then pack the boot image:
#     ROOT=initrd  (default) $WORK/rootfs.cpio, an uncompressed initramfs holding the whole rootfs
#     ROOT=disk    $WORK/rootfs.ext4 (virtio disk) + $WORK/boot-disk.cpio.gz (busybox stub
#                  that loads virtio/ext4 and switch_roots into systemd)
#
# Settings (environment):
#   WORK=tests/vm2/work outputs        SUITE=bookworm     KVER=newest /boot/vmlinuz-*
#   MIRROR=<url>        default: the URI this machine's apt uses for $SUITE (apt-get indextargets)
#   REBUILD=1           rerun debootstrap      ROOT=initrd|disk|both
#   EXTRA_ROOTFS=<dir>  copied over the rootfs in stage 2 (e.g. <dir>/usr/local/bin/<hookscript>)
#   SLIM=0              keep qemu-system-i386, the microvm binary, qemu-storage-daemon, hwdb sources
set -euo pipefail
H=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$H/work}
SUITE=${SUITE:-bookworm}
ROOT=${ROOT:-initrd}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TARBALL=$WORK/rootfs-$SUITE.tar.zst
STATS=$WORK/build-stats.txt
log() { echo "[build $(date +%T)] $*" >&2; }
[ "$(id -u)" = 0 ] || { echo "build.sh needs root (debootstrap, apt-get)" >&2; exit 1; }

# ---------------------------------------------------------------- host packages
need_pkgs() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing host packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}
need_pkgs debootstrap qemu-system-x86 linux-image-amd64 cpio zstd xz-utils kmod e2fsprogs busybox-static

# newest generic kernel (the -cloud/-rt flavours lack drivers the checks use)
KVER=${KVER:-$(ls /boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | grep -v -e cloud -e '-rt-' | sort -V | tail -1)}
[ -d /lib/modules/$KVER ] || { echo "no /lib/modules/$KVER" >&2; exit 1; }

# ---------------------------------------------------------------- uncompressed kernel for PVH boot
# The Debian bzImage is xz-compressed; its self-decompression takes seconds under TCG before the
# kernel even starts. CONFIG_PVH=y lets QEMU start the ELF vmlinux directly (run.sh uses it when
# present; KERNEL_BOOT=bzimage in run.sh uses /boot/vmlinuz-* instead).
extract_vmlinux() { # bzImage out
  local magic pos dec
  for magic in '\xfd7zXZ\x00:xz -dc' '\x28\xb5\x2f\xfd:zstd -dcq' '\x1f\x8b\x08:gzip -dc' '\x02\x21\x4c\x18:lz4 -dc'; do
    dec=${magic#*:}
    for pos in $(LC_ALL=C grep -aboP "${magic%%:*}" "$1" | cut -d: -f1 | head -5); do
      tail -c +$((pos + 1)) "$1" | $dec 2>/dev/null > "$2.tmp" || true
      if [ "$(head -c 4 "$2.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then mv "$2.tmp" "$2"; return 0; fi
    done
  done
  rm -f "$2.tmp"; return 1
}

# ---------------------------------------------------------------- mirror from apt's own config
mirror_from_apt() {
  local m
  # apt parses both sources.list and deb822 *.sources for us
  m=$(apt-get indextargets --no-release-info --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' 2>/dev/null |
      awk -v s="$SUITE" '$1=="deb" && $2==s {print $3; exit}')
  if [ -z "$m" ]; then   # fallback: one-line format
    m=$(grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        sed 's/\[[^]]*\]//' | awk -v s="$SUITE" '$3==s {print $2; exit}')
  fi
  if [ -z "$m" ]; then   # fallback: deb822 stanzas
    m=$(awk -v s="$SUITE" 'BEGIN{RS="";FS="\n"} /(^|\n)Types:[^\n]*deb( |$|\n)/ && $0 ~ "Suites:[^\n]*[ :]" s "( |$|\n)" {
          for(i=1;i<=NF;i++) if ($i ~ /^URIs:/) { split($i,a," "); print a[2]; exit } }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null)
  fi
  echo "${m%/}"
}

# ---------------------------------------------------------------- stage 1: debootstrap + cache
PKGS=systemd,systemd-sysv,dbus,udev,kmod,procps,iproute2,python3-minimal,qemu-system-x86
if [ ! -s "$TARBALL" ] || [ "${REBUILD:-0}" = 1 ]; then
  MIRROR=${MIRROR:-$(mirror_from_apt)}
  [ -n "$MIRROR" ] || { echo "no apt source for suite $SUITE found; set MIRROR=" >&2; exit 1; }
  log "debootstrap $SUITE (minbase + $PKGS) from the apt source of this machine"
  t0=$(date +%s.%N)
  B=$WORK/debootstrap.tmp
  rm -rf "$B"; mkdir -p "$B" "$WORK/debs"
  # debootstrap never installs Recommends, so qemu-system-x86 comes without them
  # (its Depends still bring seabios + ipxe-qemu, which the nested qemu needs)
  debootstrap --variant=minbase --include="$PKGS" --cache-dir="$WORK/debs" \
    "$SUITE" "$B" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 ||
    { tail -30 "$WORK/debootstrap.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  du_before=$(du -sm "$B" | cut -f1)
  # trim: docs, man pages, locales, apt lists and caches
  rm -rf "$B"/usr/share/doc/* "$B"/usr/share/man/* "$B"/usr/share/info/* \
         "$B"/usr/share/locale/* "$B"/usr/share/lintian "$B"/usr/share/bug \
         "$B"/var/cache/apt/*.bin "$B"/var/cache/apt/archives/*.deb "$B"/var/lib/apt/lists/* \
         "$B"/var/cache/debconf/*-old "$B"/var/lib/dpkg/*-old "$B"/var/log/*.log "$B"/var/log/apt/*
  mkdir -p "$B"/etc/dpkg/dpkg.cfg.d
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' > "$B"/etc/dpkg/dpkg.cfg.d/01-testbed-nodoc
  du_after=$(du -sm "$B" | cut -f1)
  tar -C "$B" --numeric-owner -cf - . | zstd -q -T0 -6 -o "$TARBALL.tmp"
  mv "$TARBALL.tmp" "$TARBALL"
  t2=$(date +%s.%N)
  rm -rf "$B"
  {
    echo "stage1_debootstrap_s=$(awk "BEGIN{printf \"%.1f\", $t1-$t0}")"
    echo "stage1_total_s=$(awk "BEGIN{printf \"%.1f\", $t2-$t0}")"
    echo "rootfs_untrimmed_MiB=$du_before"
    echo "rootfs_trimmed_MiB=$du_after"
    echo "tarball_bytes=$(stat -c %s "$TARBALL")"
    echo "packages=$(zstd -dc "$TARBALL" | tar -xOf - ./var/lib/dpkg/status | grep -c '^Package:')"
  } > "$STATS"
  log "stage 1 done: $(tr '\n' ' ' < "$STATS")"
else
  log "using cached $TARBALL (REBUILD=1 to redo debootstrap)"
fi

# ---------------------------------------------------------------- stage 2: assemble the guest
t0=$(date +%s.%N)
R=$WORK/rootfs
rm -rf "$R"; mkdir -p "$R"
zstd -dc "$TARBALL" | tar -C "$R" --numeric-owner -xf -

# kernel modules: only the closure of what the checks (and the disk root) need, then depmod
MODS="e1000e vfio vfio_iommu_type1 vfio_pci autofs4 virtio_pci virtio_blk ext4 ${EXTRA_MODULES:-}"
mkdir -p "$R/lib/modules/$KVER"
for f in modules.builtin modules.builtin.modinfo modules.order; do
  cp /lib/modules/$KVER/$f "$R/lib/modules/$KVER/"
done
for m in $MODS; do
  modprobe -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | sort -u | while read -r ko; do
  mkdir -p "$R$(dirname "$ko")"; cp "$ko" "$R$ko"
done
depmod -b "$R" "$KVER"

# slim (SLIM=0 keeps them): other qemu targets, hwdb sources (hwdb.bin stays)
if [ "${SLIM:-1}" = 1 ]; then
  rm -f "$R"/usr/libexec/qemu-system-i386 "$R"/usr/bin/qemu-system-x86_64-microvm "$R"/usr/bin/qemu-storage-daemon
  rm -rf "$R"/usr/lib/udev/hwdb.d
fi

# what pvepin and the suite need beyond stage 1, from the same archive through apt (cached in
# $WORK/extra-debs; the host runs the same Debian release as the guest)
EXTRA_DEBS="libhwloc15 libinih1 strace libunwind8"
mkdir -p "$WORK/extra-debs"
for p in $EXTRA_DEBS; do
  ls "$WORK/extra-debs/${p}_"*.deb >/dev/null 2>&1 ||
    ( cd "$WORK/extra-debs" && apt-get download -q -o APT::Sandbox::User=root "$p" >/dev/null 2>&1 ) || { echo "apt-get download $p failed" >&2; exit 1; }
done
# --keep-directory-symlink: /lib is a symlink to usr/lib (merged /usr), which plain tar replaces
for d in "$WORK"/extra-debs/*.deb; do
  dpkg-deb --fsys-tarfile "$d" | tar -C "$R" -x --keep-directory-symlink
done

# guest scripts and units: the suite runner, its library and cases, the qm driver
install -m 0755 "$H/guest/vm2-suite" "$R/usr/local/sbin/vm2-suite"
install -m 0755 "$H/guest/qm" "$R/usr/local/sbin/qm"
install -m 0755 "$H/guest/qmp.py" "$R/usr/local/sbin/qmp.py"
install -D -m 0644 "$H/guest/lib.sh" "$R/usr/local/lib/vm2/lib.sh"
mkdir -p "$R/usr/local/lib/vm2/cases"
install -m 0644 "$H"/cases/*.sh "$R/usr/local/lib/vm2/cases/"
install -m 0755 "$H/guest/testbed-udev-trigger" "$R/usr/local/sbin/testbed-udev-trigger"
install -m 0644 "$H/guest/testbed.service" "$R/etc/systemd/system/testbed.service"
install -D -m 0644 "$H/guest/udev-trigger.conf" "$R/etc/systemd/system/systemd-udev-trigger.service.d/testbed.conf"
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf ../testbed.service "$R/etc/systemd/system/multi-user.target.wants/testbed.service"
ln -sf /lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"
# mask units that are slow under TCG or useless here (logins, timers, first-boot/update jobs)
while read -r u; do
  [ -n "$u" ] && ln -sf /dev/null "$R/etc/systemd/system/$u"
done < "$H/guest/masked-units"
mkdir -p "$R/etc/systemd/system-generators"
while read -r g; do
  [ -n "$g" ] && ln -sf /dev/null "$R/etc/systemd/system-generators/$g"
done < "$H/guest/masked-generators"
mkdir -p "$R/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' > "$R/etc/systemd/journald.conf.d/testbed.conf"
# as on a PVE host set up for passthrough (PVE's PCI passthrough guide): vfio at boot
printf 'vfio\nvfio_iommu_type1\nvfio_pci\n' > "$R/etc/modules-load.d/vfio.conf"
echo pve-testbed > "$R/etc/hostname"
echo 5e1f0c0ffee0c0ffee0c0ffee0c0ffee > "$R/etc/machine-id"   # fixed id: no first-boot logic
echo "/dev/root / auto defaults 0 0" > "$R/etc/fstab"
passwd -R "$R" -d root >/dev/null 2>&1 || true
mkdir -p "$R/run/qemu-server" "$R/var/run"

# the project's own files (e.g. the hookscript binary), laid over the rootfs
if [ -n "${EXTRA_ROOTFS:-}" ]; then
  cp -a "$EXTRA_ROOTFS"/. "$R"/
  log "overlaid $EXTRA_ROOTFS"
fi

pack_initrd() {
  # uncompressed: the kernel only copies it (no decompression under TCG)
  ( cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet ) > "$WORK/rootfs.cpio.tmp"
  mv "$WORK/rootfs.cpio.tmp" "$WORK/rootfs.cpio"
  log "initramfs: $WORK/rootfs.cpio $(du -m "$WORK/rootfs.cpio" | cut -f1) MiB"
}
pack_disk() {
  local mb; mb=$(( $(du -sm "$R" | cut -f1) * 13 / 10 + 128 ))
  rm -f "$WORK/rootfs.ext4"
  mkfs.ext4 -q -F -L testbed -d "$R" "$WORK/rootfs.ext4" "${mb}M"
  # busybox stub initramfs: load virtio + ext4, mount /dev/vda, switch_root into systemd
  local S=$WORK/stub; rm -rf "$S"; mkdir -p "$S"/{bin,dev,proc,sys,newroot}
  cp /bin/busybox "$S/bin/busybox"
  for a in sh mount insmod switch_root sleep cat; do ln -s busybox "$S/bin/$a"; done
  : > "$S/modules"
  for m in virtio_pci virtio_blk ext4; do
    modprobe -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    mkdir -p "$S$(dirname "$ko")"; cp "$ko" "$S$ko"; echo "$ko" >> "$S/modules"
  done
  install -m 0755 "$H/guest/stub-init" "$S/init"
  ( cd "$S" && find . | cpio -o -H newc --quiet ) | gzip -1 > "$WORK/boot-disk.cpio.gz"
  log "disk: $WORK/rootfs.ext4 (${mb} MiB) + $WORK/boot-disk.cpio.gz"
}
case "$ROOT" in
  initrd) pack_initrd ;;
  disk)   pack_disk ;;
  both)   pack_initrd; pack_disk ;;
  *) echo "ROOT must be initrd, disk or both" >&2; exit 1 ;;
esac
echo "$KVER" > "$WORK/kver"
if [ "${PVH:-1}" = 1 ] && [ ! -s "$WORK/vmlinux-$KVER" ]; then
  extract_vmlinux "/boot/vmlinuz-$KVER" "$WORK/vmlinux-$KVER" && log "PVH kernel: $WORK/vmlinux-$KVER" ||
    log "could not extract an ELF vmlinux from /boot/vmlinuz-$KVER; run.sh will boot the bzImage"
fi
t1=$(date +%s.%N)
sed -i '/^stage2_/d;/^rootfs_assembled_MiB/d' "$STATS" 2>/dev/null || true
{ echo "stage2_s=$(awk "BEGIN{printf \"%.1f\", $t1-$t0}")"; echo "rootfs_assembled_MiB=$(du -sm "$R" | cut -f1)"; } >> "$STATS"
log "stage 2 done in $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s (kernel $KVER)"
