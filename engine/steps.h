/* Internal to the engine: everything about one journaled step kind. */
#pragma once
#include "engine/engine.h"

struct pv_step_ops {
	/* Is target of the shape this kind writes? Checked before apply and
	 * again before undo: a tampered journal cannot send restore to another
	 * file. The kind's target format is encoded and decoded only in its
	 * own step_*.c. */
	bool (*target_ok)(const char *target);
	/* What target holds now, in the form apply writes: 0, 1 = gone, -1.
	 * NULL for kinds status shows otherwise (REBIND, HUGEPAGES, IRQB). */
	int (*read)(const char *target, char *buf, size_t n, struct pv_err *e);
	/* Two values the same for this kind (CPU lists compare as sets);
	 * NULL = strcmp. */
	bool (*same)(const char *a, const char *b);
	/* A short name for people: "thread 1234 (CPU 0/KVM)", "irq 41". */
	void (*label)(const char *target, char *buf, size_t n);
	/* Make the change in r (target, old, nv), fill r->got with what the
	 * host reads back. arg carries what only the caller knows. 1 = the
	 * host refused in a way that is no failure (r->note says why). */
	int (*apply)(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e);
	/* Put r->old back if the host still shows ours. 0 restored or nothing
	 * to do, 1 left alone, -1 failed; note says what happened. */
	int (*undo)(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		    struct pv_err *e);
};

extern const struct pv_step_ops pv_step_attr;
extern const struct pv_step_ops pv_step_governor;
extern const struct pv_step_ops pv_step_irq;
extern const struct pv_step_ops pv_step_rebind;
extern const struct pv_step_ops pv_step_hugepages;
extern const struct pv_step_ops pv_step_affinity;
extern const struct pv_step_ops pv_step_cpuset;
extern const struct pv_step_ops pv_step_cgctl;
extern const struct pv_step_ops pv_step_irqb;
extern const struct pv_step_ops pv_step_partition;
extern const struct pv_step_ops pv_step_partcpus;

const struct pv_step_ops *pv_step_ops_of(enum pv_step_kind k);

/* The compare-and-swap every undo starts from: cur against what pvepin
 * wrote (r->got once done, r->nv; also `also`, what pvepin last wrote to a
 * shared setting, when not NULL) and against r->old. */
enum pv_cas {
	PV_CAS_PUT,     /* the host shows ours: put r->old back */
	PV_CAS_ALREADY, /* it shows r->old: nothing to do (note says so) */
	PV_CAS_OTHER,   /* someone else's value: left alone (note says so) */
};
enum pv_cas pv_step_cas(const struct pv_jrec *r, const char *cur, const char *also, char *note,
			size_t n);

/* Journal the step in r (kind, target, old, nv set) and run it. */
int pv_engine_step(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e);
/* A host attribute: read (trailing newline stripped) / write (with one). */
int pv_attr_get(const char *hostpath, char *buf, size_t n, struct pv_err *e);
int pv_attr_put(const char *hostpath, const char *val, struct pv_err *e);
/* The journal, opened at the first record of the run. */
int pv_engine_journal(struct pv_engine *en, struct pv_err *e);
/* pv_attr_put on an fd open read-write on it (pv_write_fd). */
int pv_attr_put_fd(const char *hostpath, int fd, const char *val, struct pv_err *e);
/* Save the ledger if the engine has one (after a shared setting changed). */
int pv_engine_save_ledger(struct pv_engine *en, struct pv_err *e);
/* The journal open, its records in en->j.l. */
int pv_engine_journal(struct pv_engine *en, struct pv_err *e);
/* pv_engine_cpuset journaled as kind (CPUSET or PARTCPUS); *seq (if
 * given) gets the step's number when one was made. */
int pv_engine_cpus(struct pv_engine *en, enum pv_step_kind kind, const char *cg, const char *cpus,
		   bool shared, long *seq, struct pv_err *e);
/* After the partition cg's CPUs changed: a root the kernel had suspended
 * ("root invalid") made a root again if the kernel takes it now; got is
 * what cpuset.cpus.partition reads then. */
int pv_partition_revive(const char *cg, char *got, size_t n, struct pv_err *e);
/* Restore of the partition: are there other VMs it is kept for? */
bool pv_partition_others(const struct pv_engine *en);
