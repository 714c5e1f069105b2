/* Internal to the engine: one apply/undo pair per journaled step kind. */
#pragma once
#include "engine.h"

struct pv_step_ops {
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
extern const struct pv_step_ops pv_step_rebind;
extern const struct pv_step_ops pv_step_hugepages;
extern const struct pv_step_ops pv_step_affinity;
extern const struct pv_step_ops pv_step_cpuset;
extern const struct pv_step_ops pv_step_cgctl;
extern const struct pv_step_ops pv_step_irqb;

/* Journal the step in r (kind, target, old, nv set) and run it. */
int pv_engine_step(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e);
/* A host attribute: read (trailing newline stripped) / write (with one). */
int pv_attr_get(const char *hostpath, char *buf, size_t n, struct pv_err *e);
int pv_attr_put(const char *hostpath, const char *val, struct pv_err *e);
/* Save the ledger if the engine has one (after a shared setting changed). */
int pv_engine_save_ledger(struct pv_engine *en, struct pv_err *e);
