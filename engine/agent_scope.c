/* The agent in a scope unit of its own, as qemu-server puts QEMU in
 * qemu.slice/VMID.scope. It starts in the cgroup of whatever ran the hook:
 * pvedaemon.service for a start from the web UI, and stopping that service
 * (a package upgrade) kills every process in its cgroup, agents included. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/opts.h"
#include "engine/sdbus_dl.h"
#include "engine/agent_ctl.h"

#define PV_AGENT_MEMORY_MAX (256ULL << 20) /* bytes */
#define PV_AGENT_TASKS_MAX 8                /* the agent, its planner child, slack */
#define PV_AGENT_CPU_QUOTA_US 500000        /* half a CPU per second at most */

/* The agent's own scope unit, pvepin-agent-VMID.scope in system.slice,
 * made by systemd (StartTransientUnit) with pid in it, so that stopping the
 * service that ran the hook (pvedaemon) does not stop the agent. Wanted on
 * a real root where systemd runs. */
static int pv_agent_scope_name(int vmid, char *buf, size_t n)
{
	return snprintf(buf, n, "pvepin-agent-%d.scope", vmid) < (int)n ? 0 : -1;
}

bool pv_agent_scope_wanted(void)
{
	struct stat st;

	/* a captured tree has no systemd to ask, and a host without systemd
	 * has no units (the test bed's init, a container) */
	return !(pv_opt.root && pv_opt.root[0]) && stat("/run/systemd/system", &st) == 0;
}

static int append_props(const struct pv_sdbus *sd, sd_bus_message *m, int vmid, pid_t pid)
{
	char desc[64];
	int r;

	snprintf(desc, sizeof(desc), "pvepin runtime agent of VM %d", vmid);
	r = sd->message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd->message_append(m, "(sv)", "Description", "s", desc);
	/* the host's slice: on the host's CPUs while VMs are isolated */
	if (r >= 0)
		r = sd->message_append(m, "(sv)", "Slice", "s", "system.slice");
	if (r >= 0)
		r = sd->message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid);
	/* gone with the agent, failed or not: the next start reuses the name */
	if (r >= 0)
		r = sd->message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
	/* a root daemon for the VM's whole life gets a ceiling: the planner
	 * child it forks at start counts too (a large host's topology) */
	if (r >= 0)
		r = sd->message_append(m, "(sv)", "MemoryMax", "t", (uint64_t)PV_AGENT_MEMORY_MAX);
	if (r >= 0)
		r = sd->message_append(m, "(sv)", "TasksMax", "t", (uint64_t)PV_AGENT_TASKS_MAX);
	if (r >= 0)
		r = sd->message_append(m, "(sv)", "CPUQuotaPerSecUSec", "t",
				       (uint64_t)PV_AGENT_CPU_QUOTA_US);
	if (r >= 0)
		r = sd->message_close_container(m);
	return r;
}

int pv_agent_scope(int vmid, pid_t pid, struct pv_err *e)
{
	_cleanup_(pv_sdcall_end) struct pv_sdcall c = { 0 };
	char unit[64];
	int r;

	if (pv_agent_scope_name(vmid, unit, sizeof(unit)) < 0)
		return pv_fail(e, EINVAL, "VM %d: scope name too long", vmid);
	if (pv_sdcall_begin(&c, e) < 0)
		return -1;
	r = c.sd.message_new_method_call(c.bus, &c.m, PV_SD_DEST, PV_SD_PATH, PV_SD_MANAGER,
					 "StartTransientUnit");
	if (r >= 0)
		r = c.sd.message_append(c.m, "ss", unit, "fail");
	if (r >= 0)
		r = append_props(&c.sd, c.m, vmid, pid);
	if (r >= 0)
		r = c.sd.message_append(c.m, "a(sa(sv))", 0); /* no auxiliary units */
	if (r < 0)
		return pv_sdcall_fail(&c, e, r, false, "StartTransientUnit message", unit);
	if ((r = c.sd.call(c.bus, c.m, 0, &c.be, &c.reply)) < 0)
		return pv_sdcall_fail(&c, e, r, true, "StartTransientUnit", unit);
	return 0;
}
