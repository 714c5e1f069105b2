/* Kernel modules: vfio present in this kernel, whether it is in the
 * initramfs and the initramfs is current, module lists naming modules the
 * kernel does not have, and kvm.ignore_msrs. The initrd is never unpacked:
 * its date against the files it is built from is what tells. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "check/host_int.h"

static const char *const vfio_mods[] = { "vfio", "vfio_pci", "vfio_iommu_type1" };
#define NVFIO (sizeof(vfio_mods) / sizeof(vfio_mods[0]))

static const char *state_name(const struct hc *h, const char *m)
{
	if (hc_mod_loaded(m))
		return "loaded";
	switch (hc_mod_state(h, m)) {
	case HC_MOD_BUILTIN:
		return "built in";
	case HC_MOD_MODULE:
		return "loadable";
	case HC_MOD_MISSING:
		return NULL;
	default:
		return "unknown";
	}
}

static void check_vfio_modules(struct hc *h, struct pv_report *r)
{
	char ok[256] = "";
	size_t len = 0;

	if (!h->osrelease[0]) {
		pv_report_add(r, PV_WARN, "vfio-modules", "cannot tell whether vfio is available: no "
			      "/proc/sys/kernel/osrelease to name the running kernel");
		return;
	}
	for (size_t i = 0; i < NVFIO; i++) {
		const char *s = state_name(h, vfio_mods[i]);

		if (!s) {
			pv_report_add(r, PV_ERROR, "vfio-modules",
				      "kernel %s has no %s module (not in /lib/modules/%s/modules.dep or "
				      "modules.builtin, not loaded): reinstall the package that owns /lib/modules/%s "
				      "(`dpkg -S /lib/modules/%s`), then run `depmod %s`", h->osrelease, vfio_mods[i],
				      h->osrelease, h->osrelease, h->osrelease, h->osrelease);
			return;
		}
		if (!strcmp(s, "unknown")) {
			pv_report_add(r, PV_WARN, "vfio-modules", "cannot tell whether %s is available: no "
				      "/lib/modules/%s/modules.dep or modules.builtin to read", vfio_mods[i],
				      h->osrelease);
			return;
		}
		hc_appendf(ok, sizeof(ok), &len, "%s%s %s", i ? ", " : "", vfio_mods[i], s);
	}
	pv_report_add(r, PV_OK, "vfio-modules", "kernel %s: %s", h->osrelease, ok);
}

/* Each line of a module list: first word is the module. */
static void check_list_file(struct hc *h, const char *file, bool initramfs, int *nbad, struct pv_report *r)
{
	char p[PV_PATH_MAX];
	_cleanup_free_ char *text = NULL;
	struct pv_err e;
	int line = 0;

	if (pv_path(p, sizeof(p), &e, "%s", file) < 0 || !(text = pv_slurp(p, NULL, &e)))
		return;
	for (char *s = text; s && *s; line++) {
		char *nl = strchr(s, '\n'), name[HC_MODNAME];
		size_t n;

		if (nl)
			*nl = '\0';
		s += strspn(s, " \t");
		n = strcspn(s, " \t\r#");
		if (n && n < sizeof(name)) {
			memcpy(name, s, n);
			name[n] = '\0';
			if (hc_valid_modname(name) && hc_mod_state(h, name) == HC_MOD_MISSING && !hc_mod_loaded(name)) {
				(*nbad)++;
				pv_report_add(r, PV_WARN, "etc-modules",
					      "%s:%d loads %s, which kernel %s does not have%s: delete that line%s",
					      file, line + 1, name, h->osrelease,
					      !strcmp(name, "vfio_virqfd") ? " (it is part of vfio since Linux 6.2)" : "",
					      initramfs ? ", then run update-initramfs -u -k all" : "");
			}
		}
		s = nl ? nl + 1 : NULL;
	}
}

static void check_module_lists(struct hc *h, struct pv_report *r)
{
	char dir[PV_PATH_MAX];
	struct pv_err e;
	struct dirent *de;
	DIR *dh;
	int nbad = 0;

	if (!h->dep && !h->builtin)
		return; /* vfio-modules says the index is missing */
	check_list_file(h, "/etc/modules", false, &nbad, r);
	check_list_file(h, "/etc/initramfs-tools/modules", true, &nbad, r);
	if (pv_path(dir, sizeof(dir), &e, "/etc/modules-load.d") == 0 && (dh = opendir(dir))) {
		while ((de = readdir(dh))) {
			char file[HC_FILE];
			size_t len = strlen(de->d_name);

			if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") ||
			    snprintf(file, sizeof(file), "/etc/modules-load.d/%s", de->d_name) >= (int)sizeof(file))
				continue;
			check_list_file(h, file, false, &nbad, r);
		}
		closedir(dh);
	}
	if (!nbad)
		pv_report_add(r, PV_OK, "etc-modules", "every module named in /etc/modules, /etc/modules-load.d "
			      "and /etc/initramfs-tools/modules exists in kernel %s", h->osrelease);
}

static bool initramfs_lists(const char *text, const char *mod)
{
	for (const char *s = text; s && *s;) {
		const char *nl = strchr(s, '\n');
		char name[HC_MODNAME];
		size_t n;

		s += strspn(s, " \t");
		n = strcspn(s, " \t\r\n#");
		if (n && n < sizeof(name)) {
			memcpy(name, s, n);
			name[n] = '\0';
			hc_modname_fold(name);
			if (!strcmp(name, mod))
				return true;
		}
		s = nl ? nl + 1 : NULL;
	}
	return false;
}

static bool mtime_of(const char *rel, struct timespec *ts)
{
	char p[PV_PATH_MAX];
	struct pv_err e;
	struct stat st;

	if (pv_path(p, sizeof(p), &e, "%s", rel) < 0 || stat(p, &st) < 0)
		return false;
	*ts = st.st_mtim;
	return true;
}

static bool newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* The newest of the files update-initramfs copies settings from. */
static bool newest_source(char *name, size_t n, struct timespec *ts)
{
	char dir[PV_PATH_MAX];
	struct pv_err e;
	struct dirent *de;
	DIR *dh;
	bool any = mtime_of("/etc/initramfs-tools/modules", ts);

	if (any)
		snprintf(name, n, "/etc/initramfs-tools/modules");
	if (pv_path(dir, sizeof(dir), &e, "/etc/modprobe.d") < 0 || !(dh = opendir(dir)))
		return any;
	while ((de = readdir(dh))) {
		char rel[HC_FILE];
		struct timespec t;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") ||
		    snprintf(rel, sizeof(rel), "/etc/modprobe.d/%s", de->d_name) >= (int)sizeof(rel))
			continue;
		if (mtime_of(rel, &t) && (!any || newer(&t, ts))) {
			*ts = t;
			snprintf(name, n, "%s", rel);
			any = true;
		}
	}
	closedir(dh);
	return any;
}

static int missing_from_initramfs(const struct hc *h, char *missing, size_t n)
{
	char p[PV_PATH_MAX];
	_cleanup_free_ char *text = NULL;
	struct pv_err e;
	size_t len = 0;
	int count = 0;

	missing[0] = '\0';
	if (pv_path(p, sizeof(p), &e, "/etc/initramfs-tools/modules") == 0)
		text = pv_slurp(p, NULL, &e);
	for (size_t i = 0; i < NVFIO; i++) {
		if (hc_mod_state(h, vfio_mods[i]) == HC_MOD_BUILTIN || (text && initramfs_lists(text, vfio_mods[i])))
			continue;
		count++;
		hc_appendf(missing, n, &len, "%s%s", len ? ", " : "", vfio_mods[i]);
	}
	return count;
}

static void check_initramfs(struct hc *h, struct pv_report *r)
{
	char initrd[HC_FILE], src[HC_FILE], missing[96], ids[256], where[HC_FILE + 16];
	const struct hc_modline *idl = hc_mod_option(h, "vfio_pci", "ids", ids, sizeof(ids));
	struct timespec ti = { 0 }, ts = { 0 };
	bool have_initrd, bad = false;
	int nmissing = missing_from_initramfs(h, missing, sizeof(missing));

	if (!h->osrelease[0]) {
		pv_report_add(r, PV_WARN, "vfio-initramfs", "cannot tell which initramfs boots: no "
			      "/proc/sys/kernel/osrelease to name the running kernel");
		return;
	}
	snprintf(initrd, sizeof(initrd), "/boot/initrd.img-%s", h->osrelease);
	have_initrd = mtime_of(initrd, &ti);
	if (have_initrd && newest_source(src, sizeof(src), &ts) && newer(&ts, &ti)) {
		bad = true;
		pv_report_add(r, PV_WARN, "vfio-initramfs",
			      "%s changed after %s was built, so the initramfs still boots with the old module "
			      "settings: run update-initramfs -u -k all (read the dates only, not unpacked)", src, initrd);
	}
	if (nmissing && idl) {
		bad = true;
		pv_report_add(r, PV_WARN, "vfio-initramfs",
			      "vfio-pci ids= (%s) claims devices at boot only if vfio-pci loads before their own "
			      "driver, but %s %s not in /etc/initramfs-tools/modules: add a line for each, then run "
			      "update-initramfs -u -k all", hc_modline_where(idl, where, sizeof(where)), missing,
			      nmissing > 1 ? "are" : "is");
	}
	if (!nmissing && !have_initrd) {
		bad = true;
		pv_report_add(r, PV_WARN, "vfio-initramfs", "%s does not exist, so the vfio lines of "
			      "/etc/initramfs-tools/modules do nothing: run update-initramfs -c -k %s", initrd,
			      h->osrelease);
	}
	if (bad)
		return;
	if (!nmissing)
		pv_report_add(r, PV_OK, "vfio-initramfs", "vfio, vfio_pci, vfio_iommu_type1 are in "
			      "/etc/initramfs-tools/modules and %s is newer than it and /etc/modprobe.d "
			      "(dates read, not unpacked)", initrd);
	else
		pv_report_add(r, PV_OK, "vfio-initramfs", "vfio is not in the initramfs (/etc/initramfs-tools/"
			      "modules): not needed, pvepin binds each passthrough device to vfio-pci at VM start");
}

static void check_ignore_msrs(struct hc *h, struct pv_report *r)
{
	const char *kvm_mod = h->cpu == HC_CPU_INTEL ? "kvm_intel" : "kvm_amd";
	char v[16], opt[16], rep[16], where[HC_FILE + 16] = "";
	const struct hc_modline *m = hc_mod_option(h, "kvm", "ignore_msrs", opt, sizeof(opt));
	bool want = m && (opt[0] == 'Y' || opt[0] == 'y' || opt[0] == '1');

	if (m)
		hc_modline_where(m, where, sizeof(where));

	if (hc_readf(v, sizeof(v), "/sys/module/kvm/parameters/ignore_msrs") <= 0) {
		if (want)
			pv_report_add(r, PV_OK, "ignore-msrs", "kvm.ignore_msrs=1 is set in %s (kvm is not loaded, "
				      "so its state cannot be read)", where);
		else
			pv_report_add(r, PV_WARN, "ignore-msrs",
				      "kvm is not loaded and no `options kvm ignore_msrs=1` is set: Windows guests "
				      "can crash on MSRs KVM does not know: add `options kvm ignore_msrs=1 "
				      "report_ignored_msrs=0` to /etc/modprobe.d/kvm.conf");
		return;
	}
	if (v[0] == 'Y' || v[0] == '1') {
		bool loud = hc_readf(rep, sizeof(rep), "/sys/module/kvm/parameters/report_ignored_msrs") > 0 &&
			    rep[0] == 'Y';

		pv_report_add(r, PV_OK, "ignore-msrs", "kvm.ignore_msrs is on%s",
			      loud ? " (add report_ignored_msrs=0 to the `options kvm` line to keep the log quiet)" : "");
	} else if (want) {
		pv_report_add(r, PV_WARN, "ignore-msrs",
			      "ignore_msrs=1 is set in %s but kvm was loaded without it: reboot, or with no VM "
			      "running `modprobe -r %s kvm && modprobe %s`", where, kvm_mod, kvm_mod);
	} else {
		pv_report_add(r, PV_WARN, "ignore-msrs",
			      "kvm.ignore_msrs is off: Windows guests can crash (bluescreen) on MSRs KVM does not "
			      "know: add `options kvm ignore_msrs=1 report_ignored_msrs=0` to /etc/modprobe.d/kvm.conf "
			      "and reboot");
	}
}

void hc_check_modules(struct hc *h, struct pv_report *r)
{
	check_vfio_modules(h, r);
	check_initramfs(h, r);
	check_module_lists(h, r);
	check_ignore_msrs(h, r);
}
