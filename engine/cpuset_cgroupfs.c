/* cpuset backend: the cgroup's own cpuset.cpus file, for cgroups systemd
 * does not manage (and every cgroup under --root). */
#include "engine/cpuset.h"

#include <errno.h>
#include <sys/stat.h>

#include "common/fsio.h"

static int fs_get(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	return pv_cgroup_cpus(cg, buf, n, e);
}

static int fs_set(const char *cg, const char *cpus, struct pv_err *e)
{
	return pv_cgroup_write_cpus(cg, cpus, e);
}

static int fs_create(const char *cg, struct pv_err *e)
{
	char path[PV_PATH_MAX];

	if (!pv_cgroup_name_ok(cg))
		return pv_fail(e, EINVAL, "bad cgroup name '%.64s'", cg);
	if (pv_path(path, sizeof(path), e, "/sys/fs/cgroup/%s", cg) < 0)
		return -1;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return pv_fail(e, errno, "mkdir %s", path);
	return 0;
}

const struct pv_cpuset_backend pv_cpuset_cgroupfs = {
	.name = "cgroupfs",
	.get = fs_get,
	.set = fs_set,
	.create = fs_create,
};
