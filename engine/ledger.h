/* /run/pvepin/ledger: what each running VM holds (exclusive CPUs, the host
 * CPUs it wants housekeeping on, hugepages per node, devices), plus the
 * host settings several VMs share (host cpusets, +cpuset in
 * subtree_control, the isolating cpuset partition) with their value from before the first VM touched them,
 * so the last VM out restores that. Read and written under the lock;
 * replaced atomically (write, fsync, rename). */
#pragma once
#include <stdbool.h>

#include "common/err.h"
#include "pinner/plan.h"
#include "engine/journal.h"

struct pv_lvm {
	int vmid;
	char state[16];              /* "starting" (pre-start done) | "running" (post-start done) */
	char cpus[PV_JVAL];          /* exclusive CPUs, cpu list */
	char host[PV_JVAL];          /* host_cpus it asked for; "" when it does not isolate */
	long page_kb;                /* hugepage size, 0 none */
	struct pv_plan_pages pages[PV_MAX_NODES];
	int npages;
	char devs[PV_MAX_DEVS][PV_BDF_LEN];
	int ndevs;
};

struct pv_lshared {
	enum pv_step_kind kind;      /* PV_STEP_CPUSET, CGCTL, PARTITION or PARTCPUS */
	char target[PV_JTARGET];
	char orig[PV_JVAL];          /* before any VM touched it */
	char written[PV_JVAL];       /* what pvepin wrote last */
};

struct pv_ledger {
	struct pv_lvm *vm;
	int nvm;
	struct pv_lshared *sh;
	int nsh;
};

/* An absent ledger loads empty. A corrupt one (torn, cut short, a bad
 * checksum or record) fails with e->errnum EBADMSG and holds nothing. */
int pv_ledger_load(struct pv_ledger *l, struct pv_err *e);
/* The same, but a corrupt ledger is rebuilt from the journals
 * (pv_ledger_rebuild) and said in one line. keep (the phase lock held, not
 * --dry-run): the corrupt file is renamed to ledger.corrupt (.1, .2, ...
 * if taken) and the rebuilt one saved; else it is only used. */
int pv_ledger_load_repair(struct pv_ledger *l, bool keep, struct pv_err *e);

#define PV_LEDGER_REBUILD_MAX 256

/* What a rebuild found: the VMs it rebuilt, and those whose journal holds
 * changes but whose QEMU and agent are gone (left out). */
struct pv_ledger_rebuilt {
	int live[PV_LEDGER_REBUILD_MAX], nlive;
	int stale[PV_LEDGER_REBUILD_MAX], nstale;
	int nsh;
};
/* A VM holds what its journal says while its QEMU runs (the pid file
 * /run/qemu-server/VMID.pid names a process; under --root the tree's own
 * /proc) or its agent does (never under --root: a captured tree runs
 * nothing). An unreadable pid file counts as running. */
bool pv_ledger_vm_alive(int vmid);
/* The ledger from /run/pvepin/VMID.journal: an entry per VM alive with
 * live steps (devices rebound, pages added, its CPUs from its scope,
 * threads and governors, its host CPUs from the host cpusets or its
 * partition), and the shared settings from every journal, alive or not,
 * with the value from before the first VM. */
int pv_ledger_rebuild(struct pv_ledger *l, struct pv_ledger_rebuilt *rb, struct pv_err *e);
int pv_ledger_save(const struct pv_ledger *l, struct pv_err *e);
void pv_ledger_free(struct pv_ledger *l);
int pv_ledger_parse(const char *text, struct pv_ledger *l, struct pv_err *e);

struct pv_lvm *pv_ledger_vm(const struct pv_ledger *l, int vmid);
/* Add or replace the entry of v->vmid. */
int pv_ledger_put(struct pv_ledger *l, const struct pv_lvm *v, struct pv_err *e);
void pv_ledger_drop(struct pv_ledger *l, int vmid);
/* Fill v from a plan (state "starting"). */
int pv_ledger_from_plan(struct pv_lvm *v, const struct pv_plan *p, bool isolate,
			struct pv_err *e);

struct pv_lshared *pv_ledger_shared(const struct pv_ledger *l, enum pv_step_kind k,
				    const char *target);
/* Remember a shared setting: orig only the first time, written always. */
int pv_ledger_share(struct pv_ledger *l, enum pv_step_kind k, const char *target,
		    const char *orig, const char *written, struct pv_err *e);
void pv_ledger_unshare(struct pv_ledger *l, enum pv_step_kind k, const char *target);

/* Number of VMs other than self. */
int pv_ledger_others(const struct pv_ledger *l, int self);
/* What every VM but self holds, for the planner. */
int pv_ledger_claims(const struct pv_ledger *l, int self, struct pv_claims *c, struct pv_err *e);
/* Refuse when self's plan wants a device or an exclusive CPU another VM
 * holds; the message names both VMs. */
int pv_ledger_conflicts(const struct pv_ledger *l, const struct pv_plan *p, struct pv_err *e);
/* Pages other VMs reserved on node that their QEMU has not taken yet
 * (state "starting"): free in the pool, but spoken for. */
long pv_ledger_pending_pages(const struct pv_ledger *l, int self, int node, long size_kb);
/* Housekeeping CPUs for the VMs in the ledger except `except` (0 = none):
 * the intersection of their host sets minus the union of their exclusive
 * CPUs. *any is false when no such VM isolates (then set is untouched). */
int pv_ledger_host_set(const struct pv_ledger *l, int except, hwloc_bitmap_t set, bool *any,
		       struct pv_err *e);
