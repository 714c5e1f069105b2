/* IOMMU on, iommu=pt, interrupt remapping, and a passthrough GPU that the
 * firmware framebuffer still holds (boot VGA). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "check/host_int.h"

/* "ivhd0" (AMD-Vi) or "dmar0" (Intel VT-d) under /sys/class/iommu. */
static int iommu_units(char *names, size_t n)
{
	char dir[PV_PATH_MAX];
	struct pv_err e;
	struct dirent *de;
	DIR *dh;
	size_t len = 0;
	int count = 0;

	names[0] = '\0';
	if (pv_path(dir, sizeof(dir), &e, "/sys/class/iommu") < 0 || !(dh = opendir(dir)))
		return 0;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		if (count++ < 4)
			hc_appendf(names, n, &len, "%s%s", len ? " " : "", de->d_name);
	}
	closedir(dh);
	return count;
}

static const char *unit_kind(const char *names)
{
	if (!strncmp(names, "ivhd", 4))
		return "AMD-Vi";
	if (!strncmp(names, "dmar", 4))
		return "Intel VT-d (DMAR)";
	return "IOMMU";
}

static const char *iommu_off_param(const struct hc *h)
{
	static const char *const off[] = { "iommu=off", "amd_iommu=off", "intel_iommu=off" };

	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (hc_cmdline_has(h, off[i]))
			return off[i];
	return NULL;
}

static void check_iommu_on(struct hc *h, struct pv_report *r)
{
	const char *off = iommu_off_param(h);
	char names[64];
	int n = iommu_units(names, sizeof(names));

	if (h->t->niommu_groups < 0) {
		pv_report_add(r, PV_WARN, "iommu-on",
			      "cannot tell whether the IOMMU is on: no /sys/bus/pci or /sys/kernel/iommu_groups "
			      "to read (capture /sys with the host, or run on the host)");
	} else if (h->t->niommu_groups > 0) {
		pv_report_add(r, PV_OK, "iommu-on", "IOMMU is on: %s%s%s%s, %d IOMMU groups", unit_kind(names),
			      n ? " (" : "", names, n ? ")" : "", h->t->niommu_groups);
	} else if (off) {
		pv_report_add(r, PV_ERROR, "iommu-on",
			      "IOMMU is off: the kernel command line has %s: remove it from %s, and reboot", off,
			      h->kwhere);
	} else if (h->cpu == HC_CPU_INTEL) {
		pv_report_add(r, PV_ERROR, "iommu-on",
			      "IOMMU is off (no /sys/kernel/iommu_groups): enable VT-d in the firmware setup, add "
			      "intel_iommu=on to %s, and reboot", h->kwhere);
	} else if (h->cpu == HC_CPU_AMD) {
		pv_report_add(r, PV_ERROR, "iommu-on",
			      "IOMMU is off (no /sys/kernel/iommu_groups): enable IOMMU and SVM in the firmware setup "
			      "(AMD CBS > NBIO Common Options > IOMMU) and reboot; Linux turns AMD-Vi on by itself "
			      "(amd_iommu=on is not needed)");
	} else {
		pv_report_add(r, PV_ERROR, "iommu-on",
			      "IOMMU is off (no /sys/kernel/iommu_groups): enable it in the firmware setup (AMD: IOMMU; "
			      "Intel: VT-d, then add intel_iommu=on to %s) and reboot", h->kwhere);
	}
}

static void check_iommu_pt(struct hc *h, struct pv_report *r)
{
	bool amd_on = h->cpu == HC_CPU_AMD && hc_cmdline_has(h, "amd_iommu=on");

	if (!h->have_cmdline) {
		pv_report_add(r, PV_WARN, "iommu-pt", "cannot tell whether iommu=pt is set: no /proc/cmdline to read");
		return;
	}
	if (hc_cmdline_has(h, "iommu=pt")) {
		pv_report_add(r, PV_OK, "iommu-pt", "iommu=pt is on the kernel command line: host devices skip "
			      "IOMMU translation%s", amd_on ? " (amd_iommu=on next to it does nothing: it can go)" : "");
		return;
	}
	pv_report_add(r, PV_WARN, "iommu-pt",
		      "iommu=pt is not on the kernel command line, so every host device's DMA goes through IOMMU "
		      "translation (passthrough works either way): add iommu=pt to %s, and reboot%s", h->kwhere,
		      h->cpu == HC_CPU_AMD ? " (on AMD amd_iommu=on is not needed)" : "");
}

enum ir_state { IR_UNKNOWN, IR_ON, IR_OFF };

/* Interrupt remapping shows as IR-PCI-MSI / IR-IO-APIC chips in
 * /proc/interrupts; without /proc, Intel's DMAR ecap bit 3 says it exists. */
static enum ir_state ir_state(const struct hc *h, const char **why)
{
	char p[PV_PATH_MAX], ecap[32];
	_cleanup_free_ char *irq = NULL;
	struct pv_err e;

	if (hc_cmdline_has(h, "intremap=off") || hc_cmdline_has(h, "nointremap")) {
		*why = hc_cmdline_has(h, "nointremap") ? "nointremap" : "intremap=off";
		return IR_OFF;
	}
	if (pv_path(p, sizeof(p), &e, "/proc/interrupts") == 0 && (irq = pv_slurp(p, NULL, &e))) {
		*why = "/proc/interrupts";
		if (strstr(irq, "IR-"))
			return IR_ON;
		if (strstr(irq, "PCI-MSI") || strstr(irq, "IO-APIC"))
			return IR_OFF;
	}
	if (hc_readf(ecap, sizeof(ecap), "/sys/class/iommu/dmar0/intel-iommu/ecap") > 0 &&
	    (strtoull(ecap, NULL, 16) & 0x8)) {
		*why = "dmar0 ecap";
		return IR_ON;
	}
	return IR_UNKNOWN;
}

/* allow_unsafe_interrupts in effect (sysfs), or configured for next load. */
static bool unsafe_irqs(const struct hc *h, char *where, size_t n)
{
	const struct hc_modline *m;
	char v[16];

	if (hc_readf(v, sizeof(v), "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts") > 0) {
		snprintf(where, n, "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
		return v[0] == 'Y' || v[0] == 'y' || v[0] == '1';
	}
	m = hc_mod_option(h, "vfio_iommu_type1", "allow_unsafe_interrupts", v, sizeof(v));
	if (!m)
		return false;
	hc_modline_where(m, where, n);
	return v[0] == 'Y' || v[0] == 'y' || v[0] == '1';
}

static void check_intremap(struct hc *h, struct pv_report *r)
{
	const char *why = "";
	char where[HC_FILE + 16] = "", fw[256];
	enum ir_state ir = ir_state(h, &why);
	bool unsafe = unsafe_irqs(h, where, sizeof(where));

	if (h->t->niommu_groups == 0)
		return; /* iommu-on already says what to do first */
	if (!strcmp(why, "intremap=off") || !strcmp(why, "nointremap"))
		snprintf(fw, sizeof(fw), "remove %s from %s and reboot", why, h->kwhere);
	else
		snprintf(fw, sizeof(fw), "enable x2APIC / interrupt remapping in the firmware setup and reboot");
	if (ir == IR_UNKNOWN)
		pv_report_add(r, PV_WARN, "intremap",
			      "cannot tell whether interrupt remapping is on (no /proc/interrupts): look for "
			      "IR-PCI-MSI in /proc/interrupts on the host");
	else if (ir == IR_ON && !unsafe)
		pv_report_add(r, PV_OK, "intremap", "interrupt remapping is on (%s): vfio needs no "
			      "allow_unsafe_interrupts", why);
	else if (ir == IR_ON)
		pv_report_add(r, PV_WARN, "intremap",
			      "allow_unsafe_interrupts=1 (%s) is set though interrupt remapping is on: it only "
			      "weakens isolation; delete that option and reboot", where);
	else if (unsafe)
		pv_report_add(r, PV_WARN, "intremap",
			      "no interrupt remapping (%s): vfio works only through allow_unsafe_interrupts=1 (%s), "
			      "which lets a guest's device inject interrupts into the host (insecure): %s, then "
			      "remove that option", why, where, fw);
	else
		pv_report_add(r, PV_ERROR, "intremap",
			      "no interrupt remapping (%s): vfio refuses the device ('Failed to set iommu for "
			      "container: Operation not permitted'): %s; or, insecure, add `options "
			      "vfio_iommu_type1 allow_unsafe_interrupts=1` to /etc/modprobe.d/vfio.conf", why, fw);
}

void hc_check_iommu(struct hc *h, struct pv_report *r)
{
	check_iommu_on(h, r);
	check_iommu_pt(h, r);
	check_intremap(h, r);
}

static bool sysfb_off(const struct hc *h)
{
	char v[256];
	char *save = NULL;

	if (!hc_cmdline_value(h, "initcall_blacklist", v, sizeof(v)))
		return false;
	for (char *f = strtok_r(v, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (!strcmp(f, "sysfb_init"))
			return true;
	return false;
}

/* A display the host keeps: a GPU no VM passes through. */
static const char *host_display(const struct hc *h)
{
	for (int i = 0; i < h->t->npci; i++)
		if (h->t->pci[i].kind == PV_PCI_GPU && !hc_passthrough(h, h->t->pci[i].bdf))
			return h->t->pci[i].bdf;
	return NULL;
}

static bool seen_before(const struct hc *h, int i)
{
	for (int k = 0; k < i; k++)
		if (h->dev[k].target && !strcmp(h->dev[k].bdf, h->dev[i].bdf))
			return true;
	return false;
}

static void bootvga_error(struct hc *h, const struct hc_dev *d, struct pv_report *r)
{
	bool efifb = hc_cmdline_has(h, "video=efifb:off");
	bool serial = strstr(h->cmdline, "console=ttyS") != NULL;

	pv_report_add(r, PV_ERROR, "boot-vga",
		      "%s (VM %d hostpci%d) is the boot VGA device: the firmware framebuffer keeps its BAR "
		      "(QEMU: \"BAR 1: can't reserve\", black screen): add initcall_blacklist=sysfb_init to %s, "
		      "and reboot%s%s", d->bdf, d->vmid, d->slot, h->kwhere,
		      efifb ? " (video=efifb:off no longer does it since Linux 5.15)" : "",
		      !host_display(h) && !serial ? "; the host then has no console: keep SSH, or add "
						    "console=ttyS0,115200" : "");
}

void hc_check_bootvga(struct hc *h, struct pv_report *r)
{
	const char *keep = NULL;
	int ngpu = 0;

	for (int i = 0; i < h->ndev; i++) {
		const struct pv_pcidev *d = pv_topo_pci(h->t, h->dev[i].bdf);

		if (!h->dev[i].target || !d || d->kind != PV_PCI_GPU || seen_before(h, i))
			continue;
		ngpu++;
		if (!d->boot_vga)
			continue;
		if (sysfb_off(h))
			pv_report_add(r, PV_OK, "boot-vga", "%s is the boot VGA device; initcall_blacklist=sysfb_init "
				      "keeps the firmware framebuffer off its BAR", d->bdf);
		else
			bootvga_error(h, &h->dev[i], r);
		return;
	}
	for (int i = 0; i < h->t->npci; i++)
		if (h->t->pci[i].boot_vga)
			keep = h->t->pci[i].bdf;
	if (ngpu)
		pv_report_add(r, PV_OK, "boot-vga", "no passthrough GPU is the boot VGA device (the host console "
			      "stays on %s)", keep ? keep : "another device");
}
