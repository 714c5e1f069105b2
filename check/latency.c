/* `check --latency FILE`: the topology (sysfs/hwloc) says which CPUs share
 * a core, an L3 and a node and how far nodes are; a saved measurement says
 * how far they really are. Where the two disagree pvepin's placement
 * follows a wrong picture, so say where. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "conf/cpulist.h"
#include "check/latency.h"

/* A boundary the topology draws must show at least this ratio in latency. */
#define SEPARATION 1.3
/* NUMA pairs the distance table calls equal but that differ this much. */
#define FLAT_RATIO 1.5
/* A nearer-by-distance pair this much slower is an inversion. */
#define INVERSION 1.15
/* Findings of one kind listed before "and N more". */
#define MAX_SAY 6

struct lc {
	const struct pv_topo *t;
	const struct pv_lat *m;
	const struct pv_pu **pus;
	struct pv_report *r;
	double med[PV_REL_N];
	long cnt[PV_REL_N];
};

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, long n)
{
	if (!n)
		return -1;
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median of the measured pairs i<j for which keep() says yes. */
static double median_where(const struct lc *c, bool (*keep)(const struct lc *, int, int, const void *),
			   const void *arg, long *count)
{
	const struct pv_lat *m = c->m;
	_cleanup_free_ double *v = malloc(((size_t)m->n * (size_t)m->n / 2 + 1) * sizeof(*v));
	long n = 0;

	*count = 0;
	if (!v)
		return -1;
	for (int i = 0; i < m->n; i++)
		for (int j = i + 1; j < m->n; j++)
			if (pv_lat_at(m, i, j) >= 0 && keep(c, i, j, arg))
				v[n++] = pv_lat_at(m, i, j);
	*count = n;
	return median_of(v, n);
}

static bool is_rel(const struct lc *c, int i, int j, const void *arg)
{
	return pv_lat_rel_pu(c->pus[i], c->pus[j]) == *(const enum pv_lat_rel *)arg;
}

static bool inside_l3(const struct lc *c, int i, int j, const void *arg)
{
	return pv_lat_rel_pu(c->pus[i], c->pus[j]) == PV_REL_L3 && c->pus[i]->l3 == *(const int *)arg;
}

/* arg: two Linux node numbers */
static bool between_nodes(const struct lc *c, int i, int j, const void *arg)
{
	const int *nd = arg;
	const struct pv_pu *a = c->pus[i], *b = c->pus[j];

	return a && b && ((a->node == nd[0] && b->node == nd[1]) || (a->node == nd[1] && b->node == nd[0]));
}

static void class_medians(struct lc *c)
{
	for (int r = 0; r < PV_REL_N; r++) {
		enum pv_lat_rel rel = (enum pv_lat_rel)r;

		c->med[r] = median_where(c, is_rel, &rel, &c->cnt[r]);
	}
}

static bool same_host(struct lc *c)
{
	int unknown = 0;
	unsigned first = 0;

	if (c->m->model[0] && c->t->cpu_model[0] && strcmp(c->m->model, c->t->cpu_model))
		pv_report_add(c->r, PV_WARN, "latency-host",
			      "the measurement is of a '%s', this host is a '%s': measure here with "
			      "'pvepin topo --latency --json > FILE'", c->m->model, c->t->cpu_model);
	for (int i = 0; i < c->m->n; i++)
		if (!c->pus[i] && !unknown++)
			first = c->m->cpu[i];
	if (unknown)
		pv_report_add(c->r, PV_WARN, "latency-cpus",
			      "%d measured CPU(s) are not in this topology (CPU %u first): measured "
			      "on another host or with CPUs offline", unknown, first);
	return unknown < c->m->n;
}

static void check_smt(struct lc *c)
{
	double smt = c->med[PV_REL_SMT], l3 = c->med[PV_REL_L3];

	if (!c->cnt[PV_REL_SMT] || !c->cnt[PV_REL_L3])
		return;
	if (smt * SEPARATION <= l3)
		pv_report_add(c->r, PV_OK, "latency-smt",
			      "SMT siblings measure %.0f ns, other cores of their L3 %.0f ns", smt, l3);
	else
		pv_report_add(c->r, PV_WARN, "latency-smt",
			      "SMT siblings measure %.0f ns, no faster than other cores of their L3 "
			      "(%.0f ns): the sibling pairing (thread_siblings_list) may be wrong, or "
			      "the measurement noisy (VM, busy host)", smt, l3);
}

/* An L3 whose inside pairs are mostly as slow as pairs across L3s. */
static int check_l3_split(struct lc *c, double cut, double across)
{
	int said = 0;

	for (int a = 0; a < c->t->nl3; a++) {
		long n, slow = 0;
		double med = median_where(c, inside_l3, &a, &n);
		char cpus[256];

		if (n < 1 || med <= cut)
			continue;
		for (int i = 0; i < c->m->n; i++)
			for (int j = i + 1; j < c->m->n; j++)
				if (inside_l3(c, i, j, &a) && pv_lat_at(c->m, i, j) > cut)
					slow++;
		if (pv_cpulist_format(cpus, sizeof(cpus), c->t->l3[a].cpuset) < 0)
			snprintf(cpus, sizeof(cpus), "?");
		if (said++ < MAX_SAY)
			pv_report_add(c->r, PV_WARN, "latency-l3-split",
				      "L3 #%d (CPUs %s): %ld of %ld pairs inside measure like different "
				      "L3 domains (median %.0f ns; to the nearest other L3 %.0f ns): it is likely two "
				      "caches reported as one", a, cpus, slow, n, med, across);
	}
	return said;
}

/* Two L3s whose pairs measure as close as pairs inside one. */
static int check_l3_merge(struct lc *c, double cut, double inside)
{
	_cleanup_free_ double *med = pv_lat_l3_medians(c->m, c->t, c->pus);
	int said = 0, nl3 = c->t->nl3;

	if (!med)
		return 0;
	for (int a = 0; a < nl3; a++)
		for (int b = a + 1; b < nl3; b++) {
			double v = med[(size_t)a * (size_t)nl3 + (size_t)b];

			if (v < 0 || v > cut)
				continue;
			if (said++ < MAX_SAY)
				pv_report_add(c->r, PV_WARN, "latency-l3-merge",
					      "L3 #%d and L3 #%d measure as one domain (%.0f ns between "
					      "them, %.0f ns inside an L3): the topology splits one cache, "
					      "or (in a VM) its cache topology is made up", a, b, v, inside);
		}
	return said;
}

/* The nearest pairs across L3 domains: other L3s of the same node when the
 * node has several (they sit between inside-L3 and other nodes). */
static double nearest_across(const struct lc *c)
{
	if (c->cnt[PV_REL_NODE] && (!c->cnt[PV_REL_FAR] || c->med[PV_REL_NODE] < c->med[PV_REL_FAR]))
		return c->med[PV_REL_NODE];
	return c->cnt[PV_REL_FAR] ? c->med[PV_REL_FAR] : -1;
}

static void check_l3(struct lc *c)
{
	double inside = c->med[PV_REL_L3], across = nearest_across(c);
	double cut;
	int said;

	if (!c->cnt[PV_REL_L3] || across < 0)
		return;
	if (across < inside * SEPARATION) {
		pv_report_add(c->r, PV_WARN, "latency-l3",
			      "L3 domains measure alike: %.0f ns inside one, %.0f ns across: either "
			      "the measurement is noisy (VM, busy host; measure again with more "
			      "--seconds) or the CPUs share a cache reported as several", inside, across);
		return;
	}
	cut = (inside + across) / 2;
	said = check_l3_split(c, cut, across) + check_l3_merge(c, cut, inside);
	if (said > MAX_SAY)
		pv_report_add(c->r, PV_WARN, "latency-l3", "and %d more L3 disagreements", said - MAX_SAY);
	if (!said)
		pv_report_add(c->r, PV_OK, "latency-l3",
			      "L3 domains match the measurement: %.0f ns inside one, %.0f ns to the "
			      "nearest other", inside, across);
}

struct npair {
	int a, b;
	unsigned dist;
	double ns;
};

static int node_pairs(struct lc *c, struct npair *np, int max)
{
	int k = 0;

	for (int x = 0; x < c->t->nnode; x++)
		for (int y = x + 1; y < c->t->nnode && k < max; y++) {
			int nd[2] = { (int)c->t->node[x].os, (int)c->t->node[y].os };
			long n;
			double v = median_where(c, between_nodes, nd, &n);

			if (n)
				np[k++] = (struct npair){ nd[0], nd[1],
							  pv_topo_distance(c->t, nd[0], nd[1]), v };
		}
	return k;
}

static void say_numa(struct lc *c, const struct npair *p, const struct npair *q, int said)
{
	if (said >= MAX_SAY)
		return;
	if (p->dist == q->dist)
		pv_report_add(c->r, PV_WARN, "latency-numa-flat",
			      "node distances call %d-%d and %d-%d equally far (%u), but they measure "
			      "%.0f ns and %.0f ns: the firmware's distance table (SLIT) is flatter than "
			      "the hardware, and pvepin's nearest-node choice follows the table",
			      p->a, p->b, q->a, q->b, p->dist, p->ns, q->ns);
	else
		pv_report_add(c->r, PV_WARN, "latency-numa",
			      "node distances call %d-%d (%u) nearer than %d-%d (%u), but they measure "
			      "%.0f ns and %.0f ns: the distance table (SLIT) does not match the hardware",
			      p->a, p->b, p->dist, q->a, q->b, q->dist, p->ns, q->ns);
}

static void check_numa(struct lc *c)
{
	struct npair np[256];
	int k = node_pairs(c, np, 256), said = 0;

	if (k < 2)
		return;
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++) {
			const struct npair *p = &np[i], *q = &np[j];
			bool flat = p->dist == q->dist && i < j &&
				    (p->ns > q->ns * FLAT_RATIO || q->ns > p->ns * FLAT_RATIO);
			bool inverted = p->dist < q->dist && p->ns > q->ns * INVERSION;

			if (flat || inverted)
				say_numa(c, p, q, said++);
		}
	if (said > MAX_SAY)
		pv_report_add(c->r, PV_WARN, "latency-numa", "and %d more NUMA disagreements",
			      said - MAX_SAY);
	if (!said)
		pv_report_add(c->r, PV_OK, "latency-numa",
			      "node distances agree with the measured latency between nodes");
}

/* Every pair of one kind (one pair, or CPUs of a single L3): no check has
 * two kinds to compare, but the user still learns what was measured. */
static void say_too_few(const struct lc *c, long measured)
{
	static const char *const what[PV_REL_N] = { "SMT siblings", "same L3", "other L3, same node",
						     "other node", "unplaced" };
	char b[256];
	size_t len = 0;

	b[0] = '\0';
	for (int k = 0; k < PV_REL_N; k++)
		if (c->cnt[k] && len < sizeof(b))
			len += (size_t)snprintf(b + len, sizeof(b) - len, "%s%s %.0f ns", len ? ", " : "",
						what[k], c->med[k]);
	pv_report_add(c->r, PV_WARN, "latency", "%ld pair%s measured (%s): too few kinds of pair to "
		      "check the topology against (it needs pairs inside and across L3 domains or nodes): "
		      "measure on more CPUs", measured, measured == 1 ? "" : "s", b[0] ? b : "no median");
}

void pv_latency_check_matrix(const struct pv_topo *t, const struct pv_lat *m, struct pv_report *r)
{
	_cleanup_free_ const struct pv_pu **pus = pv_lat_pus(m, t);
	struct lc c = { .t = t, .m = m, .pus = pus, .r = r };
	long measured = 0;
	int n0;

	if (!pus) {
		pv_report_add(r, PV_ERROR, "latency", "out of memory");
		return;
	}
	for (int i = 0; i < m->n; i++)
		for (int j = i + 1; j < m->n; j++)
			measured += pv_lat_at(m, i, j) >= 0;
	if (!measured) {
		pv_report_add(r, PV_WARN, "latency", "the measurement has no pair (%d CPU%s): nothing "
				  "to compare", m->n, m->n == 1 ? "" : "s");
		return;
	}
	if (!same_host(&c))
		return;
	class_medians(&c);
	n0 = r->n;
	check_smt(&c);
	check_l3(&c);
	check_numa(&c);
	if (r->n == n0)
		say_too_few(&c, measured);
}

void pv_latency_check(const struct pv_topo *t, const char *file, struct pv_report *r)
{
	struct pv_lat m;
	struct pv_err e = { 0 };

	if (pv_latency_load(&m, file, &e) < 0) {
		pv_report_add(r, PV_ERROR, "latency-file", "%s", e.msg);
		return;
	}
	pv_latency_check_matrix(t, &m, r);
	pv_latency_free(&m);
}
