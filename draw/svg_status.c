/* `status --svg`: the VMs pvepin holds CPUs for, drawn where they really
 * are. The ledger says which CPUs, pages and devices each VM holds; when
 * its QEMU runs, its threads say which vCPU sits on which PU ("CPU n/KVM"
 * pinned to one PU) and where the other threads may run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/opts.h"
#include "engine/threads.h"
#include "draw/svg.h"

#define MAX_DRAWN 32

static int add_vcpu(struct pv_plan *p, const struct pv_topo *t, int vcpu, unsigned pu)
{
	const struct pv_pu *tp = pv_topo_pu(t, pu);
	struct pv_plan_vcpu *v = realloc(p->vcpus, (size_t)(p->nvcpu + 1) * sizeof(*v));
	int k;

	if (!v)
		return -1;
	p->vcpus = v;
	/* in vCPU order */
	for (k = p->nvcpu; k > 0 && v[k - 1].vcpu > vcpu; k--)
		v[k] = v[k - 1];
	v[k] = (struct pv_plan_vcpu){ .vcpu = vcpu, .pu = pu, .core = tp ? tp->core : -1,
				      .l3 = tp ? tp->l3 : -1, .node = tp ? tp->node : -1 };
	p->nvcpu++;
	return 0;
}

/* One thread: a vCPU on one PU, or an emulator/IO thread's CPUs. */
static int thread_into(struct pv_plan *p, const struct pv_topo *t, const struct pv_thread *th,
		       hwloc_bitmap_t set)
{
	if (pv_thread_get_cpus(th->tid, set, NULL) < 0)
		return 0; /* gone meanwhile */
	if (th->vcpu >= 0 && hwloc_bitmap_weight(set) == 1) {
		if (add_vcpu(p, t, th->vcpu, (unsigned)hwloc_bitmap_first(set)) < 0)
			return -1;
		hwloc_bitmap_set(p->vcpu_cpus, (unsigned)hwloc_bitmap_first(set));
	} else if (th->vcpu < 0 && hwloc_bitmap_weight(set) < t->npu) {
		hwloc_bitmap_or(p->emulator, p->emulator, set);
	}
	return 0;
}

static int from_threads(struct pv_plan *p, const struct pv_topo *t, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	_cleanup_free_ struct pv_thread *th = NULL;
	pid_t pid;
	int n = 0;

	if (!set || !(p->vcpu_cpus = hwloc_bitmap_alloc()) || !(p->emulator = hwloc_bitmap_alloc()))
		return pv_fail(e, ENOMEM, "svg");
	if (pv_qemu_pid(p->vmid, &pid, NULL) != 0 || pv_threads_list(pid, &th, &n, NULL) < 0)
		return 0; /* not running: the ledger's CPU sets are all there is */
	for (int i = 0; i < n; i++)
		if (thread_into(p, t, &th[i], set) < 0)
			return pv_fail(e, ENOMEM, "svg");
	/* emulator threads share the VM's cores with its vCPUs, not the host */
	if (p->vm_cpus)
		hwloc_bitmap_and(p->emulator, p->emulator, p->vm_cpus);
	return 0;
}

/* Colours follow VMID order, whatever order the ledger has. */
static void sort_last(struct pv_plan **plans, struct pv_svg_vm *vms, int k)
{
	for (; k > 0 && vms[k - 1].vmid > vms[k].vmid; k--) {
		struct pv_plan *p = plans[k];
		struct pv_svg_vm v = vms[k];

		plans[k] = plans[k - 1];
		vms[k] = vms[k - 1];
		plans[k - 1] = p;
		vms[k - 1] = v;
	}
}

static int load_vms(const struct pv_topo *t, const struct pv_ledger *l, int vmid,
		    struct pv_plan **plans, struct pv_svg_vm *vms, struct pv_err *e)
{
	int n = 0;

	for (int i = 0; i < l->nvm && n < MAX_DRAWN; i++) {
		if (vmid > 0 && l->vm[i].vmid != vmid)
			continue;
		if (!(plans[n] = calloc(1, sizeof(**plans))))
			return pv_fail(e, ENOMEM, "svg");
		if (pv_svg_plan_from_ledger(plans[n], &l->vm[i], e) < 0 ||
		    from_threads(plans[n], t, e) < 0) {
			pv_plan_free(plans[n]);
			free(plans[n]);
			return -1;
		}
		vms[n] = (struct pv_svg_vm){ .vmid = l->vm[i].vmid, .plan = plans[n] };
		sort_last(plans, vms, n++);
	}
	return n;
}

static int draw(const char *path, const struct pv_topo *t, const struct pv_ledger *l, int vmid,
		struct pv_err *e)
{
	struct pv_plan *plans[MAX_DRAWN];
	struct pv_svg_vm vms[MAX_DRAWN];
	char caption[128];
	struct pv_svg s = { .t = t, .vm = vms, .caption = caption };
	int n = load_vms(t, l, vmid, plans, vms, e), rc;

	if (n < 0)
		return -1;
	s.nvm = n;
	if (vmid > 0)
		snprintf(caption, sizeof(caption), "pvepin status %d: %s", vmid,
			 n ? "where it runs now" : "nothing applied for it");
	else
		snprintf(caption, sizeof(caption), "pvepin status: %d VM%s placed by pvepin", n,
			 n == 1 ? "" : "s");
	rc = pv_svg_save(path, &s, e);
	for (int i = 0; i < n; i++) {
		pv_plan_free(plans[i]);
		free(plans[i]);
	}
	return rc;
}

int pv_svg_status(const char *path, int vmid, struct pv_err *e)
{
	struct pv_topo t;
	struct pv_ledger l;
	int rc;

	if (pv_topo_load(&t, pv_opt.topology, e) < 0)
		return -1;
	if (pv_ledger_load(&l, e) < 0) {
		pv_topo_free(&t);
		return -1;
	}
	rc = draw(path ? path : "-", &t, &l, vmid, e);
	pv_ledger_free(&l);
	pv_topo_free(&t);
	return rc;
}
