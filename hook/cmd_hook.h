/* The engine's commands for hook/main.c's table: each gets the arguments
 * from its name on (argv[0] = name) and returns the exit code.
 *   pvepin VMID PHASE         pv_cmd_phase (argv[0] = VMID, argv[1] = phase):
 *                             0 ok; 1 failed (pre-start: PVE does not start
 *                             the VM); an unknown phase is ignored (0)
 *   pvepin restore VMID       pv_cmd_restore: 0 ok (also: nothing to do), 1 failed
 *   pvepin status [VMID] [--json]  pv_cmd_status: 0 no drift, 1 drift, 2 error */
#pragma once

int pv_cmd_phase(int argc, char **argv);
int pv_cmd_restore(int argc, char **argv);
int pv_cmd_status(int argc, char **argv);
