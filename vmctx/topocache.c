#include "vmctx/topocache.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"

int pv_topocache_path(char *buf, size_t n, int vmid, struct pv_err *e)
{
	return pv_path(buf, n, e, "/run/pvepin/%d.topology.xml", vmid);
}

static void warn(const char *what, const struct pv_err *e)
{
	fprintf(stderr, "pvepin: %s: %s (discovering the host instead)\n", what, e->msg);
}

/* Discover, save, and load what was saved: both phases plan from it. */
static int load_and_save(struct pv_topo *t, const char *path, struct pv_err *e)
{
	struct pv_err why = { 0 };

	if (pv_topo_load(t, NULL, e) < 0)
		return -1;
	if (pv_rundir(&why) < 0 || pv_topo_export(t, path, &why) < 0) {
		warn("cannot keep the topology for post-start", &why);
		return 0;
	}
	pv_topo_free(t);
	if (pv_topo_load_as(t, path, true, &why) == 0)
		return 0;
	warn("cannot read back the saved topology", &why);
	unlink(path);
	return pv_topo_load(t, NULL, e);
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
		return load_and_save(t, path, e);
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
