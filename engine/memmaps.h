/* Where a QEMU's guest memory really is: /proc/<pid>/numa_maps, summed per
 * guest node and host node. Guest RAM is told apart by its backend's name:
 * qemu-server calls the backend of guest node N "ram-nodeN", and a
 * file-backed one (hugetlbfs) shows it in file=. Anonymous memory cannot be
 * told from QEMU's own, so it is summed apart as gnode -1. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

#define PV_MEMUSE_MAX 64

struct pv_memuse {
	int gnode;     /* guest node, -1 = anonymous (QEMU's own and guest RAM without a name) */
	int hnode;     /* host node the pages are on */
	long page_kb;  /* page size */
	long kb;       /* total */
};

struct pv_memmap {
	struct pv_memuse u[PV_MEMUSE_MAX];
	int n;
};

/* Sum one numa_maps text into m (m zeroed first). */
int pv_memmap_parse(const char *text, struct pv_memmap *m, struct pv_err *e);
/* Read /proc/<pid>/numa_maps into m. */
int pv_memmap_read(pid_t pid, struct pv_memmap *m, struct pv_err *e);
/* false, and why, when guest RAM sits on a host node outside the planned
 * ones (nodes[0..n)); true when it is all where planned, or nothing is. */
bool pv_memmap_where_planned(const struct pv_memmap *m, const int *nodes, int n, char *why,
			     size_t whyn);
