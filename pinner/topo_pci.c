/* PCI functions as hwloc sees them, and where they are local. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pinner/topo_internal.h"

enum pv_pci_kind pv_pci_kind_of(unsigned class_id)
{
	unsigned cls = class_id >> 16, sub = (class_id >> 8) & 0xff;

	switch (cls) {
	case 0x03:
		return PV_PCI_GPU;
	case 0x02:
		return PV_PCI_NIC;
	case 0x06:
		return PV_PCI_BRIDGE;
	case 0x04:
		return sub == 0x03 ? PV_PCI_AUDIO : PV_PCI_OTHER;
	case 0x0c:
		return sub == 0x03 ? PV_PCI_USB : PV_PCI_OTHER;
	case 0x01:
		return sub == 0x08 ? PV_PCI_NVME : PV_PCI_STORAGE;
	default:
		return PV_PCI_OTHER;
	}
}

const char *pv_pci_kind_name(enum pv_pci_kind k)
{
	static const char *const names[] = {
		[PV_PCI_OTHER] = "other", [PV_PCI_GPU] = "gpu", [PV_PCI_AUDIO] = "audio",
		[PV_PCI_USB] = "usb", [PV_PCI_NVME] = "nvme", [PV_PCI_NIC] = "nic",
		[PV_PCI_BRIDGE] = "bridge", [PV_PCI_STORAGE] = "storage",
	};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "other";
}

struct pv_pcidev *pv_topo_add_pci(struct pv_topo *t, const char *bdf, struct pv_err *e)
{
	struct pv_pcidev *n = realloc(t->pci, (size_t)(t->npci + 1) * sizeof(*t->pci));
	struct pv_pcidev *d;

	if (!n) {
		pv_fail(e, ENOMEM, "topology");
		return NULL;
	}
	t->pci = n;
	d = &t->pci[t->npci++];
	memset(d, 0, sizeof(*d));
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	d->node = -1;
	d->iommu_group = -1;
	return d;
}

/* Locality is the nearest non-I/O ancestor's; a device hanging off the
 * whole machine has none (node -1). */
static int set_locality(struct pv_topo *t, struct pv_pcidev *d, hwloc_obj_t o, struct pv_err *e)
{
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(t->h, o);

	if (!anc || !anc->cpuset)
		return 0;
	d->locality = hwloc_bitmap_dup(anc->cpuset);
	if (!d->locality)
		return pv_fail(e, ENOMEM, "topology");
	if (anc->nodeset && hwloc_bitmap_weight(anc->nodeset) == 1)
		d->node = hwloc_bitmap_first(anc->nodeset);
	return 0;
}

int pv_topo_load_pci(struct pv_topo *t, struct pv_err *e)
{
	hwloc_obj_t o = NULL;

	while ((o = hwloc_get_next_pcidev(t->h, o))) {
		const struct hwloc_pcidev_attr_s *a = &o->attr->pcidev;
		struct pv_pcidev *d;
		char bdf[PV_BDF_LEN];
		const char *vn, *dn;

		snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", a->domain & 0xffffu,
			 a->bus & 0xffu, a->dev & 0x1fu, a->func & 7u);
		d = pv_topo_add_pci(t, bdf, e);
		if (!d)
			return -1;
		d->class_id = (unsigned)a->class_id << 8;
		d->vendor = a->vendor_id;
		d->device = a->device_id;
		d->kind = pv_pci_kind_of(d->class_id);
		vn = hwloc_obj_get_info_by_name(o, "PCIVendor");
		dn = hwloc_obj_get_info_by_name(o, "PCIDevice");
		if (vn || dn)
			snprintf(d->name, sizeof(d->name), "%s%s%s", vn ? vn : "",
				 vn && dn ? " " : "", dn ? dn : "");
		if (set_locality(t, d, o, e) < 0)
			return -1;
	}
	return 0;
}
