/* Per-node hugepage pools: /sys/devices/system/node/nodeN/hugepages/
 * hugepages-<size>kB/{nr,free,surplus}_hugepages. The kernel may grant fewer
 * pages than asked (1 GiB pages at run time are best effort): always
 * re-read after a write. */
#pragma once
#include <stddef.h>

#include "common/err.h"

struct pv_hp_count {
	long nr;      /* persistent pool size */
	long free;    /* free pages in the pool */
};

int pv_hp_read(int node, long size_kb, struct pv_hp_count *c, struct pv_err *e);
/* Set nr_hugepages and read back what the kernel made of it into *got. */
int pv_hp_set(int node, long size_kb, long nr, long *got, struct pv_err *e);
/* Ask the kernel to compact the node's memory (nodeN/compact). */
int pv_hp_compact(int node, struct pv_err *e);
/* "1G" / "2M" / "<n>kB" for messages. */
const char *pv_hp_size_name(long size_kb, char *buf, size_t n);
