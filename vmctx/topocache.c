#include "vmctx/topocache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"

/* Raise when what a discovery keeps changes (pinner/topo.c's filters). */
#define KEY_FORMAT "pvepin-topocache 1"
#define KEY_MAX (256 * 1024)

static int pv_topocache_path(char *buf, size_t n, int vmid, struct pv_err *e)
{
	return pv_path(buf, n, e, "/run/pvepin/%d.topology.xml", vmid);
}

static void warn(const char *what, const struct pv_err *e)
{
	fprintf(stderr, "pvepin: %s: %s (discovering the host instead)\n", what, e->msg);
}

/* One line "name value" of the key from a rooted one-line file; "-" when
 * the file is not there (no NUMA, no PCI in a fake tree). */
static void key_attr(FILE *m, const char *name, const char *rel)
{
	char path[PV_PATH_MAX], val[4096];

	if (pv_path(path, sizeof(path), NULL, "%s", rel) < 0 ||
	    pv_read_attr(path, val, sizeof(val), NULL) < 0)
		snprintf(val, sizeof(val), "-");
	fprintf(m, "%s %s\n", name, val);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The PCI functions by address, sorted: a device removed, added or
 * renumbered (a bridge rescanned) changes the line. */
static void key_pci(FILE *m)
{
	char path[PV_PATH_MAX];
	char **names = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0;
	DIR *d;

	if (pv_path(path, sizeof(path), NULL, "/sys/bus/pci/devices") < 0 || !(d = opendir(path))) {
		fputs("pci -\n", m);
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	fputs("pci", m);
	for (size_t i = 0; i < n; i++) {
		fprintf(m, " %s", names[i]);
		free(names[i]);
	}
	fputc('\n', m);
	free(names);
}

/* What a discovery depends on that can change while /run/pvepin lives:
 * the boot, the kernel, the CPUs and nodes online, the PCI functions, and
 * the program that discovered (a new pvepin may keep other things). NULL
 * when there is no boot id to tell one boot from the next (a fake tree
 * without one): then nothing is cached. Sysfs facts that change with
 * every start (drivers, IOMMU groups, hugepage pools) are never cached:
 * pv_topo_load_as reads them each time. */
static char *host_key(void)
{
	char path[PV_PATH_MAX], boot[64];
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	FILE *m;

	if (pv_path(path, sizeof(path), NULL, "/proc/sys/kernel/random/boot_id") < 0 ||
	    pv_read_attr(path, boot, sizeof(boot), NULL) <= 0)
		return NULL;
	if (!(m = open_memstream(&buf, &len)))
		return NULL;
	fprintf(m, "%s hwloc %x\nboot %s\n", KEY_FORMAT, hwloc_get_api_version(), boot);
	if (stat("/proc/self/exe", &st) == 0)
		fprintf(m, "exe %llu:%llu %lld.%09ld %lld\n", (unsigned long long)st.st_dev,
			(unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
			st.st_mtim.tv_nsec, (long long)st.st_size);
	key_attr(m, "kernel", "/proc/sys/kernel/osrelease");
	key_attr(m, "cpus", "/sys/devices/system/cpu/online");
	key_attr(m, "nodes", "/sys/devices/system/node/online");
	key_pci(m);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int host_paths(char *xml, char *key, struct pv_err *e)
{
	if (pv_path(xml, PV_PATH_MAX, e, "/run/pvepin/host.topology.xml") < 0)
		return -1;
	return pv_path(key, PV_PATH_MAX, e, "/run/pvepin/host.topology.key");
}

static bool key_matches(const char *keypath, const char *key)
{
	_cleanup_free_ char *saved = NULL;
	size_t len;

	if (!pv_exists(keypath) || !(saved = pv_slurp(keypath, &len, NULL)))
		return false;
	return len == strlen(key) && !memcmp(saved, key, len);
}

/* The key after the XML it describes, whole or not at all. */
static int write_key(const char *keypath, const char *key, struct pv_err *e)
{
	char tmp[PV_PATH_MAX];
	size_t len = strlen(key);
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", keypath) >= (int)sizeof(tmp))
		return pv_fail(e, ENAMETOOLONG, "%s", keypath);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return pv_fail(e, errno, "create %s", tmp);
	if (write(fd, key, len) != (ssize_t)len) {
		int err = errno ? errno : EIO;

		close(fd);
		unlink(tmp);
		return pv_fail(e, err, "write %s", tmp);
	}
	if (close(fd) < 0 || rename(tmp, keypath) < 0) {
		int err = errno;

		unlink(tmp);
		return pv_fail(e, err, "save %s", keypath);
	}
	return 0;
}

/* Before the XML changes: a key never describes an XML it was not saved with. */
static int drop_key(const char *keypath, struct pv_err *e)
{
	if (unlink(keypath) < 0 && errno != ENOENT)
		return pv_fail(e, errno, "remove %s", keypath);
	return 0;
}

/* The VM's copy is a second name of the host's: one link, no copying, and
 * a later rediscovery (a rename over the host's) leaves it as it was. */
static int link_vm(const char *xml, const char *path, struct pv_err *e)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return pv_fail(e, errno, "remove %s", path);
	if (link(xml, path) < 0)
		return pv_fail(e, errno, "link %s to %s", path, xml);
	return 0;
}

/* Discover, keep it for this boot and for the VM's post-start, and plan
 * from what was kept: both phases then see the same input. */
static int discover_and_keep(struct pv_topo *t, const char *path, const char *key,
			     struct pv_err *e)
{
	char xml[PV_PATH_MAX], keypath[PV_PATH_MAX];
	struct pv_err why = { 0 };

	if (pv_topo_load(t, NULL, e) < 0)
		return -1;
	if (host_paths(xml, keypath, &why) < 0 || pv_rundir(&why) < 0 ||
	    drop_key(keypath, &why) < 0 || pv_topo_export(t, xml, &why) < 0 ||
	    link_vm(xml, path, &why) < 0) {
		warn("cannot keep the topology for post-start", &why);
		return 0;
	}
	if (key && write_key(keypath, key, &why) < 0)
		fprintf(stderr, "pvepin: cannot keep the topology for the next start: %s\n", why.msg);
	pv_topo_free(t);
	if (pv_topo_load_as(t, path, true, &why) == 0)
		return 0;
	warn("cannot read back the saved topology", &why);
	unlink(path);
	drop_key(keypath, NULL);
	return pv_topo_load(t, NULL, e);
}

/* pre-start: the host's topology of this boot when nothing it depends on
 * changed since, else a fresh discovery. */
static int pre_start_load(struct pv_topo *t, const char *path, struct pv_err *e)
{
	char xml[PV_PATH_MAX], keypath[PV_PATH_MAX];
	_cleanup_free_ char *key = host_key();
	struct pv_err why = { 0 };

	if (!key || host_paths(xml, keypath, &why) < 0 || !key_matches(keypath, key))
		return discover_and_keep(t, path, key, e);
	if (link_vm(xml, path, &why) == 0 && pv_topo_load_as(t, path, true, &why) == 0) {
		if (pv_opt.verbose)
			fprintf(stderr, "pvepin: topology: this boot's, unchanged (%s)\n", xml);
		return 0;
	}
	warn("cannot use the topology kept for this boot", &why);
	drop_key(keypath, NULL);
	return discover_and_keep(t, path, key, e);
}

int pv_topocache_load(struct pv_topo *t, int vmid, enum pv_phase ph, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	struct pv_err why = { 0 };

	if (pv_opt.topology || (ph != PV_PRE_START && ph != PV_POST_START))
		return pv_topo_load(t, pv_opt.topology, e);
	if (pv_topocache_path(path, sizeof(path), vmid, e) < 0)
		return -1;
	if (ph == PV_PRE_START)
		return pre_start_load(t, path, e);
	if (!pv_exists(path))
		return pv_topo_load(t, NULL, e);
	if (pv_topo_load_as(t, path, true, &why) == 0)
		return 0;
	warn("cannot use the topology pre-start saved", &why);
	return pv_topo_load(t, NULL, e);
}

void pv_topocache_drop(int vmid)
{
	char path[PV_PATH_MAX];

	if (pv_topocache_path(path, sizeof(path), vmid, NULL) == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		fprintf(stderr, "pvepin: remove %s: %s\n", path, strerror(errno));
}
