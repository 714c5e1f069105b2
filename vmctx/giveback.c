#include "vmctx/giveback.h"

#include "common/opts.h"

#include <stdio.h>

#include "engine/agent_ctl.h"
#include "engine/engine.h"
#include "engine/threads.h"
#include "vmctx/topocache.h"

int pv_give_back_counted(int vmid, struct pv_ledger *led, int *nundo, int *nleft,
			 struct pv_err *e)
{
	struct pv_engine en;
	int rc;

	if (pv_engine_open(&en, vmid, PV_POST_STOP, led, e) < 0)
		return -1;
	rc = pv_engine_restore(&en, e);
	pv_engine_close(&en);
	if (nundo)
		*nundo = en.nundo;
	if (nleft)
		*nleft = en.nleft;
	if (rc < 0)
		return -1;
	pv_topocache_drop(vmid);
	if (!pv_ledger_vm(led, vmid))
		return 0;
	pv_ledger_drop(led, vmid);
	return pv_ledger_save(led, e);
}

int pv_give_back_locked(int vmid, struct pv_ledger *led, struct pv_err *e)
{
	return pv_give_back_counted(vmid, led, NULL, NULL, e);
}

bool pv_vm_stale(int vmid)
{
	struct pv_agent_info ai;
	pid_t pid;

	/* under --root no guard or agent is ever started (a captured tree
	 * runs nothing), so their absence proves nothing there */
	if (pv_opt.root && pv_opt.root[0])
		return false;
	/* an unreadable pid file is no proof QEMU is gone */
	if (pv_qemu_pid(vmid, &pid, NULL) != 1)
		return false;
	return pv_agent_info(vmid, &ai, NULL) != 0 || !ai.running;
}

void pv_give_back_stale(struct pv_ledger *led, int except)
{
	/* giving back drops the entry: walk a copy of the ids */
	int ids[256], n = 0;

	for (int i = 0; i < led->nvm && n < 256; i++)
		if (led->vm[i].vmid != except && pv_vm_stale(led->vm[i].vmid))
			ids[n++] = led->vm[i].vmid;
	for (int i = 0; i < n; i++) {
		struct pv_err e = { 0 };

		fprintf(stderr, "pvepin: VM %d: QEMU and its agent are gone but its changes are not "
			"(a failed start, a migration, a hookscript removed, a crash): giving them back\n",
			ids[i]);
		if (pv_give_back_locked(ids[i], led, &e) < 0)
			fprintf(stderr, "pvepin: VM %d: %s; run `pvepin restore %d`\n", ids[i], e.msg,
				ids[i]);
	}
}
