/* Talking to a running irqbalance over its control socket, as its own
 * irqbalance-ui does (irqbalance.c init_socket/sock_handle, ui/irqbalance-ui.c):
 *
 * - The daemon binds /run/irqbalance/irqbalance<pid>.sock, or, if that
 *   fails, the abstract address whose sun_path is all zero bytes (addrlen =
 *   sizeof(struct sockaddr_un)); it needs no pid, so only one can exist.
 * - One connection per command: the client sends the command text in one
 *   sendmsg() carrying SCM_CREDENTIALS; the daemon answers only uid 0, and
 *   closes the connection after each command.
 * - "settings cpus <cpulist>" sets the banned CPUs ("NULL" hands the choice
 *   back to IRQBALANCE_BANNED_CPULIST / isolcpus / nohz_full);
 *   "settings ban irqs <n n ...>" replaces the banned IRQ list ("NONE"
 *   clears it); "setup" answers
 *   "SLEEP <s> [IRQ <n> LOAD <l> DIFF <d> CLASS <c> ]...BANNED <hex cpumask>".
 * - Up to 1.9.3 the daemon serves the socket only between its 10 s sleeps,
 *   and reads commands into a 500-byte buffer: hence the long timeout and
 *   the command size limit.
 */
#pragma once
#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

#define PV_IRQB_TIMEOUT_MS 15000
#define PV_IRQB_CMD_MAX 480
#define PV_IRQB_SUN_PATH 108

struct pv_irqb {
	bool running;
	bool abstract;               /* no socket file: the daemon's abstract fallback */
	pid_t pid;
	char path[PV_IRQB_SUN_PATH]; /* rooted socket path, "" when abstract */
};

/* Find a live irqbalance: a root-owned socket file irqbalance<pid>.sock of
 * a live pid in a /run/irqbalance no one but root can write, else a
 * listener on the abstract all-zero address (/proc/net/unix) that is root
 * (SO_PEERCRED: ib->pid is its pid). Every connection checks the peer is
 * root before sending anything; a process name proves nothing. */
int pv_irqb_find(struct pv_irqb *ib, struct pv_err *e);

/* For diagnosis only (check): the pid of a process whose comm is
 * "irqbalance", 0 if none. Anyone can take that name: pvepin never talks
 * to a daemon found this way. */
pid_t pv_irqb_named_process(void);

/* Parse a "setup" answer. banned may be NULL; irqs may be NULL (max 0). */
int pv_irqb_parse_setup(const char *reply, int *sleep_s, hwloc_bitmap_t banned, int *irqs,
			int max, int *nirq, struct pv_err *e);

/* The public calls with an explicit timeout. */
int pv_irqb_get_banned(char *buf, size_t n, bool *running, int timeout_ms, struct pv_err *e);
int pv_irqb_set_banned(const char *cpulist_or_NULL, int timeout_ms, struct pv_err *e);
int pv_irqb_get_banned_irqs(int *irqs, int max, int *n, bool *running, int timeout_ms,
			    struct pv_err *e);
int pv_irqb_set_banned_irqs(const int *irqs, int n, int timeout_ms, struct pv_err *e);

/* irqbalance cooperation (doc/DESIGN.md "Kernel facts"). get: *running says
 * whether an irqbalance answers; buf gets its banned CPUs as a cpu list
 * ("" for none). set: "settings cpus <list>", or NULL to hand the choice
 * back to irqbalance (isolcpus/nohz_full/IRQBALANCE_BANNED_CPULIST).
 * Not running: get returns 0 with *running = false; set returns 0 and does
 * nothing. */
int pv_irqbalance_get_banned(char *buf, size_t n, bool *running, struct pv_err *e);
int pv_irqbalance_set_banned(const char *cpulist_or_NULL, struct pv_err *e);

/* Banned CPUs alone do not stop irqbalance from moving the device's IRQs off
 * the VM's CPUs (it places every unbanned IRQ on unbanned CPUs), so the
 * steered IRQs are banned too: "settings ban irqs a b c" replaces the whole
 * list (including --banirq ones), so read it first and send the union.
 * n = 0 sends "NONE". Same not-running rules as above. */
int pv_irqbalance_get_banned_irqs(int *irqs, int max, int *n, bool *running, struct pv_err *e);
int pv_irqbalance_set_banned_irqs(const int *irqs, int n, struct pv_err *e);
