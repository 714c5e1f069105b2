/* Refusals for the host's storage: a device that backs a mounted
 * filesystem (any mount: /, /boot/efi, /var/lib/vz, ...), swap, an
 * imported ZFS pool, a mounted btrfs filesystem, a dm/md device (LVM,
 * RAID) built on it, or VM storage of storage.cfg. All from /proc, /sys,
 * udev's database (/run/udev/data) and /etc/pve/storage.cfg. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "vmctx/safety_int.h"

#define TAKES "passing it through takes it from the host (--force overrides)"
#define MAX_POOLS 16

struct pools {
	char name[MAX_POOLS][64];
	int n;
};

static void pool_add(struct pools *z, const char *name, size_t len)
{
	if (len == 0 || len >= sizeof(z->name[0]) || z->n >= MAX_POOLS)
		return;
	for (int i = 0; i < z->n; i++)
		if (strlen(z->name[i]) == len && !strncmp(z->name[i], name, len))
			return;
	snprintf(z->name[z->n++], sizeof(z->name[0]), "%.*s", (int)len, name);
}

/* The kernel's block device of major:minor, by its sysfs name. */
static bool devnum_name(unsigned maj, unsigned min, char *name, size_t n)
{
	char path[PV_PATH_MAX], real[4096];
	const char *slash;

	if (pv_path(path, sizeof(path), NULL, "/sys/dev/block/%u:%u", maj, min) < 0 ||
	    !realpath(path, real) || !(slash = strrchr(real, '/')))
		return false;
	snprintf(name, n, "%s", slash + 1);
	return true;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static void refuse_block(struct pv_plan *p, const char *name, const char *what)
{
	const char *bdf = pv_safety_block(p, name);

	if (bdf)
		pv_safety_refuse(p, bdf, "backs %s (%s): " TAKES, what, name);
}

/* id parent maj:min root mountpoint opts [optional...] - fstype source super */
static void one_mount(struct pv_plan *p, char *line, struct pools *z)
{
	char mnt[1024], fstype[64], source[1024], name[256], what[1200];
	unsigned maj, min;
	const char *dash = strstr(line, " - ");

	if (!dash || sscanf(line, "%*s %*s %u:%u %*s %1023s", &maj, &min, mnt) != 3 ||
	    sscanf(dash + 3, "%63s %1023s", fstype, source) != 2)
		return;
	unescape(mnt);
	unescape(source);
	if (!strcmp(fstype, "zfs")) {
		pool_add(z, source, strcspn(source, "/"));
		return;
	}
	snprintf(what, sizeof(what), "the %s filesystem mounted at %.200s", fstype, mnt);
	if (maj != 0 && devnum_name(maj, min, name, sizeof(name)))
		refuse_block(p, name, what);
	/* btrfs (and any other fs on an anonymous device) names its device */
	if (pv_safety_devpath(source, name, sizeof(name)))
		refuse_block(p, name, what);
}

static void mounts(struct pv_plan *p, struct pools *z)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX], *save = NULL;

	if (pv_path(path, sizeof(path), NULL, "/proc/self/mountinfo") < 0 ||
	    !(text = pv_slurp(path, NULL, NULL)))
		return;
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save))
		one_mount(p, ln, z);
}

/* Every member of a mounted btrfs filesystem (/sys/fs/btrfs/<fsid> exists
 * while it is mounted), not only the one mountinfo names. */
static void btrfs(struct pv_plan *p)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX];
	struct dirent *de;

	if (pv_path(path, sizeof(path), NULL, "/sys/fs/btrfs") < 0 || !(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		_cleanup_closedir_ DIR *m = NULL;
		struct dirent *me;
		char what[300];

		if (de->d_name[0] == '.' ||
		    pv_path(path, sizeof(path), NULL, "/sys/fs/btrfs/%s/devices", de->d_name) < 0 ||
		    !(m = opendir(path)))
			continue;
		snprintf(what, sizeof(what), "mounted btrfs filesystem %.64s", de->d_name);
		while ((me = readdir(m)))
			if (me->d_name[0] != '.')
				refuse_block(p, me->d_name, what);
	}
}

static void swaps(struct pv_plan *p)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX], *save = NULL;

	if (pv_path(path, sizeof(path), NULL, "/proc/swaps") < 0 ||
	    !(text = pv_slurp(path, NULL, NULL)))
		return;
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		char dev[1024], type[32], name[256], what[1100];

		if (sscanf(ln, "%1023s %31s", dev, type) != 2 || strcmp(type, "partition"))
			continue; /* a swap file's filesystem is a mount */
		unescape(dev);
		snprintf(what, sizeof(what), "swap %.200s", dev);
		if (pv_safety_devpath(dev, name, sizeof(name)))
			refuse_block(p, name, what);
	}
}

/* A key of udev's record of a block device ("ID_FS_TYPE"), "" if none. */
static void udev_prop(const char *rec, const char *key, char *val, size_t n)
{
	size_t kl = strlen(key);

	val[0] = '\0';
	for (const char *l = rec; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, "E:", 2) && !strncmp(l + 2, key, kl) && l[2 + kl] == '=') {
			snprintf(val, n, "%.*s", (int)strcspn(l + 3 + kl, "\n"), l + 3 + kl);
			return;
		}
}

/* ZFS opens its vdevs without sysfs holders: its members are the block
 * devices blkid (udev) found a ZFS label on, the label naming the pool. */
static void zfs_members(struct pv_plan *p, const struct pools *z)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX];
	struct dirent *de;

	if (z->n == 0 || pv_path(path, sizeof(path), NULL, "/sys/class/block") < 0 ||
	    !(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *rec = NULL;
		char num[32], type[64], label[128], what[200];

		if (de->d_name[0] == '.' ||
		    pv_path(path, sizeof(path), NULL, "/sys/class/block/%s/dev", de->d_name) < 0 ||
		    pv_read_attr(path, num, sizeof(num), NULL) < 0 ||
		    pv_path(path, sizeof(path), NULL, "/run/udev/data/b%s", num) < 0 ||
		    !(rec = pv_slurp(path, NULL, NULL)))
			continue;
		udev_prop(rec, "ID_FS_TYPE", type, sizeof(type));
		udev_prop(rec, "ID_FS_LABEL", label, sizeof(label));
		if (strcmp(type, "zfs_member"))
			continue;
		for (int i = 0; i < z->n; i++)
			if (!label[0] || !strcmp(label, z->name[i])) {
				snprintf(what, sizeof(what), "ZFS pool %s", label[0] ? label : z->name[i]);
				refuse_block(p, de->d_name, what);
				break;
			}
	}
}

/* Imported pools: /proc/spl/kstat/zfs/<pool>/ (the module's own stats) */
static void zfs_pools(struct pools *z)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX];
	struct dirent *de;
	struct stat st;

	if (pv_path(path, sizeof(path), NULL, "/proc/spl/kstat/zfs") < 0 || !(d = opendir(path)))
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' &&
		    pv_path(path, sizeof(path), NULL, "/proc/spl/kstat/zfs/%s", de->d_name) == 0 &&
		    stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			pool_add(z, de->d_name, strlen(de->d_name));
}

/* Something the host built on a disk of the device (an LVM volume, an md
 * array, a dm-crypt mapping): holders/ of the disk or a partition. */
static void holders(struct pv_plan *p)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX];
	struct dirent *de;

	if (pv_path(path, sizeof(path), NULL, "/sys/class/block") < 0 || !(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		_cleanup_closedir_ DIR *h = NULL;
		struct dirent *he;
		const char *bdf;

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "dm-", 3) ||
		    !strncmp(de->d_name, "md", 2) || !(bdf = pv_safety_block(p, de->d_name)) ||
		    pv_path(path, sizeof(path), NULL, "/sys/class/block/%s/holders", de->d_name) < 0 ||
		    !(h = opendir(path)))
			continue;
		while ((he = readdir(h)))
			if (he->d_name[0] != '.') {
				pv_safety_refuse(p, bdf, "holds %s, which %s (device-mapper: LVM, crypt; "
						 "or md RAID) is built on: " TAKES, de->d_name, he->d_name);
				break;
			}
	}
}

struct stor {
	struct pv_plan *p;
	struct pools *z;
};

/* LVM names a VG's volumes "<vg>-<lv>" with every '-' of a name doubled */
static bool dm_of_vg(const char *dm, const char *vg)
{
	for (; *vg; vg++, dm++) {
		if (*dm != *vg)
			return false;
		if (*vg == '-' && *++dm != '-')
			return false;
	}
	return dm[0] == '-' && dm[1] != '-';
}

static void vg_volumes(struct pv_plan *p, const char *id, const char *vg)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PV_PATH_MAX], dm[256], what[300];
	struct dirent *de;

	if (pv_path(path, sizeof(path), NULL, "/sys/class/block") < 0 || !(d = opendir(path)))
		return;
	snprintf(what, sizeof(what), "storage '%.64s' (LVM volume group %.64s)", id, vg);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "dm-", 3) &&
		    pv_path(path, sizeof(path), NULL, "/sys/class/block/%s/dm/name", de->d_name) == 0 &&
		    pv_read_attr(path, dm, sizeof(dm), NULL) >= 0 && dm_of_vg(dm, vg))
			refuse_block(p, de->d_name, what);
}

static void storage_entry(void *arg, const char *type, const char *id, const char *key,
			  const char *val)
{
	struct stor *s = arg;
	char path[PV_PATH_MAX], name[256], what[300];
	struct stat st;

	if ((!strcmp(type, "dir") || !strcmp(type, "btrfs")) && !strcmp(key, "path")) {
		if (val[0] != '/' || pv_path(path, sizeof(path), NULL, "%s", val) < 0 ||
		    stat(path, &st) < 0 || major(st.st_dev) == 0 ||
		    !devnum_name(major(st.st_dev), minor(st.st_dev), name, sizeof(name)))
			return;
		snprintf(what, sizeof(what), "storage '%.64s' (%.150s)", id, val);
		refuse_block(s->p, name, what);
	} else if ((!strcmp(type, "lvm") || !strcmp(type, "lvmthin")) && !strcmp(key, "vgname")) {
		vg_volumes(s->p, id, val);
	} else if (!strcmp(type, "zfspool") && !strcmp(key, "pool")) {
		pool_add(s->z, val, strcspn(val, "/"));
	}
}

void pv_safety_disks(struct pv_plan *p)
{
	struct pools z = { .n = 0 };
	struct stor s = { p, &z };

	mounts(p, &z);
	swaps(p);
	btrfs(p);
	pv_safety_storage(storage_entry, &s);
	zfs_pools(&z);
	zfs_members(p, &z);
	holders(p);
}
