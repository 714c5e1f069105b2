/* REBIND: a PCI function moved to vfio-pci, and back to its host driver.
 * old = "<host driver>|<driver_override before>", nv = "vfio-pci" or
 * "vfio-pci|keep" (restore_driver = no: it stays on vfio-pci). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf/bdf.h"
#include "engine/steps.h"
#include "engine/vfio.h"

struct rebind_arg {
	int group;
};

static void split_old(const char *old, char *drv, char *ovr)
{
	const char *bar = strchr(old, '|');

	snprintf(drv, 64, "%.*s", bar ? (int)(bar - old) : (int)strlen(old), old);
	snprintf(ovr, 64, "%s", bar ? bar + 1 : "");
}

int pv_engine_rebind(struct pv_engine *en, const char *bdf, int group, bool keep,
		     struct pv_err *e)
{
	struct pv_jrec r = { .kind = PV_STEP_REBIND };
	struct rebind_arg arg = { group };
	char drv[64], ovr[64];

	if (pv_pci_driver(bdf, drv, sizeof(drv), e) < 0 ||
	    pv_pci_override(bdf, ovr, sizeof(ovr), e) < 0)
		return -1;
	if (!strcmp(drv, "vfio-pci"))
		return 0; /* PVE or an earlier run bound it: not ours to give back */
	if (!pv_pci_driver_loaded("vfio-pci"))
		return pv_fail(e, 0, "vfio-pci is not loaded: add vfio-pci to /etc/modules "
			       "(or run `modprobe vfio-pci`) and start the VM again");
	snprintf(r.target, sizeof(r.target), "%s", bdf);
	snprintf(r.old, sizeof(r.old), "%s|%s", drv, ovr);
	snprintf(r.nv, sizeof(r.nv), "vfio-pci%s", keep ? "|keep" : "");
	return pv_engine_step(en, &r, &arg, e);
}

static int rebind_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg,
			struct pv_err *e)
{
	const struct rebind_arg *a = arg;
	char drv[64];

	if (pv_pci_set_override(r->target, "vfio-pci", e) < 0 ||
	    pv_pci_driver(r->target, drv, sizeof(drv), e) < 0)
		return -1;
	if (*drv && pv_pci_unbind(r->target, drv, e) < 0)
		return -1;
	if (pv_pci_probe(r->target, e) < 0 ||
	    pv_pci_wait_driver(r->target, "vfio-pci", a->group, e) < 0)
		return -1;
	snprintf(r->got, sizeof(r->got), "vfio-pci");
	return 0;
}

/* Back to the host driver (or left unbound if it had none). */
static int give_back(const char *bdf, const char *host, const char *ovr, char *note, size_t n,
		     struct pv_err *e)
{
	if (pv_pci_set_override(bdf, ovr, e) < 0 || pv_pci_unbind(bdf, "vfio-pci", e) < 0)
		return -1;
	if (*host && (pv_pci_probe(bdf, e) < 0 || pv_pci_wait_driver(bdf, host, -1, e) < 0))
		return pv_wrap(e, "host driver %s did not come back (try `echo %s > "
			       "/sys/bus/pci/drivers/%s/bind`)", host, bdf, host);
	snprintf(note, n, "back on %s", *host ? host : "no driver");
	return 0;
}

static int rebind_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		       struct pv_err *e)
{
	char host[64], ovr[64], now[64], now_ovr[64];

	split_old(r->old, host, ovr);
	if (!pv_pci_present(r->target)) {
		snprintf(note, n, "device is gone (removed?): nothing to restore");
		return 0;
	}
	if (pv_pci_driver(r->target, now, sizeof(now), e) < 0 ||
	    pv_pci_override(r->target, now_ovr, sizeof(now_ovr), e) < 0)
		return -1;
	if (strstr(r->nv, "|keep") && !strcmp(now, "vfio-pci")) {
		snprintf(note, n, "left on vfio-pci (restore_driver = no)");
		return 0;
	}
	if (!strcmp(now, "vfio-pci")) {
		/* our own give-back cut short after its first write (override
		 * put back, unbind failed or killed: tests/vm2 40, EIO at
		 * restore's 2nd write): finish it */
		if (!strcmp(now_ovr, ovr) && strcmp(ovr, "vfio-pci"))
			return give_back(r->target, host, ovr, note, n, e);
		if (strcmp(now_ovr, "vfio-pci")) {
			snprintf(note, n, "driver_override changed by someone else since ('%s'): left "
				 "on vfio-pci", now_ovr);
			return 1;
		}
		return give_back(r->target, host, ovr, note, n, e);
	}
	/* not on vfio-pci: the step never got that far, or someone moved it */
	if (!strcmp(now_ovr, "vfio-pci") && pv_pci_set_override(r->target, ovr, e) < 0)
		return -1;
	if (!strcmp(now, host)) {
		snprintf(note, n, "on %s", *host ? host : "no driver");
		return 0;
	}
	if (!*now && *host) { /* unbound between unbind and probe: finish the way back */
		if (pv_pci_probe(r->target, e) < 0 || pv_pci_wait_driver(r->target, host, -1, e) < 0)
			return -1;
		snprintf(note, n, "back on %s", host);
		return 0;
	}
	snprintf(note, n, "bound to %s by someone else since: left alone", *now ? now : "no driver");
	return 1;
}

/* A canonical BDF only: the one form pv_engine_rebind records. */
static bool rebind_ok(const char *t)
{
	struct pv_bdf b;
	char canon[PV_BDF_LEN];

	if (pv_bdf_parse(t, false, &b, NULL) < 0)
		return false;
	pv_bdf_format(&b, canon);
	return !strcmp(canon, t);
}

const struct pv_step_ops pv_step_rebind = { .target_ok = rebind_ok, .apply = rebind_apply,
					    .undo = rebind_undo };
