#include "engine/vfio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/fsio.h"
#include "conf/bdf.h"
#include "engine/steps.h"

#define WAIT_MS 5000

/* Canonical "dddd:bb:dd.f" or an error: every BDF is checked before it
 * reaches a path. */
static int pv_bdf_check(const char *bdf, struct pv_err *e)
{
	struct pv_bdf b;
	char canon[PV_BDF_LEN];

	if (pv_bdf_parse(bdf, false, &b, e) < 0)
		return -1;
	pv_bdf_format(&b, canon);
	if (strcmp(canon, bdf))
		return pv_fail(e, EINVAL, "PCI address '%s' is not canonical (%s)", bdf, canon);
	return 0;
}

static bool name_ok(const char *drv)
{
	if (!*drv || strlen(drv) > 60)
		return false;
	for (const char *c = drv; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return false;
	return true;
}

bool pv_pci_present(const char *bdf)
{
	char path[PV_PATH_MAX];

	return pv_bdf_check(bdf, NULL) == 0 &&
	       pv_path(path, sizeof(path), NULL, "/sys/bus/pci/devices/%s", bdf) == 0 && pv_exists(path);
}

int pv_pci_driver(const char *bdf, char *buf, size_t n, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	struct pv_err why = { 0 };

	if (pv_bdf_check(bdf, e) < 0 ||
	    pv_path(path, sizeof(path), e, "/sys/bus/pci/devices/%s/driver", bdf) < 0)
		return -1;
	if (pv_readlink_base(path, buf, n, &why) < 0) {
		if (why.errnum != ENOENT)
			return pv_err_pass(e, &why);
		buf[0] = '\0';
	}
	return 0;
}

int pv_pci_override(const char *bdf, char *buf, size_t n, struct pv_err *e)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (pv_bdf_check(bdf, e) < 0 || pv_attr_get(path, buf, n, e) < 0)
		return -1;
	if (!strcmp(buf, "(null)"))
		buf[0] = '\0';
	return 0;
}

int pv_pci_set_override(const char *bdf, const char *drv, struct pv_err *e)
{
	char path[64];

	if (*drv && !name_ok(drv))
		return pv_fail(e, EINVAL, "bad driver name '%.64s'", drv);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	return pv_bdf_check(bdf, e) < 0 ? -1 : pv_attr_put(path, drv, e);
}

int pv_pci_unbind(const char *bdf, const char *drv, struct pv_err *e)
{
	char path[128];

	if (!name_ok(drv))
		return pv_fail(e, EINVAL, "bad driver name '%.64s'", drv);
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", drv);
	return pv_bdf_check(bdf, e) < 0 ? -1 : pv_attr_put(path, bdf, e);
}

int pv_pci_probe(const char *bdf, struct pv_err *e)
{
	return pv_bdf_check(bdf, e) < 0 ? -1 : pv_attr_put("/sys/bus/pci/drivers_probe", bdf, e);
}

bool pv_pci_driver_loaded(const char *drv)
{
	char path[PV_PATH_MAX];

	if (!name_ok(drv) || pv_path(path, sizeof(path), NULL, "/sys/bus/pci/drivers/%s", drv) < 0)
		return false;
	return pv_exists(path);
}

static bool group_ready(int group)
{
	char path[PV_PATH_MAX];

	if (group < 0)
		return true;
	return pv_path(path, sizeof(path), NULL, "/dev/vfio/%d", group) == 0 && pv_exists(path);
}

int pv_pci_wait_driver(const char *bdf, const char *drv, int group, struct pv_err *e)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };
	char now[64] = "";

	for (int ms = 0; ms <= WAIT_MS; ms += 10) {
		if (pv_pci_driver(bdf, now, sizeof(now), e) < 0)
			return -1;
		if (!strcmp(now, drv) && (strcmp(drv, "vfio-pci") || group_ready(group)))
			return 0;
		nanosleep(&step, NULL);
	}
	if (strcmp(now, drv))
		return pv_fail(e, 0, "%s: waited %d s for driver %s, it is on '%s'", bdf, WAIT_MS / 1000,
			       *drv ? drv : "(none)", *now ? now : "(none)");
	return pv_fail(e, 0, "%s is on vfio-pci but /dev/vfio/%d did not appear within %d s", bdf,
		       group, WAIT_MS / 1000);
}
