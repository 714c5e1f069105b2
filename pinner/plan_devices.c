/* Which PCI functions go to vfio-pci: the VM's passthrough devices, whole
 * slots where no function was given, and the rest of their IOMMU groups. */
#include <stdio.h>
#include <string.h>

#include "pinner/plan_internal.h"

static struct pv_plan_dev *find_dev(struct pv_plan *p, const char *bdf)
{
	for (int i = 0; i < p->ndev; i++)
		if (!strcmp(p->dev[i].bdf, bdf))
			return &p->dev[i];
	return NULL;
}

static int add_dev(const struct pv_topo *t, struct pv_plan *p, const char *bdf, bool listed,
		   struct pv_err *e)
{
	const struct pv_pcidev *d = pv_topo_pci(t, bdf);
	struct pv_plan_dev *pd = find_dev(p, bdf);

	if (pd) {
		pd->listed |= listed;
		return 0;
	}
	if (p->ndev >= PV_MAX_DEVS)
		return pv_fail(e, 0, "VM %d passes through more than %d PCI functions", p->vmid,
			       PV_MAX_DEVS);
	pd = &p->dev[p->ndev++];
	snprintf(pd->bdf, sizeof(pd->bdf), "%s", bdf);
	snprintf(pd->target, sizeof(pd->target), "vfio-pci");
	pd->listed = listed;
	pd->group = d ? d->iommu_group : -1;
	if (d)
		snprintf(pd->driver, sizeof(pd->driver), "%s", d->driver);
	if (d && d->kind == PV_PCI_GPU && !p->gpu[0])
		snprintf(p->gpu, sizeof(p->gpu), "%s", bdf);
	return 0;
}

/* One BDF as written: a function, or (all_fn) every function of the slot. */
static int add_written(const struct pv_topo *t, struct pv_plan *p, const struct pv_bdf *b,
		       struct pv_err *e)
{
	char bdf[PV_BDF_LEN];
	int found = 0;

	pv_bdf_format(b, bdf);
	if (!b->all_fn) {
		if (!pv_topo_pci(t, bdf) && t->sysfs)
			return pv_fail(e, 0, "VM %d: PCI device %s does not exist on this host: "
				       "fix hostpciN (see `pvepin topo`)", p->vmid, bdf);
		return add_dev(t, p, bdf, true, e);
	}
	for (int i = 0; i < t->npci; i++) {
		unsigned dom, bus, dev, fn;

		if (sscanf(t->pci[i].bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4 ||
		    dom != b->domain || bus != b->bus || dev != b->dev)
			continue;
		found++;
		if (add_dev(t, p, t->pci[i].bdf, true, e) < 0)
			return -1;
	}
	if (!found)
		return pv_fail(e, 0, "VM %d: no PCI function at %s on this host: fix hostpciN "
			       "(see `pvepin topo`)", p->vmid, bdf);
	return 0;
}

static int add_group_members(const struct pv_topo *t, struct pv_plan *p, struct pv_err *e)
{
	int nlisted = p->ndev;

	for (int i = 0; i < nlisted; i++) {
		int g = p->dev[i].group;

		for (int k = 0; g >= 0 && k < t->npci; k++) {
			const struct pv_pcidev *m = &t->pci[k];

			/* Bridges stay with their host driver (pcieport). */
			if (m->iommu_group != g || m->kind == PV_PCI_BRIDGE || find_dev(p, m->bdf))
				continue;
			/* another function of the same card: PVE's all-functions form
			 * (the BDF without .f) passes them together */
			if (!strncmp(m->bdf, p->dev[i].bdf, 10))
				pv_plan_refuse(p, "IOMMU group %d of %s also holds %s (%s), which VM %d does "
					       "not pass through: pass all functions of the card with "
					       "hostpciN: %.10s, or --force to bind it anyway", g, p->dev[i].bdf,
					       m->bdf, pv_pci_kind_name(m->kind), p->vmid, m->bdf);
			else
				pv_plan_refuse(p, "IOMMU group %d of %s also holds %s (%s), which VM %d does "
					       "not pass through: add it as another hostpciN: %s, or --force "
					       "to bind it anyway", g, p->dev[i].bdf, m->bdf,
					       pv_pci_kind_name(m->kind), p->vmid, m->bdf);
			if (add_dev(t, p, m->bdf, false, e) < 0)
				return -1;
		}
	}
	return 0;
}

static int check_claims(const struct pv_claims *c, struct pv_plan *p, struct pv_err *e)
{
	for (int i = 0; c && i < c->ndevs; i++)
		if (find_dev(p, c->devs[i]))
			return pv_fail(e, 0, "PCI device %s is held by running VM %d; VM %d cannot "
				       "have it until VM %d stops", c->devs[i], c->devs_vmid[i],
				       p->vmid, c->devs_vmid[i]);
	return 0;
}

int pv_plan_devices(const struct pv_topo *t, const struct pv_policy *pol,
		    const struct pv_vmconf *vc, const struct pv_claims *c,
		    struct pv_plan *p, struct pv_err *e)
{
	if (!pol->vfio_auto) {
		for (int i = 0; i < pol->nvfio; i++)
			if (add_written(t, p, &pol->vfio[i], e) < 0)
				return -1;
	} else {
		for (int h = 0; h < PV_MAX_HOSTPCI; h++)
			for (int i = 0; vc->hostpci[h].present && i < vc->hostpci[h].nbdf; i++)
				if (add_written(t, p, &vc->hostpci[h].bdf[i], e) < 0)
					return -1;
	}
	for (int i = 0; i < p->ndev; i++)
		if (t->sysfs && t->niommu_groups > 0 && p->dev[i].group < 0)
			pv_plan_refuse(p, "%s has no IOMMU group: it cannot be passed through", p->dev[i].bdf);
	if (add_group_members(t, p, e) < 0)
		return -1;
	return check_claims(c, p, e);
}
