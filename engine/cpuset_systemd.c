/* cpuset backend: systemd's AllowedCPUs= of the unit, set at runtime over
 * D-Bus (SetUnitProperties), so systemd re-applies our value on
 * daemon-reload instead of resetting it. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/sdbus_dl.h"

#define MASK_BYTES (PV_MAX_CPUS / 8)

static const char *unit_of(const char *cg)
{
	const char *slash = strrchr(cg, '/');

	return slash ? slash + 1 : cg;
}

static const char *iface_of(const char *unit)
{
	const char *dot = strrchr(unit, '.');

	if (dot && !strcmp(dot, ".slice"))
		return "org.freedesktop.systemd1.Slice";
	if (dot && !strcmp(dot, ".scope"))
		return "org.freedesktop.systemd1.Scope";
	return "org.freedesktop.systemd1.Service";
}

static int call_begin(struct pv_sdcall *c, const char *cg, struct pv_err *e)
{
	if (!pv_cgroup_name_ok(cg))
		return pv_fail(e, EINVAL, "bad cgroup name '%.64s'", cg);
	return pv_sdcall_begin(c, e);
}

/* systemd's byte array: bit (cpu % 8) of byte (cpu / 8). */
static int list_to_mask(const char *cpus, unsigned char *mask, size_t *len, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	int last, cpu;

	*len = 0;
	if (!set)
		return pv_fail(e, ENOMEM, "cpu mask");
	if (!*cpus)
		return 0;
	if (pv_cpulist_parse(cpus, ',', PV_MAX_CPUS, set, e) < 0)
		return -1;
	last = hwloc_bitmap_last(set);
	memset(mask, 0, MASK_BYTES);
	hwloc_bitmap_foreach_begin(cpu, set)
		mask[cpu / 8] |= (unsigned char)(1u << (cpu % 8));
	hwloc_bitmap_foreach_end();
	*len = (size_t)last / 8 + 1;
	return 0;
}

static int mask_to_list(const unsigned char *mask, size_t len, char *buf, size_t n,
			struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();

	if (!set)
		return pv_fail(e, ENOMEM, "cpu mask");
	for (size_t i = 0; i < len && i < MASK_BYTES; i++)
		for (int b = 0; b < 8; b++)
			if (mask[i] & (1u << b))
				hwloc_bitmap_set(set, (unsigned)(i * 8 + (size_t)b));
	if (pv_cpulist_format(buf, n, set) < 0)
		return pv_fail(e, E2BIG, "cpu list too long");
	return 0;
}

static int sd_get(const char *cg, char *buf, size_t n, struct pv_err *e)
{
	_cleanup_(pv_sdcall_end) struct pv_sdcall c = { 0 };
	_cleanup_free_ char *path = NULL;
	const char *unit = unit_of(cg);
	const void *mask;
	size_t len;
	int r;

	if (call_begin(&c, cg, e) < 0)
		return -1;
	if ((r = c.sd.path_encode("/org/freedesktop/systemd1/unit", unit, &path)) < 0)
		return pv_fail(e, -r, "unit path of %s", unit);
	r = c.sd.get_property(c.bus, PV_SD_DEST, path, iface_of(unit), "AllowedCPUs", &c.be, &c.reply,
			      "ay");
	if (r < 0)
		return pv_sdcall_fail(&c, e, r, true, "AllowedCPUs", unit);
	if ((r = c.sd.message_read_array(c.reply, 'y', &mask, &len)) < 0)
		return pv_sdcall_fail(&c, e, r, false, "AllowedCPUs", unit);
	return mask_to_list(mask, len, buf, n, e);
}

static int set_property(struct pv_sdcall *c, const char *unit, const unsigned char *mask, size_t len,
			struct pv_err *e)
{
	const struct pv_sdbus *sd = &c->sd;
	int r;

	r = sd->message_new_method_call(c->bus, &c->m, PV_SD_DEST, PV_SD_PATH, PV_SD_MANAGER,
					"SetUnitProperties");
	if (r >= 0)
		r = sd->message_append(c->m, "sb", unit, 1); /* runtime: gone at reboot */
	if (r >= 0)
		r = sd->message_open_container(c->m, 'a', "(sv)");
	if (r >= 0)
		r = sd->message_open_container(c->m, 'r', "sv");
	if (r >= 0)
		r = sd->message_append(c->m, "s", "AllowedCPUs");
	if (r >= 0)
		r = sd->message_open_container(c->m, 'v', "ay");
	if (r >= 0)
		r = sd->message_append_array(c->m, 'y', mask, len);
	for (int i = 0; i < 3 && r >= 0; i++)
		r = sd->message_close_container(c->m);
	if (r < 0)
		return pv_sdcall_fail(c, e, r, false, "SetUnitProperties message", unit);
	if ((r = sd->call(c->bus, c->m, 0, &c->be, &c->reply)) < 0)
		return pv_sdcall_fail(c, e, r, true, "SetUnitProperties AllowedCPUs", unit);
	return 0;
}

/* systemd applies cgroup settings from its event loop, after it answered. */
static int wait_applied(const char *cg, const char *cpus, struct pv_err *e)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	char now[1024] = "";
	/* "" on a populated cgroup is refused by the kernel (systemd only
	 * logs it): no point waiting long for what cannot come */
	int tries = *cpus ? 100 : 10;

	for (int i = 0; i < tries; i++) {
		struct pv_err why = { 0 };

		/* cpuset.cpus appears once systemd enabled the controller */
		if (pv_cgroup_cpus(cg, now, sizeof(now), &why) == 0 && pv_cpus_equal(now, cpus))
			return 0;
		/* AllowedCPUs= emptied: systemd turns the controller off for
		 * the unit when nothing else wants it, and the file goes; the
		 * cgroup then has all its parent's CPUs, which "" means */
		if (!*cpus && why.errnum == ENOENT)
			return 0;
		nanosleep(&ts, NULL);
	}
	return pv_fail(e, 0, "systemd took AllowedCPUs=%s for %s but cpuset.cpus still reads '%s'",
		       cpus, cg, now);
}

/* A runtime property is a drop-in systemd writes under
 * /run/systemd/system.control; an emptied one still is ("AllowedCPUs=").
 * Given back to unset, the file goes too, so the unit's files are as they
 * were and a daemon-reload reads nothing of pvepin's. */
static int drop_dropin(const char *unit, struct pv_err *e)
{
	char dir[PV_PATH_MAX], file[PV_PATH_MAX + 32];

	if (pv_path(dir, sizeof(dir), e, "/run/systemd/system.control/%s.d", unit) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/50-AllowedCPUs.conf", dir);
	if (unlink(file) < 0 && errno != ENOENT)
		return pv_fail(e, errno, "remove %s", file);
	if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
		return pv_fail(e, errno, "remove %s", dir);
	return 0;
}

static int sd_set(const char *cg, const char *cpus, struct pv_err *e)
{
	_cleanup_(pv_sdcall_end) struct pv_sdcall c = { 0 };
	unsigned char mask[MASK_BYTES];
	size_t len;

	if (list_to_mask(cpus, mask, &len, e) < 0 || call_begin(&c, cg, e) < 0)
		return -1;
	if (set_property(&c, unit_of(cg), mask, len, e) < 0)
		return -1;
	if (wait_applied(cg, cpus, e) < 0)
		return -1;
	return *cpus ? 0 : drop_dropin(unit_of(cg), e);
}

static int sd_create(const char *cg, struct pv_err *e)
{
	_cleanup_(pv_sdcall_end) struct pv_sdcall c = { 0 };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	const char *unit = unit_of(cg);
	int r;

	if (call_begin(&c, cg, e) < 0)
		return -1;
	r = c.sd.call_method(c.bus, PV_SD_DEST, PV_SD_PATH, PV_SD_MANAGER, "StartUnit", &c.be,
			     &c.reply, "ss", unit, "fail");
	if (r < 0)
		return pv_sdcall_fail(&c, e, r, true, "StartUnit", unit);
	/* the job runs after systemd answered */
	for (int i = 0; i < 100; i++) {
		if (pv_cgroup_exists(cg))
			return 0;
		nanosleep(&ts, NULL);
	}
	return pv_fail(e, 0, "systemd started %s but there is no cgroup %s", unit, cg);
}

const struct pv_cpuset_backend pv_cpuset_systemd = {
	.name = "systemd",
	.get = sd_get,
	.set = sd_set,
	.create = sd_create,
};
