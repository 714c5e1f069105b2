/* The latency matrix for people: a summary by topological relation, the
 * L3-domain matrix, and (small hosts, or -v) every pair, grouped by L3. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/opts.h"
#include "pinner/latency.h"

/* Every pair on one screen up to this many CPUs; beyond, with -v. */
#define FULL_MATRIX_MAX 32

static void print_relations(FILE *f, const struct pv_lat *m, const struct pv_pu **pus)
{
	size_t pairs = (size_t)m->n * (size_t)(m->n - 1) / 2 + 1;
	_cleanup_free_ double *v = malloc(pairs * sizeof(*v));

	if (!v)
		return;
	fprintf(f, "  %-22s %7s %8s %8s %8s\n", "relation", "pairs", "median", "min", "max");
	for (int r = 0; r < PV_REL_N; r++) {
		struct pv_lat_stat s;
		long n = 0;

		for (int i = 0; i < m->n; i++)
			for (int j = i + 1; j < m->n; j++)
				if ((int)pv_lat_rel_pu(pus[i], pus[j]) == r && pv_lat_at(m, i, j) >= 0)
					v[n++] = pv_lat_at(m, i, j);
		if (!n && r == PV_REL_UNKNOWN)
			continue;
		s = pv_lat_stats(v, n);
		if (!n)
			fprintf(f, "  %-22s %7d %8s\n", pv_lat_rel_name((enum pv_lat_rel)r), 0, "-");
		else
			fprintf(f, "  %-22s %7ld %8.1f %8.1f %8.1f\n", pv_lat_rel_name((enum pv_lat_rel)r),
				s.n, s.med, s.min, s.max);
	}
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
