/* Shared between the SVG files: the drawing context, the layout and the
 * small text helpers. */
#pragma once
#include "draw/svg.h"

/* Sizes in SVG user units (px). */
#define PU_W 28.0
#define PU_H 26.0
#define PU_GAP 2.0
#define CORE_PAD 3.0
#define CORE_GAP 4.0
#define L3_PAD 6.0
#define L3_HEAD 17.0
#define L3_GAP 8.0
#define NODE_PAD 8.0
#define NODE_HEAD 22.0
#define HP_LINE 26.0
#define NODE_GAP 12.0
#define DEV_H 19.0
#define DEV_GAP 3.0
#define DEV_MIN_W 300.0
#define PKG_PAD 8.0
#define PKG_HEAD 20.0
#define PKG_GAP 16.0
#define MARGIN 14.0
#define MAX_DEV_NODE 12

#define FONT "DejaVu Sans,Verdana,Arial,Helvetica,sans-serif"

enum svg_role {
	R_VCPU = 1, R_EMU = 2, R_IRQ = 4, R_VMRES = 8, R_HOST = 16,
};

struct svg_box {
	double x, y, w, h;
};

struct svg_pu {
	int vm;     /* index into s->in->vm, -1 */
	int vcpu;   /* -1 */
	unsigned role;
};

struct svg_node {
	int pkg;
	int *l3;          /* indexes into t->l3, drawing order */
	int nl3;
	int *dev;         /* indexes into t->pci */
	int ndev, more;   /* drawn, left out */
	int first_cpu;    /* for ordering; INT_MAX for memory-only nodes */
	bool hp;          /* has a hugepage line */
};

struct svg_pkg {
	int *node;        /* indexes into t->node, drawing order */
	int nnode;
	unsigned os;
};

/* Layout choices the search makes. */
struct svg_lay {
	int cpr;          /* cores per row in an L3 box */
	int l3cols;       /* L3 boxes per row in a node */
	int nodecols;     /* nodes per row in a package */
	int pkgcols;      /* packages per row */
};

struct svg {
	FILE *f;
	const struct pv_svg *in;
	const struct pv_topo *t;
	struct svg_pu *pu;          /* by index into t->pu */
	int *l3vm;                  /* VM holding vCPUs in an L3, -1 */
	int *devvm;                 /* VM holding a PCI function, -1 */
	int **l3core;               /* cores of each L3, drawing order */
	int *nl3core;
	struct svg_node *node;      /* by index into t->node */
	struct svg_pkg *pkg;
	int npkg;
	int *loose;                 /* devices without NUMA locality */
	int nloose;
	struct svg_lay lay;
	double pw;                  /* PU cell width (wider for 4-digit numbers) */
	double node_minw;           /* nodes as wide as the widest: a tidy grid */
	struct svg_box *corebox, *l3box, *nodebox, *pkgbox, *devbox, loosebox;
	double W, H;                /* the drawing */
	double hosty;               /* top of the package grid */
	char kind[8][64];           /* label of each core kind, "" if one kind */
	int nkind;
};

/* Estimated width of text in px (no font metrics in a program that
 * must not load fonts). */
double svg_text_w(const char *s, double size);
/* XML-escape s into f. */
void svg_esc(FILE *f, const char *s);
/* Copy s into buf, cut with "…" to fit w px at size. */
const char *svg_fit(char *buf, size_t n, const char *s, double w, double size);
const char *svg_vm_colour(int i);
/* c mixed with white: a = 0 white, 1 c. */
void svg_tint(char *buf, size_t n, const char *c, double a);

/* svg_model.c: grouping and roles */
int svg_model(struct svg *s, struct pv_err *e);
void svg_model_free(struct svg *s);
const char *svg_dev_label(char *buf, size_t n, const struct pv_pcidev *d);
/* "L3 #0 · 32 MiB", "node 0 · 32 GiB" */
const char *svg_l3_title(const struct svg *s, int l, char *buf, size_t n);
const char *svg_node_title(const struct svg *s, int n, char *buf, size_t len);
/* svg_layout.c */
void svg_layout(struct svg *s);
/* svg_host.c */
void svg_draw_host(struct svg *s);
/* svg_heat.c */
double svg_heat_height(const struct svg *s, double *w);
void svg_draw_heat(struct svg *s, double x, double y);
