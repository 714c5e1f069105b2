/* The engine: the only code that changes the host. Every change is one
 * journaled step of a small closed set of kinds (hook/journal.h): recorded
 * first (fsync'd unless on tmpfs), made, read back, marked done. Restore
 * walks the journal backwards and puts a value back only if the host still
 * shows what pvepin wrote (compare-and-swap); anything changed since by
 * someone else is left alone and said so.
 *
 * Fault injection, read by test builds only (common/testknob.h; counted
 * per process, 1-based):
 *   PVEPIN_FAULT_AT=k      the k-th step fails after its record, before it runs
 *   PVEPIN_KILL_AT=k       _exit(137) after the k-th step ran, before its done mark
 *   PVEPIN_KILL_UNDO_AT=k  _exit(137) after the k-th undo ran, before its mark */
#pragma once
#include <hwloc.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"
#include "engine/threads.h"
#include "engine/journal.h"
#include "engine/ledger.h"
#include "irqtune/irqtune.h"

struct pv_engine {
	int vmid;
	enum pv_phase phase;
	struct pv_journal j;
	struct pv_ledger *led;   /* other VMs and shared settings; NULL = none known */
	long first_seq;          /* this run's first step: rollback stops there */
	int nsteps, nundo;       /* journaled steps / undos done by this process */
	long fault_at, kill_at, kill_undo_at;
	int nleft, nfailed;      /* undo: steps left alone / not restored */
	int ndone[PV_STEP__N];   /* steps this process made, by kind (the phase's summary) */
	bool alone;              /* undo as if no other VM ran: a partition this run
				  * made and the kernel refused is taken back whole */
	bool reassert;           /* the agent: a target already journaled is updated */
};

int pv_engine_open(struct pv_engine *en, int vmid, enum pv_phase ph, struct pv_ledger *led,
		   struct pv_err *e);
void pv_engine_close(struct pv_engine *en);
/* The agent keeps one engine (and with it the journal, read once) across
 * its fix passes; each pass begins under the lock with that pass's ledger.
 * From then on a step on a target the journal holds live is a re-assert:
 * the entry is updated (its old value stays the one from before pvepin),
 * never a new one appended. */
int pv_engine_begin(struct pv_engine *en, struct pv_ledger *led, struct pv_err *e);

/* What one journal entry's target holds now, read the way its kind reads
 * it (status, drift). want is what pvepin wrote (for a setting VMs share,
 * what it wrote last, for whichever VM). */
enum pv_hold { PV_HOLDS, PV_DRIFTED, PV_GONE };
struct pv_inspect {
	char label[PV_JTARGET + 40]; /* "thread 1234 (CPU 0/KVM)", "irq 41", "cpuset system.slice" */
	char want[PV_JVAL];
	char now[PV_JVAL];
	enum pv_hold st;
};
/* 0 filled; 1 for kinds shown otherwise (REBIND, HUGEPAGES, IRQB). */
int pv_engine_inspect(const struct pv_jent *x, const struct pv_ledger *led, struct pv_inspect *out);
/* The isolating partition cg's cpuset.cpus for the VMs in the ledger
 * other than `except` (0 = none; `host` stands for them without a
 * ledger): every CPU cg could hold but their housekeeping CPUs, *want
 * set; or every CPU, *want false, when no partition is wanted (no such VM
 * isolates, or they leave the host no CPU). */
int pv_partition_cpus(struct pv_engine *en, const char *cg, int except, const char *host,
		      char *val, size_t n, bool *want, struct pv_err *e);
/* The cgroup of a CPUSET or PARTCPUS entry ("<backend>:<cgroup>"), or
 * NULL. The target format lives in step_cpuset.c only. */
const char *pv_engine_cpuset_cg(const struct pv_jent *x);

/* Step functions return 0 when done or when nothing needed doing, 1 when
 * skipped (said why on stderr), -1 on failure (e filled). */

/* Journaled attribute write. path is a host path ("/proc/irq/24/
 * smp_affinity_list"), rooted here; /proc/irq/N/smp_affinity_list is
 * journaled as IRQ, cpufreq scaling_governor as GOVERNOR, the rest as ATTR.
 * A refused IRQ write fails with e->errnum = EIO/EPERM (the caller decides
 * it is a skip) and is marked so restore leaves it. */
int pv_engine_write_attr(struct pv_engine *en, const char *path, const char *val,
			 struct pv_err *e);
/* The same with the value the caller has just read there (NULL: read it
 * here): irqtune reads every IRQ's list to plan, and a second read per
 * IRQ would be a third of the cost of moving thousands of them. */
int pv_engine_write_attr_from(struct pv_engine *en, const char *path, const char *old,
			      const char *val, struct pv_err *e);
/* irqtune's pv_attr_writer: ctx is the engine, path is already rooted. */
int pv_engine_attr_writer(void *ctx, const char *path, const char *old, const char *val,
			  struct pv_err *e);
/* A batch of pv_engine_write_attr_from (old given, no read back): every
 * step record in one journal write before the first change, each change
 * on the fd the caller read the old value from when it has one; done marks
 * held back as usual. Fault injection counts each as a step. The host
 * path is puts[i].path + skip (a root prefix); an item whose rc is -1
 * already is left out. */
void pv_engine_write_attrs(struct pv_engine *en, struct pv_attr_put *puts, int n, size_t skip);
/* irqtune's pv_attr_batch: ctx is the engine, paths are already rooted. */
void pv_engine_attr_batch(void *ctx, struct pv_attr_put *puts, int n);
int pv_engine_governor(struct pv_engine *en, unsigned cpu, const char *gov, struct pv_err *e);
/* Bind bdf to vfio-pci; keep = leave it there at restore (restore_driver = no). */
int pv_engine_rebind(struct pv_engine *en, const char *bdf, int group, bool keep,
		     struct pv_err *e);
/* Make `want` pages of size_kb free on node for this VM, adding to the pool
 * what is missing (compacting once when short). */
int pv_engine_hugepages(struct pv_engine *en, int node, long size_kb, long want,
			struct pv_err *e);
int pv_engine_affinity(struct pv_engine *en, pid_t pid, const struct pv_thread *t,
		       hwloc_const_bitmap_t set, struct pv_err *e);
/* cg's cpuset.cpus = cpus through the backend that owns cg. shared: a host
 * cgroup other VMs may also narrow (remembered in the ledger). */
int pv_engine_cpuset(struct pv_engine *en, const char *cg, const char *cpus, bool shared,
		     struct pv_err *e);

/* Host housekeeping onto host (cpu list), off every other CPU: cg (the
 * VMs' slice) becomes a cpuset partition of every CPU but those, so the
 * host cgroups, which inherit, keep only them without a write to their
 * files. Shared by the VMs that isolate (ledger); the last one out turns
 * the partition off. When the kernel refuses the partition (it reads back
 * "root invalid (...)"), that is undone and the host cgroups are narrowed
 * directly instead, as before partitions. */
int pv_engine_isolate(struct pv_engine *en, const char *cg, const char *host, struct pv_err *e);

/* Add set to irqbalance's banned "cpus" or "irqs" (IRQ numbers as a
 * list); restore takes out only what this step added. Nothing when no
 * irqbalance runs. */
int pv_engine_irqbalance(struct pv_engine *en, const char *what, hwloc_const_bitmap_t add,
			 struct pv_err *e);

/* Write what the journal holds back (done marks): before another process
 * (the agent) or a load reads it. */
int pv_engine_sync(struct pv_engine *en, struct pv_err *e);
/* Undo this run's steps, newest first. */
int pv_engine_rollback(struct pv_engine *en, struct pv_err *e);
/* Undo the journal's steps from seq on (not yet undone), newest first. */
int pv_engine_undo_since(struct pv_engine *en, long seq, struct pv_err *e);
/* Undo every step in the journal, newest first; when all are dealt with,
 * remove the journal (and, with no other VM left, put back the shared
 * settings still in the ledger). */
int pv_engine_restore(struct pv_engine *en, struct pv_err *e);
