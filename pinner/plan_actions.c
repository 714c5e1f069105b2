/* The plan as a list of intents of doc/DESIGN.md "Actions and steps", tagged with
 * the phase that carries them out. hook/ turns them into journaled steps. */
#include <stdio.h>
#include <string.h>

#include "conf/cpulist.h"
#include "common/limits.h"
#include "pinner/plan_internal.h"

/* The VMs' slice becomes a cpuset partition of every CPU but the host's:
 * the host slices (and the root cgroup's own tasks) keep only the host CPUs
 * without a write to their files (hook/step_partition.c). */
static const char iso_cgroup[] = "qemu.slice";

static struct pv_action *add(struct pv_plan *p, enum pv_phase ph, enum pv_act_kind k)
{
	struct pv_action *a;

	if (p->nact >= PV_MAX_ACTIONS)
		return NULL;
	a = &p->act[p->nact++];
	memset(a, 0, sizeof(*a));
	a->phase = ph;
	a->kind = k;
	return a;
}

/* Callers pass strings that fit: bounded cpu lists, unit names, BDFs. */
static void set_str(char *dst, size_t n, const char *s)
{
	size_t len = strnlen(s, n - 1);

	memcpy(dst, s, len);
	dst[len] = '\0';
}

/* Steps that the kernel may refuse come first (the partition, hugepages),
 * the disruptive one last: a refused start then never unbinds a device,
 * whose host driver would come back with new IRQs. */
static int pre_start(const struct pv_policy *pol, struct pv_plan *p, const char *host,
		     const char *vm)
{
	struct pv_action *a;

	/* also without isolate: the VM's scope lives in that slice, so its CPUs
	 * must be in the partition other VMs made */
	if (!(a = add(p, PV_PRE_START, PV_ACT_ISOLATE)))
		return -1;
	set_str(a->target, sizeof(a->target), iso_cgroup);
	set_str(a->value, sizeof(a->value), pol->isolate ? host : "");
	for (int i = 0; i < p->npages; i++) {
		if (!(a = add(p, PV_PRE_START, PV_ACT_HUGEPAGES)))
			return -1;
		a->node = p->pages[i].node;
		a->count = p->pages[i].count;
		a->size_kb = p->hp_kb;
		snprintf(a->target, sizeof(a->target), "node%d", a->node);
	}
	for (int i = 0; i < p->ndev; i++) {
		if (p->dev[i].treat != PV_DEV_BIND)
			continue; /* driver=keep, an mdev's parent: left on the host driver */
		if (!(a = add(p, PV_PRE_START, PV_ACT_VFIO_BIND)))
			return -1;
		set_str(a->target, sizeof(a->target), p->dev[i].bdf);
		set_str(a->value, sizeof(a->value), "vfio-pci");
	}
	if (pol->governor[0]) {
		if (!(a = add(p, PV_PRE_START, PV_ACT_GOVERNOR)))
			return -1;
		set_str(a->target, sizeof(a->target), vm);
		set_str(a->value, sizeof(a->value), pol->governor);
	}
	return 0;
}

static int post_start(const struct pv_policy *pol, struct pv_plan *p, const char *vm,
		      const char *emu, const char *irq)
{
	struct pv_action *a;

	if (!(a = add(p, PV_POST_START, PV_ACT_CPUSET)))
		return -1;
	snprintf(a->target, sizeof(a->target), PV_QEMU_SCOPE_FMT, p->vmid);
	set_str(a->value, sizeof(a->value), vm);
	for (int i = 0; i < p->nvcpu; i++) {
		if (!(a = add(p, PV_POST_START, PV_ACT_PIN_VCPU)))
			return -1;
		a->vcpu = p->vcpus[i].vcpu;
		a->pu = p->vcpus[i].pu;
		/* kvm: 0 runs TCG: QEMU names the threads "CPU n/TCG" */
		snprintf(a->target, sizeof(a->target), "CPU %d/%s", a->vcpu,
			 p->cfg.kvm ? "KVM" : "TCG");
		snprintf(a->value, sizeof(a->value), "%u", a->pu);
	}
	if (!(a = add(p, PV_POST_START, PV_ACT_PIN_OTHER)))
		return -1;
	set_str(a->target, sizeof(a->target), "emulator");
	set_str(a->value, sizeof(a->value), emu[0] ? emu : vm);
	/* no IRQ CPUs (an affinity the vCPUs fill): the plan warned that
	 * device IRQs stay where they are, so no step that cannot succeed */
	for (int i = 0; pol->irq_steer && irq[0] && i < p->ndev; i++) {
		if (p->dev[i].treat != PV_DEV_BIND)
			continue;
		if (!(a = add(p, PV_POST_START, PV_ACT_IRQ_STEER)))
			return -1;
		set_str(a->target, sizeof(a->target), p->dev[i].bdf);
		set_str(a->value, sizeof(a->value), irq);
	}
	/* Only when the host keeps CPUs of its own to take them. */
	if (pol->irq_steer && pol->isolate && !hwloc_bitmap_intersects(p->host_cpus, p->vm_cpus)) {
		if (!(a = add(p, PV_POST_START, PV_ACT_IRQ_OTHERS)))
			return -1;
		set_str(a->target, sizeof(a->target), "other-irqs");
		set_str(a->value, sizeof(a->value), vm);
	}
	if (pol->irq_steer && pol->irqbalance == PV_IRQB_BAN) {
		if (!(a = add(p, PV_POST_START, PV_ACT_IRQBALANCE)))
			return -1;
		set_str(a->target, sizeof(a->target), "irqbalance");
		set_str(a->value, sizeof(a->value), vm);
	}
	return 0;
}

int pv_plan_actions(const struct pv_policy *pol, struct pv_plan *p, struct pv_err *e)
{
	char host[1024], vm[1024], emu[1024], irq[1024];

	if (pv_cpulist_format(host, sizeof(host), p->host_cpus) < 0 ||
	    pv_cpulist_format(vm, sizeof(vm), p->vm_cpus) < 0 ||
	    pv_cpulist_format(emu, sizeof(emu), p->emulator) < 0 ||
	    pv_cpulist_format(irq, sizeof(irq), p->irq_cpus) < 0)
		return pv_fail(e, 0, "plan: cpu list too long");
	if (pre_start(pol, p, host, vm) < 0 || post_start(pol, p, vm, emu, irq) < 0)
		return pv_fail(e, 0, "plan: more than %d actions", PV_MAX_ACTIONS);
	return 0;
}

const char *pv_phase_name(enum pv_phase ph)
{
	static const char *const n[] = { "pre-start", "post-start", "pre-stop", "post-stop" };

	return (unsigned)ph < 4 ? n[ph] : "?";
}

const char *pv_act_name(enum pv_act_kind k)
{
	static const char *const n[] = {
		[PV_ACT_VFIO_BIND] = "vfio-bind", [PV_ACT_HUGEPAGES] = "hugepages",
		[PV_ACT_CPUSET] = "cpuset", [PV_ACT_GOVERNOR] = "governor",
		[PV_ACT_PIN_VCPU] = "pin-vcpu", [PV_ACT_PIN_OTHER] = "pin-threads",
		[PV_ACT_IRQ_STEER] = "irq-steer", [PV_ACT_IRQBALANCE] = "irqbalance-ban",
		[PV_ACT_IRQ_OTHERS] = "irq-others", [PV_ACT_ISOLATE] = "isolate",
	};

	return (unsigned)k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}
