/* Where everything goes. Boxes nest package > node > L3 > core > PU; each
 * level is a grid whose column count is a free choice. Every combination
 * of choices is laid out and the one that fits a 16:10 screen at the
 * largest scale wins: a 7970X comes out as a 2x2 grid of nodes, a 2-socket
 * 384-PU EPYC as packages side by side with their L3s in a grid. */
#include <stdlib.h>

#include "draw/svg_internal.h"

#define CORE_H (PU_H + 2 * CORE_PAD)
#define ASPECT 1.6
/* title, legend: their height is not known before the width is */
#define EXTRA_H 150.0

typedef void (*place_fn)(struct svg *s, int item, double x, double y, double *w, double *h);

static double max2(double a, double b)
{
	return a > b ? a : b;
}

static double core_w(const struct svg *s, int c)
{
	int n = s->t->core[c].npu;

	return 2 * CORE_PAD + n * s->pw + (n - 1) * PU_GAP;
}

/* n items in rows of at most cols, rows balanced (7 in 4 columns: 4+3). */
static int balanced_cols(int n, int cols)
{
	int rows;

	if (cols < 1)
		cols = 1;
	if (cols > n)
		cols = n;
	rows = (n + cols - 1) / cols;
	return (n + rows - 1) / rows;
}

static void place_l3(struct svg *s, int l, double x, double y, double *w, double *h)
{
	int n = s->nl3core[l], cpr = balanced_cols(n, s->lay.cpr);
	double cx = x + L3_PAD, cy = y + L3_HEAD, right = x;
	char head[160];

	for (int k = 0; k < n; k++) {
		int c = s->l3core[l][k];
		double cw = core_w(s, c);

		if (k && k % cpr == 0) {
			cy += CORE_H + CORE_GAP;
			cx = x + L3_PAD;
		}
		s->corebox[c] = (struct svg_box){ cx, cy, cw, CORE_H };
		cx += cw + CORE_GAP;
		right = max2(right, cx - CORE_GAP);
	}
	svg_l3_title(s, l, head, sizeof(head));
	*w = max2(right - x + L3_PAD, svg_text_w(head, 11) + 2 * L3_PAD);
	*h = (n ? cy + CORE_H - y : L3_HEAD) + L3_PAD;
	s->l3box[l] = (struct svg_box){ x, y, *w, *h };
}

static void grid(struct svg *s, const int *items, int n, int cols, double gap, double x, double y,
		 place_fn fn, double *W, double *H)
{
	double *cw, *rh, w, h;
	int rows;

	*W = *H = 0;
	if (n <= 0)
		return;
	cols = balanced_cols(n, cols);
	rows = (n + cols - 1) / cols;
	cw = calloc((size_t)cols, sizeof(*cw));
	rh = calloc((size_t)rows, sizeof(*rh));
	if (!cw || !rh)
		goto out;
	for (int i = 0; i < n; i++) {
		fn(s, items[i], 0, 0, &w, &h);
		cw[i % cols] = max2(cw[i % cols], w);
		rh[i / cols] = max2(rh[i / cols], h);
	}
	for (int i = 0, r = 0; r < rows; r++) {
		double cy = y, cx = x;

		for (int k = 0; k < r; k++)
			cy += rh[k] + gap;
		for (int c = 0; c < cols && i < n; c++, i++) {
			fn(s, items[i], cx, cy, &w, &h);
			cx += cw[c] + gap;
		}
	}
	for (int c = 0; c < cols; c++)
		*W += cw[c] + (c ? gap : 0);
	for (int r = 0; r < rows; r++)
		*H += rh[r] + (r ? gap : 0);
out:
	free(cw);
	free(rh);
}

static void place_node(struct svg *s, int n, double x, double y, double *w, double *h)
{
	const struct svg_node *nd = &s->node[n];
	double head = NODE_HEAD + (nd->hp ? HP_LINE : 0), gw, gh, inner, dy;
	char title[160];

	grid(s, nd->l3, nd->nl3, s->lay.l3cols, L3_GAP, x + NODE_PAD, y + head, place_l3, &gw, &gh);
	svg_node_title(s, n, title, sizeof(title));
	inner = max2(gw, svg_text_w(title, 13));
	if (nd->ndev || nd->hp)
		inner = max2(inner, DEV_MIN_W);
	inner = max2(inner, s->node_minw);
	dy = y + head + gh + (gh > 0 ? L3_GAP : 0);
	for (int k = 0; k < nd->ndev; k++) {
		s->devbox[nd->dev[k]] = (struct svg_box){ x + NODE_PAD, dy, inner, DEV_H };
		dy += DEV_H + DEV_GAP;
	}
	if (nd->more)
		dy += DEV_H;
	*w = inner + 2 * NODE_PAD;
	*h = dy - y + NODE_PAD - (nd->ndev || gh > 0 ? DEV_GAP : 0);
	s->nodebox[n] = (struct svg_box){ x, y, *w, *h };
}

static void place_pkg(struct svg *s, int k, double x, double y, double *w, double *h)
{
	const struct svg_pkg *p = &s->pkg[k];
	double gw, gh;

	grid(s, p->node, p->nnode, s->lay.nodecols, NODE_GAP, x + PKG_PAD, y + PKG_HEAD, place_node,
	     &gw, &gh);
	*w = max2(gw, 200) + 2 * PKG_PAD;
	*h = PKG_HEAD + gh + PKG_PAD;
	s->pkgbox[k] = (struct svg_box){ x, y, *w, *h };
}

/* Devices no node is local to, in a flow of columns under the packages. */
static void place_loose(struct svg *s, double x, double y, double width, double *h)
{
	double colw = DEV_MIN_W + 60, cx = x, cy = y + 18;

	*h = 0;
	if (!s->nloose)
		return;
	for (int k = 0; k < s->nloose; k++) {
		if (cx + colw > x + max2(width, colw) + 1) {
			cx = x;
			cy += DEV_H + DEV_GAP;
		}
		s->devbox[s->loose[k]] = (struct svg_box){ cx, cy, colw, DEV_H };
		cx += colw + 8;
	}
	*h = cy + DEV_H - y;
	s->loosebox = (struct svg_box){ x, y, width, *h };
}

static void place_host(struct svg *s, double x, double y, double *w, double *h)
{
	int *items = calloc((size_t)s->npkg, sizeof(int));
	double lh;

	*w = *h = 0;
	if (!items)
		return;
	for (int k = 0; k < s->npkg; k++)
		items[k] = k;
	grid(s, items, s->npkg, s->lay.pkgcols, PKG_GAP, x, y, place_pkg, w, h);
	free(items);
	place_loose(s, x, y + *h + 10, *w, &lh);
	if (lh > 0)
		*h += lh + 10;
}

static int max_cores(const struct svg *s)
{
	int m = 1;

	for (int l = 0; l < s->t->nl3; l++)
		if (s->nl3core[l] > m)
			m = s->nl3core[l];
	return m;
}

static int max_l3s(const struct svg *s)
{
	int m = 1;

	for (int n = 0; n < s->t->nnode; n++)
		if (s->node[n].nl3 > m)
			m = s->node[n].nl3;
	return m;
}

static int max_nodes(const struct svg *s)
{
	int m = 1;

	for (int k = 0; k < s->npkg; k++)
		if (s->pkg[k].nnode > m)
			m = s->pkg[k].nnode;
	return m;
}

static double score(double w, double h)
{
	return max2(w, (h + EXTRA_H) * ASPECT);
}

static int lim(int v, int m)
{
	return v < m ? v : m;
}

/* Try one layout: keep it in *best when it scores better. */
static void try_layout(struct svg *s, struct svg_lay l, struct svg_lay *best, double *bs, double *ba)
{
	double w, h, sc;

	s->lay = l;
	place_host(s, 0, 0, &w, &h);
	sc = score(w, h);
	if (sc < *bs - 0.5 || (sc < *bs + 0.5 && w * h < *ba)) {
		*bs = sc;
		*ba = w * h;
		*best = l;
	}
}

void svg_layout(struct svg *s)
{
	int mc = max_cores(s), ml = lim(max_l3s(s), 8), mn = lim(max_nodes(s), 8);
	int mp = lim(s->npkg, 8);
	struct svg_lay best = { mc, 1, 1, 1 };
	double bs = 1e18, ba = 1e18, w, h;

	for (int rows = 1; rows <= lim(mc, 8); rows++) {
		int cpr = (mc + rows - 1) / rows;

		if (rows > 1 && (mc + rows - 2) / (rows - 1) == cpr)
			continue; /* same as fewer rows */
		for (int l3c = 1; l3c <= ml; l3c++)
			for (int nc = 1; nc <= mn; nc++)
				for (int pc = 1; pc <= mp; pc++)
					try_layout(s, (struct svg_lay){ cpr, l3c, nc, pc }, &best, &bs, &ba);
	}
	s->lay = best;
	for (int n = 0; n < s->t->nnode; n++) {
		place_node(s, n, 0, 0, &w, &h);
		s->node_minw = max2(s->node_minw, w - 2 * NODE_PAD);
	}
	place_host(s, MARGIN, s->hosty, &w, &h);
	s->W = w + 2 * MARGIN;
	s->H = s->hosty + h;
}
