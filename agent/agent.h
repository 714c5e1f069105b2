/* The runtime agent: `pvepin agent VMID` keeps the plan true while the VM
 * runs. Pins set once at post-start decay: QEMU starts threads later, the
 * guest's driver enables more MSI-X vectors, irqbalance moves IRQs back,
 * daemon-reload resets cgroup cpusets. The agent follows QEMU until it exits
 * (pidfd), learns of every new QEMU thread from the proc connector, polls
 * what the kernel gives no event for (msi_irqs, a few affinity and cpuset
 * files) every PV_AGENT_TICK_MS, and sends every change through the
 * journaled engine under the phase lock, so restore covers it.
 *
 * Logs: syslog, ident "pvepin[<vmid>]" (and stderr with -v).
 * Test knob: PVEPIN_AGENT_NOEVENTS=1 watches /proc/<pid>/task instead of
 * the proc connector. */
#pragma once
#include <sys/types.h>

/* `pvepin agent VMID` (hook/cmd_agent.c): runs in the foreground until
 * QEMU exits or SIGTERM; 0 on those ends (and when another agent already
 * runs for the VM). When QEMU has ended and no post-stop stopped it within
 * PV_AGENT_GRACE_MS, it gives the host back itself (agent/guard.c). With
 * starter > 0 it is pre-start's guard: it watches that process and QEMU's
 * coming and going until post-start stops it (agent/guard.c). The agent's outside view (spawn, stop, its files) is
 * engine/agent_ctl.h. */
int pv_agent_run(int vmid, pid_t starter);
