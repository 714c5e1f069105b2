/* The latency matrix for people: a summary by topological relation, the
 * L3-domain matrix, and (small hosts, or -v) every pair, grouped by L3. */
#include <stdlib.h>
#include <string.h>

#include "../common/cleanup.h"
#include "../common/opts.h"
#include "latency.h"

/* Every pair on one screen up to this many CPUs; beyond, with -v. */
#define FULL_MATRIX_MAX 32

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

enum pv_lat_rel pv_lat_relation(const struct pv_topo *t, unsigned a, unsigned b)
{
	return pv_lat_rel_pu(pv_topo_pu(t, a), pv_topo_pu(t, b));
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

struct stat3 {
	long n;
	double med, min, max;
};

/* Sorts v in place. */
static struct stat3 stats(double *v, long n)
{
	struct stat3 s = { .n = n };

	if (!n)
		return s;
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

static void print_relations(FILE *f, const struct pv_lat *m, const struct pv_pu **pus)
{
	size_t pairs = (size_t)m->n * (size_t)(m->n - 1) / 2 + 1;
	_cleanup_free_ double *v = malloc(pairs * sizeof(*v));

	if (!v)
		return;
	fprintf(f, "  %-22s %7s %8s %8s %8s\n", "relation", "pairs", "median", "min", "max");
	for (int r = 0; r < PV_REL_N; r++) {
		struct stat3 s;
		long n = 0;

		for (int i = 0; i < m->n; i++)
			for (int j = i + 1; j < m->n; j++)
				if ((int)pv_lat_rel_pu(pus[i], pus[j]) == r && pv_lat_at(m, i, j) >= 0)
					v[n++] = pv_lat_at(m, i, j);
		if (!n && r == PV_REL_UNKNOWN)
			continue;
		s = stats(v, n);
		if (!n)
			fprintf(f, "  %-22s %7d %8s\n", pv_lat_rel_name((enum pv_lat_rel)r), 0, "-");
		else
			fprintf(f, "  %-22s %7ld %8.1f %8.1f %8.1f\n", pv_lat_rel_name((enum pv_lat_rel)r),
				s.n, s.med, s.min, s.max);
	}
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
				fill[k] ? stats(v + cnt[k], (long)fill[k]).med : -1;
		}
	return med;
}

static void print_l3_matrix(FILE *f, const struct pv_lat *m, const struct pv_topo *t,
			    const struct pv_pu **pus)
{
	_cleanup_free_ double *med = NULL;

	if (t->nl3 < 2 || !(med = pv_lat_l3_medians(m, t, pus)))
		return;
	fprintf(f, "  median round trip by L3 domain, ns:\n  %-16s", "");
	for (int b = 0; b < t->nl3; b++) {
		char h[16];

		snprintf(h, sizeof(h), "#%d", b);
		fprintf(f, " %8s", h);
	}
	fputc('\n', f);
	for (int a = 0; a < t->nl3; a++) {
		fprintf(f, "  L3 #%-3d node %-3d", a, t->l3[a].node);
		for (int b = 0; b < t->nl3; b++) {
			double v = med[(size_t)a * (size_t)t->nl3 + (size_t)b];

			if (v < 0)
				fprintf(f, " %8s", "-");
			else
				fprintf(f, " %8.1f", v);
		}
		fputc('\n', f);
	}
}

static bool new_group(const struct pv_pu **pus, const int *order, int k)
{
	const struct pv_pu *a, *b;

	if (k <= 0)
		return false;
	a = pus[order[k - 1]];
	b = pus[order[k]];
	return !a || !b || a->l3 != b->l3;
}

/* Column width: the widest value (a VM's descheduled pair can take ms). */
static int col_width(const struct pv_lat *m)
{
	char b[32];
	int w = 6;

	for (size_t k = 0; k < (size_t)m->n * (size_t)m->n; k++) {
		int len = snprintf(b, sizeof(b), " %.0f", m->ns[k]);

		if (len > w)
			w = len;
	}
	return w;
}

static void print_full(FILE *f, const struct pv_lat *m, const struct pv_pu **pus, const int *order)
{
	int w = col_width(m);

	fprintf(f, "  every pair, ns (rows and columns grouped by L3 domain):\n  %5s ", "CPU");
	for (int k = 0; k < m->n; k++)
		fprintf(f, "%s%*u", k && new_group(pus, order, k) ? " |" : "", w, m->cpu[order[k]]);
	fputc('\n', f);
	for (int a = 0; a < m->n; a++) {
		if (a && new_group(pus, order, a))
			fputc('\n', f);
		fprintf(f, "  %5u ", m->cpu[order[a]]);
		for (int b = 0; b < m->n; b++) {
			double v = pv_lat_at(m, order[a], order[b]);

			if (b && new_group(pus, order, b))
				fputs(" |", f);
			if (v < 0)
				fprintf(f, "%*s", w, "-");
			else
				fprintf(f, "%*.0f", w, v);
		}
		fputc('\n', f);
	}
}

void pv_latency_print(FILE *f, const struct pv_lat *m, const struct pv_topo *t)
{
	_cleanup_free_ const struct pv_pu **pus = NULL;
	_cleanup_free_ int *order = NULL;
	long pairs = (long)m->n * (m->n - 1) / 2;

	if (m->n < 2) {
		fprintf(f, "core-to-core latency: %d CPU%s available to measure on: no pair, nothing "
			   "to measure\n", m->n, m->n == 1 ? "" : "s");
		return;
	}
	pus = pv_lat_pus(m, t);
	order = calloc((size_t)m->n, sizeof(*order));
	if (!pus || !order)
		return;
	pv_lat_order(m, t, order);
	fprintf(f, "core-to-core round trip, ns: %d CPUs, %ld pair%s, median of ", m->n, pairs,
		pairs == 1 ? "" : "s");
	if (m->min_samples != m->samples)
		fprintf(f, "%d-", m->min_samples);
	fprintf(f, "%d samples x %d round trips, %.1f s\n", m->samples, m->rounds, m->seconds);
	if (m->unmeasured)
		fprintf(f, "  %ld pairs not measured: out of time (give more --seconds) or a CPU "
			   "could not be used\n", m->unmeasured);
	print_relations(f, m, pus);
	print_l3_matrix(f, m, t, pus);
	if (m->n <= FULL_MATRIX_MAX || pv_opt.verbose)
		print_full(f, m, pus, order);
	else
		fprintf(f, "  (%d CPUs: every pair with -v, or --json)\n", m->n);
}
