/* `pvepin status` and `check`: where a running VM's guest memory really is
 * (engine/memmaps.h), per guest node, against the nodes planned for it. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "engine/ledger.h"

/* Lines "  memory guest node N: X MiB on host node H (P pages of S)" or a
 * JSON ",\"memory\":[...]" member. Returns 1 when some guest RAM is off the
 * planned nodes (a drift), 0 otherwise (also when numa_maps is unreadable:
 * said on the line). */
int pv_memory_show(FILE *f, bool json, const struct pv_lvm *v, pid_t pid);
/* The same check alone: 1 and why when off the planned nodes. */
int pv_memory_off_plan(const struct pv_lvm *v, pid_t pid, char *why, size_t n);

struct pv_report;
/* `check` of a running VM: a warning when its memory is off the plan. */
void pv_check_vm_memory(int vmid, struct pv_report *r);
