/* The passthrough devices against the host: each exists, its IOMMU group
 * is viable, no module blacklist meant for it also takes a device the host
 * keeps, and `options vfio-pci ids=` captures no identical host device. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsio.h"
#include "check/host_int.h"

static int pci_index(const struct pv_topo *t, const char *bdf)
{
	for (int i = 0; i < t->npci; i++)
		if (!strcmp(t->pci[i].bdf, bdf))
			return i;
	return -1;
}

static int ntargets(const struct hc *h)
{
	int n = 0;

	for (int i = 0; i < h->ndev; i++)
		n += h->dev[i].target;
	return n;
}

static void check_exist(struct hc *h, struct pv_report *r)
{
	int bad = 0;

	if (!h->t->sysfs || !ntargets(h))
		return; /* no PCI sysfs: nothing to hold them against */
	for (int i = 0; i < h->ndev; i++) {
		const struct hc_dev *d = &h->dev[i];

		if (!d->target || pv_topo_pci(h->t, d->bdf))
			continue;
		bad++;
		pv_report_add(r, PV_ERROR, "device",
			      "VM %d hostpci%d names %s, which this host does not have: fix it (`pvepin topo` lists "
			      "the devices; `qm set %d --hostpci%d <bdf>`)", d->vmid, d->slot, d->bdf, d->vmid, d->slot);
	}
	if (!bad)
		pv_report_add(r, PV_OK, "device", "all %d passthrough function(s) exist on this host", ntargets(h));
}

/* vfio accepts a group whose other members are bridges (pcieport) or
 * already the same VM's; anything else stays with the host or another VM. */
static bool member_ok(const struct hc *h, const char *bdf, int vmid)
{
	const struct pv_pcidev *m = pv_topo_pci(h->t, bdf);

	for (int i = 0; i < h->ndev; i++)
		if (h->dev[i].vmid == vmid && !strcmp(h->dev[i].bdf, bdf))
			return true;
	return m && (m->kind == PV_PCI_BRIDGE || !strcmp(m->driver, "pcieport"));
}

static void describe_member(const struct hc *h, const char *bdf, int vmid, char *out, size_t n)
{
	const struct pv_pcidev *m = pv_topo_pci(h->t, bdf);
	const struct hc_dev *other = hc_passthrough(h, bdf);

	if (other && other->vmid != vmid)
		snprintf(out, n, "%s (VM %d's)", bdf, other->vmid);
	else if (m && m->driver[0])
		snprintf(out, n, "%s (%s, driver %s)", bdf, pv_pci_kind_name(m->kind), m->driver);
	else
		snprintf(out, n, "%s (%s)", bdf, m ? pv_pci_kind_name(m->kind) : "unknown");
}

/* Members of group g that make it unviable for vmid, listed in out. */
static int group_problems(const struct hc *h, int g, int vmid, char *out, size_t n)
{
	char dir[PV_PATH_MAX];
	struct pv_err e;
	struct dirent *de;
	DIR *dh;
	size_t len = 0;
	int bad = 0;

	out[0] = '\0';
	if (pv_path(dir, sizeof(dir), &e, "/sys/kernel/iommu_groups/%d/devices", g) < 0 || !(dh = opendir(dir)))
		return 0;
	while ((de = readdir(dh))) {
		struct pv_bdf b;
		char bdf[PV_BDF_LEN], desc[128];

		if (de->d_name[0] == '.' || pv_bdf_parse(de->d_name, false, &b, &e) < 0)
			continue;
		pv_bdf_format(&b, bdf);
		if (member_ok(h, bdf, vmid))
			continue;
		if (bad++ < 3) {
			describe_member(h, bdf, vmid, desc, sizeof(desc));
			hc_appendf(out, n, &len, "%s%s", len ? ", " : "", desc);
		}
	}
	closedir(dh);
	if (bad > 3)
		hc_appendf(out, n, &len, " and %d more", bad - 3);
	return bad;
}

static bool group_seen(const struct hc *h, int upto, int g, int vmid)
{
	for (int i = 0; i < upto; i++) {
		const struct pv_pcidev *d = pv_topo_pci(h->t, h->dev[i].bdf);

		if (g >= 0 && h->dev[i].target && h->dev[i].vmid == vmid && d && d->iommu_group == g)
			return true;
	}
	return false;
}

/* "0000:81:00" of "0000:81:00.1": the card, all its functions */
static const char *same_card(const char *bdf, char *card)
{
	snprintf(card, 16, "%.10s.", bdf);
	card[10] = '\0';
	return card;
}

static void check_groups(struct hc *h, struct pv_report *r)
{
	if (h->t->niommu_groups <= 0)
		return; /* iommu-on says it first */
	for (int i = 0; i < h->ndev; i++) {
		const struct hc_dev *d = &h->dev[i];
		const struct pv_pcidev *p = pv_topo_pci(h->t, d->bdf);
		char list[320], card[16];

		if (!d->target || !p || group_seen(h, i, p->iommu_group, d->vmid))
			continue;
		if (p->iommu_group < 0) {
			pv_report_add(r, PV_ERROR, "group-viable",
				      "%s (VM %d hostpci%d) is in no IOMMU group, so vfio cannot take it: move the card "
				      "to another slot, or update the firmware", d->bdf, d->vmid, d->slot);
			continue;
		}
		if (group_problems(h, p->iommu_group, d->vmid, list, sizeof(list)) &&
		    strstr(list, same_card(d->bdf, card)))
			/* another function of the same card: PVE's all-functions form */
			pv_report_add(r, PV_ERROR, "group-viable",
				      "IOMMU group %d of %s (VM %d) also holds %s, which VM %d does not pass through: "
				      "vfio takes whole groups only: pass all functions of the card with hostpci%d: "
				      "%s (and any other device listed), or move the card to a slot with a group of its "
				      "own (`pvepin topo` shows groups)", p->iommu_group, d->bdf, d->vmid, list,
				      d->vmid, d->slot, card);
		else if (list[0])
			pv_report_add(r, PV_ERROR, "group-viable",
				      "IOMMU group %d of %s (VM %d) also holds %s, which VM %d does not pass through: "
				      "vfio takes whole groups only: pass those through too, or move the card to a slot "
				      "with a group of its own (`pvepin topo` shows groups)", p->iommu_group, d->bdf,
				      d->vmid, list, d->vmid);
		else
			pv_report_add(r, PV_OK, "group-viable", "IOMMU group %d of %s (VM %d) holds only what VM %d "
				      "passes through, and bridges", p->iommu_group, d->bdf, d->vmid, d->vmid);
	}
}

static bool drives(const struct hc *h, const char *module, const char *bdf)
{
	int i = pci_index(h->t, bdf);

	return i >= 0 && hc_mod_drives(h, module, h->modalias[i]);
}

/* A host device the blacklisted module would drive loses nothing if
 * another module that is not blacklisted drives it (nouveau blacklisted,
 * the host's own NVIDIA card on the nvidia module). */
static bool taken(const struct hc *h, const char *module, int i)
{
	return hc_mod_drives(h, module, h->modalias[i]) && !hc_other_driver(h, module, h->modalias[i]);
}

/* What losing these devices costs the host, in words. */
static const char *loss(const struct hc *h, const char *module)
{
	bool usb = false, audio = false, gpu = false;
	int usb_left = 0;

	for (int i = 0; i < h->t->npci; i++) {
		const struct pv_pcidev *d = &h->t->pci[i];
		bool hit;

		if (hc_passthrough(h, d->bdf))
			continue;
		hit = taken(h, module, i);
		usb |= hit && d->kind == PV_PCI_USB;
		audio |= hit && d->kind == PV_PCI_AUDIO;
		gpu |= hit && d->kind == PV_PCI_GPU;
		usb_left += !hit && d->kind == PV_PCI_USB;
	}
	if (usb && !usb_left)
		return ": that is every USB controller the host keeps, so its USB keyboard and mouse go dead";
	if (usb)
		return ": USB ports on those controllers go dead on the host";
	if (audio)
		return ": the host loses that audio (onboard audio)";
	if (gpu)
		return ": the host loses that display";
	return "";
}

/* "blacklist xhci_pci (/etc/modprobe.d/blacklist.conf:1)" and its fix. */
static void blacklist_words(const struct hc *h, const struct hc_modline *m, char *what, size_t nw,
			    char *fix, size_t nf)
{
	if (!m->line) {
		snprintf(what, nw, "modprobe.blacklist=%s (kernel command line)", m->module);
		snprintf(fix, nf, "take %s out of modprobe.blacklist= in %s", m->module, h->kwhere);
		return;
	}
	snprintf(what, nw, "%s %s%s (%s:%d)", m->kind == HC_BLACKLIST ? "blacklist" : "install", m->module,
		 m->kind == HC_BLACKLIST ? "" : " /bin/false", m->file, m->line);
	snprintf(fix, nf, "delete line %d of %s, run update-initramfs -u -k all", m->line, m->file);
}

/* Up to max BDFs of the target devices module drives, "a, b and N more". */
static int list_targets(const struct hc *h, const char *module, char *out, size_t n, int max)
{
	size_t len = 0;
	int count = 0;

	out[0] = '\0';
	for (int i = 0; i < h->ndev; i++) {
		if (!h->dev[i].target || !drives(h, module, h->dev[i].bdf) || strstr(out, h->dev[i].bdf))
			continue;
		if (count++ < max)
			hc_appendf(out, n, &len, "%s%s", len ? ", " : "", h->dev[i].bdf);
	}
	if (count > max)
		hc_appendf(out, n, &len, " and %d more", count - max);
	return count;
}

static int list_host(const struct hc *h, const char *module, char *out, size_t n, int max)
{
	size_t len = 0;
	int count = 0;

	out[0] = '\0';
	for (int i = 0; i < h->t->npci; i++) {
		const struct pv_pcidev *d = &h->t->pci[i];

		if (hc_passthrough(h, d->bdf) || d->kind == PV_PCI_BRIDGE || !taken(h, module, i))
			continue;
		if (count++ < max)
			hc_appendf(out, n, &len, "%s%s (%s)", len ? ", " : "", d->bdf, pv_pci_kind_name(d->kind));
	}
	if (count > max)
		hc_appendf(out, n, &len, " and %d more", count - max);
	return count;
}

static void blacklist_line(struct hc *h, const struct hc_modline *m, struct pv_report *r)
{
	char pt[64], host[160], what[HC_MODNAME + HC_FILE + 32], fix[HC_FILE + 192];

	if (!list_targets(h, m->module, pt, sizeof(pt), 2))
		return;
	blacklist_words(h, m, what, sizeof(what), fix, sizeof(fix));
	if (!list_host(h, m->module, host, sizeof(host), 3))
		pv_report_add(r, PV_OK, "blacklist", "%s keeps %s off %s only; no host device needs it", what,
			      m->module, pt);
	else
		pv_report_add(r, PV_ERROR, "blacklist",
			      "%s keeps %s off %s but also off the host's %s%s. Fix: %s; pvepin binds the VM's "
			      "device to vfio-pci by itself at VM start", what, m->module, pt, host,
			      loss(h, m->module), fix);
}

static void check_blacklists(struct hc *h, struct pv_report *r)
{
	int before = r->n, nbl = 0;

	if (!ntargets(h))
		return;
	for (int i = 0; i < h->nml; i++)
		nbl += h->ml[i].kind != HC_OPTIONS;
	if (nbl && !h->nalias) {
		pv_report_add(r, PV_WARN, "blacklist",
			      "cannot tell which devices the %d blacklisted module(s) would drive: no "
			      "/lib/modules/%s/modules.alias to read", nbl, h->osrelease[0] ? h->osrelease : "<release>");
		return;
	}
	for (int i = 0; i < h->nml; i++)
		if (h->ml[i].kind != HC_OPTIONS)
			blacklist_line(h, &h->ml[i], r);
	if (r->n == before)
		pv_report_add(r, PV_OK, "blacklist", "no blacklisted module (%d line(s) in modprobe.d) drives a "
			      "passthrough device; the host keeps its drivers", nbl);
}

/* vfio-pci's ids= entries: vendor:device[:subvendor[:subdevice[:class[:class_mask]]]]. */
static int parse_id(const char *s, unsigned long f[6])
{
	int n = 0;

	f[2] = f[3] = 0xffffffffUL;
	f[4] = f[5] = 0;
	while (n < 6) {
		char *end;

		f[n++] = strtoul(s, &end, 16);
		if (end == s || (*end && *end != ':'))
			return -1;
		if (!*end)
			break;
		s = end + 1;
	}
	return n >= 2 ? 0 : -1;
}

static unsigned long sysfs_hex(const char *bdf, const char *attr)
{
	char v[32];

	if (hc_readf(v, sizeof(v), "/sys/bus/pci/devices/%s/%s", bdf, attr) <= 0)
		return 0xffffffffUL;
	return strtoul(v, NULL, 16);
}

static bool id_matches(const struct pv_pcidev *d, const unsigned long f[6])
{
	if ((f[0] != 0xffffffffUL && d->vendor != f[0]) || (f[1] != 0xffffffffUL && d->device != f[1]))
		return false;
	if (f[2] != 0xffffffffUL && sysfs_hex(d->bdf, "subsystem_vendor") != f[2])
		return false;
	if (f[3] != 0xffffffffUL && sysfs_hex(d->bdf, "subsystem_device") != f[3])
		return false;
	return (d->class_id & f[5]) == (f[4] & f[5]);
}

/* Up to 3 BDFs matching the id, host devices or passthrough ones. */
static int id_list(const struct hc *h, const unsigned long f[6], bool passthrough, char *out, size_t n)
{
	size_t len = 0;
	int count = 0;

	out[0] = '\0';
	for (int i = 0; i < h->t->npci; i++) {
		const struct pv_pcidev *d = &h->t->pci[i];

		if (!id_matches(d, f) || !hc_passthrough(h, d->bdf) != !passthrough)
			continue;
		if (count++ < 3)
			hc_appendf(out, n, &len, "%s%s", len ? ", " : "", d->bdf);
	}
	if (count > 3)
		hc_appendf(out, n, &len, " and %d more", count - 3);
	return count;
}

static void check_one_id(struct hc *h, const struct hc_modline *m, const char *id, struct pv_report *r)
{
	unsigned long f[6];
	char host[96], pt[96], where[HC_FILE + 16], fix[HC_FILE + 192];

	hc_modline_where(m, where, sizeof(where));
	if (m->line)
		snprintf(fix, sizeof(fix), "take %.40s out of ids= there, run update-initramfs -u -k all", id);
	else
		snprintf(fix, sizeof(fix), "take %.40s out of vfio-pci.ids= in %s", id, h->kwhere);
	if (parse_id(id, f) < 0) {
		pv_report_add(r, PV_WARN, "vfio-ids", "vfio-pci ids entry '%.32s' (%s) is not vendor:device in hex: "
			      "fix it", id, where);
		return;
	}
	if (id_list(h, f, false, host, sizeof(host)))
		pv_report_add(r, PV_ERROR, "vfio-ids",
			      "vfio-pci ids=%.40s (%s) also captures %s, which no VM passes through (an identical "
			      "device meant for the host): %s; pvepin binds passthrough devices by address at VM start",
			      id, where, host, fix);
	else if (id_list(h, f, true, pt, sizeof(pt)))
		pv_report_add(r, PV_OK, "vfio-ids", "vfio-pci ids=%.40s (%s) matches only passthrough devices: %s",
			      id, where, pt);
	else
		pv_report_add(r, PV_WARN, "vfio-ids", "vfio-pci ids=%.40s (%s) matches no device on this host: %s",
			      id, where, fix);
}

/* modprobe joins every options line of a module; of repeated ids= the last
 * one is what vfio-pci gets. */
static void check_vfio_ids(struct hc *h, struct pv_report *r)
{
	char ids[512], *save = NULL;
	const struct hc_modline *m = hc_mod_option(h, "vfio_pci", "ids", ids, sizeof(ids));

	if (!m) {
		if (ntargets(h))
			pv_report_add(r, PV_OK, "vfio-ids", "no `options vfio-pci ids=`: pvepin binds each passthrough "
				      "device by its address, identical devices stay with the host");
		return;
	}
	for (char *id = strtok_r(ids, ",", &save); id; id = strtok_r(NULL, ",", &save))
		check_one_id(h, m, id, r);
}

void hc_check_devices(struct hc *h, struct pv_report *r)
{
	check_exist(h, r);
	check_groups(h, r);
	check_blacklists(h, r);
	check_vfio_ids(h, r);
}
