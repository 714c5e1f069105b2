/* Isolation by a cpuset partition (engine.h pv_engine_isolate). The VMs'
 * slice gets every CPU but the host's as its cpuset.cpus (a PARTCPUS step,
 * step_cpuset.c) and becomes a partition root (a PARTITION step: target
 * the cgroup, old/new a partition type). The partition takes its CPUs
 * from the parent's effective set, and the host cgroups, whose
 * cpuset.cpus is "" (inherit), follow without a write to their files, so
 * restore has nothing of theirs to put back.
 *
 * Both settings are shared through the ledger: a VM that finds the
 * partition made by another joins it (its step's old is the value from
 * before the first VM, never that VM's "root"), restore keeps it while
 * other VMs isolate, and the last one out turns it off before it gives
 * the cgroup's CPUs back (the journal is undone newest first).
 *
 * Kernel rules (6.1, tried in tests/vm): a partition root needs a
 * non-empty cpuset.cpus, exclusive with its siblings' (siblings with ""
 * are fine), a partition root as parent (the root cgroup is one), and
 * must leave its parent a CPU; otherwise the write succeeds but the file
 * reads back "root invalid (why)" and nothing moves. "" cannot be written
 * to a populated cgroup's cpuset.cpus (ENOSPC), but at post-stop no QEMU
 * of ours is left in the slice. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/claims.h"
#include "engine/steps.h"

#define PART_LEN 128

/* Narrowed directly when the kernel refuses the partition. */
static const char *const host_units[] = { "system.slice", "user.slice", "init.scope" };

static int parse(const char *list, hwloc_bitmap_t set, struct pv_err *e)
{
	hwloc_bitmap_zero(set);
	return *list ? pv_cpulist_parse(list, ',', PV_MAX_CPUS, set, e) : 0;
}

/* "root invalid (why)" is of type "root". */
static void part_type(const char *val, char *buf, size_t n)
{
	snprintf(buf, n, "%.*s", (int)strcspn(val, " "), val);
}

static bool same_type(const char *a, const char *b)
{
	size_t la = strcspn(a, " "), lb = strcspn(b, " ");

	return la == lb && !strncmp(a, b, la);
}

/* Every CPU cg could hold: its parent's effective CPUs, and its own (a
 * partition's parent has given those away). */
static int all_cpus(const char *cg, hwloc_bitmap_t all, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t own = hwloc_bitmap_alloc();
	char buf[PV_JVAL];

	if (!own)
		return pv_fail(e, ENOMEM, "cpu set");
	if (pv_cgroup_parent_effective(cg, buf, sizeof(buf), e) < 0 || parse(buf, all, e) < 0 ||
	    pv_cgroup_effective(cg, buf, sizeof(buf), e) < 0 || parse(buf, own, e) < 0)
		return -1;
	hwloc_bitmap_or(all, all, own);
	return 0;
}

/* The housekeeping CPUs of the VMs in the ledger but `except`: every CPU
 * none of them holds, once one of them isolates. (The host sets they were
 * planned with also leave out the CPUs of VMs that ran then: those of a
 * VM stopped since go back to the host.) */
static int ledger_host(struct pv_engine *en, int except, hwloc_const_bitmap_t all,
		       hwloc_bitmap_t set, bool *any, struct pv_err *e)
{
	struct pv_claims c;
	int rc;

	if (pv_ledger_host_set(en->led, except, set, any, e) < 0)
		return -1;
	if (!*any)
		return 0;
	if ((rc = pv_ledger_claims(en->led, except, &c, e)) == 0)
		hwloc_bitmap_andnot(set, all, c.cpus);
	pv_claims_free(&c);
	return rc;
}

int pv_partition_cpus(struct pv_engine *en, const char *cg, int except, const char *host,
		      char *val, size_t n, bool *want, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t all = hwloc_bitmap_alloc(), set = hwloc_bitmap_alloc();
	bool any = false;

	*want = false;
	if (!all || !set)
		return pv_fail(e, ENOMEM, "cpu set");
	if (all_cpus(cg, all, e) < 0)
		return -1;
	if (en->led && ledger_host(en, except, all, set, &any, e) < 0)
		return -1;
	if (!en->led && *host) {
		if (parse(host, set, e) < 0)
			return -1;
		any = true;
	}
	/* the host must keep a CPU, and the partition get one */
	if (any && !hwloc_bitmap_iszero(set) && !hwloc_bitmap_isincluded(all, set)) {
		hwloc_bitmap_andnot(all, all, set);
		*want = true;
	}
	if (pv_cpulist_format(val, n, all) < 0)
		return pv_fail(e, E2BIG, "cpu list too long");
	return 0;
}

int pv_partition_revive(const char *cg, char *got, size_t n, struct pv_err *e)
{
	if (pv_cgroup_partition(cg, got, n, e) < 0)
		return -1;
	if (!same_type(got, "root") || pv_partition_valid(got))
		return 0;
	/* 6.1 takes an invalid root back only through "member" */
	if (pv_cgroup_set_partition(cg, "member", e) < 0 ||
	    pv_cgroup_set_partition(cg, "root", e) < 0)
		return -1;
	return pv_cgroup_partition(cg, got, n, e);
}

static int part_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e)
{
	if (pv_cgroup_set_partition(r->target, r->nv, e) < 0)
		return -1;
	return pv_cgroup_partition(r->target, r->got, sizeof(r->got), e);
}

bool pv_partition_others(const struct pv_engine *en)
{
	return en->led && !en->alone && pv_ledger_others(en->led, en->vmid) > 0;
}

/* Other VMs still isolate: the partition stays, remembered with the value
 * from before the first VM. 1 when none does. */
static int keep_for_others(struct pv_engine *en, const struct pv_jrec *r, const char *orig,
			   const char *cur, char *note, size_t n, struct pv_err *e)
{
	char val[PV_JVAL];
	bool want;

	if (!pv_partition_others(en))
		return 1;
	if (pv_partition_cpus(en, r->target, en->vmid, "", val, sizeof(val), &want, e) < 0)
		return -1;
	if (!want)
		return 1;
	/* the type: whether the kernel has it in force is its own verdict */
	if (pv_ledger_share(en->led, PV_STEP_PARTITION, r->target, orig, r->nv, e) < 0 ||
	    pv_engine_save_ledger(en, e) < 0)
		return -1;
	snprintf(note, n, "other VMs still isolate: kept '%.100s'", cur);
	return 0;
}

static int drop_share(struct pv_engine *en, const char *cg, struct pv_err *e)
{
	if (!en->led || !pv_ledger_shared(en->led, PV_STEP_PARTITION, cg))
		return 0;
	pv_ledger_unshare(en->led, PV_STEP_PARTITION, cg);
	return pv_engine_save_ledger(en, e);
}

static int part_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		     struct pv_err *e)
{
	const struct pv_lshared *sh = en->led ? pv_ledger_shared(en->led, PV_STEP_PARTITION,
								  r->target) : NULL;
	char cur[PART_LEN], orig[PART_LEN];
	int rc;

	if (!pv_cgroup_exists(r->target)) {
		snprintf(note, n, "cgroup is gone: nothing to restore");
		return drop_share(en, r->target, e);
	}
	/* no file: the controller is off, as systemd turns it off once the
	 * unit has no AllowedCPUs= (tests/vm2 40 found a restore cut short
	 * between the two failing on it at every later try) */
	if (pv_cgroup_partition_or_member(r->target, cur, sizeof(cur), e) < 0)
		return -1;
	part_type(sh ? sh->orig : r->old, orig, sizeof(orig));
	/* "root invalid (...)" is still the root pvepin made: the kernel
	 * refused it, nobody changed it */
	if (!same_type(cur, r->nv)) {
		if (same_type(cur, orig)) {
			snprintf(note, n, "already '%s'", orig);
			return pv_partition_others(en) ? 0 : drop_share(en, r->target, e);
		}
		snprintf(note, n, "changed by someone else since (now '%.100s', pvepin wrote '%.32s'): "
			 "left alone", cur, r->nv);
		return drop_share(en, r->target, e) < 0 ? -1 : 1;
	}
	if ((rc = keep_for_others(en, r, orig, cur, note, n, e)) != 1)
		return rc;
	if (pv_cgroup_set_partition(r->target, orig, e) < 0 ||
	    pv_cgroup_partition(r->target, cur, sizeof(cur), e) < 0)
		return -1;
	if (pv_partition_others(en)) {
		/* the last VM out still needs the value from before the first */
		snprintf(note, n, "other VMs still run, none isolates: set '%s'", orig);
		if (pv_ledger_share(en->led, PV_STEP_PARTITION, r->target, orig, cur, e) < 0)
			return -1;
		return pv_engine_save_ledger(en, e);
	}
	snprintf(note, n, "restored '%s' (reads '%.100s')", orig, cur);
	return drop_share(en, r->target, e);
}

static bool part_ok(const char *t)
{
	return pv_cgroup_name_ok(t);
}

static int part_read(const char *target, char *buf, size_t n, struct pv_err *e)
{
	return pv_cgroup_partition(target, buf, n, NULL) < 0 ? 1 : 0;
}

static void part_label(const char *target, char *buf, size_t n)
{
	snprintf(buf, n, "partition %s", target);
}

const struct pv_step_ops pv_step_partition = { .target_ok = part_ok, .read = part_read,
					       .label = part_label, .apply = part_apply,
					       .undo = part_undo };

/* 1 when this VM's journal holds a live PARTITION step for cg already
 * (pre-start run twice): it does not join its own partition again. */
static int have_step(struct pv_engine *en, const char *cg, struct pv_err *e)
{
	const struct pv_jent *x;
	struct pv_jlist l;
	int rc, found;

	if (en->j.fd >= 0) {
		x = pv_jlist_live(&en->j.l, PV_STEP_PARTITION, cg);
		return x && x->done;
	}
	/* not opened yet (and a dry run never opens it): read it */
	if ((rc = pv_journal_load(en->vmid, &l, e)) != 0)
		return rc < 0 ? -1 : 0;
	x = pv_jlist_live(&l, PV_STEP_PARTITION, cg);
	found = x && x->done;
	pv_jlist_free(&l);
	return found;
}

/* cg a partition root, or the one an earlier VM made joined. A partition
 * no VM made (an admin's) is left as it is, without a step. 1 when the
 * kernel has no partitions (no cpuset.cpus.partition). *seq gets the
 * step's number if it is the first of this isolation. */
static int make_partition(struct pv_engine *en, const char *cg, long *seq, struct pv_err *e)
{
	const struct pv_lshared *sh = en->led ? pv_ledger_shared(en->led, PV_STEP_PARTITION, cg)
					      : NULL;
	struct pv_jrec r = { .kind = PV_STEP_PARTITION };
	struct pv_err why = { 0 };
	char cur[PART_LEN];
	int rc;

	if (pv_cgroup_partition(cg, cur, sizeof(cur), &why) < 0)
		return why.errnum == ENOENT ? 1 : pv_err_pass(e, &why);
	if (pv_partition_valid(cur) && !sh)
		return 0;
	if ((rc = have_step(en, cg, e)) != 0)
		return rc < 0 ? -1 : 0;
	snprintf(r.target, sizeof(r.target), "%s", cg);
	part_type(sh ? sh->orig : cur, r.old, sizeof(r.old));
	snprintf(r.nv, sizeof(r.nv), "%s", pv_partition_valid(cur) ? cur : "root");
	if (pv_engine_step(en, &r, NULL, e) < 0)
		return -1;
	if (!*seq)
		*seq = r.seq;
	if (!en->led)
		return 0;
	if (pv_ledger_share(en->led, PV_STEP_PARTITION, cg, r.old, r.nv, e) < 0)
		return -1;
	return pv_engine_save_ledger(en, e);
}

/* The way before partitions: the host cgroups' own cpuset.cpus narrowed to
 * what every isolating VM in the ledger leaves the host. Their "" cannot
 * come back while they have tasks: restore writes the CPUs it stands for. */
static int narrow_host(struct pv_engine *en, const char *cg, const char *host, const char *why,
		       struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char val[PV_JVAL];
	bool any = false;

	fprintf(stderr, "pvepin: %s as a cpuset partition: %s: narrowing the host cgroups instead\n",
		cg, why);
	if (!set)
		return pv_fail(e, ENOMEM, "cpu set");
	if (en->led && pv_ledger_host_set(en->led, 0, set, &any, e) < 0)
		return -1;
	if (!any || hwloc_bitmap_iszero(set) || pv_cpulist_format(val, sizeof(val), set) < 0)
		snprintf(val, sizeof(val), "%s", host);
	for (size_t i = 0; i < sizeof(host_units) / sizeof(host_units[0]); i++)
		if (pv_engine_cpuset(en, host_units[i], val, true, e) < 0)
			return pv_wrap(e, "isolating the host without a partition");
	return 0;
}

/* cg there to be made a partition: 0 yes, 1 no (nothing to do, or the host
 * narrowed instead). */
static int have_cgroup(struct pv_engine *en, const char *cg, const char *host, struct pv_err *e)
{
	if (pv_cgroup_exists(cg))
		return 0;
	if (!*host)
		return 1;
	/* No VM ran since boot: made now, as systemd makes it for PVE's first
	 * scope a moment later, and left as PVE leaves it. */
	if (pv_opt.dry_run) {
		printf("would create cgroup %s\n", cg);
		return 1;
	}
	if (pv_cpuset_choose(cg)->create(cg, e) < 0)
		return pv_wrap(e, "isolating the host");
	if (pv_cgroup_exists(cg))
		return 0;
	return narrow_host(en, cg, host, "there is no such cgroup", e) < 0 ? -1 : 1;
}

/* The partition is made: in force, or undone (steps from seq on) and the
 * host narrowed directly. A VM that joined the others' partition cannot
 * do without it: its CPUs may lie outside what the partition holds. */
static int in_force(struct pv_engine *en, const char *cg, const char *host, bool joined,
		    bool none, long seq, struct pv_err *e)
{
	char part[PART_LEN] = "", why[PART_LEN + 32];
	int rc;

	if (!none && pv_cgroup_partition(cg, part, sizeof(part), e) < 0)
		return -1;
	if (!none && pv_partition_valid(part))
		return 0;
	if (none)
		snprintf(why, sizeof(why), "the kernel has no cpuset partitions");
	else
		snprintf(why, sizeof(why), "the kernel refused it ('%s')", part);
	/* made by this VM alone (others may have been refused it before) */
	en->alone = !joined;
	rc = seq ? pv_engine_undo_since(en, seq, e) : 0;
	en->alone = false;
	if (rc < 0)
		return pv_wrap(e, "undoing the refused partition of %s", cg);
	if (joined)
		return pv_fail(e, 0, "%s: the cpuset partition of the running VMs cannot take this VM's "
			       "CPUs too: %s", cg, why);
	return narrow_host(en, cg, host, why, e);
}

int pv_engine_isolate(struct pv_engine *en, const char *cg, const char *host, struct pv_err *e)
{
	char val[PV_JVAL];
	bool want, joined;
	long seq = 0;
	int rc;

	if (!pv_cgroup_name_ok(cg))
		return pv_fail(e, EINVAL, "bad cgroup name '%.64s'", cg);
	if ((rc = have_cgroup(en, cg, host, e)) != 0)
		return rc < 0 ? -1 : 0;
	joined = en->led && pv_ledger_shared(en->led, PV_STEP_PARTITION, cg);
	/* a VM that does not isolate only makes room for itself */
	if (!*host && !joined)
		return 0;
	if (pv_partition_cpus(en, cg, 0, host, val, sizeof(val), &want, e) < 0)
		return -1;
	if (!want && !joined) {
		if (*host && pv_opt.verbose)
			fprintf(stderr, "pvepin: no CPU to isolate the host on: %s left as it is\n", cg);
		return 0;
	}
	/* The VMs in it take every CPU between them: the partition gets all
	 * (the kernel suspends it, "root invalid"), else this VM's CPUs are out
	 * of its reach. Restore makes it a partition again for those left. */
	if (!want)
		fprintf(stderr, "pvepin: the running VMs take every CPU: %s's partition is off while "
			"VM %d runs\n", cg, en->vmid);
	/* a partition's cpuset.cpus overlapping a sibling's is refused (EINVAL) */
	if ((rc = pv_engine_cpus(en, PV_STEP_PARTCPUS, cg, val, true, &seq, e)) != 0)
		return rc < 0 ? pv_wrap(e, "%s: the cpuset partition%s cannot hold CPUs %s", cg,
					joined ? " of the running VMs" : "", val) : 0;
	if ((rc = make_partition(en, cg, &seq, e)) < 0)
		return -1;
	if (pv_opt.dry_run || !want || !*host)
		return 0;
	return in_force(en, cg, host, joined, rc == 1, seq, e);
}
