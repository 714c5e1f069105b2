/* Shared by vmctx/safety*.c: what a plan device is under (a sysfs device
 * path, a block device, a network interface) and the refusal once per
 * device. */
#pragma once
#include <stdbool.h>

#include "pinner/plan.h"

#define PV_SAFETY_DEPTH 8

/* The plan device on a sysfs device path (a realpath such as
 * .../pci0000:00/0000:00:1f.2/ata1/.../sda), NULL if none. */
const char *pv_safety_on_path(const struct pv_plan *p, const char *real);

/* The plan device under a block device by its sysfs name ("sda2",
 * "dm-1", "nvme0n1"), or under what it is built from (slaves/, NVMe
 * multipath/), NULL if none. */
const char *pv_safety_block(const struct pv_plan *p, const char *name);

/* The sysfs name of the block device at a /dev path ("/dev/sda2",
 * "/dev/mapper/pve-swap", "/dev/disk/by-id/..."), false if none. */
bool pv_safety_devpath(const char *dev, char *name, size_t n);

/* The plan device behind a network interface (its device, or those of
 * its lower_* interfaces: bridge ports, bond slaves, VLAN parents). */
const char *pv_safety_netdev(const struct pv_plan *p, const char *ifname);

/* Add "<bdf> <why>" as a refusal unless bdf is refused already (the first
 * reason found is the one given). */
void pv_safety_refuse(struct pv_plan *p, const char *bdf, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Disks: mounted filesystems, swap, ZFS pools, btrfs members, dm/md
 * holder chains, VM storage of storage.cfg (dir, lvm, lvmthin, zfspool). */
void pv_safety_disks(struct pv_plan *p);

/* Networks: IPv4 and IPv6 default routes, corosync's rings, network
 * storage (storage.cfg, NFS/CIFS/Ceph mounts). */
void pv_safety_nets(struct pv_plan *p);

/* storage.cfg, section by section: fn for each (type, id, key, value) of
 * a storage that is not disabled; a value is the rest of its line (a
 * monhost list is separated by spaces, ',' or ';'). */
typedef void (*pv_storage_fn)(void *arg, const char *type, const char *id, const char *key,
			      const char *val);
void pv_safety_storage(pv_storage_fn fn, void *arg);
