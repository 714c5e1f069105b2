/* Core-to-core latency: two threads pinned to a pair of PUs bounce one
 * cache line; the round trip says how far apart the PUs really are, which
 * sysfs and hwloc only claim. Measured by `topo --latency` (check/latency.h),
 * saved as JSON, drawn as a heatmap (draw/), and compared with the topology
 * by `check --latency`. This is the matrix as data. */
#pragma once
#include <hwloc.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/err.h"
#include "pinner/topo.h"

/* Beyond this a matrix stops being something to measure or load. */
#define PV_LAT_MAX_CPUS 2048

struct pv_lat {
	int n;             /* CPUs in the matrix */
	unsigned *cpu;     /* their Linux numbers, ascending */
	double *ns;        /* n*n round trips in ns, symmetric; < 0: not measured (diagonal) */
	int samples;       /* most samples any pair got (median taken over them) */
	int min_samples;   /* fewest samples a measured pair got */
	int rounds;        /* round trips per sample */
	long unmeasured;   /* pairs left out when the time ran out */
	double seconds;    /* wall time taken */
	char model[128];   /* CPU model of the host measured */
};

void pv_latency_free(struct pv_lat *m);

/* Round trip between matrix rows i and j, < 0 when not measured. */
double pv_lat_at(const struct pv_lat *m, int i, int j);
/* Row of a Linux CPU number, -1 if not in the matrix. */
int pv_lat_row(const struct pv_lat *m, unsigned cpu);

/* The saved form: {"model":..,"cpus":[..],"ns":[[null,52.1],..],...}. */
int pv_latency_json(FILE *f, const struct pv_lat *m);
int pv_latency_parse(struct pv_lat *m, const char *text, struct pv_err *e);
int pv_latency_load(struct pv_lat *m, const char *file, struct pv_err *e);

/* The matrix for people, grouped by L3 domain, with a summary by
 * topological relation (SMT sibling, same L3, same node, other node). */
void pv_latency_print(FILE *f, const struct pv_lat *m, const struct pv_topo *t);

/* How two PUs relate in the topology, nearest first. */
enum pv_lat_rel { PV_REL_SMT = 0, PV_REL_L3, PV_REL_NODE, PV_REL_FAR, PV_REL_UNKNOWN, PV_REL_N };
const char *pv_lat_rel_name(enum pv_lat_rel r);
/* The topology PU of each matrix row (NULL where the topology has no such
 * CPU); malloc'd, NULL on ENOMEM. */
const struct pv_pu **pv_lat_pus(const struct pv_lat *m, const struct pv_topo *t);
enum pv_lat_rel pv_lat_rel_pu(const struct pv_pu *a, const struct pv_pu *b);
/* Median round trip between every two L3 domains (a == b: inside one),
 * med[a * nl3 + b], -1 where no pair was measured; malloc'd, NULL on ENOMEM. */
double *pv_lat_l3_medians(const struct pv_lat *m, const struct pv_topo *t, const struct pv_pu **pus);

/* Rows of m in drawing order: by L3 domain, core, PU. Returns how many
 * rows were written to order (all of m->n). */
int pv_lat_order(const struct pv_lat *m, const struct pv_topo *t, int *order);

/* Sorted statistics of v (sorted in place); n = 0 gives all zero. */
struct pv_lat_stat {
	long n;
	double med, min, max;
};
struct pv_lat_stat pv_lat_stats(double *v, long n);
