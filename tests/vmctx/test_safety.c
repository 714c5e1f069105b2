/* vmctx/safety*.c against a fake host tree (--root): every device that
 * backs the host's storage or networks is refused with its reason, each
 * found by what the kernel and PVE expose (mountinfo, /sys/class/block,
 * holders and slaves, /proc/swaps, /sys/fs/btrfs, udev's ZFS labels,
 * storage.cfg, routes v4 and v6, if_inet6, corosync.conf, /etc/hosts),
 * and a device that backs nothing is not. */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/opts.h"
#include "vmctx/safety.h"
#include "tests/lib/tap.h"

static char root[] = "/tmp/pvepin-safety-XXXXXX";

static void mkdirs(const char *path)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
				perror(buf);
				exit(2);
			}
			*p = '/';
		}
}

static void put(const char *rel, const char *fmt, ...)
{
	char path[1024];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	mkdirs(path);
	if (!(f = fopen(path, "w"))) {
		perror(path);
		exit(2);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void dir(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s/", root, rel);
	mkdirs(path);
}

/* a link at rel to target, relative as sysfs makes them */
static void ln(const char *target, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	mkdirs(path);
	if (symlink(target, path) < 0) {
		perror(path);
		exit(2);
	}
}

#define PCI "/sys/devices/pci0000:00"

/* A disk (and partitions 1..nparts) behind a PCI function. */
static void disk(const char *bdf, const char *name, int maj, int min0, int nparts)
{
	char d[512], rel[600], tgt[600];

	snprintf(d, sizeof(d), PCI "/0000:%s/host0/block/%s", bdf, name);
	put(strcat(strcpy(rel, d), "/dev"), "%d:%d\n", maj, min0);
	snprintf(rel, sizeof(rel), "/sys/class/block/%s", name);
	snprintf(tgt, sizeof(tgt), "../../devices/pci0000:00/0000:%s/host0/block/%s", bdf, name);
	ln(tgt, rel);
	snprintf(rel, sizeof(rel), "/sys/dev/block/%d:%d", maj, min0);
	ln(tgt, rel);
	for (int i = 1; i <= nparts; i++) {
		char part[64];

		snprintf(part, sizeof(part), "%s%s%d", name, strncmp(name, "nvme", 4) ? "" : "p", i);
		snprintf(rel, sizeof(rel), "%s/%s/dev", d, part);
		put(rel, "%d:%d\n", maj, min0 + i);
		snprintf(rel, sizeof(rel), "%s/%s/holders", d, part);
		dir(rel);
		snprintf(tgt, sizeof(tgt), "../../devices/pci0000:00/0000:%s/host0/block/%s/%s", bdf,
			 name, part);
		snprintf(rel, sizeof(rel), "/sys/class/block/%s", part);
		ln(tgt, rel);
		snprintf(rel, sizeof(rel), "/sys/dev/block/%d:%d", maj, min0 + i);
		ln(tgt, rel);
	}
}

/* A device-mapper or md device built on one partition. */
static void stacked(const char *name, int maj, int min, const char *dmname, const char *on_bdf,
		    const char *on_disk, const char *on_part)
{
	char rel[600], tgt[600];

	snprintf(rel, sizeof(rel), "/sys/devices/virtual/block/%s/dev", name);
	put(rel, "%d:%d\n", maj, min);
	if (dmname) {
		snprintf(rel, sizeof(rel), "/sys/devices/virtual/block/%s/dm/name", name);
		put(rel, "%s\n", dmname);
	}
	snprintf(rel, sizeof(rel), "/sys/devices/virtual/block/%s/slaves/%s", name, on_part);
	snprintf(tgt, sizeof(tgt), "../../../../pci0000:00/0000:%s/host0/block/%s/%s", on_bdf,
		 on_disk, on_part);
	ln(tgt, rel);
	snprintf(rel, sizeof(rel), PCI "/0000:%s/host0/block/%s/%s/holders/%s", on_bdf, on_disk,
		 on_part, name);
	snprintf(tgt, sizeof(tgt), "../../../../../../virtual/block/%s", name);
	ln(tgt, rel);
	snprintf(rel, sizeof(rel), "/sys/class/block/%s", name);
	snprintf(tgt, sizeof(tgt), "../../devices/virtual/block/%s", name);
	ln(tgt, rel);
	snprintf(rel, sizeof(rel), "/sys/dev/block/%d:%d", maj, min);
	ln(tgt, rel);
}

/* A NIC behind a PCI function; with upper, a bridge or VLAN on it. */
static void nic(const char *bdf, const char *ifname, const char *upper)
{
	char rel[600], tgt[600];

	snprintf(rel, sizeof(rel), PCI "/0000:%s/net/%s/ifindex", bdf, ifname);
	put(rel, "2\n");
	snprintf(rel, sizeof(rel), "/sys/class/net/%s", ifname);
	snprintf(tgt, sizeof(tgt), "../../devices/pci0000:00/0000:%s/net/%s", bdf, ifname);
	ln(tgt, rel);
	snprintf(rel, sizeof(rel), PCI "/0000:%s/net/%s/device", bdf, ifname);
	snprintf(tgt, sizeof(tgt), "../../../0000:%s", bdf);
	ln(tgt, rel);
	if (upper) {
		snprintf(rel, sizeof(rel), "/sys/devices/virtual/net/%s/lower_%s", upper, ifname);
		snprintf(tgt, sizeof(tgt), "../../../pci0000:00/0000:%s/net/%s", bdf, ifname);
		ln(tgt, rel);
		snprintf(rel, sizeof(rel), "/sys/class/net/%s", upper);
		snprintf(tgt, sizeof(tgt), "../../devices/virtual/net/%s", upper);
		ln(tgt, rel);
	}
}

static void host(void)
{
	disk("00:17.0", "sda", 8, 0, 3);     /* / on ext4 (sda2) */
	disk("3d:00.0", "nvme0n1", 259, 0, 3); /* ZFS rpool member (p3) */
	disk("3e:00.0", "nvme1n1", 259, 10, 1); /* /boot/efi */
	disk("01:00.0", "sdb", 8, 16, 1);   /* swap on dm-0 (pve-swap) on sdb1 */
	disk("02:00.0", "sdc", 8, 32, 1);   /* btrfs member, not the one mountinfo names */
	disk("03:00.0", "sdd", 8, 48, 1);   /* btrfs member mountinfo names */
	disk("04:00.0", "sde", 8, 64, 1);   /* lvmthin VG vm-data of storage.cfg */
	disk("05:00.0", "sdf", 8, 80, 1);   /* md0 built on it, not mounted */
	disk("06:00.0", "sdg", 8, 96, 1);   /* nothing */
	stacked("dm-0", 253, 0, "pve-swap", "01:00.0", "sdb", "sdb1");
	stacked("dm-1", 253, 1, "vm--data-vm--100--disk--0", "04:00.0", "sde", "sde1");
	stacked("md0", 9, 0, NULL, "05:00.0", "sdf", "sdf1");
	ln("../../dm-0", "/dev/mapper/pve-swap");
	dir("/dev");
	put("/proc/self/mountinfo",
	    "22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n"
	    "23 22 0:21 / /proc rw - proc proc rw\n"
	    "24 22 259:11 / /boot/efi rw - vfat /dev/nvme1n1p1 rw\n"
	    "25 22 0:45 / /srv/with\\040space rw - btrfs /dev/sdd1 rw\n"
	    "26 22 0:46 / /rpool rw - zfs rpool rw,xattr\n"
	    "27 22 0:47 / /mnt/pve/nfs rw - nfs4 172.16.0.5:/export rw\n");
	put("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/dm-0 partition 8388604 0 -2\n");
	dir("/sys/fs/btrfs/9b3c0a2e-1111-2222-3333-444455556666/devices");
	ln("../../../../devices/pci0000:00/0000:02:00.0/host0/block/sdc/sdc1",
	   "/sys/fs/btrfs/9b3c0a2e-1111-2222-3333-444455556666/devices/sdc1");
	dir("/proc/spl/kstat/zfs/rpool");
	put("/proc/spl/kstat/zfs/arcstats", "x\n");
	put("/run/udev/data/b259:3", "S:disk/by-id/nvme-x-part3\nE:ID_FS_TYPE=zfs_member\nE:ID_FS_LABEL=rpool\n");
	put("/run/udev/data/b8:97", "E:ID_FS_TYPE=zfs_member\nE:ID_FS_LABEL=exported\n");
	put("/etc/pve/storage.cfg",
	    "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\n"
	    "lvmthin: vmdata\n\tthinpool data\n\tvgname vm-data\n\tcontent rootdir,images\n\n"
	    "nfs: nas\n\texport /tank\n\tpath /mnt/pve/nas\n\tserver nas1\n\n"
	    "nfs: old\n\texport /x\n\tserver 10.99.0.1\n\tdisable 1\n\n"
	    "rbd: ceph\n\tmonhost 10.0.0.1 [fd00:2::7]:6789\n\tcontent images\n");
	put("/etc/hosts", "127.0.0.1 localhost\n# 10.99.0.1 nas1\n192.168.50.10 nas1.lan nas1\n");
	put("/etc/pve/corosync.conf",
	    "nodelist {\n  node {\n    name: pve1\n    nodeid: 1\n    ring0_addr: 10.10.10.1\n"
	    "    ring1_addr: fd00:1::1\n  }\n}\ntotem {\n  cluster_name: c\n}\n");

	nic("00:1f.6", "eno1", "vmbr0");
	nic("07:00.0", "enp7s0", NULL);
	nic("08:00.0", "enp8s0", NULL);
	nic("09:00.0", "enp9s0", NULL);
	nic("0a:00.0", "enp10s0", "enp10s0.4");
	nic("0b:00.0", "enp11s0", NULL);
	nic("0c:00.0", "enp12s0", NULL);
	nic("0d:00.0", "enp13s0", NULL);
	put("/proc/net/route",
	    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	    "vmbr0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	    "vmbr0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	    "enp8s0\t000A0A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	    "enp10s0.4\t0032A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	    "enp11s0\t000010AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
	    "enp12s0\t0000630A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
	    "enp13s0\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n");
	put("/proc/net/ipv6_route",
	    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003   enp7s0\n"
	    "fd000002000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001  enp13s0\n"
	    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
	    "fd000001000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n");
	put("/proc/net/if_inet6", "fd000001000000000000000000000001 05 40 00 80  enp9s0\n");
}

static const char *refusal(const struct pv_plan *p, const char *bdf)
{
	for (int i = 0; i < p->nrefuse; i++)
		if (!strncmp(p->refuse[i], bdf, strlen(bdf)))
			return p->refuse[i];
	return NULL;
}

static void expect(const struct pv_plan *p, const char *bdf, const char *why)
{
	const char *r = refusal(p, bdf);

	CHECK(r && strstr(r, why) && strstr(r, "--force overrides"), "%s: want '%s', got '%s'", bdf,
	      why, r ? r : "(not refused)");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

int main(void)
{
	static const char *const devs[] = {
		"0000:00:17.0", "0000:3d:00.0", "0000:3e:00.0", "0000:01:00.0", "0000:02:00.0",
		"0000:03:00.0", "0000:04:00.0", "0000:05:00.0", "0000:06:00.0", "0000:00:1f.6",
		"0000:07:00.0", "0000:08:00.0", "0000:09:00.0", "0000:0a:00.0", "0000:0b:00.0",
		"0000:0c:00.0", "0000:0d:00.0",
	};
	static struct pv_plan p;
	struct pv_topo t = { 0 };
	struct pv_err e = { 0 };

	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	host();
	pv_opt.root = root;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		snprintf(p.dev[p.ndev++].bdf, sizeof(p.dev[0].bdf), "%s", devs[i]);
	CHECK_INT(pv_safety_check(&p, &t, &e), 0);
	for (int i = 0; i < p.nrefuse; i++)
		printf("# %s\n", p.refuse[i]);

	expect(&p, "0000:00:17.0", "backs the ext4 filesystem mounted at / (sda2)");
	expect(&p, "0000:3d:00.0", "backs ZFS pool rpool (nvme0n1p3)");
	expect(&p, "0000:3e:00.0", "backs the vfat filesystem mounted at /boot/efi (nvme1n1p1)");
	expect(&p, "0000:01:00.0", "backs swap /dev/dm-0 (dm-0)");
	expect(&p, "0000:02:00.0", "backs mounted btrfs filesystem 9b3c0a2e");
	expect(&p, "0000:03:00.0", "backs the btrfs filesystem mounted at /srv/with space (sdd1)");
	expect(&p, "0000:04:00.0", "backs storage 'vmdata' (LVM volume group vm-data) (dm-1)");
	expect(&p, "0000:05:00.0", "holds sdf1, which md0");
	CHECK(!refusal(&p, "0000:06:00.0"), "a disk that backs nothing: %s", refusal(&p, "0000:06:00.0"));
	expect(&p, "0000:00:1f.6", "carries the IPv4 default route (vmbr0)");
	expect(&p, "0000:07:00.0", "carries the IPv6 default route (enp7s0)");
	expect(&p, "0000:08:00.0", "carries corosync's ring address 10.10.10.1 (enp8s0)");
	expect(&p, "0000:09:00.0", "carries corosync's ring address fd00:1::1 (enp9s0)");
	expect(&p, "0000:0a:00.0", "carries storage 'nas' (nfs server) nas1 (enp10s0.4)");
	expect(&p, "0000:0b:00.0", "carries the nfs4 mount /mnt/pve/nfs from 172.16.0.5 (enp11s0)");
	CHECK(!refusal(&p, "0000:0c:00.0"), "a disabled storage's network: %s", refusal(&p, "0000:0c:00.0"));
	expect(&p, "0000:0d:00.0", "carries storage 'ceph' (rbd monhost) 10.0.0.1 (enp13s0)");
	CHECK_INT(p.nrefuse, 15);

	/* nothing to pass through, nothing looked at */
	{
		static struct pv_plan none;

		CHECK_INT(pv_safety_check(&none, &t, &e), 0);
		CHECK_INT(none.nrefuse, 0);
	}
	pv_opt.root = "";
	CHECK(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "rm %s", root);
	return tap_done("test_safety");
}
