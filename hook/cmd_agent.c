/* `pvepin agent VMID`: the runtime agent (agent/), started by post-start. */
#include <stdio.h>

#include "agent/agent.h"
#include "common/opts.h"
#include "hook/cmd.h"

int pv_cmd_agent(int argc, char **argv)
{
	int vmid;

	if (argc != 2) {
		fprintf(stderr, "pvepin: usage: pvepin agent VMID\n");
		return 2;
	}
	if ((vmid = cmd_vmid("agent", argv[1])) < 0)
		return 2;
	if (pv_opt.dry_run) {
		fprintf(stderr, "pvepin agent: no --dry-run: it changes things as they happen "
				"(`pvepin status` shows what drifted)\n");
		return 2;
	}
	return pv_agent_run(vmid);
}
