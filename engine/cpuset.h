/* cgroup v2 cpusets behind one interface with two backends, as crun keeps
 * cgroup-systemd.c beside cgroup-cgroupfs.c: systemd (D-Bus
 * SetUnitProperties, runtime, AllowedCPUs) for the units it manages, so a
 * daemon-reload keeps them; direct cgroupfs writes everywhere else.
 * A cgroup is named by its path below /sys/fs/cgroup ("system.slice",
 * "qemu.slice/100.scope"); names are validated before they reach a path. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct pv_cpuset_backend {
	const char *name; /* "systemd" | "cgroupfs": recorded in the journal */
	/* The setting this backend restores later: the unit's AllowedCPUs
	 * (systemd) or the cgroup's cpuset.cpus (cgroupfs); "" = none. */
	int (*get)(const char *cg, char *buf, size_t n, struct pv_err *e);
	/* Set it ("" clears). Returns once cpuset.cpus shows the new value,
	 * or fails saying it did not. */
	int (*set)(const char *cg, const char *cpus, struct pv_err *e);
	/* Make the cgroup exist: systemd starts the slice unit (as it would
	 * for the first scope put in it), cgroupfs makes the directory. */
	int (*create)(const char *cg, struct pv_err *e);
};

extern const struct pv_cpuset_backend pv_cpuset_cgroupfs;
extern const struct pv_cpuset_backend pv_cpuset_systemd;

/* systemd where it runs (real root only) and the cgroup is a unit path
 * (every component a .slice, the last a .slice/.scope/.service). */
const struct pv_cpuset_backend *pv_cpuset_choose(const char *cg);
const struct pv_cpuset_backend *pv_cpuset_by_name(const char *name);

/* Components of [A-Za-z0-9_.:@\\-], no "." / "..", no leading '/'. */
bool pv_cgroup_name_ok(const char *cg);
/* 1 if <root>/sys/fs/cgroup/<cg> is a cgroup v2 directory, else 0. */
int pv_cgroup_exists(const char *cg);
/* The cgroup's file under --root ("" cg = the root cgroup). */
int pv_cgroup_path(char *buf, size_t n, const char *cg, const char *file, struct pv_err *e);
/* cpuset.cpus as the kernel shows it ("" if empty). */
int pv_cgroup_cpus(const char *cg, char *buf, size_t n, struct pv_err *e);
/* Write cpuset.cpus directly (cgroupfs). */
int pv_cgroup_write_cpus(const char *cg, const char *cpus, struct pv_err *e);
/* The CPUs a cgroup with an empty cpuset.cpus gets: its parent's
 * cpuset.cpus.effective (the root's when cg is top level). */
int pv_cgroup_parent_effective(const char *cg, char *buf, size_t n, struct pv_err *e);
/* cpuset.cpus.effective ("" when the file is absent: a cgroup without the
 * controller, or a captured tree that does not have it). */
int pv_cgroup_effective(const char *cg, char *buf, size_t n, struct pv_err *e);
/* cpuset.cpus.partition as the kernel shows it: "member", "root",
 * "isolated", or "root invalid (why)" when the kernel refused it. */
int pv_cgroup_partition(const char *cg, char *buf, size_t n, struct pv_err *e);
int pv_cgroup_set_partition(const char *cg, const char *val, struct pv_err *e);
/* cpuset.cpus, "" (inherit: every CPU of the parent) when the file is
 * absent, and cpuset.cpus.partition, "member" when absent: a cgroup
 * without the cpuset controller (as systemd leaves a unit without
 * AllowedCPUs=) has no CPUs of its own and is no partition. */
int pv_cgroup_cpus_or_inherit(const char *cg, char *buf, size_t n, struct pv_err *e);
int pv_cgroup_partition_or_member(const char *cg, char *buf, size_t n, struct pv_err *e);
/* A partition in force: "root" or "isolated", not invalid. */
bool pv_partition_valid(const char *val);
/* Is "cpuset" in cg's cgroup.subtree_control? ("" = the root cgroup). */
int pv_cgroup_cpuset_enabled(const char *cg, bool *on, struct pv_err *e);
/* Write "+cpuset" / "-cpuset" to cg's cgroup.subtree_control. */
int pv_cgroup_cpuset_enable(const char *cg, bool on, struct pv_err *e);
/* Two cpu-list strings naming the same set ("0-3" == "0,1,2,3"; "" == ""). */
bool pv_cpus_equal(const char *a, const char *b);
