/* Host readiness: read the facts once (kernel command line, release, CPU
 * vendor, boot loader, every VM's passthrough devices, module config) into
 * struct hc, then let each topic file report on them. */
#include "check/host.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "check/host_int.h"
#include "common/limits.h"

/* A printf-built host path under --root. */
static int vrooted(char *p, size_t n, const char *fmt, va_list ap)
{
	char rel[PV_PATH_MAX];
	struct pv_err e;
	int len = vsnprintf(rel, sizeof(rel), fmt, ap);

	if (len < 0 || (size_t)len >= sizeof(rel) || pv_path(p, n, &e, "%s", rel) < 0)
		return -1;
	return 0;
}

int hc_readf(char *buf, size_t n, const char *fmt, ...)
{
	char p[PV_PATH_MAX];
	struct pv_err e;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vrooted(p, sizeof(p), fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : (int)pv_read_file(p, buf, n, &e);
}

bool hc_existsf(const char *fmt, ...)
{
	char p[PV_PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vrooted(p, sizeof(p), fmt, ap);
	va_end(ap);
	return r == 0 && pv_exists(p);
}

void hc_appendf(char *out, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*len + 1 >= n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(out + *len, n - *len, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len = *len + (size_t)w < n ? *len + (size_t)w : n - 1;
}

/* Kernel parameter names treat '-' and '_' alike. */
static bool key_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];

		if (x != y)
			return false;
	}
	return true;
}

/* The next blank-separated token of the command line, NULL at its end. */
static const char *next_token(const char *s, size_t *len)
{
	while (*s == ' ' || *s == '\t')
		s++;
	*len = strcspn(s, " \t");
	return *len ? s : NULL;
}

bool hc_cmdline_has(const struct hc *h, const char *token)
{
	const char *s = h->cmdline, *tok;
	size_t len, tlen = strlen(token), klen = strcspn(token, "=");

	while ((tok = next_token(s, &len))) {
		size_t k = strcspn(tok, "=");

		if (k > len)
			k = len;
		if (len == tlen && key_eq(tok, k, token, klen) && !strncmp(tok + k, token + klen, len - k))
			return true;
		s = tok + len;
	}
	return false;
}

const char *hc_cmdline_value(const struct hc *h, const char *key, char *buf, size_t n)
{
	const char *s = h->cmdline, *tok, *found = NULL;
	size_t len, flen = 0, klen = strlen(key);

	while ((tok = next_token(s, &len))) {
		if (len > klen && tok[klen] == '=' && key_eq(tok, klen, key, klen)) {
			found = tok + klen + 1;
			flen = len - klen - 1;
		}
		s = tok + len;
	}
	if (!found || flen >= n)
		return NULL;
	memcpy(buf, found, flen);
	buf[flen] = '\0';
	return buf;
}

const struct hc_dev *hc_passthrough(const struct hc *h, const char *bdf)
{
	for (int i = 0; i < h->ndev; i++)
		if (!strcmp(h->dev[i].bdf, bdf))
			return &h->dev[i];
	return NULL;
}

bool hc_vm_wants_1g(const struct hc *h, bool targets_only)
{
	for (int i = 0; i < h->nvm; i++)
		if (h->vm[i].hugepages_kb == PV_HP_1G_KB && (h->vm[i].target || !targets_only))
			return true;
	return false;
}

static void read_cmdline(struct hc *h)
{
	h->have_cmdline = hc_readf(h->cmdline, sizeof(h->cmdline), "/proc/cmdline") >= 0;
	if (!h->have_cmdline)
		h->cmdline[0] = '\0';
}

/* The release names /lib/modules/<rel> and /boot/initrd.img-<rel>. */
static void read_osrelease(struct hc *h)
{
	char buf[128];

	if (hc_readf(buf, sizeof(buf), "/proc/sys/kernel/osrelease") <= 0 || strlen(buf) >= sizeof(h->osrelease))
		return;
	if (buf[0] == '.' || strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+_-~") !=
			     strlen(buf))
		return;
	strcpy(h->osrelease, buf);
}

static void read_cpu_vendor(struct hc *h)
{
	char p[PV_PATH_MAX];
	_cleanup_free_ char *info = NULL;
	struct pv_err e;

	if (pv_path(p, sizeof(p), &e, "/proc/cpuinfo") == 0 && (info = pv_slurp(p, NULL, &e))) {
		if (strstr(info, "AuthenticAMD"))
			h->cpu = HC_CPU_AMD;
		else if (strstr(info, "GenuineIntel"))
			h->cpu = HC_CPU_INTEL;
	}
	if (h->cpu == HC_CPU_UNKNOWN && strstr(h->t->cpu_model, "AMD"))
		h->cpu = HC_CPU_AMD;
	else if (h->cpu == HC_CPU_UNKNOWN && strstr(h->t->cpu_model, "Intel"))
		h->cpu = HC_CPU_INTEL;
}

/* PVE boots through systemd-boot (proxmox-boot-tool, /etc/kernel/cmdline)
 * or GRUB (/etc/default/grub): the fix names the one in use. */
static void find_kwhere(struct hc *h)
{
	char p[PV_PATH_MAX];
	_cleanup_free_ char *grub = NULL;
	struct pv_err e;
	int line = 1;

	if (hc_existsf("/etc/kernel/cmdline")) {
		snprintf(h->kwhere, sizeof(h->kwhere),
			 "/etc/kernel/cmdline (its one line), run `proxmox-boot-tool refresh`");
		return;
	}
	snprintf(h->kwhere, sizeof(h->kwhere),
		 "GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, run `update-grub`");
	if (pv_path(p, sizeof(p), &e, "/etc/default/grub") < 0 || !(grub = pv_slurp(p, NULL, &e)))
		return;
	for (const char *s = grub; s; line++) {
		const char *nl = strchr(s, '\n');

		if (!strncmp(s, "GRUB_CMDLINE_LINUX_DEFAULT=", 27)) {
			snprintf(h->kwhere, sizeof(h->kwhere),
				 "GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub:%d, run `update-grub`", line);
			return;
		}
		s = nl ? nl + 1 : NULL;
	}
}

static struct hc_dev *add_dev(struct hc *h, const char *bdf, int vmid, int slot, bool target)
{
	struct hc_dev *d;

	if (h->ndev >= HC_MAX_DEVS)
		return NULL;
	d = &h->dev[h->ndev++];
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	d->vmid = vmid;
	d->slot = slot;
	d->target = target;
	return d;
}

/* A slot written without a function ("0000:81:00") means all of them. */
static void add_hostpci(struct hc *h, const struct pv_hostpci *hp, int vmid, int slot, bool target)
{
	bool first = true;

	for (int i = 0; i < hp->nbdf; i++) {
		char bdf[PV_BDF_LEN];
		int found = 0;

		pv_bdf_format(&hp->bdf[i], bdf);
		for (int k = 0; hp->bdf[i].all_fn && k < h->t->npci; k++) {
			struct hc_dev *d;

			if (strncmp(h->t->pci[k].bdf, bdf, strlen(bdf)) || h->t->pci[k].bdf[strlen(bdf)] != '.')
				continue;
			found++;
			if ((d = add_dev(h, h->t->pci[k].bdf, vmid, slot, target)) && first)
				d->first = true;
			first = false;
		}
		if (!found) {
			struct hc_dev *d = add_dev(h, bdf, vmid, slot, target);

			if (d && first)
				d->first = true;
			first = false;
		}
	}
	for (int i = 0; i < h->ndev; i++)
		if (h->dev[i].first && h->dev[i].vmid == vmid && h->dev[i].slot == slot)
			snprintf(h->dev[i].romfile, sizeof(h->dev[i].romfile), "%s", hp->romfile);
}

static void add_vm(struct hc *h, const struct pv_vmconf *c, bool target)
{
	struct hc_vm *v;

	if (h->nvm >= HC_MAX_VMS)
		return;
	v = &h->vm[h->nvm++];
	v->vmid = c->vmid;
	v->memory_mb = c->memory_mb;
	v->hugepages_kb = c->hugepages_kb;
	v->target = target;
	for (int s = 0; s < PV_MAX_HOSTPCI; s++)
		if (c->hostpci[s].present)
			add_hostpci(h, &c->hostpci[s], c->vmid, s, target);
}

/* PVE names configs <vmid>.conf; anything else in the directory is not one. */
static int list_vmids(int *ids, int max)
{
	char dir[PV_PATH_MAX], num[16];
	struct pv_err e;
	struct dirent *de;
	DIR *dh;
	int n = 0;

	if (pv_path(dir, sizeof(dir), &e, "/etc/pve/qemu-server") < 0 || !(dh = opendir(dir)))
		return 0;
	while ((de = readdir(dh)) && n < max) {
		size_t digits = strspn(de->d_name, "0123456789");

		if (digits == 0 || digits >= sizeof(num) || strcmp(de->d_name + digits, ".conf"))
			continue;
		memcpy(num, de->d_name, digits);
		num[digits] = '\0';
		if (pv_vmid_parse(num, &ids[n], &e) == 0)
			n++;
	}
	closedir(dh);
	qsort(ids, (size_t)n, sizeof(*ids), pv_cmp_int);
	return n;
}

static void load_vms(struct hc *h, const struct pv_vmconf *target, struct pv_report *r)
{
	int ids[HC_MAX_VMS];
	int n = list_vmids(ids, HC_MAX_VMS), nread = 0;

	if (target)
		add_vm(h, target, true);
	for (int i = 0; i < n; i++) {
		struct pv_vmconf c;
		struct pv_err e = { 0 };

		if (target && ids[i] == target->vmid)
			continue;
		if (pv_vmconf_load(ids[i], NULL, &c, &e) < 0) {
			pv_report_add(r, PV_WARN, "vm-configs",
				      "cannot read VM %d's config, its devices are not checked: %s: fix the file "
				      "(`qm config %d` shows what PVE reads)", ids[i], e.msg, ids[i]);
			continue;
		}
		add_vm(h, &c, !target);
		pv_vmconf_free(&c);
		nread++;
	}
	if (!target)
		pv_report_add(r, PV_OK, "vm-configs", "%d VM config(s) in /etc/pve/qemu-server read: %d "
			      "passthrough PCI function(s) to check", nread, h->ndev);
}

static void fill_modalias(struct hc *h, int i)
{
	const struct pv_pcidev *d = &h->t->pci[i];
	char sv[32] = "", sd[32] = "";
	unsigned long svid = 0, sdid = 0;

	if (hc_readf(h->modalias[i], sizeof(h->modalias[i]), "/sys/bus/pci/devices/%s/modalias", d->bdf) > 0)
		return;
	h->modalias[i][0] = '\0';
	if (!d->vendor)
		return;
	/* No modalias file (a trimmed capture): compose it as the kernel does. */
	if (hc_readf(sv, sizeof(sv), "/sys/bus/pci/devices/%s/subsystem_vendor", d->bdf) > 0)
		svid = strtoul(sv, NULL, 16);
	if (hc_readf(sd, sizeof(sd), "/sys/bus/pci/devices/%s/subsystem_device", d->bdf) > 0)
		sdid = strtoul(sd, NULL, 16);
	snprintf(h->modalias[i], sizeof(h->modalias[i]), "pci:v%08Xd%08Xsv%08lXsd%08lXbc%02Xsc%02Xi%02X",
		 d->vendor, d->device, svid, sdid, (d->class_id >> 16) & 0xff, (d->class_id >> 8) & 0xff,
		 d->class_id & 0xff);
}

void pv_check_host(const struct pv_topo *t, const struct pv_vmconf *vm, struct pv_report *r)
{
	struct hc *h = calloc(1, sizeof(*h));

	if (!h || !(h->modalias = calloc((size_t)t->npci + 1, sizeof(*h->modalias)))) {
		pv_report_add(r, PV_ERROR, "host", "out of memory reading the host");
		free(h);
		return;
	}
	h->t = t;
	h->one_vm = vm != NULL;
	read_cmdline(h);
	read_osrelease(h);
	read_cpu_vendor(h);
	find_kwhere(h);
	load_vms(h, vm, r);
	for (int i = 0; i < t->npci; i++)
		fill_modalias(h, i);
	hc_load_modconf(h);
	hc_check_iommu(h, r);
	hc_check_memory(h, r);
	hc_check_modules(h, r);
	hc_check_cpu(h, r);
	hc_check_devices(h, r);
	hc_check_romfiles(h, r);
	hc_check_bootvga(h, r);
	hc_free_modconf(h);
	free(h->modalias);
	free(h);
}
