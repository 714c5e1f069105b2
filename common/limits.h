/* Values more than one layer must agree on. Each is here once, so a
 * parser, the ledger and a message can never disagree about them. */
#pragma once
#include <stdio.h>

/* PVE's VM ids (pve-common's PVE::JSONSchema pve-vmid: 100..999999999). */
#define PV_VMID_MIN 100
#define PV_VMID_MAX 999999999
#define PV_VMID_RANGE "100..999999999"

/* x86-64 hugepage sizes in kB, as sysfs names them (hugepages-<N>kB) and
 * qemu-server's Memory.pm counts them. */
#define PV_HP_2M_KB 2048
#define PV_HP_1G_KB 1048576
#define PV_HP_2M_KB_STR "2048"
#define PV_HP_1G_KB_STR "1048576"

/* pvepin's own state (tmpfs): journals, ledger, lock, saved topologies,
 * agent files. */
#define PV_RUN_DIR "/run/pvepin"

/* Where qemu-server puts a VM's QEMU: systemd-run --scope --slice qemu
 * --unit <vmid> (QemuServer.pm, vm_start_nolock / enter_systemd_scope). */
#define PV_QEMU_SLICE "qemu.slice"
#define PV_QEMU_SCOPE_FMT PV_QEMU_SLICE "/%d.scope"

/* The VM's scope cgroup, relative to the cgroup root. */
static inline void pv_vm_scope(char *buf, size_t n, int vmid)
{
	snprintf(buf, n, PV_QEMU_SCOPE_FMT, vmid);
}

/* qsort/bsearch order of ints, without the overflow of a subtraction. */
static inline int pv_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}
