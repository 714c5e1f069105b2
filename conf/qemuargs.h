/* The VM config's `args:` line: extra QEMU arguments, split like PVE does
 * (shell words), of which pvepin reads only -smp. */
#pragma once
#include "common/err.h"
#include "conf/vmconf.h"

/* Find -smp in args and parse its value into *smp (smp->present stays
 * false when there is none). Two -smp options are an error: QEMU merges
 * them in ways pvepin does not model. */
int pv_args_parse_smp(const char *args, struct pv_smp *smp, struct pv_err *e);

