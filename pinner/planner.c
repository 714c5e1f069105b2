/* The planner: a pure function of (topology, policy, VM config, claims).
 * Placement rules come from the seed guide's benchmark runs (doc/DESIGN.md
 * "The planner"). Devices, memory and actions are in plan_*.c. */
#include "pinner/plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "conf/cpulist.h"
#include "pinner/plan_internal.h"

void pv_plan_warn(struct pv_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nwarn >= PV_MAX_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(p->warn[p->nwarn++], sizeof(p->warn[0]), fmt, ap);
	va_end(ap);
}

void pv_plan_refuse(struct pv_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nrefuse >= PV_MAX_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(p->refuse[p->nrefuse++], sizeof(p->refuse[0]), fmt, ap);
	va_end(ap);
}

/* A CPU the VM may take: PVE starts every QEMU thread under the config's
 * affinity (QemuServer.pm config_to_command: taskset --all-tasks), so a
 * CPU outside it is as closed to the VM as another VM's. */
static bool pu_allowed(const struct pv_claims *c, unsigned pu)
{
	return !c || !c->allowed || hwloc_bitmap_isset(c->allowed, pu);
}

/* The CPUs of a core the VM may take. */
static int core_npu(const struct pv_claims *c, const struct pv_core *co)
{
	int n = 0;

	for (int k = 0; k < co->npu; k++)
		n += pu_allowed(c, co->pu[k]);
	return n;
}

/* A core can hold this VM if no other VM holds any of its PUs, the VM's
 * affinity allows one of them and it is of the kind the guest uses
 * (kinds are never mixed within a guest). */
static bool core_usable(const struct pv_topo *t, const struct pv_claims *c, int ci, int kind)
{
	const struct pv_core *co = &t->core[ci];

	/* a CPU no NUMA node holds: its memory locality is unknown (issue 14) */
	if (co->kind != kind || (co->node < 0 && t->nnode > 0))
		return false;
	for (int i = 0; c && c->cpus && i < co->npu; i++)
		if (hwloc_bitmap_isset(c->cpus, co->pu[i]))
			return false;
	return core_npu(c, co) > 0;
}

static int best_kind(const struct pv_topo *t, const struct pv_claims *c)
{
	int best = 1 << 30;

	for (int i = 0; i < t->ncore; i++)
		if (t->core[i].kind < best && core_usable(t, c, i, t->core[i].kind))
			best = t->core[i].kind;
	return best;
}

struct rank_ctx {
	const struct pv_topo *t;
	hwloc_bitmap_t gpu_nodes; /* nodes local to the GPU; empty = no locality */
	hwloc_const_bitmap_t gpu_loc;
	bool asym;
	enum pv_prefer prefer;
	const int *free; /* usable free cores per L3 */
};

static unsigned gpu_distance(const struct rank_ctx *r, int node)
{
	unsigned best = ~0u;
	int g;

	if (hwloc_bitmap_iszero(r->gpu_nodes))
		return 0;
	hwloc_bitmap_foreach_begin(g, r->gpu_nodes) {
		unsigned d = pv_topo_distance(r->t, g, node);

		if (d < best)
			best = d;
	}
	hwloc_bitmap_foreach_end();
	return best;
}

/* Order: GPU-local first, then the preferred L3 size on asymmetric parts,
 * then NUMA distance to the GPU, then hwloc's logical order. */
static int rank_cmp(const struct rank_ctx *r, int a, int b)
{
	const struct pv_l3 *la = &r->t->l3[a], *lb = &r->t->l3[b];
	bool loc_a = r->gpu_loc && hwloc_bitmap_intersects(la->cpuset, r->gpu_loc);
	bool loc_b = r->gpu_loc && hwloc_bitmap_intersects(lb->cpuset, r->gpu_loc);
	unsigned da, db;

	if (loc_a != loc_b)
		return loc_a ? -1 : 1;
	if (r->asym && la->size != lb->size) {
		bool big_first = r->prefer == PV_PREFER_CACHE;

		return (la->size > lb->size) == big_first ? -1 : 1;
	}
	da = gpu_distance(r, la->node);
	db = gpu_distance(r, lb->node);
	if (da != db)
		return da < db ? -1 : 1;
	/* equally near: the roomier first, so max_l3 domains hold the VM
	 * beside another VM's cores (issue 14) */
	if (r->free && r->free[a] != r->free[b])
		return r->free[a] > r->free[b] ? -1 : 1;
	return a < b ? -1 : (a > b);
}

static void rank_l3(const struct rank_ctx *r, int *order, int n)
{
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && rank_cmp(r, order[j - 1], order[j]) > 0; j--) {
			int tmp = order[j];

			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
}

/* Device locality (the GPU's, else the device pick_placer chose) counts
 * only when it is narrower than the whole machine. */
static void gpu_locality(const struct pv_topo *t, const struct pv_plan *p, struct rank_ctx *r)
{
	const struct pv_pcidev *g = p->placed_by[0] ? pv_topo_pci(t, p->placed_by) : NULL;
	hwloc_const_bitmap_t all = hwloc_topology_get_topology_cpuset(t->h);

	r->gpu_loc = NULL;
	if (!g) { /* not in the topology: the node of its bus, if known */
		for (int i = 0; i < p->ndev; i++)
			if (!strcmp(p->dev[i].bdf, p->placed_by) && p->dev[i].node >= 0 && t->nnode > 1) {
				hwloc_bitmap_set(r->gpu_nodes, (unsigned)p->dev[i].node);
				r->gpu_loc = pv_topo_node(t, (unsigned)p->dev[i].node) ?
						     pv_topo_node(t, (unsigned)p->dev[i].node)->cpuset : NULL;
			}
		return;
	}
	if (g->locality && !hwloc_bitmap_isincluded(all, g->locality)) {
		r->gpu_loc = g->locality;
		for (int i = 0; i < t->nnode; i++)
			if (hwloc_bitmap_intersects(t->node[i].cpuset, g->locality))
				hwloc_bitmap_set(r->gpu_nodes, t->node[i].os);
	} else if (g->node >= 0 && t->nnode > 1) {
		hwloc_bitmap_set(r->gpu_nodes, (unsigned)g->node);
		r->gpu_loc = pv_topo_node(t, (unsigned)g->node) ?
				     pv_topo_node(t, (unsigned)g->node)->cpuset : NULL;
	}
}

static bool l3_sizes_differ(const struct pv_topo *t, const struct pv_claims *c, int kind)
{
	unsigned long long first = 0;

	for (int i = 0; i < t->ncore; i++) {
		unsigned long long s = t->l3[t->core[i].l3].size;

		if (!core_usable(t, c, i, kind))
			continue;
		if (!first)
			first = s;
		else if (s != first)
			return true;
	}
	return false;
}

static int add_vcpu(struct pv_plan *p, const struct pv_topo *t, unsigned pu)
{
	const struct pv_pu *u = pv_topo_pu(t, pu);
	struct pv_plan_vcpu *v = &p->vcpus[p->nvcpu];

	v->vcpu = p->nvcpu++;
	v->pu = pu;
	v->core = u ? u->core : -1;
	v->l3 = u ? u->l3 : -1;
	v->node = u ? u->node : -1;
	hwloc_bitmap_set(p->vcpu_cpus, pu);
	return 0;
}

struct fill {
	int need;    /* p->nvcpu to reach */
	bool pairs;  /* SMT sibling pairs instead of primary threads */
	int max_l3;  /* 0 = no limit */
	int kind;
	bool *core_used;
	bool *l3_taken;
	int l3_used; /* distinct L3 domains taken */
	hwloc_const_bitmap_t nodes; /* host nodes allowed (a guest node's binding), NULL any */
};

/* One vCPU on the core's first CPU the VM may take; with pairs, one on
 * each such sibling too. */
static void fill_core(struct pv_plan *p, const struct pv_topo *t, const struct pv_claims *c,
		      const struct fill *f, const struct pv_core *co)
{
	int placed = 0;

	for (int k = 0; k < co->npu && p->nvcpu < f->need; k++) {
		if (!pu_allowed(c, co->pu[k]))
			continue;
		if (placed++ && !f->pairs)
			return;
		add_vcpu(p, t, co->pu[k]);
	}
}

/* Place vCPUs on the ranked L3 domains, core by core. */
/* One L3's free cores, in order; with pairs, only those whose SMT count
 * is (lone) 1 or (!lone) more. */
static void fill_l3(struct pv_plan *p, const struct pv_topo *t, const struct pv_claims *c,
		    struct fill *f, int l3, bool lone)
{
	for (int ci = 0; ci < t->ncore && p->nvcpu < f->need; ci++) {
		const struct pv_core *co = &t->core[ci];

		if (co->l3 != l3 || f->core_used[ci] || !core_usable(t, c, ci, f->kind))
			continue;
		if (f->pairs && lone != (core_npu(c, co) == 1))
			continue;
		if (f->nodes && (co->node < 0 || !hwloc_bitmap_isset(f->nodes, (unsigned)co->node)))
			continue;
		f->core_used[ci] = true;
		if (!f->l3_taken[l3])
			f->l3_used++;
		f->l3_taken[l3] = true;
		fill_core(p, t, c, f, co);
	}
}

static void fill_l3s(struct pv_plan *p, const struct pv_topo *t, const struct pv_claims *c,
		     const int *order, struct fill *f)
{
	for (int oi = 0; oi < t->nl3 && p->nvcpu < f->need; oi++) {
		int l3 = order[oi];

		if (f->max_l3 && f->l3_used >= f->max_l3 && !f->l3_taken[l3])
			continue;
		/* pairs: whole cores first, so a core whose sibling is offline
		 * does not shift every later pair off its core (issue 14) */
		fill_l3(p, t, c, f, l3, false);
		if (f->pairs)
			fill_l3(p, t, c, f, l3, true);
	}
}

/* Free cores and CPUs of a kind (kind < 0: any kind), on every L3. */
static void free_room(const struct pv_topo *t, const struct pv_claims *c, int kind, int *cores,
		      int *pus)
{
	*cores = *pus = 0;
	for (int ci = 0; ci < t->ncore; ci++)
		if (core_usable(t, c, ci, kind < 0 ? t->core[ci].kind : kind)) {
			(*cores)++;
			*pus += core_npu(c, &t->core[ci]);
		}
}

/* What a count of free room is in: CPUs with SMT pairs, else cores. */
static const char *unit(const struct fill *f, int n)
{
	if (f->pairs)
		return n == 1 ? "CPU" : "CPUs";
	return n == 1 ? "core" : "cores";
}

/* The VM's affinity as a CPU list, "" when it has none. */
static const char *affinity_list(char *b, size_t n, const struct pv_claims *c)
{
	b[0] = '\0';
	if (c && c->allowed && pv_cpulist_format(b, n, c->allowed) < 0)
		snprintf(b, n, "(too long to show)");
	return b;
}

/* The VM's affinity is what leaves too little room: name it and what fits. */
static int affinity_error(const struct pv_plan *p, const struct pv_claims *c, const struct fill *f,
			  const char *fixes, struct pv_err *e)
{
	char a[256];

	return pv_fail(e, 0, "VM %d wants %d vCPUs but its affinity %s holds only %d free %s%s%s%s",
		       p->vmid, f->need, affinity_list(a, sizeof(a), c), p->nvcpu, unit(f, p->nvcpu),
		       f->pairs ? "" : " (one vCPU per core)", fixes[0] ? ": " : "", fixes);
}

static int capacity_error(const struct pv_plan *p, const struct pv_topo *t,
			  const struct pv_claims *c, const struct fill *f, struct pv_err *e)
{
	bool claimed = c && c->cpus && !hwloc_bitmap_iszero(c->cpus);
	const char *what = unit(f, p->nvcpu), *each = f->pairs ? "" : " (one vCPU per core)";
	char fixes[400], hybrid[80] = "";
	int pus, any_cores, any_pus, cores;

	free_room(t, c, f->kind, &cores, &pus);
	free_room(t, c, -1, &any_cores, &any_pus);
	/* manual mode needs the user's list of CPUs: not tried, but named
	 * only where both kinds together would hold the VM */
	if (t->nkinds > 1 && any_pus >= f->need && pus < f->need)
		snprintf(hybrid, sizeof(hybrid), "use mode = manual with vcpus = a list of CPUs of both kinds");
	pv_plan_fixes(fixes, sizeof(fixes), p, t, hybrid, PV_FIX_ALL);
	if (c && c->allowed && (f->pairs ? pus : cores) < f->need)
		return affinity_error(p, c, f, fixes, e);
	if (f->max_l3 && f->l3_used >= f->max_l3)
		return pv_fail(e, 0, "VM %d wants %d vCPUs but the %d L3 domain(s) max_l3 lets pvepin use "
			       "hold only %d free %s%s: %s", p->vmid, f->need, f->max_l3, p->nvcpu, what,
			       each, fixes);
	return pv_fail(e, 0, "VM %d wants %d vCPUs but only %d %s%s %s %s%s: %s", p->vmid, f->need,
		       p->nvcpu, what, t->nkinds > 1 ? " of the fastest kind" : "", p->nvcpu == 1 ? "is" : "are",
		       claimed ? "free (other VMs hold the rest)" : "there", each, fixes);
}

/* The vCPUs placed since `from` get the guest vCPU numbers of `set`, in
 * order (set == NULL: the numbers no bound guest node holds). */
static void relabel(struct pv_plan *p, int from, hwloc_const_bitmap_t set, const bool *bound_vcpu)
{
	int v = -1;

	for (int i = from; i < p->nvcpu; i++) {
		if (set)
			v = hwloc_bitmap_next(set, v);
		else
			while (bound_vcpu[++v])
				;
		p->vcpus[i].vcpu = v;
	}
}

static int cmp_vcpu(const void *a, const void *b)
{
	return ((const struct pv_plan_vcpu *)a)->vcpu - ((const struct pv_plan_vcpu *)b)->vcpu;
}

static int bound_error(const struct pv_plan *p, const struct pv_topo *t, const struct pv_claims *c,
		       int gi, const struct fill *f, int want, struct pv_err *e)
{
	const struct pv_cfg_gnode *g = &p->cfg.g[gi];
	int placed = p->nvcpu - (f->need - want);
	char b[256], a[256], fixes[400] = "";

	if (pv_cpulist_format(b, sizeof(b), g->hostnodes) < 0)
		b[0] = '\0';
	pv_plan_fixes(fixes, sizeof(fixes), p, t, "", PV_FIX_ALL & ~PV_FIX_FEWER);
	/* not "see plan --pve": that plan is this one, and refuses the same */
	return pv_fail(e, 0, "VM %d: guest NUMA node %d has %d vCPUs and its memory is bound to host "
		       "node %s (%s), which has only %d free %s for them%s%s%s: give that guest node "
		       "fewer vCPUs or bind it to another node%s%s",
		       p->vmid, gi, want, b, g->from_socket ? "numa: 1 and hugepages: guest socket i on host node i" :
		       "numaN hostnodes=", placed, unit(f, placed), c && c->allowed ? " within affinity " : "",
		       affinity_list(a, sizeof(a), c),
		       f->max_l3 && f->l3_used >= f->max_l3 ? " within max_l3" : "",
		       fixes[0] ? ", or " : "", fixes);
}

/* Guest nodes whose memory is bound first, each on its host nodes (PVE
 * binds that memory there, so vCPUs elsewhere would only reach it
 * remotely); then the vCPUs no binding holds, by locality alone. */
static int fill_bound(struct pv_plan *p, const struct pv_topo *t, const struct pv_claims *c,
		      const int *order, struct fill *f, int need, struct pv_err *e)
{
	_cleanup_free_ bool *bound_vcpu = calloc((size_t)need + 1, sizeof(bool));

	if (!bound_vcpu)
		return pv_fail(e, ENOMEM, "plan");
	for (int gi = 0; gi < p->cfg.ngnode; gi++) {
		const struct pv_cfg_gnode *g = &p->cfg.g[gi];
		int from = p->nvcpu, want = hwloc_bitmap_weight(g->cpus), v;

		/* bound to every node: no narrower than the host itself */
		if (!g->hostnodes ||
		    hwloc_bitmap_isincluded(hwloc_topology_get_topology_nodeset(t->h), g->hostnodes))
			continue;
		hwloc_bitmap_foreach_begin(v, g->cpus) {
			if (v < need)
				bound_vcpu[v] = true;
			else
				want--; /* vcpus: fewer than sockets*cores: not started */
		}
		hwloc_bitmap_foreach_end();
		f->need = from + want;
		f->nodes = g->hostnodes;
		fill_l3s(p, t, c, order, f);
		if (p->nvcpu < f->need)
			return bound_error(p, t, c, gi, f, want, e);
		relabel(p, from, g->cpus, bound_vcpu);
	}
	f->need = need;
	f->nodes = NULL;
	{
		int from = p->nvcpu;

		fill_l3s(p, t, c, order, f);
		relabel(p, from, NULL, bound_vcpu);
	}
	qsort(p->vcpus, (size_t)p->nvcpu, sizeof(*p->vcpus), cmp_vcpu);
	return 0;
}

static int place_auto(struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *pol,
		      const struct pv_claims *c, int need, bool *core_used, struct pv_err *e)
{
	struct rank_ctx r = { .t = t, .prefer = pol->prefer };
	struct fill f = { .need = need, .core_used = core_used };
	_cleanup_free_ int *order = calloc((size_t)t->nl3, sizeof(int));
	_cleanup_free_ int *free_cores = calloc((size_t)t->nl3 + 1, sizeof(int));
	_cleanup_free_ bool *l3_taken = calloc((size_t)t->nl3, sizeof(bool));
	_cleanup_bitmap_ hwloc_bitmap_t gn = hwloc_bitmap_alloc();

	if (!order || !gn || !l3_taken || !free_cores)
		return pv_fail(e, ENOMEM, "plan");
	f.l3_taken = l3_taken;
	f.kind = best_kind(t, c);
	for (int ci = 0; ci < t->ncore; ci++)
		if (t->core[ci].l3 >= 0 && core_usable(t, c, ci, f.kind))
			free_cores[t->core[ci].l3]++;
	r.free = free_cores;
	r.gpu_nodes = gn;
	r.asym = l3_sizes_differ(t, c, f.kind);
	gpu_locality(t, p, &r);
	rank_l3(&r, order, t->nl3);
	if (p->mode == PV_MODE_GAMING) {
		f.pairs = pol->smt == PV_ON;
		f.max_l3 = pol->max_l3;
	} else {
		f.pairs = pol->smt != PV_OFF;
	}
	if (p->cfg.bound && !p->free_placement) {
		if (fill_bound(p, t, c, order, &f, need, e) < 0)
			return -1;
	} else {
		fill_l3s(p, t, c, order, &f);
	}
	if (p->nvcpu < need)
		return capacity_error(p, t, c, &f, e);
	return 0;
}

static int place_manual(struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *pol,
			const struct pv_claims *c, bool *core_used, struct pv_err *e)
{
	char a[256];

	for (int i = 0; i < pol->vcpus_n; i++) {
		const struct pv_pu *u = pv_topo_pu(t, (unsigned)pol->vcpus_list[i]);

		if (!u)
			return pv_fail(e, 0, "policy vcpus: CPU %d does not exist on this host (see `pvepin topo`)",
				       pol->vcpus_list[i]);
		if (c && c->cpus && hwloc_bitmap_isset(c->cpus, u->os))
			return pv_fail(e, 0, "policy vcpus: CPU %u is held by another running VM", u->os);
		if (!pu_allowed(c, u->os))
			return pv_fail(e, 0, "policy vcpus: CPU %u is outside VM %d's affinity %s: list CPUs "
				       "within it or remove it (qm set %d --delete affinity)", u->os, p->vmid,
				       affinity_list(a, sizeof(a), c), p->vmid);
		core_used[u->core] = true;
		add_vcpu(p, t, u->os);
	}
	return 0;
}

/* A whole free core for emulator/IO threads, nearest the vCPUs first. */
static int housekeeping_core(const struct pv_topo *t, const struct pv_claims *c,
			     const struct pv_plan *p, const bool *core_used)
{
	int l3 = p->nvcpu ? p->vcpus[0].l3 : -1;
	int best = -1;

	for (int ci = 0; ci < t->ncore; ci++) {
		if (core_used[ci] || !core_usable(t, c, ci, t->core[ci].kind))
			continue;
		if (t->core[ci].l3 == l3)
			return ci;
		if (best < 0 || (t->core[best].node != p->vcpus[0].node &&
				 t->core[ci].node == p->vcpus[0].node))
			best = ci;
	}
	return best;
}

static void place_emulator(struct pv_plan *p, const struct pv_topo *t, const struct pv_claims *c,
			   bool *core_used)
{
	int hk;

	/* Siblings of the vCPU cores share their L3 without taking a vCPU's
	 * core: the guide's best runs put emulator and IRQs there. */
	for (int ci = 0; ci < t->ncore; ci++)
		for (int k = 0; core_used[ci] && k < t->core[ci].npu; k++)
			if (!hwloc_bitmap_isset(p->vcpu_cpus, t->core[ci].pu[k]) &&
			    pu_allowed(c, t->core[ci].pu[k]))
				hwloc_bitmap_set(p->emulator, t->core[ci].pu[k]);
	if (!hwloc_bitmap_iszero(p->emulator))
		return;
	hk = housekeeping_core(t, c, p, core_used);
	if (hk < 0) {
		char a[256];

		pv_plan_warn(p, "no free core for emulator threads and IRQs%s%s: emulator threads share the "
				"vCPUs' CPUs and device IRQs are not steered", c && c->allowed ? " within affinity " : "",
			     affinity_list(a, sizeof(a), c));
		return;
	}
	core_used[hk] = true;
	for (int k = 0; k < t->core[hk].npu; k++)
		if (pu_allowed(c, t->core[hk].pu[k]))
			hwloc_bitmap_set(p->emulator, t->core[hk].pu[k]);
}

static void place_host(struct pv_plan *p, const struct pv_topo *t, const struct pv_claims *c)
{
	hwloc_bitmap_copy(p->host_cpus, hwloc_topology_get_topology_cpuset(t->h));
	hwloc_bitmap_andnot(p->host_cpus, p->host_cpus, p->vm_cpus);
	if (c && c->cpus)
		hwloc_bitmap_andnot(p->host_cpus, p->host_cpus, c->cpus);
	if (hwloc_bitmap_iszero(p->host_cpus)) {
		pv_plan_warn(p, "the VM takes every CPU: host tasks cannot be moved off it "
				"(leave at least one core to the host)");
		hwloc_bitmap_copy(p->host_cpus, hwloc_topology_get_topology_cpuset(t->h));
	}
}

static int alloc_plan(struct pv_plan *p, int need, struct pv_err *e)
{
	p->vcpus = calloc((size_t)need, sizeof(*p->vcpus));
	p->vcpu_cpus = hwloc_bitmap_alloc();
	p->vm_cpus = hwloc_bitmap_alloc();
	p->emulator = hwloc_bitmap_alloc();
	p->irq_cpus = hwloc_bitmap_alloc();
	p->host_cpus = hwloc_bitmap_alloc();
	p->mem_nodes = hwloc_bitmap_alloc();
	p->pve_vcpus = hwloc_bitmap_alloc();
	if (!p->vcpus || !p->vcpu_cpus || !p->vm_cpus || !p->emulator || !p->irq_cpus ||
	    !p->host_cpus || !p->mem_nodes || !p->pve_vcpus)
		return pv_fail(e, ENOMEM, "plan");
	return 0;
}

static enum pv_mode pick_mode(const struct pv_policy *pol, const struct pv_plan *p)
{
	if (pol->vcpus_n > 0)
		return PV_MODE_MANUAL;
	if (pol->mode != PV_MODE_AUTO)
		return pol->mode;
	return p->gpu[0] ? PV_MODE_GAMING : PV_MODE_WORKSTATION;
}

static int vcpu_count(const struct pv_policy *pol, const struct pv_vmconf *vc, struct pv_err *e)
{
	int conf_n = pv_vmconf_nvcpus(vc);

	if (pol->vcpus_n > 0) {
		if (pol->vcpus_n != conf_n)
			return pv_fail(e, 0, "policy vcpus lists %d CPUs but VM %d has %d vCPUs: "
				       "list one CPU per vCPU", pol->vcpus_n, vc->vmid, conf_n);
		return pol->vcpus_n;
	}
	if (pol->vcpus_count > 0 && pol->vcpus_count != conf_n)
		return pv_fail(e, 0, "policy vcpus = %d but VM %d has %d vCPUs: make them agree",
			       pol->vcpus_count, vc->vmid, conf_n);
	if (conf_n <= 0 || conf_n > PV_MAX_CPUS)
		return pv_fail(e, 0, "VM %d: bad vCPU count %d", vc->vmid, conf_n);
	return conf_n;
}

/* Sockets are a stronger boundary than L3s (issue 14): never crossed
 * silently. */
static void warn_sockets(struct pv_plan *p, const struct pv_topo *t)
{
	_cleanup_bitmap_ hwloc_bitmap_t pkgs = hwloc_bitmap_alloc();

	if (!pkgs)
		return;
	for (int i = 0; i < p->nvcpu; i++) {
		hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t->h, p->vcpus[i].pu);
		hwloc_obj_t pk = pu ? hwloc_get_ancestor_obj_by_type(t->h, HWLOC_OBJ_PACKAGE, pu) : NULL;

		if (pk)
			hwloc_bitmap_set(pkgs, pk->logical_index);
	}
	if (hwloc_bitmap_weight(pkgs) > 1)
		pv_plan_warn(p, "the vCPUs span %d sockets: their caches and memory are a socket "
			     "link apart; give the VM fewer vCPUs to keep it in one", hwloc_bitmap_weight(pkgs));
}

static int place_cpus(struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *pol,
		      const struct pv_claims *c, int need, struct pv_err *e)
{
	_cleanup_free_ bool *core_used = calloc((size_t)t->ncore, sizeof(bool));

	if (!core_used)
		return pv_fail(e, ENOMEM, "plan");
	if (p->mode == PV_MODE_MANUAL ? place_manual(p, t, pol, c, core_used, e) < 0 :
					place_auto(p, t, pol, c, need, core_used, e) < 0)
		return -1;
	warn_sockets(p, t);
	place_emulator(p, t, c, core_used);
	hwloc_bitmap_or(p->vm_cpus, p->vcpu_cpus, p->emulator);
	/* With no CPU beside the vCPUs, device IRQs stay where the kernel put
	 * them rather than land on a vCPU's CPU. */
	if (pol->irq_cpus)
		hwloc_bitmap_copy(p->irq_cpus, pol->irq_cpus);
	else
		hwloc_bitmap_copy(p->irq_cpus, p->emulator);
	hwloc_bitmap_copy(p->host_cpus, hwloc_topology_get_topology_cpuset(t->h));
	hwloc_bitmap_andnot(p->host_cpus, p->host_cpus, p->vm_cpus);
	if (c && c->cpus)
		hwloc_bitmap_andnot(p->host_cpus, p->host_cpus, c->cpus);
	if (pv_plan_host_reserve(p, t, pol, e) < 0)
		return -1;
	place_host(p, t, c);
	return 0;
}

static int plan_make(const struct pv_topo *t, const struct pv_policy *pol,
		     const struct pv_vmconf *vc, const struct pv_claims *claims,
		     struct pv_plan *p, bool free_placement, bool probing, bool any_cpu,
		     struct pv_err *e)
{
	struct pv_claims own = { 0 };
	int need;

	/* the affinity narrows where the VM may go as other VMs' CPUs do;
	 * in_claims stays the caller's, for the fixes to plan again */
	if (claims)
		own = *claims;
	own.allowed = any_cpu ? NULL : vc->affinity;
	memset(p, 0, sizeof(*p));
	p->vmid = vc->vmid;
	p->free_placement = free_placement;
	p->probing = probing;
	p->in_pol = pol;
	p->in_vc = vc;
	p->in_claims = claims;
	need = vcpu_count(pol, vc, e);
	if (need < 0 || alloc_plan(p, need, e) < 0 ||
	    pv_plan_cfg_read(t, vc, need, p, e) < 0 ||
	    pv_plan_devices(t, pol, vc, &own, p, e) < 0)
		goto fail;
	p->mode = pick_mode(pol, p);
	if (place_cpus(p, t, pol, &own, need, e) < 0 ||
	    pv_plan_memory(t, pol, vc, p, e) < 0 ||
	    pv_plan_guest(t, vc, p, e) < 0 ||
	    pv_plan_actions(pol, p, e) < 0)
		goto fail;
	hwloc_bitmap_copy(p->pve_vcpus, p->vcpu_cpus);
	if (vc->template) { /* PVE starts it for backup only: nothing to change */
		p->nact = 0;
		pv_plan_warn(p, "VM %d is a template: PVE starts it only for a backup, without its "
			     "devices, NUMA layout or hugepages, so pvepin leaves the host alone", p->vmid);
	}
	return 0;
fail:
	pv_plan_free(p);
	return -1;
}

/* What `plan --pve` proposes comes from a plan by device locality alone;
 * the plan pvepin carries out follows the config's bindings, since QEMU
 * applies them. Where the two differ, say which device wanted what. */
static void adopt_free_plan(struct pv_plan *p, struct pv_plan *q)
{
	for (int i = 0; i < p->ngnuma; i++)
		hwloc_bitmap_free(p->gnuma[i].cpus);
	memcpy(p->gnuma, q->gnuma, sizeof(p->gnuma));
	p->ngnuma = q->ngnuma;
	q->ngnuma = 0;
	memcpy(p->smp, q->smp, sizeof(p->smp));
	hwloc_bitmap_copy(p->pve_vcpus, q->vcpu_cpus);
}

/* The config binds a guest node's memory where its affinity has no room
 * for that node's vCPUs: the affinity alone holds the VM (a plan by
 * locality fits in it), and so does the binding alone. QEMU binds that
 * memory and pvepin cannot move it, while its vCPU pins replace the
 * affinity's mask: the binding wins, the vCPUs stay near their memory,
 * and plan --pve gives numaN lines inside the affinity. */
static int plan_try(const struct pv_topo *t, const struct pv_policy *pol, const struct pv_vmconf *vc,
		    const struct pv_claims *claims, struct pv_plan *p, bool free_placement,
		    bool probing, struct pv_err *e)
{
	struct pv_plan q;
	struct pv_err qe = { 0 };
	char a[256];

	if (plan_make(t, pol, vc, claims, p, free_placement, probing, false, e) == 0)
		return 0;
	if (!vc->affinity || free_placement)
		return -1;
	if (plan_make(t, pol, vc, claims, &q, true, true, false, &qe) < 0)
		return -1;
	pv_plan_free(&q);
	if (plan_make(t, pol, vc, claims, &q, false, probing, true, &qe) < 0)
		return -1;
	if (!q.cfg.bound) {
		pv_plan_free(&q);
		return -1;
	}
	*p = q;
	if (pv_cpulist_format(a, sizeof(a), vc->affinity) < 0)
		a[0] = '\0';
	pv_plan_warn(p, "affinity %s has no room for the vCPUs of a guest NUMA node whose memory "
		     "numaN hostnodes= binds elsewhere: they run beside their memory, outside the "
		     "affinity (see `pvepin plan %d --pve`)", a, p->vmid);
	return 0;
}

int pv_plan_make(const struct pv_topo *t, const struct pv_policy *pol,
		 const struct pv_vmconf *vc, const struct pv_claims *claims,
		 struct pv_plan *p, struct pv_err *e)
{
	struct pv_plan q;
	struct pv_err qe = { 0 };

	if (plan_try(t, pol, vc, claims, p, false, false, e) < 0)
		return -1;
	if (!p->cfg.bound || p->mode == PV_MODE_MANUAL)
		return 0;
	if (plan_make(t, pol, vc, claims, &q, true, false, false, &qe) == 0) {
		adopt_free_plan(p, &q);
		pv_plan_free(&q);
	}
	return 0;
}

bool pv_plan_probe(const struct pv_topo *t, const struct pv_policy *pol, const struct pv_vmconf *vc,
		   const struct pv_claims *claims, bool free_placement)
{
	struct pv_plan r;
	struct pv_err e = { 0 };

	if (plan_try(t, pol, vc, claims, &r, free_placement, true, &e) < 0)
		return false;
	pv_plan_free(&r);
	return true;
}

void pv_plan_free(struct pv_plan *p)
{
	free(p->vcpus);
	hwloc_bitmap_free(p->vcpu_cpus);
	hwloc_bitmap_free(p->vm_cpus);
	hwloc_bitmap_free(p->emulator);
	hwloc_bitmap_free(p->irq_cpus);
	hwloc_bitmap_free(p->host_cpus);
	hwloc_bitmap_free(p->mem_nodes);
	hwloc_bitmap_free(p->pve_vcpus);
	pv_plan_cfg_free(&p->cfg);
	for (int i = 0; i < p->ngnuma; i++)
		hwloc_bitmap_free(p->gnuma[i].cpus);
	memset(p, 0, sizeof(*p));
}
