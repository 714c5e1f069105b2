/* The document: title, the host (svg_host.c), the legend, the heatmap
 * (svg_heat.c); text helpers; and VMs from the ledger. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/limits.h"
#include "conf/cpulist.h"
#include "draw/svg_internal.h"

#define SW_W 24.0
#define SW_H 17.0
#define LEG_ROW 24.0
#define LEG_GAP 18.0

/* Distinct under common colour-vision deficiencies as far as 8 can be, and
 * dark enough for white text. */
static const char *const palette[] = {
	"#1c62c4", "#d9480f", "#2b8a3e", "#862e9c", "#0b7285", "#c2255c", "#5c940d", "#4a3f35",
};

const char *svg_vm_colour(int i)
{
	return palette[(unsigned)i % (sizeof(palette) / sizeof(palette[0]))];
}

static int hexval(char c)
{
	return c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0';
}

void svg_tint(char *buf, size_t n, const char *c, double a)
{
	int rgb[3];

	for (int k = 0; k < 3; k++) {
		int v = hexval(c[1 + 2 * k]) * 16 + hexval(c[2 + 2 * k]);

		rgb[k] = (int)(255 - (255 - v) * a + 0.5);
	}
	snprintf(buf, n, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

double svg_text_w(const char *s, double size)
{
	double w = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c & 0xc0) == 0x80)
			continue; /* UTF-8 continuation */
		/* DejaVu Sans, the widest of the fonts named: better cut
		 * early than overlap */
		w += c == ' ' || c == '.' || c == ',' || c == ':' || c == 'i' || c == 'l' ||
		     c == '|' || c == '\'' ? 0.33 :
		     c == 'm' || c == 'w' || c == 'M' || c == 'W' ? 0.95 :
		     c >= 'A' && c <= 'Z' ? 0.74 : c >= '0' && c <= '9' ? 0.64 : 0.61;
	}
	return w * size;
}

void svg_esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c < 0x20 || c == 0x7f)
			fputc('?', f); /* not allowed in XML 1.0 */
		else
			fputc(c, f);
	}
}

const char *svg_fit(char *buf, size_t n, const char *s, double w, double size)
{
	size_t len;

	snprintf(buf, n, "%s", s);
	if (svg_text_w(buf, size) <= w)
		return buf;
	len = strlen(buf);
	while (len > 0 && svg_text_w(buf, size) + 0.6 * size > w) {
		do /* whole UTF-8 characters */
			len--;
		while (len > 0 && ((unsigned char)buf[len] & 0xc0) == 0x80);
		buf[len] = '\0';
	}
	if (len + 4 <= n)
		strcat(buf, "…");
	return buf;
}

/* ---- legend ---- */

enum sw { SW_FREE, SW_HOST, SW_KIND, SW_VCPU, SW_EMU, SW_VMRES, SW_VMDEV, SW_VMHP, SW_NONE };

struct leg {
	double x, y, w;
	bool draw;
	double y0;
};

static void swatch(struct svg *s, enum sw k, int arg, double x, double y)
{
	FILE *f = s->f;
	char fill[32];

	switch (k) {
	case SW_FREE:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"2\" fill=\"#e9ecef\"/>\n",
			x, y, SW_W, SW_H);
		break;
	case SW_HOST:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"2\" fill=\"#fff3bf\" "
			   "stroke=\"#f59f00\"/>\n", x, y, SW_W, SW_H);
		break;
	case SW_KIND:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"3\" fill=\"%s\" "
			   "stroke=\"%s\"%s/>\n", x, y, SW_W, SW_H, arg ? "#dbe4ff" : "#ffffff",
			arg ? "#748ffc" : "#ced4da", arg ? " stroke-dasharray=\"3 2\"" : "");
		break;
	case SW_VCPU:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"2\" fill=\"%s\"/>\n"
			   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" font-weight=\"bold\" text-anchor=\"middle\" "
			   "fill=\"#ffffff\">%s</text>\n", x, y, SW_W, SW_H, svg_vm_colour(arg), x + SW_W / 2,
			y + 12.5, s->in->vm[arg].plan->nvcpu ? "v0" : "VM");
		break;
	case SW_EMU:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"2\" "
			   "fill=\"url(#hatch-%d)\" stroke=\"%s\"/>\n", x, y, SW_W, SW_H,
			s->in->vm[arg].vmid, svg_vm_colour(arg));
		break;
	case SW_VMRES:
		svg_tint(fill, sizeof(fill), svg_vm_colour(arg), 0.35);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"2\" fill=\"%s\" "
			   "stroke=\"%s\"/>\n", x, y, SW_W, SW_H, fill, svg_vm_colour(arg));
		break;
	case SW_VMDEV:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"3\" fill=\"#f8f9fa\" "
			   "stroke=\"%s\" stroke-width=\"3\"/>\n", x + 1.5, y + 1.5, SW_W - 3, SW_H - 3,
			svg_vm_colour(arg));
		break;
	case SW_VMHP:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"8\" fill=\"#e9ecef\" stroke=\"#adb5bd\"/>"
			   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"8\" fill=\"%s\"/>\n",
			x, y + 5, SW_W, x, y + 5, SW_W * 0.6, svg_vm_colour(arg));
		break;
	case SW_NONE:
		break;
	}
}

static void leg_newline(struct leg *L, double x0)
{
	if (L->x > x0) {
		L->x = x0;
		L->y += LEG_ROW;
	}
}

static void leg_item(struct svg *s, struct leg *L, double x0, enum sw k, int arg, const char *txt,
		     const char *attrs)
{
	double tw = svg_text_w(txt, 11), w = (k == SW_NONE ? 0 : SW_W + 6) + tw;

	if (L->x > x0 && L->x + w > x0 + L->w)
		leg_newline(L, x0);
	if (L->draw) {
		swatch(s, k, arg, L->x, L->y);
		fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" %s>",
			L->x + (k == SW_NONE ? 0 : SW_W + 6), L->y + 12.5,
			attrs ? attrs : "fill=\"#212529\"");
		svg_esc(s->f, txt);
		fputs("</text>\n", s->f);
	}
	L->x += w + LEG_GAP;
}

static bool any_role(const struct svg *s, int vm, unsigned r)
{
	for (int i = 0; i < s->t->npu; i++) {
		unsigned role = s->pu[i].role;

		/* a cell shows one role: vCPU over E/I over the rest of the core */
		if (role & R_VCPU)
			role = R_VCPU;
		else if (role & (R_EMU | R_IRQ))
			role &= R_EMU | R_IRQ;
		if ((vm < 0 || s->pu[i].vm == vm) && (role & r))
			return true;
	}
	return false;
}

/* "16 vCPUs on L3 #0, #1 (nodes 0, 3) · 48 × 1 GiB pages" */
static void vm_summary(const struct svg *s, int v, char *b, size_t n)
{
	const struct pv_plan *p = s->in->vm[v].plan;
	_cleanup_bitmap_ hwloc_bitmap_t l3 = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
	char ls[128] = "?", ns[128] = "?";
	long pages = 0;
	size_t len;

	if (!l3 || !nodes) {
		b[0] = '\0';
		return;
	}
	for (int i = 0; i < s->t->npu; i++)
		if (s->pu[i].vm == v && (s->pu[i].role & R_VCPU)) {
			hwloc_bitmap_set(l3, (unsigned)s->t->pu[i].l3);
			if (s->t->pu[i].node >= 0)
				hwloc_bitmap_set(nodes, (unsigned)s->t->pu[i].node);
		}
	pv_cpulist_format(ls, sizeof(ls), l3);
	pv_cpulist_format(ns, sizeof(ns), nodes);
	if (p->nvcpu)
		len = (size_t)snprintf(b, n, "%s%s%d vCPUs on L3 #%s (node %s)",
				       p->mode != PV_MODE_AUTO ? pv_mode_name(p->mode) : "",
				       p->mode != PV_MODE_AUTO ? ", " : "", p->nvcpu, ls, ns);
	else
		len = (size_t)snprintf(b, n, "CPUs on L3 #%s (node %s)", ls, ns);
	for (int k = 0; p->hp_kb && k < p->npages; k++)
		pages += p->pages[k].count;
	if (pages && len < n)
		snprintf(b + len, n - len, " · %ld × %s pages", pages, p->hp_kb >= PV_HP_1G_KB ? "1 GiB" : "2 MiB");
}

static void legend_vm(struct svg *s, struct leg *L, double x0, int v)
{
	const struct pv_svg_vm *vm = &s->in->vm[v];
	char head[96], sum[256], attrs[96];

	leg_newline(L, x0);
	if (L->draw)
		fprintf(s->f, "<g class=\"legend-vm\" data-vm=\"%d\" data-colour=\"%s\">\n", vm->vmid,
			svg_vm_colour(v));
	snprintf(head, sizeof(head), "VM %d%s%s%s%s", vm->vmid, vm->name && vm->name[0] ? " " : "",
		 vm->name ? vm->name : "", vm->proposed ? " (plan)" : "", ":");
	snprintf(attrs, sizeof(attrs), "font-weight=\"bold\" fill=\"%s\"", svg_vm_colour(v));
	leg_item(s, L, x0, SW_NONE, v, head, attrs);
	vm_summary(s, v, sum, sizeof(sum));
	leg_item(s, L, x0, SW_VCPU, v, sum, NULL);
	if (any_role(s, v, R_EMU | R_IRQ))
		leg_item(s, L, x0, SW_EMU, v, "emulator/IO threads (E), device IRQs (I)", NULL);
	if (any_role(s, v, R_VMRES))
		leg_item(s, L, x0, SW_VMRES, v, "rest of its cores", NULL);
	if (vm->plan->ndev)
		leg_item(s, L, x0, SW_VMDEV, v, "its devices (vfio-pci)", NULL);
	if (vm->plan->hp_kb && vm->plan->npages)
		leg_item(s, L, x0, SW_VMHP, v, "its hugepages in the node's memory bar", NULL);
	if (L->draw)
		fputs("</g>\n", s->f);
}

static double legend(struct svg *s, double x0, double y0, double w, bool draw)
{
	struct leg L = { .x = x0, .y = y0, .w = w, .draw = draw };

	leg_item(s, &L, x0, SW_FREE, 0, "CPU (Linux number), free", NULL);
	if (any_role(s, -1, R_HOST))
		leg_item(s, &L, x0, SW_HOST, 0, "host housekeeping (system, user, other tasks)", NULL);
	for (int k = 0; k < s->nkind; k++)
		leg_item(s, &L, x0, SW_KIND, k, s->kind[k], NULL);
	for (int v = 0; v < s->in->nvm; v++)
		legend_vm(s, &L, x0, v);
	return L.y + SW_H - y0;
}

/* ---- document ---- */

static void defs(struct svg *s)
{
	fputs("<defs>\n", s->f);
	for (int v = 0; v < s->in->nvm; v++)
		fprintf(s->f, "<pattern id=\"hatch-%d\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
			      "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/>"
			      "<rect width=\"3\" height=\"6\" fill=\"%s\" fill-opacity=\"0.55\"/></pattern>\n",
			s->in->vm[v].vmid, svg_vm_colour(v));
	fputs("</defs>\n", s->f);
}

static void host_line(const struct svg *s, char *b, size_t n)
{
	const struct pv_topo *t = s->t;
	int smt = t->ncore ? (t->npu + t->ncore - 1) / t->ncore : 1;

	snprintf(b, n, "%d package%s · %d NUMA node%s · %d L3 domain%s · %d cores · %d CPUs%s", s->npkg,
		 s->npkg == 1 ? "" : "s", t->nnode, t->nnode == 1 ? "" : "s", t->nl3,
		 t->nl3 == 1 ? "" : "s", t->ncore, t->npu, smt > 1 ? " (SMT)" : "");
}

static double title_h(const struct svg *s)
{
	return 26 + 18 + (s->in->caption ? 18 : 0) + 10;
}

static void title(struct svg *s)
{
	char b[256], fit[256];
	double w = s->W - 2 * MARGIN;

	svg_fit(fit, sizeof(fit), s->t->cpu_model[0] ? s->t->cpu_model : "host", w, 17);
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"17\" font-weight=\"bold\" fill=\"#212529\">",
		MARGIN, MARGIN + 16);
	svg_esc(s->f, fit);
	fputs("</text>\n", s->f);
	host_line(s, b, sizeof(b));
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#495057\">", MARGIN, MARGIN + 36);
	svg_esc(s->f, svg_fit(fit, sizeof(fit), b, w, 12));
	fputs("</text>\n", s->f);
	if (!s->in->caption)
		return;
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" font-weight=\"bold\" fill=\"#212529\">",
		MARGIN, MARGIN + 54);
	svg_esc(s->f, svg_fit(fit, sizeof(fit), s->in->caption, w, 12));
	fputs("</text>\n", s->f);
}

static void document(struct svg *s)
{
	double legy, legh, heatw = 0, heath = 0, heaty;

	s->hosty = MARGIN + title_h(s);
	svg_layout(s);
	if (s->W < 640)
		s->W = 640;
	if (s->in->lat)
		heath = svg_heat_height(s, &heatw);
	if (heatw + 2 * MARGIN > s->W)
		s->W = heatw + 2 * MARGIN;
	legy = s->H + 16;
	legh = legend(s, MARGIN, legy, s->W - 2 * MARGIN, false);
	heaty = legy + legh + 20;
	s->H = heaty + heath + MARGIN;
	fprintf(s->f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
		      "viewBox=\"0 0 %.0f %.0f\" font-family=\"" FONT "\">\n<title>pvepin: ",
		s->W, s->H, s->W, s->H);
	svg_esc(s->f, s->t->cpu_model[0] ? s->t->cpu_model : "host");
	fputs("</title>\n", s->f);
	defs(s);
	fprintf(s->f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", s->W, s->H);
	title(s);
	svg_draw_host(s);
	legend(s, MARGIN, legy, s->W - 2 * MARGIN, true);
	if (s->in->lat)
		svg_draw_heat(s, MARGIN, heaty);
	fputs("</svg>\n", s->f);
}

static int pv_svg_write(FILE *f, const struct pv_svg *in, struct pv_err *e)
{
	struct svg s = { .f = f, .in = in, .t = in->t };
	int rc = -1;

	if (svg_model(&s, e) < 0)
		goto out;
	document(&s);
	if (ferror(f)) {
		pv_fail(e, EIO, "writing the picture");
		goto out;
	}
	rc = 0;
out:
	svg_model_free(&s);
	return rc;
}

int pv_svg_save(const char *path, const struct pv_svg *in, struct pv_err *e)
{
	FILE *f;
	int rc;

	if (!strcmp(path, "-")) {
		rc = pv_svg_write(stdout, in, e);
		if (fflush(stdout) != 0 && rc == 0)
			return pv_fail(e, errno, "writing the picture to stdout");
		return rc;
	}
	f = fopen(path, "w");
	if (!f)
		return pv_fail(e, errno, "cannot write %s", path);
	rc = pv_svg_write(f, in, e);
	if (fclose(f) != 0 && rc == 0)
		return pv_fail(e, errno, "writing %s", path);
	if (rc < 0)
		pv_wrap(e, "%s", path);
	return rc;
}

static int set_from(hwloc_bitmap_t *set, const char *list, struct pv_err *e)
{
	*set = hwloc_bitmap_alloc();
	if (!*set)
		return pv_fail(e, ENOMEM, "svg");
	return list[0] ? pv_cpulist_parse(list, ',', PV_MAX_CPUS, *set, e) : 0;
}

int pv_svg_plan_from_ledger(struct pv_plan *p, const struct pv_lvm *v, struct pv_err *e)
{
	memset(p, 0, sizeof(*p));
	p->vmid = v->vmid;
	if (set_from(&p->vm_cpus, v->cpus, e) < 0 || set_from(&p->host_cpus, v->host, e) < 0) {
		pv_plan_free(p);
		return pv_wrap(e, "ledger, VM %d", v->vmid);
	}
	p->hp_kb = v->page_kb;
	for (int i = 0; i < v->npages && i < PV_MAX_NODES; i++)
		p->pages[p->npages++] = v->pages[i];
	for (int i = 0; i < v->ndevs && i < PV_MAX_DEVS; i++) {
		snprintf(p->dev[i].bdf, sizeof(p->dev[i].bdf), "%s", v->devs[i]);
		p->dev[i].group = -1;
		p->ndev++;
	}
	return 0;
}
