/* The latency matrix as data: lookups, how two PUs relate in the topology,
 * the order rows are shown in, and the statistics every reader of it uses.
 * Measuring is check/latency_measure.c; the saved form latency_json.c. */
#include "pinner/latency.h"

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

void pv_latency_free(struct pv_lat *m)
{
	free(m->cpu);
	free(m->ns);
	memset(m, 0, sizeof(*m));
}

double pv_lat_at(const struct pv_lat *m, int i, int j)
{
	if (i < 0 || j < 0 || i >= m->n || j >= m->n || i == j)
		return -1;
	return m->ns[(size_t)i * (size_t)m->n + (size_t)j];
}

int pv_lat_row(const struct pv_lat *m, unsigned cpu)
{
	int lo = 0, hi = m->n - 1;

	while (lo <= hi) { /* cpu[] is ascending */
		int mid = (lo + hi) / 2;

		if (m->cpu[mid] == cpu)
			return mid;
		if (m->cpu[mid] < cpu)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

const char *pv_lat_rel_name(enum pv_lat_rel r)
{
	static const char *const names[] = {
		[PV_REL_SMT] = "SMT siblings", [PV_REL_L3] = "same L3 domain",
		[PV_REL_NODE] = "other L3, same node", [PV_REL_FAR] = "other NUMA node",
		[PV_REL_UNKNOWN] = "not in topology",
	};

	return (unsigned)r < PV_REL_N ? names[r] : "?";
}

enum pv_lat_rel pv_lat_rel_pu(const struct pv_pu *a, const struct pv_pu *b)
{
	if (!a || !b)
		return PV_REL_UNKNOWN;
	if (a->core == b->core)
		return PV_REL_SMT;
	if (a->l3 == b->l3)
		return PV_REL_L3;
	if (a->node == b->node)
		return PV_REL_NODE;
	return PV_REL_FAR;
}

const struct pv_pu **pv_lat_pus(const struct pv_lat *m, const struct pv_topo *t)
{
	const struct pv_pu **p = calloc(m->n ? (size_t)m->n : 1, sizeof(*p));

	if (!p)
		return NULL;
	for (int k = 0; k < t->npu; k++) {
		int row = pv_lat_row(m, t->pu[k].os);

		if (row >= 0)
			p[row] = &t->pu[k];
	}
	return p;
}

struct okey {
	int l3, core, row;
	unsigned os;
};

static int okey_cmp(const void *a, const void *b)
{
	const struct okey *x = a, *y = b;

	if (x->l3 != y->l3)
		return x->l3 < y->l3 ? -1 : 1;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	return x->os < y->os ? -1 : x->os > y->os;
}

int pv_lat_order(const struct pv_lat *m, const struct pv_topo *t, int *order)
{
	_cleanup_free_ const struct pv_pu **pus = pv_lat_pus(m, t);
	_cleanup_free_ struct okey *k = calloc(m->n ? (size_t)m->n : 1, sizeof(*k));

	if (!pus || !k) { /* out of memory: CPU order still draws */
		for (int i = 0; i < m->n; i++)
			order[i] = i;
		return m->n;
	}
	for (int i = 0; i < m->n; i++) {
		/* CPUs the topology does not know go last */
		k[i] = (struct okey){ .l3 = pus[i] ? pus[i]->l3 : 1 << 30,
				      .core = pus[i] ? pus[i]->core : 0, .row = i, .os = m->cpu[i] };
	}
	qsort(k, (size_t)m->n, sizeof(*k), okey_cmp);
	for (int i = 0; i < m->n; i++)
		order[i] = k[i].row;
	return m->n;
}
static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct pv_lat_stat pv_lat_stats(double *v, long n)
{
	struct pv_lat_stat s = { .n = n };

	if (!n)
		return s;
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

double *pv_lat_l3_medians(const struct pv_lat *m, const struct pv_topo *t, const struct pv_pu **pus)
{
	size_t nb = (size_t)t->nl3 * (size_t)t->nl3, pairs = (size_t)m->n * (size_t)(m->n - 1) / 2;
	_cleanup_free_ size_t *cnt = calloc(nb + 1, sizeof(*cnt));
	_cleanup_free_ size_t *fill = calloc(nb + 1, sizeof(*fill));
	_cleanup_free_ double *v = malloc((pairs + 1) * sizeof(*v));
	double *med = malloc(nb * sizeof(*med));

	if (!cnt || !fill || !v || !med) {
		free(med);
		return NULL;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < m->n; i++)
			for (int j = i + 1; j < m->n; j++) {
				int a, b;
				size_t k;

				if (!pus[i] || !pus[j] || pv_lat_at(m, i, j) < 0)
					continue;
				a = pus[i]->l3 < pus[j]->l3 ? pus[i]->l3 : pus[j]->l3;
				b = pus[i]->l3 < pus[j]->l3 ? pus[j]->l3 : pus[i]->l3;
				k = (size_t)a * (size_t)t->nl3 + (size_t)b;
				if (!pass)
					cnt[k + 1]++;
				else
					v[cnt[k] + fill[k]++] = pv_lat_at(m, i, j);
			}
		if (!pass)
			for (size_t k = 1; k <= nb; k++)
				cnt[k] += cnt[k - 1];
	}
	for (int a = 0; a < t->nl3; a++)
		for (int b = 0; b < t->nl3; b++) {
			size_t k = (size_t)(a < b ? a : b) * (size_t)t->nl3 + (size_t)(a < b ? b : a);

			med[(size_t)a * (size_t)t->nl3 + (size_t)b] =
				fill[k] ? pv_lat_stats(v + cnt[k], (long)fill[k]).med : -1;
		}
	return med;
}
