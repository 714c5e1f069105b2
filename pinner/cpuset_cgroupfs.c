/* cpuset backend: the cgroup's own cpuset.cpus file, for cgroups systemd
 * does not manage (and every cgroup under --root). */
#include "cpuset.h"

static int fs_get(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	return pv_cgroup_cpus(cg, buf, n, e);
}

static int fs_set(const char *cg, const char *cpus, struct pv_err *e)
{
	return pv_cgroup_write_cpus(cg, cpus, e);
}

const struct pv_cpuset_backend pv_cpuset_cgroupfs = {
	.name = "cgroupfs",
	.get = fs_get,
	.set = fs_set,
};
