/* Drawing the host: package, node, L3 and core boxes, one cell per PU in
 * the colour of the VM holding it, the devices under their node, and each
 * node's memory as a bar with the VMs' hugepages in their colour. */
#include <string.h>

#include "conf/cpulist.h"
#include "common/limits.h"
#include "draw/svg_internal.h"

#define FREE_FILL "#e9ecef"
#define HOST_FILL "#fff3bf"
#define HOST_STROKE "#f59f00"
#define TEXT "#212529"
#define DIM "#495057"
#define E_CORE_FILL "#dbe4ff"

static bool sizes_differ(const struct pv_topo *t, unsigned long long *max)
{
	bool d = false;

	*max = 0;
	for (int l = 0; l < t->nl3; l++) {
		if (t->l3[l].size != t->l3[0].size)
			d = true;
		if (t->l3[l].size > *max)
			*max = t->l3[l].size;
	}
	return d;
}

static void kind_counts(const struct svg *s, int l, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int k = 0; k < s->nkind && len < n; k++) {
		int c = 0;

		for (int i = 0; i < s->nl3core[l]; i++)
			c += s->t->core[s->l3core[l][i]].kind == k;
		if (c)
			len += (size_t)snprintf(buf + len, n - len, "%s%d %s", len ? " + " : " · ", c,
						k == 0 ? "P" : k == s->nkind - 1 ? "E" : "M");
	}
}

const char *svg_l3_title(const struct svg *s, int l, char *buf, size_t n)
{
	const struct pv_l3 *l3 = &s->t->l3[l];
	unsigned long long max;
	char kinds[64], nodes[64] = "";
	bool differ = sizes_differ(s->t, &max);

	kind_counts(s, l, kinds, sizeof(kinds));
	if (hwloc_bitmap_weight(l3->nodeset) > 1) {
		char b[48];

		if (pv_cpulist_format(b, sizeof(b), l3->nodeset) == 0)
			snprintf(nodes, sizeof(nodes), " · nodes %s", b);
	}
	if (!l3->size)
		snprintf(buf, n, "#%d · no L3 reported%s%s", l, kinds, nodes);
	else
		snprintf(buf, n, "L3 #%d · %llu MiB%s%s%s", l, l3->size >> 20,
			 differ && l3->size == max ? " (larger)" : "", kinds, nodes);
	return buf;
}

static void fmt_gib(char *b, size_t n, unsigned long long bytes)
{
	double g = (double)bytes / (1ull << 30);

	if (!bytes)
		snprintf(b, n, "memory unknown");
	else if (g >= 10 || bytes % (1ull << 30) == 0)
		snprintf(b, n, "%.0f GiB", g);
	else
		snprintf(b, n, "%.1f GiB", g);
}

const char *svg_node_title(const struct svg *s, int n, char *buf, size_t len)
{
	const struct pv_node *nd = &s->t->node[n];
	char mem[32];

	fmt_gib(mem, sizeof(mem), nd->mem_bytes);
	snprintf(buf, len, "node %u · %s%s", nd->os, mem,
		 hwloc_bitmap_iszero(nd->cpuset) ? " · no CPUs" : "");
	return buf;
}

static void rect(FILE *f, struct svg_box b, double rx, const char *fill, const char *stroke,
		 double sw, const char *extra)
{
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"%.1f\" fill=\"%s\"",
		b.x, b.y, b.w, b.h, rx, fill);
	if (stroke)
		fprintf(f, " stroke=\"%s\" stroke-width=\"%.1f\"", stroke, sw);
	fprintf(f, "%s%s/>\n", extra ? " " : "", extra ? extra : "");
}

/* attrs: extra attributes or "" */
static void text(FILE *f, double x, double y, double size, const char *attrs, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\"%s%s>", x, y, size,
		attrs[0] ? " " : "", attrs);
	svg_esc(f, s);
	fputs("</text>\n", f);
}

static void draw_pkg(struct svg *s, int k)
{
	char b[160];

	rect(s->f, s->pkgbox[k], 8, "#f8f9fa", "#495057", 1.5, NULL);
	snprintf(b, sizeof(b), "package %u", s->pkg[k].os);
	text(s->f, s->pkgbox[k].x + PKG_PAD, s->pkgbox[k].y + 14, 12, "font-weight=\"bold\" fill=\"" DIM "\"", b);
}

struct hp_seg {
	double bytes;
	const char *fill;
};

/* The node's memory as a bar: VMs' hugepages in their colours, other
 * pool pages grey, the rest light; a line of text says the counts. */
static void draw_hp(struct svg *s, int n, double x, double y, double w)
{
	const struct pv_node *nd = &s->t->node[n];
	double pool = 0, vmsum = 0, total, cx = x;
	FILE *f = s->f;

	if (nd->hp1g_total > 0)
		pool += (double)nd->hp1g_total * (1 << 30);
	if (nd->hp2m_total > 0)
		pool += (double)nd->hp2m_total * (2 << 20);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"" DIM "\">hugepages:", x, y + 10);
	for (int v = 0; v < s->in->nvm; v++) {
		const struct pv_plan *p = s->in->vm[v].plan;

		for (int k = 0; p->hp_kb && k < p->npages; k++)
			if (p->pages[k].node == (int)nd->os && p->pages[k].count > 0) {
				fprintf(f, " <tspan fill=\"%s\" font-weight=\"bold\">VM %d: %ld × %s</tspan>",
					svg_vm_colour(v), s->in->vm[v].vmid, p->pages[k].count,
					p->hp_kb >= PV_HP_1G_KB ? "1G" : "2M");
				vmsum += (double)p->pages[k].count * (double)p->hp_kb * 1024;
			}
	}
	if (nd->hp1g_total >= 0)
		fprintf(f, " · 1G pool %ld, %ld free", nd->hp1g_total, nd->hp1g_free);
	if (nd->hp2m_total > 0)
		fprintf(f, " · 2M pool %ld, %ld free", nd->hp2m_total, nd->hp2m_free);
	fputs("</text>\n", f);
	total = (double)nd->mem_bytes;
	if (total < pool || total < vmsum)
		total = pool > vmsum ? pool : vmsum;
	if (total <= 0)
		return;
	fprintf(f, "<g class=\"hp\" data-node=\"%u\">\n", nd->os);
	rect(f, (struct svg_box){ x, y + 14, w, 8 }, 2, FREE_FILL, "#adb5bd", 0.8, NULL);
	for (int v = 0; v < s->in->nvm; v++) {
		const struct pv_plan *p = s->in->vm[v].plan;

		for (int k = 0; p->hp_kb && k < p->npages; k++) {
			double b = (double)p->pages[k].count * (double)p->hp_kb * 1024;

			if (p->pages[k].node != (int)nd->os || p->pages[k].count <= 0)
				continue;
			fprintf(f, "<rect class=\"hp-vm\" data-vm=\"%d\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				   "height=\"8\" fill=\"%s\"/>\n", s->in->vm[v].vmid, cx, y + 14,
				b / total * w, svg_vm_colour(v));
			cx += b / total * w;
		}
	}
	if (pool > vmsum)
		rect(f, (struct svg_box){ cx, y + 14, (pool - vmsum) / total * w, 8 }, 0, "#adb5bd", NULL, 0, NULL);
	fputs("</g>\n", f);
}

static void draw_node(struct svg *s, int n)
{
	struct svg_box b = s->nodebox[n];
	char t[160];

	fprintf(s->f, "<g class=\"node\" data-node=\"%u\">\n", s->t->node[n].os);
	rect(s->f, b, 6, "#ffffff", "#868e96", 1.2, NULL);
	text(s->f, b.x + NODE_PAD, b.y + 16, 13, "font-weight=\"bold\" fill=\"" TEXT "\"",
	     svg_node_title(s, n, t, sizeof(t)));
	if (s->node[n].hp)
		draw_hp(s, n, b.x + NODE_PAD, b.y + NODE_HEAD, b.w - 2 * NODE_PAD);
	fputs("</g>\n", s->f);
}

static void draw_l3(struct svg *s, int l)
{
	struct svg_box b = s->l3box[l];
	int vm = s->l3vm[l];
	char t[160], fill[16];

	if (vm >= 0) {
		svg_tint(fill, sizeof(fill), svg_vm_colour(vm), 0.16);
		fprintf(s->f, "<g class=\"l3\" data-l3=\"%d\" data-vm=\"%d\">\n", l, s->in->vm[vm].vmid);
		rect(s->f, b, 4, fill, svg_vm_colour(vm), 2.5, NULL);
	} else {
		fprintf(s->f, "<g class=\"l3\" data-l3=\"%d\">\n", l);
		rect(s->f, b, 4, "#f1f3f5", "#adb5bd", 1, NULL);
	}
	text(s->f, b.x + L3_PAD, b.y + 12, 11, "fill=\"" DIM "\"", svg_l3_title(s, l, t, sizeof(t)));
	fputs("</g>\n", s->f);
}

static void draw_core(struct svg *s, int c)
{
	bool other = s->t->core[c].kind > 0 && s->nkind > 1;

	rect(s->f, s->corebox[c], 3, other ? E_CORE_FILL : "#ffffff", other ? "#748ffc" : "#ced4da",
	     1, other ? "stroke-dasharray=\"3 2\"" : NULL);
}

static const char *role_name(unsigned r, char *b, size_t n)
{
	static const char *const names[] = { "vcpu", "emulator", "irq", "vm", "host" };
	size_t len = 0;

	b[0] = '\0';
	if (r & R_VCPU)
		r &= R_VCPU | R_EMU | R_IRQ;
	else if (r & (R_EMU | R_IRQ))
		r &= R_EMU | R_IRQ;
	for (unsigned k = 0; k < 5; k++)
		if (r & (1u << k))
			len += (size_t)snprintf(b + len, n - len, "%s%s", len ? "+" : "", names[k]);
	if (!len)
		snprintf(b, n, "free");
	return b;
}

static void pu_title(struct svg *s, int i, const char *role)
{
	const struct pv_pu *p = &s->t->pu[i];
	const struct svg_pu *sp = &s->pu[i];

	fprintf(s->f, "<title>CPU %u: core %d, L3 #%d, node %d", p->os, p->core, p->l3, p->node);
	if (sp->vm >= 0) {
		fprintf(s->f, "; VM %d %s", s->in->vm[sp->vm].vmid, role);
		if (sp->vcpu >= 0)
			fprintf(s->f, " %d", sp->vcpu);
	} else if (sp->role & R_HOST) {
		fputs("; host housekeeping", s->f);
	}
	fputs("</title>\n", s->f);
}

/* Two lines in a cell: the PU number small on top, a label bold below. */
static void two_lines(struct svg *s, double cx, double y, const char *col, bool halo, unsigned os,
		      const char *label, double lsize)
{
	const char *h = halo ? " stroke=\"#ffffff\" stroke-width=\"2.5\" paint-order=\"stroke\"" : "";

	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"8.5\" text-anchor=\"middle\" fill=\"%s\"%s>%u</text>\n",
		cx, y + 9.5, col, h, os);
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" font-weight=\"bold\" text-anchor=\"middle\" "
		      "fill=\"%s\"%s>%s</text>\n", cx, y + 21.5, lsize, col, h, label);
}

static void pu_cell(struct svg *s, int i, struct svg_box b)
{
	const struct svg_pu *sp = &s->pu[i];
	unsigned os = s->t->pu[i].os;
	double cx = b.x + b.w / 2;
	char fill[32], lab[16];

	if (sp->role & R_VCPU) {
		rect(s->f, b, 2, svg_vm_colour(sp->vm), NULL, 0, NULL);
		if (sp->vcpu >= 0)
			snprintf(lab, sizeof(lab), "v%d", sp->vcpu);
		else
			snprintf(lab, sizeof(lab), "%d", s->in->vm[sp->vm].vmid);
		two_lines(s, cx, b.y, "#ffffff", false, os, lab, sp->vcpu >= 0 ? 11 : 9);
		return;
	}
	if (sp->role & (R_EMU | R_IRQ)) {
		snprintf(fill, sizeof(fill), "url(#hatch-%d)", s->in->vm[sp->vm].vmid);
		rect(s->f, b, 2, fill, svg_vm_colour(sp->vm), 1, NULL);
		snprintf(lab, sizeof(lab), "%s", (sp->role & R_EMU) && (sp->role & R_IRQ) ? "E+I" :
						 sp->role & R_EMU ? "E" : "I");
		two_lines(s, cx, b.y, TEXT, true, os, lab, 9.5);
		return;
	}
	if (sp->role & R_VMRES) {
		svg_tint(fill, sizeof(fill), svg_vm_colour(sp->vm), 0.35);
		rect(s->f, b, 2, fill, svg_vm_colour(sp->vm), 1, NULL);
	} else if (sp->role & R_HOST)
		rect(s->f, b, 2, HOST_FILL, HOST_STROKE, 1, NULL);
	else
		rect(s->f, b, 2, FREE_FILL, NULL, 0, NULL);
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" fill=\"" TEXT "\">%u</text>\n",
		cx, b.y + b.h / 2 + 3.5, os);
}

static int slot_of(const struct pv_core *c, unsigned os)
{
	for (int k = 0; k < c->npu; k++)
		if (c->pu[k] == os)
			return k;
	return -1;
}

static void draw_pu(struct svg *s, int i)
{
	const struct pv_pu *p = &s->t->pu[i];
	const struct svg_pu *sp = &s->pu[i];
	int k = slot_of(&s->t->core[p->core], p->os);
	struct svg_box cb = s->corebox[p->core];
	struct svg_box b = { cb.x + CORE_PAD + k * (s->pw + PU_GAP), cb.y + CORE_PAD, s->pw, PU_H };
	char role[48];

	if (k < 0 || cb.w <= 0)
		return;
	role_name(sp->role, role, sizeof(role));
	fprintf(s->f, "<g class=\"pu\" id=\"pu-%u\" data-pu=\"%u\" data-core=\"%d\" data-l3=\"%d\" "
		      "data-node=\"%d\" data-role=\"%s\"", p->os, p->os, p->core, p->l3, p->node, role);
	if (sp->vm >= 0)
		fprintf(s->f, " data-vm=\"%d\"", s->in->vm[sp->vm].vmid);
	if (sp->vcpu >= 0)
		fprintf(s->f, " data-vcpu=\"%d\"", sp->vcpu);
	fputs(">\n", s->f);
	pu_title(s, i, role);
	pu_cell(s, i, b);
	fputs("</g>\n", s->f);
}

static const char *kind_tag(enum pv_pci_kind k)
{
	switch (k) {
	case PV_PCI_GPU:
		return "GPU";
	case PV_PCI_AUDIO:
		return "audio";
	case PV_PCI_USB:
		return "USB";
	case PV_PCI_NVME:
		return "NVMe";
	case PV_PCI_NIC:
		return "NIC";
	case PV_PCI_STORAGE:
		return "disk";
	default:
		return "PCI";
	}
}

static void draw_dev(struct svg *s, int i)
{
	const struct pv_pcidev *d = &s->t->pci[i];
	struct svg_box b = s->devbox[i];
	int vm = s->devvm[i];
	char lab[160], fit[160], tag[32] = "";
	double lw;

	if (b.w <= 0)
		return;
	if (vm >= 0)
		snprintf(tag, sizeof(tag), "VM %d", s->in->vm[vm].vmid);
	lw = b.w - 48 - (vm >= 0 ? svg_text_w(tag, 10) + 10 : 6);
	fprintf(s->f, "<g class=\"dev\" data-bdf=\"%s\" data-kind=\"%s\"", d->bdf, pv_pci_kind_name(d->kind));
	if (vm >= 0)
		fprintf(s->f, " data-vm=\"%d\"", s->in->vm[vm].vmid);
	fputs(">\n<title>", s->f);
	svg_esc(s->f, d->bdf);
	fputc(' ', s->f);
	svg_esc(s->f, d->name);
	if (d->iommu_group >= 0)
		fprintf(s->f, " (IOMMU group %d)", d->iommu_group);
	fputs("</title>\n", s->f);
	rect(s->f, b, 3, "#f8f9fa", vm >= 0 ? svg_vm_colour(vm) : "#adb5bd", vm >= 0 ? 3 : 1, NULL);
	rect(s->f, (struct svg_box){ b.x, b.y, 42, b.h }, 3, d->kind == PV_PCI_GPU ? "#212529" : "#6c757d", NULL, 0, NULL);
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9.5\" font-weight=\"bold\" text-anchor=\"middle\" "
		      "fill=\"#ffffff\">%s</text>\n", b.x + 21, b.y + 13, kind_tag(d->kind));
	svg_fit(fit, sizeof(fit), svg_dev_label(lab, sizeof(lab), d), lw, 10);
	text(s->f, b.x + 48, b.y + 13.5, 10, "fill=\"" TEXT "\"", fit);
	if (vm >= 0)
		fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" font-weight=\"bold\" text-anchor=\"end\" "
			      "fill=\"%s\">%s</text>\n", b.x + b.w - 6, b.y + 13.5, svg_vm_colour(vm), tag);
	fputs("</g>\n", s->f);
}

static void draw_more(struct svg *s, int n)
{
	const struct svg_node *nd = &s->node[n];
	struct svg_box last = s->devbox[nd->dev[nd->ndev - 1]];
	char b[64];

	snprintf(b, sizeof(b), "+ %d more devices (pvepin topo)", nd->more);
	text(s->f, last.x + 4, last.y + DEV_H + DEV_GAP + 11, 10, "fill=\"" DIM "\"", b);
}

void svg_draw_host(struct svg *s)
{
	const struct pv_topo *t = s->t;

	for (int k = 0; k < s->npkg; k++)
		draw_pkg(s, k);
	for (int n = 0; n < t->nnode; n++)
		draw_node(s, n);
	for (int l = 0; l < t->nl3; l++)
		draw_l3(s, l);
	for (int c = 0; c < t->ncore; c++)
		draw_core(s, c);
	for (int i = 0; i < t->npu; i++)
		draw_pu(s, i);
	for (int i = 0; i < t->npci; i++)
		draw_dev(s, i);
	for (int n = 0; n < t->nnode; n++)
		if (s->node[n].more && s->node[n].ndev)
			draw_more(s, n);
	if (s->nloose)
		text(s->f, s->loosebox.x, s->loosebox.y + 12, 11, "font-weight=\"bold\" fill=\"" DIM "\"",
		     "I/O without NUMA locality");
}
