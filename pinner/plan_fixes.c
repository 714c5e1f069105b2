/* The fixes a refusal names. A fix is named only when planning again with
 * it succeeds (issue 16: messages name the fix that works), so advice
 * never points at a change that would only meet the next refusal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pinner/plan_internal.h"

struct fixes {
	char *b;
	size_t n, len;
};

static void add(struct fixes *f, const char *s)
{
	int k = snprintf(f->b + f->len, f->len < f->n ? f->n - f->len : 0, "%s%s",
			 f->len ? ", or " : "", s);

	if (k > 0)
		f->len += (size_t)k;
}

static bool with_policy(const struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *q)
{
	return pv_plan_probe(t, q, p->in_vc, p->in_claims, p->free_placement);
}

/* The most vCPUs the VM could have, the config's layout otherwise kept:
 * vCPUs as cores of one socket (what the advice tells the user to set).
 * Placement only gets harder with more vCPUs, so the answer is found by
 * halving. 0 when not even one fits. */
static int most_vcpus(const struct pv_plan *p, const struct pv_topo *t, int have)
{
	struct pv_vmconf *v = malloc(sizeof(*v));
	int lo = 0, hi = have - 1;

	if (!v)
		return 0;
	*v = *p->in_vc;
	v->smp.present = false;
	v->vcpus = 0;
	v->sockets = 1;
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;

		v->cores = mid;
		if (pv_plan_probe(t, p->in_pol, v, p->in_claims, p->free_placement))
			lo = mid;
		else
			hi = mid - 1;
	}
	free(v);
	return lo;
}

/* The policy fixes that apply to this plan, each as a changed policy. */
static int policy_fixes(const struct pv_plan *p, unsigned which, struct pv_policy *q,
			const char **say, int max)
{
	const struct pv_policy *pol = p->in_pol;
	int n = 0;

	if (n < max && (which & PV_FIX_MAX_L3) && p->mode == PV_MODE_GAMING && pol->max_l3) {
		q[n] = *pol;
		q[n].max_l3 = 0;
		say[n++] = "set max_l3 higher in the policy";
	}
	if (n < max && (which & PV_FIX_SMT) && p->mode != PV_MODE_MANUAL && pol->smt != PV_ON) {
		q[n] = *pol;
		q[n].smt = PV_ON;
		say[n++] = "set smt = on in the policy";
	}
	if (n < max && (which & PV_FIX_MODE) && p->mode == PV_MODE_GAMING) {
		q[n] = *pol;
		q[n].mode = PV_MODE_WORKSTATION;
		say[n++] = "use mode = workstation (every L3 domain, SMT siblings too)";
	}
	return n;
}

/* A VM as large as the host (the seed's workstation VM 101: 64 vCPUs on
 * 64 CPUs) needs two changes, neither of which works alone: a policy fix
 * and no host reserve. Named together, only when no single fix works. */
static void add_with_reserve(struct fixes *f, const struct pv_plan *p, const struct pv_topo *t,
			     unsigned which, struct pv_policy *q, const char **say, int nq)
{
	char line[160];

	if (f->len || !(which & PV_FIX_RESERVE) || p->in_pol->reserve_cores == 0)
		return;
	for (int i = 0; i < nq; i++) {
		q[i].reserve_cores = 0;
		if (!with_policy(p, t, &q[i]))
			continue;
		snprintf(line, sizeof(line), "%s and lower reserve_cores in root's policy", say[i]);
		add(f, line);
	}
}

/* The VM planned without the config's affinity (the policy kept). */
static bool without_affinity(const struct pv_plan *p, const struct pv_topo *t)
{
	struct pv_vmconf *v = malloc(sizeof(*v));
	bool ok;

	if (!v)
		return false;
	*v = *p->in_vc;
	v->affinity = NULL;
	ok = pv_plan_probe(t, p->in_pol, v, p->in_claims, p->free_placement);
	free(v);
	return ok;
}

void pv_plan_fixes(char *b, size_t n, const struct pv_plan *p, const struct pv_topo *t,
		   const char *extra, unsigned which)
{
	const struct pv_policy *pol = p->in_pol;
	struct fixes f = { .b = b, .n = n };
	struct pv_policy q, pq[3];
	const char *say[3];
	char line[80];
	int k, nq;

	b[0] = '\0';
	if (p->probing || !pol || !p->in_vc)
		return;
	if ((which & PV_FIX_AFFINITY) && p->in_vc->affinity && without_affinity(p, t)) {
		snprintf(line, sizeof(line), "remove the affinity (qm set %d --delete affinity)", p->vmid);
		add(&f, line);
	}
	nq = policy_fixes(p, which, pq, say, 3);
	for (int i = 0; i < nq; i++)
		if (with_policy(p, t, &pq[i]))
			add(&f, say[i]);
	if (extra && *extra)
		add(&f, extra);
	/* with numaN lines the vCPUs are bound per guest node: fewer of them
	 * means new numaN lines, which `plan --pve` gives */
	k = (which & PV_FIX_FEWER) && !p->cfg.bound && pol->vcpus_n <= 0 && pol->vcpus_count <= 0 ?
		    most_vcpus(p, t, pv_vmconf_nvcpus(p->in_vc)) : 0;
	if (k > 0) {
		snprintf(line, sizeof(line), "give the VM at most %d vCPU%s", k, k == 1 ? "" : "s");
		add(&f, line);
	}
	q = *pol;
	q.reserve_cores = 0;
	if ((which & PV_FIX_RESERVE) && pol->reserve_cores != 0 && with_policy(p, t, &q))
		add(&f, "lower reserve_cores in root's policy");
	add_with_reserve(&f, p, t, which, pq, say, nq);
	if (!f.len && p->in_claims && p->in_claims->cpus && !hwloc_bitmap_iszero(p->in_claims->cpus))
		add(&f, "stop a VM that holds CPUs here");
}
