#include "vmctx/safety.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/cleanup.h"
#include "common/fsio.h"

#define MAX_DEPTH 4

/* Which plan device, if any, lies on the sysfs device path (a realpath
 * like .../pci0000:00/0000:00:1f.2/ata1/.../sda). */
static const char *dev_on_path(const struct pv_plan *p, const char *real)
{
	for (int i = 0; i < p->ndev; i++) {
		const char *hit = strstr(real, p->dev[i].bdf);
		size_t len = strlen(p->dev[i].bdf);

		if (hit && hit[-1] == '/' && (hit[len] == '/' || hit[len] == '\0'))
			return p->dev[i].bdf;
	}
	return NULL;
}

/* A block device and, for dm/md, what it is made of (slaves/). */
static const char *block_dev(const struct pv_plan *p, const char *sysdir, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	char real[PATH_MAX], sub[PATH_MAX + 300];
	const char *hit;
	struct dirent *de;

	if (depth > MAX_DEPTH || !realpath(sysdir, real))
		return NULL;
	if ((hit = dev_on_path(p, real)))
		return hit;
	snprintf(sub, sizeof(sub), "%s/slaves", real);
	if (!(d = opendir(sub)))
		return NULL;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/slaves/%s", real, de->d_name);
			if ((hit = block_dev(p, sub, depth + 1)))
				return hit;
		}
	return NULL;
}

static void check_rootfs(struct pv_plan *p)
{
	char root[PV_PATH_MAX], sys[PV_PATH_MAX];
	struct stat st;
	const char *hit;

	if (pv_path(root, sizeof(root), NULL, "/") < 0 || stat(root, &st) < 0)
		return;
	if (pv_path(sys, sizeof(sys), NULL, "/sys/dev/block/%u:%u", major(st.st_dev),
		    minor(st.st_dev)) < 0)
		return;
	if ((hit = block_dev(p, sys, 0)))
		pv_plan_refuse(p, "%s holds the root filesystem's storage: passing it through takes "
			       "the host's disk away (--force overrides)", hit);
}

static bool ifname_ok(const char *s)
{
	if (!*s || strlen(s) > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || (unsigned char)*s <= ' ')
			return false;
	return true;
}

/* The NIC behind an interface: its device, or those of its lower_*
 * interfaces (bridge ports, bond slaves, VLAN parents). */
static const char *net_dev(const struct pv_plan *p, const char *ifname, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX], real[PATH_MAX];
	const char *hit;
	struct dirent *de;

	if (depth > MAX_DEPTH || !ifname_ok(ifname) ||
	    pv_path(path, sizeof(path), NULL, "/sys/class/net/%s/device", ifname) < 0)
		return NULL;
	if (realpath(path, real) && (hit = dev_on_path(p, real)))
		return hit;
	if (pv_path(path, sizeof(path), NULL, "/sys/class/net/%s", ifname) < 0 ||
	    !(d = opendir(path)))
		return NULL;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "lower_", 6) && (hit = net_dev(p, de->d_name + 6, depth + 1)))
			return hit;
	return NULL;
}

static void check_default_route(struct pv_plan *p)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX], *save = NULL;

	if (pv_path(path, sizeof(path), NULL, "/proc/net/route") < 0 ||
	    !(text = pv_slurp(path, NULL, NULL)))
		return;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ifname[32], dest[16], mask[16];
		const char *hit;

		if (sscanf(line, "%31s %15s %*s %*s %*s %*s %*s %15s", ifname, dest, mask) != 3 ||
		    strcmp(dest, "00000000") || strcmp(mask, "00000000"))
			continue;
		if ((hit = net_dev(p, ifname, 0)))
			pv_plan_refuse(p, "%s carries the default route (%s): passing it through cuts "
				       "the host off the network (--force overrides)", hit, ifname);
	}
}

static bool in_plan(const struct pv_plan *p, const char *bdf)
{
	for (int i = 0; i < p->ndev; i++)
		if (!strcmp(p->dev[i].bdf, bdf))
			return true;
	return false;
}

static bool serial_console(void)
{
	char path[PV_PATH_MAX], buf[4096];

	return pv_path(path, sizeof(path), NULL, "/proc/cmdline") == 0 &&
	       pv_read_file(path, buf, sizeof(buf), NULL) >= 0 && strstr(buf, "console=ttyS");
}

static void check_console(struct pv_plan *p, const struct pv_topo *t)
{
	const char *boot = NULL;

	for (int i = 0; i < t->npci; i++) {
		const struct pv_pcidev *d = &t->pci[i];

		if (d->class_id >> 16 != 0x03)
			continue;
		if (!in_plan(p, d->bdf))
			return; /* another display stays with the host */
		if (d->boot_vga)
			boot = d->bdf;
	}
	if (boot && !serial_console())
		pv_plan_refuse(p, "%s is the host's only console (boot_vga, no other display, no "
			       "serial console=ttyS): you would lose the local console (--force "
			       "overrides)", boot);
}

int pv_safety_check(struct pv_plan *p, const struct pv_topo *t, struct pv_err *e)
{
	if (p->ndev == 0)
		return 0;
	check_rootfs(p);
	check_default_route(p);
	check_console(p, t);
	return 0;
}
