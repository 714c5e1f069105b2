/* The agent seen from outside (its daemon is agent/): post-start starts
 * it detached in a scope of its own, post-stop stops it, `pvepin status`
 * reads what it publishes. Files, all under /run/pvepin:
 *   <vmid>.agent       pid; flock'd by the agent while it runs (one per VM)
 *   <vmid>.agent.stat  state and counters (key=value), replaced atomically
 *                      at most every PV_AGENT_STAT_MS, for `pvepin status` */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/err.h"

/* post-start: start `<this binary> [global options] agent VMID` detached
 * (own session, stdio on /dev/null, no other fd, cwd /, reparented to init)
 * and return at once. Nothing in --dry-run or when QEMU does not run. */
int pv_agent_spawn(int vmid, struct pv_err *e);

/* pre-start: start the agent as the VM's guard before any change, told
 * the process that runs the start (the hook's parent, past a wrapper
 * shell). It gives the host back when that process ends with no QEMU for
 * the VM, or when QEMU ends before post-start; post-start stops it and
 * starts the agent proper. Nothing in --dry-run or under --root: 1. */
int pv_agent_spawn_guard(int vmid, struct pv_err *e);

bool pv_agent_scope_wanted(void);
int pv_agent_scope(int vmid, pid_t pid, struct pv_err *e);

/* post-stop: SIGTERM the VM's agent, wait up to wait_ms for it to end
 * (then SIGKILL), and remove its files. 1 when no agent ran. */
int pv_agent_stop(int vmid, int wait_ms, struct pv_err *e);
/* The same for an agent spawned a moment ago (pre-start's guard of a start
 * that failed): first wait up to wait_ms for it to write its pid. */
int pv_agent_stop_spawned(int vmid, int wait_ms, struct pv_err *e);

/* What the agent changed and saw; published in <vmid>.agent.stat. */
struct pv_agent_stats {
	long threads;      /* QEMU threads watched now */
	long irqs;         /* device IRQs watched now */
	long cgroups;      /* cpusets watched now */
	long new_threads;  /* threads that appeared later and needed a pin */
	long repins;       /* thread masks someone else changed, put back */
	long new_irqs;     /* device IRQs that appeared later, steered */
	long irq_fixes;    /* IRQ affinities someone else changed, put back */
	long cpuset_fixes; /* cpusets someone (systemd) reset, put back */
	long refused;      /* writes the kernel refuses (managed IRQ, io_uring worker) */
	long held_off;     /* items that kept being changed, put on hold */
	long errors;
	long lock_busy;    /* fixes deferred while a phase held the lock */
	long events;       /* proc connector events received */
	long ticks;
	long cpu_ms;       /* the agent's own CPU time */
};

struct pv_agent_info {
	bool running;       /* an agent process holds the pidfile */
	pid_t pid;
	pid_t qemu;
	char state[16];     /* "running" | "exited" */
	char mode[32];      /* new threads: "proc-connector" | "task-poll" | "none" */
	long long started;  /* unix time */
	long long updated;
	char last[256];     /* the last change it made */
	char why[128];      /* why it ended */
	struct pv_agent_stats st;
};

/* Read the VM's agent files. 1 when there are none. */
int pv_agent_info(int vmid, struct pv_agent_info *ai, struct pv_err *e);
/* One line (text: "  agent: ...\n") or a JSON object (no newline). */
void pv_agent_info_print(FILE *f, const struct pv_agent_info *ai, bool json);

/* The stat file's key=value form (agent writes, status reads). */
int pv_agent_stat_format(char *buf, size_t n, const struct pv_agent_info *ai);
int pv_agent_stat_parse(const char *text, struct pv_agent_info *ai);
