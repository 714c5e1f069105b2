/* `pvepin agent VMID [STARTER]`: the runtime agent (agent/), started by
 * post-start; with STARTER, the guard pre-start starts. */
#include <stdio.h>

#include "agent/agent.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "hook/cmd.h"

int pv_cmd_agent(int argc, char **argv)
{
	long starter = 0;
	int vmid;

	/* STARTER: pre-start's guard (engine/agent_ctl.h pv_agent_spawn_guard) */
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "pvepin: usage: pvepin agent VMID [STARTER-PID]\n");
		return 2;
	}
	if ((vmid = cmd_vmid("agent", argv[1])) < 0)
		return 2;
	if (argc == 3 && pv_parse_long(argv[2], 2, 1L << 30, &starter) < 0) {
		fprintf(stderr, "pvepin agent: bad starter pid '%s'\n", argv[2]);
		return 2;
	}
	if (pv_opt.dry_run) {
		fprintf(stderr, "pvepin agent: no --dry-run: it changes things as they happen "
				"(`pvepin status` shows what drifted)\n");
		return 2;
	}
	return pv_agent_run(vmid, (pid_t)starter);
}
