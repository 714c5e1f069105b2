#include "vmctx/safety.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "vmctx/safety_int.h"

const char *pv_safety_on_path(const struct pv_plan *p, const char *real)
{
	for (int i = 0; i < p->ndev; i++) {
		const char *bdf = p->dev[i].bdf;
		size_t len = strlen(bdf);

		for (const char *hit = strstr(real, bdf); hit; hit = strstr(hit + 1, bdf))
			if (hit > real && hit[-1] == '/' && (hit[len] == '/' || hit[len] == '\0'))
				return bdf;
	}
	return NULL;
}

static bool name_ok(const char *s)
{
	return *s && strlen(s) < NAME_MAX && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A block device's sysfs dir (rooted) and, for dm/md, what it is built
 * from (slaves/), for a native-multipath NVMe namespace its paths. */
static const char *block_dir(const struct pv_plan *p, const char *sysdir, int depth)
{
	static const char *const below[] = { "slaves", "multipath" };
	char real[PATH_MAX], sub[PATH_MAX + NAME_MAX + 16];
	const char *hit;

	if (depth > PV_SAFETY_DEPTH || !realpath(sysdir, real))
		return NULL;
	if ((hit = pv_safety_on_path(p, real)))
		return hit;
	for (size_t k = 0; k < sizeof(below) / sizeof(below[0]); k++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;

		snprintf(sub, sizeof(sub), "%s/%s", real, below[k]);
		if (!(d = opendir(sub)))
			continue;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.') {
				snprintf(sub, sizeof(sub), "%s/%s/%s", real, below[k], de->d_name);
				if ((hit = block_dir(p, sub, depth + 1)))
					return hit;
			}
	}
	return NULL;
}

const char *pv_safety_block(const struct pv_plan *p, const char *name)
{
	char sys[PV_PATH_MAX];

	if (!name_ok(name) || pv_path(sys, sizeof(sys), NULL, "/sys/class/block/%s", name) < 0)
		return NULL;
	return block_dir(p, sys, 0);
}

/* A device-mapper name ("pve-swap") to its block device ("dm-1"). */
static bool dm_name(const char *want, char *name, size_t n)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX], got[256];
	struct dirent *de;

	if (pv_path(path, sizeof(path), NULL, "/sys/class/block") < 0 || !(d = opendir(path)))
		return false;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "dm-", 3) ||
		    pv_path(path, sizeof(path), NULL, "/sys/class/block/%s/dm/name", de->d_name) < 0 ||
		    pv_read_attr(path, got, sizeof(got), NULL) < 0 || strcmp(got, want))
			continue;
		snprintf(name, n, "%s", de->d_name);
		return true;
	}
	return false;
}

bool pv_safety_devpath(const char *dev, char *name, size_t n)
{
	char path[PV_PATH_MAX], real[PATH_MAX], sys[PV_PATH_MAX];
	const char *base;

	if (strncmp(dev, "/dev/", 5) || pv_path(path, sizeof(path), NULL, "%s", dev) < 0)
		return false;
	/* /dev/mapper/x and /dev/disk/by-* are links to the kernel's name */
	base = realpath(path, real) ? strrchr(real, '/') + 1 : strrchr(dev, '/') + 1;
	if (name_ok(base) && pv_path(sys, sizeof(sys), NULL, "/sys/class/block/%s", base) == 0 &&
	    pv_exists(sys)) {
		snprintf(name, n, "%s", base);
		return true;
	}
	return !strncmp(dev, "/dev/mapper/", 12) && dm_name(dev + 12, name, n);
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

static const char *net_dev(const struct pv_plan *p, const char *ifname, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX], real[PATH_MAX];
	const char *hit;
	struct dirent *de;

	if (depth > PV_SAFETY_DEPTH || !ifname_ok(ifname) ||
	    pv_path(path, sizeof(path), NULL, "/sys/class/net/%s/device", ifname) < 0)
		return NULL;
	if (realpath(path, real) && (hit = pv_safety_on_path(p, real)))
		return hit;
	if (pv_path(path, sizeof(path), NULL, "/sys/class/net/%s", ifname) < 0 ||
	    !(d = opendir(path)))
		return NULL;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "lower_", 6) && (hit = net_dev(p, de->d_name + 6, depth + 1)))
			return hit;
	return NULL;
}

const char *pv_safety_netdev(const struct pv_plan *p, const char *ifname)
{
	return net_dev(p, ifname, 0);
}

void pv_safety_refuse(struct pv_plan *p, const char *bdf, const char *fmt, ...)
{
	char why[256];
	size_t len = strlen(bdf);
	va_list ap;

	for (int i = 0; i < p->nrefuse; i++)
		if (!strncmp(p->refuse[i], bdf, len) && p->refuse[i][len] == ' ')
			return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pv_plan_refuse(p, "%s %s", bdf, why);
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
	pv_safety_disks(p);
	pv_safety_nets(p);
	check_console(p, t);
	return 0;
}

/* /etc/pve/storage.cfg: "<type>: <id>" opens a section, indented
 * "<key> <value>" lines follow; a section with "disable" is left out. */
struct section {
	char type[64], id[128];
	char *kv[64][2];
	int n;
	bool off;
};

static void flush(struct section *s, pv_storage_fn fn, void *arg)
{
	for (int i = 0; s->type[0] && !s->off && i < s->n; i++)
		fn(arg, s->type, s->id, s->kv[i][0], s->kv[i][1]);
	memset(s, 0, sizeof(*s));
}

void pv_safety_storage(pv_storage_fn fn, void *arg)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX], *save = NULL;
	struct section s = { .n = 0 };

	if (pv_path(path, sizeof(path), NULL, "/etc/pve/storage.cfg") < 0 ||
	    !(text = pv_slurp(path, NULL, NULL)))
		return;
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		char *key, *val;

		if (ln[0] == '#')
			continue;
		if (ln[0] != ' ' && ln[0] != '\t') {
			flush(&s, fn, arg);
			if (sscanf(ln, "%63[^: ]: %127s", s.type, s.id) != 2)
				s.type[0] = '\0';
			continue;
		}
		key = ln + strspn(ln, " \t");
		val = key + strcspn(key, " \t");
		if (*val)
			*val++ = '\0';
		val += strspn(val, " \t");
		for (size_t l = strlen(val); l && strchr(" \t\r", val[l - 1]); l--)
			val[l - 1] = '\0';
		if (!*key)
			continue;
		if (!strcmp(key, "disable"))
			s.off = true;
		else if (s.n < 64) {
			s.kv[s.n][0] = key;
			s.kv[s.n++][1] = val;
		}
	}
	flush(&s, fn, arg);
}
