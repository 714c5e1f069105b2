/* CPUSET: a cgroup's cpuset.cpus, target "<backend>:<cgroup>", old = what
 * that backend restores (systemd: the unit's AllowedCPUs). PARTCPUS: the
 * same for the isolating partition (step_partition.c), whose value is the
 * complement of the host's. CGCTL: +cpuset in an ancestor's
 * cgroup.subtree_control (target "/" = the root cgroup).
 * Host cgroups are shared by every VM that isolates: while other VMs run,
 * restore recomputes them from the ledger instead of undoing; the last VM
 * out restores the value from before the first. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/limits.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/steps.h"

static const char *cg_of_ctl(const char *target)
{
	return strcmp(target, "/") ? target : "";
}

/* The CPUSET/PARTCPUS target's codec, "<backend>:<cgroup>": the only place
 * that writes or reads it. */
static int cs_parse(const char *t, const struct pv_cpuset_backend **be, const char **cg)
{
	const char *colon = strchr(t, ':');
	char name[16];

	if (!colon || colon - t >= (long)sizeof(name))
		return -1;
	snprintf(name, sizeof(name), "%.*s", (int)(colon - t), t);
	if (!(*be = pv_cpuset_by_name(name)) || !pv_cgroup_name_ok(colon + 1))
		return -1;
	*cg = colon + 1;
	return 0;
}

static int cs_format(char *buf, size_t n, const struct pv_cpuset_backend *be, const char *cg)
{
	return snprintf(buf, n, "%s:%s", be->name, cg) < (int)n ? 0 : -1;
}

static bool cs_ok(const char *t)
{
	const struct pv_cpuset_backend *be;
	const char *cg;

	return cs_parse(t, &be, &cg) == 0;
}

const char *pv_engine_cpuset_cg(const struct pv_jent *x)
{
	const struct pv_cpuset_backend *be;
	const char *cg;

	if (x->kind != PV_STEP_CPUSET && x->kind != PV_STEP_PARTCPUS)
		return NULL;
	return cs_parse(x->target, &be, &cg) == 0 ? cg : NULL;
}

static int cs_read(const char *target, char *buf, size_t n, struct pv_err *e)
{
	const struct pv_cpuset_backend *be;
	const char *cg;

	if (cs_parse(target, &be, &cg) < 0)
		return pv_fail(e, EINVAL, "bad cpuset target '%s'", target);
	if (!pv_cgroup_exists(cg) || pv_cgroup_cpus(cg, buf, n, NULL) < 0)
		return 1;
	return 0;
}

static void cs_label(const char *target, char *buf, size_t n)
{
	const struct pv_cpuset_backend *be;
	const char *cg;

	snprintf(buf, n, "cpuset %s", cs_parse(target, &be, &cg) == 0 ? cg : target);
}

static bool ctl_ok(const char *t)
{
	return !strcmp(t, "/") || pv_cgroup_name_ok(t);
}

static int ctl_read(const char *target, char *buf, size_t n, struct pv_err *e)
{
	bool on;

	if (*cg_of_ctl(target) && !pv_cgroup_exists(target))
		return 1;
	if (pv_cgroup_cpuset_enabled(cg_of_ctl(target), &on, e) < 0)
		return -1;
	snprintf(buf, n, "%s", on ? "on" : "off");
	return 0;
}

static void ctl_label(const char *target, char *buf, size_t n)
{
	snprintf(buf, n, "+cpuset in %s", target);
}

/* +cpuset in every ancestor's subtree_control, the root first: the kernel
 * takes it in a cgroup only once its parent has it. */
static int enable_ancestors(struct pv_engine *en, const char *cg, struct pv_err *e)
{
	char anc[256];
	size_t len = 0;

	for (;;) {
		struct pv_jrec r = { .kind = PV_STEP_CGCTL };
		const char *slash;
		bool on;
		int rc;

		snprintf(anc, sizeof(anc), "%.*s", (int)len, cg);
		if (pv_cgroup_cpuset_enabled(anc, &on, e) < 0)
			return -1;
		if (!on) {
			snprintf(r.target, sizeof(r.target), "%s", *anc ? anc : "/");
			snprintf(r.old, sizeof(r.old), "off");
			snprintf(r.nv, sizeof(r.nv), "on");
			if ((rc = pv_engine_step(en, &r, NULL, e)) < 0)
				return -1;
			if (rc == 0 && en->led &&
			    (pv_ledger_share(en->led, PV_STEP_CGCTL, r.target, "off", "on", e) < 0 ||
			     pv_engine_save_ledger(en, e) < 0))
				return -1;
		}
		if (!(slash = strchr(cg + len + (len ? 1 : 0), '/')))
			return 0;
		len = (size_t)(slash - cg);
	}
}

int pv_engine_cpuset(struct pv_engine *en, const char *cg, const char *cpus, bool shared,
		     struct pv_err *e)
{
	return pv_engine_cpus(en, PV_STEP_CPUSET, cg, cpus, shared, NULL, e);
}

int pv_engine_cpus(struct pv_engine *en, enum pv_step_kind kind, const char *cg, const char *cpus,
		   bool shared, long *seq, struct pv_err *e)
{
	const struct pv_cpuset_backend *be;
	struct pv_jrec r = { .kind = kind };
	char cur[PV_JVAL] = "";
	int rc;

	if (!pv_cgroup_name_ok(cg))
		return pv_fail(e, EINVAL, "bad cgroup name '%.64s'", cg);
	if (!pv_cgroup_exists(cg)) {
		if (pv_opt.verbose)
			fprintf(stderr, "pvepin: no cgroup %s: skipped\n", cg);
		return 1;
	}
	be = pv_cpuset_choose(cg);
	if (be == &pv_cpuset_cgroupfs && enable_ancestors(en, cg, e) < 0)
		return -1;
	/* no cpuset.cpus yet (systemd enables the controller when asked) = "" */
	if (pv_cgroup_cpus_or_inherit(cg, cur, sizeof(cur), e) < 0)
		return -1;
	if (pv_cpus_equal(cur, cpus))
		return 0;
	if (be->get(cg, r.old, sizeof(r.old), e) < 0)
		return -1;
	if (cs_format(r.target, sizeof(r.target), be, cg) < 0)
		return pv_fail(e, E2BIG, "cgroup name too long: %.64s", cg);
	snprintf(r.nv, sizeof(r.nv), "%s", cpus);
	rc = pv_engine_step(en, &r, be, e);
	if (seq && rc >= 0)
		*seq = r.seq;
	if (rc != 0 || !shared || !en->led)
		return rc;
	if (pv_ledger_share(en->led, kind, r.target, r.old, r.got, e) < 0)
		return -1;
	return pv_engine_save_ledger(en, e);
}

static int cpuset_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg,
			struct pv_err *e)
{
	const struct pv_cpuset_backend *be;
	const char *cg;

	if (cs_parse(r->target, &be, &cg) < 0)
		return pv_fail(e, EINVAL, "bad cpuset target '%s'", r->target);
	if (be->set(cg, r->nv, e) < 0)
		return -1;
	return pv_cgroup_cpus_or_inherit(cg, r->got, sizeof(r->got), e);
}

/* Write v back; the kernel refuses "" on a populated cgroup (ENOSPC), so
 * there the parent's CPUs, which "" stands for, are written instead. Only
 * there: after any other failure (an EIO, in tests/vm 76) the parent's
 * CPUs would be a value of pvepin's own left in the file for good. */
static int put_back(const struct pv_cpuset_backend *be, const char *cg, const char *v, char *note,
		    size_t n, struct pv_err *e)
{
	char eff[PV_JVAL];
	struct pv_err why = { 0 };

	if (be->set(cg, v, &why) == 0) {
		snprintf(note, n, "restored '%.200s'", v);
		return 0;
	}
	if (*v || why.errnum != ENOSPC)
		return pv_err_pass(e, &why);
	if (pv_cgroup_parent_effective(cg, eff, sizeof(eff), e) < 0 ||
	    pv_cgroup_write_cpus(cg, eff, e) < 0)
		return pv_wrap(e, "%s, then writing the parent's CPUs", why.msg);
	snprintf(note, n, "the kernel keeps a populated cgroup's cpuset.cpus from going back to "
		 "empty: set to its parent's %.100s (the same CPUs)", eff);
	return 0;
}

/* The CPUs the other isolating VMs leave the host, as a list in val; 1
 * when no other VM isolates. */
static int others_host(struct pv_engine *en, const char *orig, char *val, size_t n,
		       struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc(), o = hwloc_bitmap_alloc();
	bool any;

	if (!set || !o)
		return pv_fail(e, ENOMEM, "cpu set");
	if (pv_ledger_host_set(en->led, en->vmid, set, &any, e) < 0)
		return -1;
	if (!any)
		return 1;
	/* never widen past what the host had before pvepin */
	if (*orig && pv_cpulist_parse(orig, ',', PV_MAX_CPUS, o, NULL) == 0 &&
	    hwloc_bitmap_intersects(set, o))
		hwloc_bitmap_and(set, set, o);
	if (hwloc_bitmap_iszero(set) || pv_cpulist_format(val, n, set) < 0)
		return 1;
	return 0;
}

/* Other VMs still isolate: give this cgroup the CPUs they leave the host. */
static int hand_over(struct pv_engine *en, const struct pv_cpuset_backend *be, const char *cg,
		     const struct pv_jrec *r, const char *orig, char *note, size_t n,
		     struct pv_err *e)
{
	char val[PV_JVAL], got[PV_JVAL];
	int rc;

	if ((rc = others_host(en, orig, val, sizeof(val), e)) != 0)
		return rc;
	if (be->set(cg, val, e) < 0 || pv_cgroup_cpus_or_inherit(cg, got, sizeof(got), e) < 0)
		return -1;
	if (pv_ledger_share(en->led, r->kind, r->target, orig, got, e) < 0 ||
	    pv_engine_save_ledger(en, e) < 0)
		return -1;
	snprintf(note, n, "other VMs still run: set to %.200s", got);
	return 0;
}

/* The partition's CPUs while other VMs run: every CPU but what those that
 * isolate leave the host; when none does, the value from before (or the
 * CPUs it stands for, their QEMU being inside), still remembered for the
 * last VM out. */
static int hand_over_partition(struct pv_engine *en, const struct pv_cpuset_backend *be,
			       const char *cg, const struct pv_jrec *r, const char *orig,
			       char *note, size_t n, struct pv_err *e)
{
	char val[PV_JVAL], got[PV_JVAL], why[256] = "", part[128];
	bool want;

	if (!pv_partition_others(en))
		return 1;
	if (pv_partition_cpus(en, cg, en->vmid, "", val, sizeof(val), &want, e) < 0)
		return -1;
	if (want ? be->set(cg, val, e) : put_back(be, cg, orig, why, sizeof(why), e))
		return -1;
	if (want && pv_partition_revive(cg, part, sizeof(part), e) < 0)
		return -1;
	if (pv_cgroup_cpus_or_inherit(cg, got, sizeof(got), e) < 0 ||
	    pv_ledger_share(en->led, r->kind, r->target, orig, got, e) < 0 ||
	    pv_engine_save_ledger(en, e) < 0)
		return -1;
	snprintf(note, n, "other VMs still run: %s %.200s", want ? "set to" : "none isolates:",
		 want ? got : why);
	return 0;
}

/* A partition's CPUs go back only once it is a member again. Linux 6.1
 * takes "" (or the parent's CPUs) on a partition root, but the CPUs the
 * partition held never return to its parent: tests/vm 76, EIO at the
 * restore's write of "member", left the root cgroup's effective CPUs
 * narrowed and qemu.slice's empty, for good. So a PARTITION undo that
 * failed keeps these CPUs too, and the next restore does both in order. */
static int partition_off(const char *cg, struct pv_err *e)
{
	char part[128];

	if (pv_cgroup_partition_or_member(cg, part, sizeof(part), e) < 0)
		return -1;
	if (!strncmp(part, "member", 6))
		return 0;
	return pv_fail(e, 0, "%s is still a cpuset partition ('%.64s'): its CPUs stay until it is "
		       "a member again (write 'member' to its cpuset.cpus.partition, then restore)",
		       cg, part);
}

static int cpuset_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		       struct pv_err *e)
{
	const struct pv_cpuset_backend *be;
	const struct pv_lshared *sh = en->led ? pv_ledger_shared(en->led, r->kind, r->target)
					      : NULL;
	char cur[PV_JVAL], own[64], orig[PV_JVAL];
	const char *cg;
	enum pv_cas cas;
	int rc;

	if (cs_parse(r->target, &be, &cg) < 0)
		return pv_fail(e, EINVAL, "bad cpuset target '%s'", r->target);
	if (!pv_cgroup_exists(cg)) {
		snprintf(note, n, "cgroup is gone: nothing to restore");
		return 0;
	}
	if (pv_cgroup_cpus_or_inherit(cg, cur, sizeof(cur), e) < 0)
		return -1;
	snprintf(orig, sizeof(orig), "%s", sh ? sh->orig : r->old);
	if ((cas = pv_step_cas(r, cur, sh ? sh->written : NULL, note, n)) == PV_CAS_ALREADY)
		return 0;
	if (cas == PV_CAS_OTHER) {
		if (sh) {
			pv_ledger_unshare(en->led, r->kind, r->target);
			if (pv_engine_save_ledger(en, e) < 0)
				return -1;
		}
		return 1;
	}
	snprintf(own, sizeof(own), PV_QEMU_SCOPE_FMT, en->vmid);
	if (en->led && strcmp(cg, own)) {
		rc = r->kind == PV_STEP_PARTCPUS ? hand_over_partition(en, be, cg, r, orig, note, n, e)
						 : hand_over(en, be, cg, r, orig, note, n, e);
		if (rc != 1)
			return rc;
	}
	if (r->kind == PV_STEP_PARTCPUS && partition_off(cg, e) < 0)
		return -1;
	if (put_back(be, cg, orig, note, n, e) < 0)
		return -1;
	if (sh) {
		pv_ledger_unshare(en->led, r->kind, r->target);
		return pv_engine_save_ledger(en, e);
	}
	return 0;
}

const struct pv_step_ops pv_step_cpuset = { .target_ok = cs_ok, .read = cs_read,
					    .same = pv_cpus_equal, .label = cs_label,
					    .apply = cpuset_apply, .undo = cpuset_undo };
const struct pv_step_ops pv_step_partcpus = { .target_ok = cs_ok, .read = cs_read,
					      .same = pv_cpus_equal, .label = cs_label,
					      .apply = cpuset_apply, .undo = cpuset_undo };

static int ctl_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e)
{
	bool on;

	if (pv_cgroup_cpuset_enable(cg_of_ctl(r->target), true, e) < 0 ||
	    pv_cgroup_cpuset_enabled(cg_of_ctl(r->target), &on, e) < 0)
		return -1;
	snprintf(r->got, sizeof(r->got), "%s", on ? "on" : "off");
	return on ? 0 : pv_fail(e, 0, "+cpuset did not stick in %s's cgroup.subtree_control",
				r->target);
}

static int ctl_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		    struct pv_err *e)
{
	const char *cg = cg_of_ctl(r->target);
	struct pv_err why = { 0 };
	bool on;

	if (*cg && !pv_cgroup_exists(cg)) {
		snprintf(note, n, "cgroup is gone: nothing to restore");
		return 0;
	}
	if (pv_cgroup_cpuset_enabled(cg, &on, e) < 0)
		return -1;
	if (!on) {
		snprintf(note, n, "already off");
		return 0;
	}
	if (en->led && pv_ledger_others(en->led, en->vmid) > 0) {
		snprintf(note, n, "kept on: other VMs still run");
		if (pv_ledger_share(en->led, PV_STEP_CGCTL, r->target, "off", "on", e) < 0)
			return -1;
		return pv_engine_save_ledger(en, e);
	}
	if (pv_cgroup_cpuset_enable(cg, false, &why) < 0) {
		if (why.errnum != EBUSY)
			return pv_err_pass(e, &why);
		snprintf(note, n, "a child cgroup uses cpuset now: left on");
		return 1;
	}
	snprintf(note, n, "turned off again");
	if (en->led)
		pv_ledger_unshare(en->led, PV_STEP_CGCTL, r->target);
	return pv_engine_save_ledger(en, e);
}

const struct pv_step_ops pv_step_cgctl = { .target_ok = ctl_ok, .read = ctl_read,
					   .label = ctl_label, .apply = ctl_apply,
					   .undo = ctl_undo };
