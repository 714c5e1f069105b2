/* Core-to-core latency measured on this host, and checked against the
 * topology's grouping. The matrix itself is pinner/latency.h. */
#pragma once
#include <hwloc.h>
#include <stdbool.h>

#include "check/report.h"
#include "common/err.h"
#include "pinner/latency.h"
#include "pinner/topo.h"

/* Measure every pair of PUs in cpus (NULL: every PU this process may run
 * on) within about `seconds`. progress: a line on stderr while running.
 * Only this process's own threads are pinned (pthread_setaffinity_np), and
 * its affinity is given back: no host state changes. */
int pv_latency_measure(struct pv_lat *m, hwloc_const_bitmap_t cpus, double seconds,
		       bool progress, struct pv_err *e);

/* `check --latency FILE`: where the measured latency and the topology's
 * grouping (L3 domains, NUMA distances, SMT siblings) disagree. */
void pv_latency_check(const struct pv_topo *t, const char *file, struct pv_report *r);
void pv_latency_check_matrix(const struct pv_topo *t, const struct pv_lat *m,
			     struct pv_report *r);
