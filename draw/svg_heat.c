/* The measured core-to-core latency as a heatmap: rows and columns are
 * CPUs grouped by L3 domain, so the topology shows as blocks along the
 * diagonal and a disagreement as a block where none should be. Values are
 * binned to a few levels and each level is one <path> of runs, which keeps
 * a 384-CPU matrix (147456 cells) to a few hundred kB. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "draw/svg_internal.h"

#define LEVELS 16
#define MATRIX_W 560.0
#define MAX_CELL 40.0
#define LABEL_W 64.0
#define TOP 34.0
#define SCALE_W 14.0

static double cell_size(int n)
{
	double c = MATRIX_W / (n > 0 ? n : 1);

	return c > MAX_CELL ? MAX_CELL : c;
}

double svg_heat_height(const struct svg *s, double *w)
{
	int n = s->in->lat->n;
	double m = cell_size(n) * n;

	if (n < 2) {
		*w = 400;
		return 30;
	}
	*w = LABEL_W + m + 24 + SCALE_W + 60;
	return TOP + 16 + m + 10;
}

/* viridis, dark (near) to bright (far) */
static void colour(double f, char *b, size_t n)
{
	static const unsigned char v[9][3] = {
		{ 68, 1, 84 }, { 71, 44, 122 }, { 59, 81, 139 }, { 44, 113, 142 }, { 33, 144, 141 },
		{ 39, 173, 129 }, { 92, 200, 99 }, { 170, 220, 50 }, { 253, 231, 37 },
	};
	double p = (f < 0 ? 0 : f > 1 ? 1 : f) * 8;
	int i = (int)p < 8 ? (int)p : 7;
	double r = p - i;
	int c[3];

	for (int k = 0; k < 3; k++)
		c[k] = (int)(v[i][k] + (v[i + 1][k] - v[i][k]) * r + 0.5);
	snprintf(b, n, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* Cells are blocks of f x f CPUs (f > 1 only past MAX_BLOCKS CPUs: a cell
 * under 3 px shows nothing a block does not), holding the mean of the
 * measured pairs in them. */
#define MAX_BLOCKS 192

struct heat {
	struct svg *s;
	const struct pv_lat *m;
	int *order;
	const struct pv_pu **pus;
	double x, y, side, lo, hi;
	int f, nb;
	int *lv;              /* nb*nb levels, -1 not measured */
};

static double block_mean(const struct heat *h, int a, int b)
{
	double sum = 0;
	int n = 0;

	for (int i = a * h->f; i < (a + 1) * h->f && i < h->m->n; i++)
		for (int j = b * h->f; j < (b + 1) * h->f && j < h->m->n; j++) {
			double v = pv_lat_at(h->m, h->order[i], h->order[j]);

			if (v >= 0) {
				sum += v;
				n++;
			}
		}
	return n ? sum / n : -1;
}

static void levels(struct heat *h)
{
	for (int a = 0; a < h->nb; a++)
		for (int b = 0; b < h->nb; b++) {
			double v = block_mean(h, a, b);
			int lv = -1;

			if (v >= 0)
				lv = h->hi <= h->lo ? 0 : (int)((v - h->lo) / (h->hi - h->lo) * (LEVELS - 1) + 0.5);
			h->lv[a * h->nb + b] = lv;
		}
}

/* One <path> per level, in block units (the group is scaled). */
static void level_path(struct heat *h, int lv)
{
	int nb = h->nb;
	bool open = false;
	char col[16];

	if (lv < 0)
		snprintf(col, sizeof(col), "#f1f3f5");
	else
		colour((double)lv / (LEVELS - 1), col, sizeof(col));
	for (int a = 0; a < nb; a++)
		for (int b = 0; b < nb;) {
			int e = b;

			if (h->lv[a * nb + b] != lv) {
				b++;
				continue;
			}
			while (e < nb && h->lv[a * nb + e] == lv)
				e++;
			if (!open)
				fprintf(h->s->f, "<path fill=\"%s\" d=\"", col);
			open = true;
			fprintf(h->s->f, "M%d %dh%dv1h-%dz", b, a, e - b, e - b);
			b = e;
		}
	if (open)
		fputs("\"/>\n", h->s->f);
}

static int group_of(const struct heat *h, int k)
{
	const struct pv_pu *p = h->pus[h->order[k]];

	return p ? p->l3 : -1;
}

/* Lines between L3 groups, and their names where there is room. */
static void groups(struct heat *h)
{
	FILE *f = h->s->f;
	int n = h->m->n;
	double side = h->side, cell = side / n;

	for (int k = 0, start = 0; k <= n; k++) {
		double mid;

		if (k < n && (k == 0 || group_of(h, k) == group_of(h, k - 1)))
			continue;
		if (k < n)
			fprintf(f, "<path stroke=\"#ffffff\" stroke-width=\"1\" d=\"M%.2f %.2fh%.2fM%.2f %.2fv%.2f\"/>\n",
				h->x, h->y + k * cell, side, h->x + k * cell, h->y, side);
		mid = (start + k) / 2.0 * cell;
		if ((k - start) * cell >= 11) {
			char lab[32];
			int g = group_of(h, start);

			snprintf(lab, sizeof(lab), g >= 0 ? "L3 #%d" : "?", g);
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"end\" fill=\"#495057\">%s</text>\n",
				h->x - 4, h->y + mid + 3, lab);
			if ((k - start) * cell >= 30)
				fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\" fill=\"#495057\">%s</text>\n",
					h->x + mid, h->y - 4, lab);
		}
		start = k;
	}
}

static void scale(struct heat *h)
{
	FILE *f = h->s->f;
	double side = h->side, x = h->x + side + 24, step = side / LEVELS;
	char col[16];

	for (int lv = 0; lv < LEVELS; lv++) {
		colour((double)lv / (LEVELS - 1), col, sizeof(col));
		fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.0f\" height=\"%.2f\" fill=\"%s\"/>\n", x,
			h->y + lv * step, SCALE_W, step + 0.3, col);
	}
	for (int k = 0; k <= 4; k++)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#212529\">%.0f ns</text>\n",
			x + SCALE_W + 4, h->y + k * side / 4 + (k == 0 ? 9 : k == 4 ? 0 : 4),
			h->lo + (h->hi - h->lo) * k / 4);
}

static void range(struct heat *h)
{
	bool any = false;

	for (int i = 0; i < h->m->n; i++)
		for (int j = i + 1; j < h->m->n; j++) {
			double v = pv_lat_at(h->m, i, j);

			if (v < 0)
				continue;
			if (!any || v < h->lo)
				h->lo = v;
			if (!any || v > h->hi)
				h->hi = v;
			any = true;
		}
}

void svg_draw_heat(struct svg *s, double x, double y)
{
	const struct pv_lat *m = s->in->lat;
	int f = (m->n + MAX_BLOCKS - 1) / MAX_BLOCKS, nb = f ? (m->n + f - 1) / f : 0;
	_cleanup_free_ int *order = calloc(m->n ? (size_t)m->n : 1, sizeof(int));
	_cleanup_free_ int *lv = calloc(nb ? (size_t)nb * (size_t)nb : 1, sizeof(int));
	_cleanup_free_ const struct pv_pu **pus = pv_lat_pus(m, s->t);
	struct heat h = { .s = s, .m = m, .order = order, .pus = pus, .x = x + LABEL_W,
			  .y = y + TOP + 16, .side = cell_size(m->n) * m->n, .f = f, .nb = nb, .lv = lv };

	fprintf(s->f, "<g class=\"heatmap\" data-n=\"%d\">\n", m->n);
	if (m->n < 2 || !order || !pus || !lv) {
		fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#495057\">core-to-core "
			      "latency: %d CPU%s, no pair to measure</text>\n</g>\n", x, y + 14, m->n,
			m->n == 1 ? "" : "s");
		return;
	}
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\" fill=\"#212529\">"
		      "Core-to-core round trip (%d CPUs, grouped by L3 domain)</text>\n"
		      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#495057\">two threads bounce one cache "
		      "line; per pair the median of %d samples x %d round trips; %.1f s%s%s</text>\n",
		x, y + 14, m->n, x, y + 29, m->samples, m->rounds, m->seconds,
		m->unmeasured ? "; grey: not measured" : "", f > 1 ? "; a cell: mean of a block" : "");
	pv_lat_order(m, s->t, order);
	range(&h);
	levels(&h);
	fprintf(s->f, "<g transform=\"translate(%.2f %.2f) scale(%.4f)\" shape-rendering=\"crispEdges\">\n",
		h.x, h.y, h.side / nb);
	for (int l = -1; l < LEVELS; l++)
		level_path(&h, l);
	fputs("</g>\n", s->f);
	groups(&h);
	scale(&h);
	fputs("</g>\n", s->f);
}
