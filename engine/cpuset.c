#include "engine/cpuset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "engine/attr.h"
#include "common/opts.h"
#include "conf/cpulist.h"

static bool comp_ok(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && !strncmp(s, "..", 2)))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_.:@-\\", c)))
			return false;
	}
	return true;
}

bool pv_cgroup_name_ok(const char *cg)
{
	const char *p = cg;

	if (!*cg || strlen(cg) > 200)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (!comp_ok(p, len))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

int pv_cgroup_path(char *buf, size_t n, const char *cg, const char *file, struct pv_err *e)
{
	if (*cg && !pv_cgroup_name_ok(cg))
		return pv_fail(e, EINVAL, "bad cgroup name '%.64s'", cg);
	return pv_path(buf, n, e, "/sys/fs/cgroup%s%s/%s", *cg ? "/" : "", cg, file);
}

int pv_cgroup_exists(const char *cg)
{
	char path[PV_PATH_MAX];

	if (pv_cgroup_path(path, sizeof(path), cg, "cgroup.controllers", NULL) < 0)
		return 0;
	return pv_exists(path);
}

/* A cgroup's control file: read as an attribute / written with the newline
 * echo adds. */
static int cg_read(const char *cg, const char *file, char *buf, size_t n, struct pv_err *e)
{
	char path[PV_PATH_MAX];

	if (pv_cgroup_path(path, sizeof(path), cg, file, e) < 0)
		return -1;
	return pv_read_attr(path, buf, n, e) < 0 ? -1 : 0;
}

static int cg_write(const char *cg, const char *file, const char *val, struct pv_err *e)
{
	char path[PV_PATH_MAX], line[1100];

	if (pv_cgroup_path(path, sizeof(path), cg, file, e) < 0)
		return -1;
	snprintf(line, sizeof(line), "%s\n", val);
	return pv_write_file(path, line, e);
}

int pv_cgroup_cpus(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	return cg_read(cg, "cpuset.cpus", buf, n, e);
}

int pv_cgroup_write_cpus(const char *cg, const char *cpus, struct pv_err *e)
{
	return cg_write(cg, "cpuset.cpus", cpus, e);
}

int pv_cgroup_parent_effective(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	char parent[256];
	const char *slash = strrchr(cg, '/');

	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - cg) : 0, cg);
	return cg_read(parent, "cpuset.cpus.effective", buf, n, e);
}

/* cg's file, or dflt where the file does not exist: the controller is off
 * there (systemd turns it off for a unit once nothing asks for it), which
 * is what dflt says. */
static int cg_read_or(const char *cg, const char *file, const char *dflt, char *buf, size_t n,
		      struct pv_err *e)
{
	struct pv_err why = { 0 };

	if (cg_read(cg, file, buf, n, &why) == 0)
		return 0;
	if (why.errnum != ENOENT)
		return pv_err_pass(e, &why);
	snprintf(buf, n, "%s", dflt);
	return 0;
}

int pv_cgroup_effective(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	return cg_read_or(cg, "cpuset.cpus.effective", "", buf, n, e);
}

int pv_cgroup_cpus_or_inherit(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	return cg_read_or(cg, "cpuset.cpus", "", buf, n, e);
}

int pv_cgroup_partition_or_member(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	return cg_read_or(cg, "cpuset.cpus.partition", "member", buf, n, e);
}

int pv_cgroup_partition(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	return cg_read(cg, "cpuset.cpus.partition", buf, n, e);
}

int pv_cgroup_set_partition(const char *cg, const char *val, struct pv_err *e)
{
	if (strcmp(val, "member") && strcmp(val, "root") && strcmp(val, "isolated"))
		return pv_fail(e, EINVAL, "bad partition type '%.32s'", val);
	return cg_write(cg, "cpuset.cpus.partition", val, e);
}

bool pv_partition_valid(const char *val)
{
	return !strcmp(val, "root") || !strcmp(val, "isolated");
}

int pv_cgroup_cpuset_enabled(const char *cg, bool *on, struct pv_err *e)
{
	char buf[512];

	if (cg_read(cg, "cgroup.subtree_control", buf, sizeof(buf), e) < 0)
		return -1;
	*on = false;
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (!strcmp(t, "cpuset"))
			*on = true;
	return 0;
}

int pv_cgroup_cpuset_enable(const char *cg, bool on, struct pv_err *e)
{
	return cg_write(cg, "cgroup.subtree_control", on ? "+cpuset" : "-cpuset", e);
}

bool pv_cpus_equal(const char *a, const char *b)
{
	_cleanup_bitmap_ hwloc_bitmap_t x = NULL, y = NULL;

	if (!strcmp(a, b))
		return true;
	if (!*a || !*b)
		return false;
	x = hwloc_bitmap_alloc();
	y = hwloc_bitmap_alloc();
	if (!x || !y || pv_cpulist_parse(a, ',', PV_MAX_CPUS, x, NULL) < 0 ||
	    pv_cpulist_parse(b, ',', PV_MAX_CPUS, y, NULL) < 0)
		return false;
	return hwloc_bitmap_isequal(x, y);
}

static bool is_unit_path(const char *cg)
{
	const char *p = cg;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		bool slice = len > 6 && !strncmp(p + len - 6, ".slice", 6);

		if (slash && !slice)
			return false;
		if (!slash)
			return slice || (len > 6 && !strncmp(p + len - 6, ".scope", 6)) ||
			       (len > 8 && !strncmp(p + len - 8, ".service", 8));
		p = slash + 1;
	}
}

const struct pv_cpuset_backend *pv_cpuset_choose(const char *cg)
{
	struct stat st;

	/* Under --root there is no systemd to ask about the captured tree. */
	if (pv_opt.root && pv_opt.root[0])
		return &pv_cpuset_cgroupfs;
	if (stat("/run/systemd/system", &st) < 0 || !is_unit_path(cg))
		return &pv_cpuset_cgroupfs;
	return &pv_cpuset_systemd;
}

const struct pv_cpuset_backend *pv_cpuset_by_name(const char *name)
{
	if (!strcmp(name, pv_cpuset_systemd.name))
		return &pv_cpuset_systemd;
	if (!strcmp(name, pv_cpuset_cgroupfs.name))
		return &pv_cpuset_cgroupfs;
	return NULL;
}
