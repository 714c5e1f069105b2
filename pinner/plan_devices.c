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

/* A function the topology does not list (hwloc XML keeps only some):
 * its bus's node, where another function on that bus is known. */
static int bus_node(const struct pv_topo *t, const char *bdf)
{
	size_t n = strcspn(bdf, ".");

	if (n > 7)
		n = 7; /* "dddd:bb" */
	for (int i = 0; i < t->npci; i++)
		if (!strncmp(t->pci[i].bdf, bdf, n) && t->pci[i].node >= 0)
			return t->pci[i].node;
	return -1;
}

/* Where a function came from and what PVE does with it. */
struct origin {
	bool listed;
	enum pv_dev_treat treat;
	int hostpci, map_entry;
	const char *mapping;
};

/* PCI.pm choose_hostpci_devices ($add_used_device): a function two
 * hostpciN lines name (or one line twice) stops the start with "device
 * '<id>' assigned more than once"; an mdev's parent is not counted, and a
 * mapping with several entries skips the used ones before this. */
static bool dup_hostpci(const struct pv_plan_dev *pd, const struct origin *o)
{
	return o->hostpci >= 0 && pd->hostpci >= 0 && o->treat != PV_DEV_MDEV &&
	       pd->treat != PV_DEV_MDEV;
}

static int add_dev(const struct pv_topo *t, struct pv_plan *p, const char *bdf,
		   const struct origin *o, struct pv_err *e)
{
	const struct pv_pcidev *d = pv_topo_pci(t, bdf);
	struct pv_plan_dev *pd = find_dev(p, bdf);

	if (pd && dup_hostpci(pd, o))
		return pv_fail(e, 0, "hostpci%d: device '%s' assigned more than once (hostpci%d has it too)",
			       o->hostpci, bdf, pd->hostpci);
	if (pd) {
		pd->listed |= o->listed;
		return 0;
	}
	if (p->ndev >= PV_MAX_DEVS)
		return pv_fail(e, 0, "VM %d passes through more than %d PCI functions", p->vmid,
			       PV_MAX_DEVS);
	pd = &p->dev[p->ndev++];
	snprintf(pd->bdf, sizeof(pd->bdf), "%s", bdf);
	/* PCI.pm prepare_pci_device: driver=keep and an mdev's parent are
	 * neither reset nor bound */
	snprintf(pd->target, sizeof(pd->target), "%s", o->treat == PV_DEV_BIND ? "vfio-pci" : "");
	pd->listed = o->listed;
	pd->treat = o->treat;
	pd->hostpci = o->hostpci;
	pd->map_entry = o->map_entry;
	snprintf(pd->mapping, sizeof(pd->mapping), "%s", o->mapping ? o->mapping : "");
	pd->group = d ? d->iommu_group : -1;
	pd->node = d ? d->node : bus_node(t, bdf);
	snprintf(pd->kind, sizeof(pd->kind), "%s", d ? pv_pci_kind_name(d->kind) : "device");
	if (d)
		snprintf(pd->driver, sizeof(pd->driver), "%s", d->driver);
	if (d && d->kind == PV_PCI_GPU && !p->gpu[0])
		snprintf(p->gpu, sizeof(p->gpu), "%s", bdf);
	return 0;
}

/* One BDF as written: a function, or (all_fn) every function of the slot. */
static int add_written(const struct pv_topo *t, struct pv_plan *p, const struct pv_bdf *b,
		       const struct origin *o, struct pv_err *e)
{
	char bdf[PV_BDF_LEN];
	int found = 0;

	pv_bdf_format(b, bdf);
	if (!b->all_fn) {
		if (!pv_topo_pci(t, bdf) && t->sysfs)
			return pv_fail(e, 0, "VM %d: PCI device %s does not exist on this host: "
				       "fix hostpciN (see `pvepin topo`)", p->vmid, bdf);
		return add_dev(t, p, bdf, o, e);
	}
	for (int i = 0; i < t->npci; i++) {
		unsigned dom, bus, dev, fn;

		if (sscanf(t->pci[i].bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4 ||
		    dom != b->domain || bus != b->bus || dev != b->dev)
			continue;
		found++;
		if (add_dev(t, p, t->pci[i].bdf, o, e) < 0)
			return -1;
	}
	if (!found && t->sysfs)
		return pv_fail(e, 0, "VM %d: no PCI function at %s on this host: fix hostpciN "
			       "(see `pvepin topo`)", p->vmid, bdf);
	if (!found) /* an XML topology may not list every function */
		return add_dev(t, p, bdf, o, e);
	return 0;
}

static int add_group_members(const struct pv_topo *t, struct pv_plan *p, struct pv_err *e)
{
	int nlisted = p->ndev;

	for (int i = 0; i < nlisted; i++) {
		int g = p->dev[i].treat == PV_DEV_BIND ? p->dev[i].group : -1;

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
			if (add_dev(t, p, m->bdf, &(struct origin){ .hostpci = -1, .map_entry = -1 }, e) < 0)
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

static bool alt_used(const struct pv_plan *p, const struct pv_claims *c, const struct pv_mapalt *a)
{
	for (int i = 0; i < a->nbdf; i++) {
		char bdf[PV_BDF_LEN];

		pv_bdf_format(&a->bdf[i], bdf);
		for (int k = 0; k < p->ndev; k++)
			if (!strncmp(p->dev[k].bdf, bdf, strlen(bdf)))
				return true;
		for (int k = 0; c && k < c->ndevs; k++)
			if (!strncmp(c->devs[k], bdf, strlen(bdf)))
				return true;
	}
	return false;
}

/* PVE::Mapping::PCI::assert_valid, for every entry of this node before
 * one is chosen: the id and IOMMU group the mapping recorded must still
 * be the hardware's, or PVE refuses after pvepin would have rebound it. */
static int alt_valid(const struct pv_topo *t, const char *map, int k, const struct pv_mapalt *a,
		     struct pv_err *e)
{
	for (int i = 0; i < a->nbdf && !a->bdf[i].all_fn; i++) {
		char bdf[PV_BDF_LEN];
		const struct pv_pcidev *d;

		pv_bdf_format(&a->bdf[i], bdf);
		d = pv_topo_pci(t, bdf);
		if (!d && t->sysfs)
			return pv_fail(e, 0, "PCI device mapping invalid (hardware probably changed): "
				       "mapping '%s' entry %d: no device at %s", map, k, bdf);
		if (!d || i > 0)
			continue; /* id= and iommugroup= describe the first function */
		if (a->vendor && d->vendor && (d->vendor != a->vendor || d->device != a->device))
			return pv_fail(e, 0, "PCI device mapping invalid (hardware probably changed): mapping "
				       "'%s' entry %d says %04x:%04x but %s is %04x:%04x", map, k,
				       a->vendor, a->device, bdf, d->vendor, d->device);
		if (a->iommugroup >= 0 && t->sysfs && d->iommu_group >= 0 && d->iommu_group != a->iommugroup)
			return pv_fail(e, 0, "PCI device mapping invalid (hardware probably changed): mapping "
				       "'%s' entry %d says IOMMU group %d but %s is in group %d", map, k,
				       a->iommugroup, bdf, d->iommu_group);
	}
	return 0;
}

/* PCI.pm choose_hostpci_devices: the first entry no earlier hostpci of this
 * VM and no other running VM uses. */
static int add_mapped(const struct pv_topo *t, struct pv_plan *p, const struct pv_claims *c,
		      const struct pv_hostpci *h, struct origin *o, struct pv_err *e)
{
	for (int k = 0; k < h->nalt; k++)
		if (alt_valid(t, h->mapping, k, &h->alt[k], e) < 0)
			return pv_wrap(e, "hostpci%d", o->hostpci);
	for (int k = 0; k < h->nalt; k++) {
		if (h->nalt > 1 && alt_used(p, c, &h->alt[k]))
			continue;
		o->map_entry = k;
		for (int i = 0; i < h->alt[k].nbdf; i++)
			if (add_written(t, p, &h->alt[k].bdf[i], o, e) < 0)
				return -1;
		return 0;
	}
	return pv_fail(e, 0, "could not find a free device for 'hostpci%d' (mapping '%s': every entry "
		       "for this node is in use)", o->hostpci, h->mapping);
}

static int add_hostpci(const struct pv_topo *t, struct pv_plan *p, const struct pv_claims *c,
		       const struct pv_hostpci *h, int idx, struct pv_err *e)
{
	struct origin o = { .listed = true, .hostpci = idx, .map_entry = -1, .mapping = h->mapping };

	o.treat = h->mdev[0] ? PV_DEV_MDEV : h->keep ? PV_DEV_KEEP : PV_DEV_BIND;
	if (h->mdev[0] && (h->nbdf > 1 || h->bdf[0].all_fn))
		return pv_fail(e, 0, "hostpci%d: cannot use mediated device with multifunction device", idx);
	if (h->nalt)
		return add_mapped(t, p, c, h, &o, e);
	for (int i = 0; i < h->nbdf; i++)
		if (add_written(t, p, &h->bdf[i], &o, e) < 0)
			return -1;
	return 0;
}

/* The device whose locality places the VM: the GPU first, else a NIC, an
 * NVMe drive, a storage controller, a USB controller, anything else. */
static void pick_placer(const struct pv_topo *t, struct pv_plan *p)
{
	static const char *const order[] = { "gpu", "nic", "nvme", "storage", "usb", "other", "audio",
						     "device" };
	const struct pv_plan_dev *best = NULL;
	int n;

	for (size_t r = 0; r < sizeof(order) / sizeof(order[0]) && !best; r++)
		for (int i = 0; i < p->ndev && !best; i++)
			if (p->dev[i].listed && !strcmp(p->dev[i].kind, order[r]))
				best = &p->dev[i];
	if (!best)
		return;
	snprintf(p->placed_by, sizeof(p->placed_by), "%s", best->bdf);
	n = snprintf(p->placed_why, sizeof(p->placed_why), "placed by %s %s (node %d)", best->kind,
		     best->bdf, best->node);
	for (int i = 0; i < p->ndev && n < (int)sizeof(p->placed_why); i++) {
		if (!p->dev[i].listed || p->dev[i].node == best->node || p->dev[i].node < 0)
			continue;
		n += snprintf(p->placed_why + n, sizeof(p->placed_why) - (size_t)n,
			      "; %s %s is on node %d", p->dev[i].kind, p->dev[i].bdf, p->dev[i].node);
	}
}

int pv_plan_devices(const struct pv_topo *t, const struct pv_policy *pol,
		    const struct pv_vmconf *vc, const struct pv_claims *c,
		    struct pv_plan *p, struct pv_err *e)
{
	if (vc->template) /* QemuServer.pm config_to_command: no hostpci */
		return 0;
	if (!pol->vfio_auto) {
		struct origin o = { .listed = true, .hostpci = -1, .map_entry = -1 };

		for (int i = 0; i < pol->nvfio; i++)
			if (add_written(t, p, &pol->vfio[i], &o, e) < 0)
				return -1;
	} else {
		for (int h = 0; h < PV_MAX_HOSTPCI; h++)
			if (vc->hostpci[h].present && add_hostpci(t, p, c, &vc->hostpci[h], h, e) < 0)
				return -1;
	}
	for (int i = 0; i < p->ndev; i++)
		if (t->sysfs && t->niommu_groups > 0 && p->dev[i].group < 0 &&
		    p->dev[i].treat == PV_DEV_BIND)
			pv_plan_refuse(p, "%s has no IOMMU group: it cannot be passed through", p->dev[i].bdf);
	if (add_group_members(t, p, e) < 0)
		return -1;
	pick_placer(t, p);
	return check_claims(c, p, e);
}
