/* What the picture shows, before where: which VM holds each PU and in what
 * role, which cores make each L3, which L3s each node, which nodes each
 * package, which devices hang where, and what the core kinds are called. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "draw/svg_internal.h"

static int pu_index(const struct pv_topo *t, unsigned os)
{
	for (int i = 0; i < t->npu; i++)
		if (t->pu[i].os == os)
			return i;
	return -1;
}

/* Give PU os to VM v in role r unless another VM holds it already. */
static void claim(struct svg *s, int v, unsigned os, unsigned r, int vcpu)
{
	int i = pu_index(s->t, os);
	struct svg_pu *p;

	if (i < 0)
		return;
	p = &s->pu[i];
	if (p->vm >= 0 && p->vm != v)
		return;
	p->vm = v;
	p->role |= r;
	if (vcpu >= 0)
		p->vcpu = vcpu;
}

static void claim_set(struct svg *s, int v, hwloc_const_bitmap_t set, unsigned r)
{
	unsigned os;

	if (!set)
		return;
	hwloc_bitmap_foreach_begin(os, set)
		claim(s, v, os, r, -1);
	hwloc_bitmap_foreach_end();
}

static void vm_roles(struct svg *s, int v)
{
	const struct pv_plan *p = s->in->vm[v].plan;

	for (int k = 0; k < p->nvcpu; k++)
		claim(s, v, p->vcpus[k].pu, R_VCPU, p->vcpus[k].vcpu);
	if (!p->nvcpu) { /* only the CPU sets are known (ledger) */
		bool some = p->vcpu_cpus && !hwloc_bitmap_iszero(p->vcpu_cpus);

		claim_set(s, v, some ? p->vcpu_cpus : p->vm_cpus, R_VCPU);
	}
	claim_set(s, v, p->emulator, R_EMU);
	claim_set(s, v, p->irq_cpus, R_IRQ);
	claim_set(s, v, p->vm_cpus, R_VMRES);
	for (int d = 0; d < p->ndev; d++)
		for (int i = 0; i < s->t->npci; i++)
			if (!strcmp(s->t->pci[i].bdf, p->dev[d].bdf) && s->devvm[i] < 0)
				s->devvm[i] = v;
}

/* Housekeeping goes where every isolating VM allows it and no VM is. */
static int host_roles(struct svg *s, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t host = hwloc_bitmap_alloc();
	bool any = false;

	if (!host)
		return pv_fail(e, ENOMEM, "svg");
	for (int v = 0; v < s->in->nvm; v++) {
		hwloc_const_bitmap_t h = s->in->vm[v].plan->host_cpus;

		if (!h || hwloc_bitmap_iszero(h))
			continue;
		if (any)
			hwloc_bitmap_and(host, host, h);
		else
			hwloc_bitmap_copy(host, h);
		any = true;
	}
	for (int i = 0; any && i < s->t->npu; i++)
		if (s->pu[i].vm < 0 && hwloc_bitmap_isset(host, s->t->pu[i].os))
			s->pu[i].role |= R_HOST;
	return 0;
}

static int roles(struct svg *s, struct pv_err *e)
{
	for (int i = 0; i < s->t->npu; i++)
		s->pu[i] = (struct svg_pu){ .vm = -1, .vcpu = -1 };
	for (int i = 0; i < s->t->nl3; i++)
		s->l3vm[i] = -1;
	for (int i = 0; i < s->t->npci; i++)
		s->devvm[i] = -1;
	for (int v = 0; v < s->in->nvm; v++)
		vm_roles(s, v);
	for (int i = 0; i < s->t->npu; i++)
		if ((s->pu[i].role & R_VCPU) && s->t->pu[i].l3 >= 0 && s->l3vm[s->t->pu[i].l3] < 0)
			s->l3vm[s->t->pu[i].l3] = s->pu[i].vm;
	return host_roles(s, e);
}

static int group_cores(struct svg *s, struct pv_err *e)
{
	const struct pv_topo *t = s->t;

	for (int l = 0; l < t->nl3; l++) {
		s->l3core[l] = calloc((size_t)t->l3[l].ncores + 1, sizeof(int));
		if (!s->l3core[l])
			return pv_fail(e, ENOMEM, "svg");
	}
	for (int c = 0; c < t->ncore; c++) {
		int l = t->core[c].l3;

		if (l >= 0 && s->nl3core[l] < t->l3[l].ncores)
			s->l3core[l][s->nl3core[l]++] = c;
	}
	return 0;
}

static int node_of_l3(const struct pv_topo *t, int l)
{
	int i = t->l3[l].node >= 0 ? pv_topo_node_index(t, (unsigned)t->l3[l].node) : -1;

	return i < 0 ? 0 : i;
}

static int pkg_of_node(const struct svg *s, int n)
{
	hwloc_obj_t o = hwloc_get_numanode_obj_by_os_index(s->t->h, s->t->node[n].os);
	hwloc_obj_t p = o ? hwloc_get_ancestor_obj_by_type(s->t->h, HWLOC_OBJ_PACKAGE, o) : NULL;

	if (!p || (int)p->logical_index >= s->npkg)
		return 0;
	return (int)p->logical_index;
}

static int group_l3s(struct svg *s, struct pv_err *e)
{
	const struct pv_topo *t = s->t;

	for (int n = 0; n < t->nnode; n++) {
		s->node[n].l3 = calloc((size_t)t->nl3 + 1, sizeof(int));
		s->node[n].dev = calloc((size_t)t->npci + 1, sizeof(int));
		if (!s->node[n].l3 || !s->node[n].dev)
			return pv_fail(e, ENOMEM, "svg");
		s->node[n].first_cpu = hwloc_bitmap_iszero(t->node[n].cpuset) ?
					       INT_MAX : hwloc_bitmap_first(t->node[n].cpuset);
	}
	for (int l = 0; l < t->nl3; l++) {
		struct svg_node *nd = &s->node[node_of_l3(t, l)];

		nd->l3[nd->nl3++] = l;
	}
	return 0;
}

static int node_cmp(const struct svg *s, int a, int b)
{
	if (s->node[a].first_cpu != s->node[b].first_cpu)
		return s->node[a].first_cpu < s->node[b].first_cpu ? -1 : 1;
	return s->t->node[a].os < s->t->node[b].os ? -1 : 1;
}

static int group_nodes(struct svg *s, struct pv_err *e)
{
	const struct pv_topo *t = s->t;
	hwloc_obj_t o = NULL;

	s->npkg = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PACKAGE);
	if (s->npkg < 1)
		s->npkg = 1;
	s->pkg = calloc((size_t)s->npkg, sizeof(*s->pkg));
	s->pkgbox = calloc((size_t)s->npkg, sizeof(*s->pkgbox));
	if (!s->pkg || !s->pkgbox)
		return pv_fail(e, ENOMEM, "svg");
	for (int k = 0; k < s->npkg; k++) {
		o = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_PACKAGE, o);
		s->pkg[k].os = o ? o->os_index : (unsigned)k;
		if (!(s->pkg[k].node = calloc((size_t)t->nnode, sizeof(int))))
			return pv_fail(e, ENOMEM, "svg");
	}
	for (int n = 0; n < t->nnode; n++) {
		struct svg_pkg *p = &s->pkg[s->node[n].pkg = pkg_of_node(s, n)];
		int k = p->nnode++;

		/* in a package, nodes by their first CPU; memory-only ones last */
		for (; k > 0 && node_cmp(s, p->node[k - 1], n) > 0; k--)
			p->node[k] = p->node[k - 1];
		p->node[k] = n;
	}
	return 0;
}

static int kind_rank(enum pv_pci_kind k)
{
	static const int rank[] = { [PV_PCI_GPU] = 0, [PV_PCI_AUDIO] = 1, [PV_PCI_NVME] = 2,
				    [PV_PCI_NIC] = 3, [PV_PCI_USB] = 4, [PV_PCI_STORAGE] = 5,
				    [PV_PCI_OTHER] = 6, [PV_PCI_BRIDGE] = 7 };

	return (unsigned)k < sizeof(rank) / sizeof(rank[0]) ? rank[k] : 8;
}

static bool shown(const struct svg *s, int i)
{
	enum pv_pci_kind k = s->t->pci[i].kind;

	return s->devvm[i] >= 0 || k == PV_PCI_GPU || k == PV_PCI_USB || k == PV_PCI_NVME ||
	       k == PV_PCI_NIC;
}

static void add_dev(const struct svg *s, int *list, int *n, int i)
{
	int k = (*n)++;
	const struct pv_pcidev *d = &s->t->pci[i];

	for (; k > 0; k--) {
		const struct pv_pcidev *p = &s->t->pci[list[k - 1]];

		if (kind_rank(p->kind) < kind_rank(d->kind) ||
		    (p->kind == d->kind && strcmp(p->bdf, d->bdf) < 0))
			break;
		list[k] = list[k - 1];
	}
	list[k] = i;
}

static int group_devs(struct svg *s, struct pv_err *e)
{
	const struct pv_topo *t = s->t;

	s->loose = calloc((size_t)t->npci + 1, sizeof(int));
	if (!s->loose)
		return pv_fail(e, ENOMEM, "svg");
	for (int i = 0; i < t->npci; i++) {
		int n = t->pci[i].node >= 0 ? pv_topo_node_index(t, (unsigned)t->pci[i].node) : -1;

		if (!shown(s, i))
			continue;
		if (n < 0)
			add_dev(s, s->loose, &s->nloose, i);
		else
			add_dev(s, s->node[n].dev, &s->node[n].ndev, i);
	}
	for (int n = 0; n < t->nnode; n++)
		if (s->node[n].ndev > MAX_DEV_NODE) {
			s->node[n].more = s->node[n].ndev - MAX_DEV_NODE;
			s->node[n].ndev = MAX_DEV_NODE;
		}
	return 0;
}

static const char *core_type_label(const char *v)
{
	if (!strcmp(v, "IntelCore"))
		return "P-core (IntelCore)";
	if (!strcmp(v, "IntelAtom"))
		return "E-core (IntelAtom)";
	if (!strcmp(v, "AMDPerformance"))
		return "full core (AMDPerformance, e.g. Zen5)";
	if (!strcmp(v, "AMDEfficiency"))
		return "compact core (AMDEfficiency, e.g. Zen5c)";
	return v;
}

/* pvepin's kind k is hwloc's kind nkinds-1-k (0 = most performant). */
static void kind_labels(struct svg *s)
{
	const struct pv_topo *t = s->t;

	s->nkind = t->nkinds > 1 ? (t->nkinds < 8 ? t->nkinds : 8) : 0;
	for (int k = 0; k < s->nkind; k++) {
		struct hwloc_info_s *inf;
		unsigned ninf = 0;
		const char *type = NULL, *mhz = NULL;

		snprintf(s->kind[k], sizeof(s->kind[k]), "%s", k ? "efficiency kind" : "performance kind");
		if (hwloc_cpukinds_get_info(t->h, (unsigned)(t->nkinds - 1 - k), NULL, NULL, &ninf,
					    &inf, 0) < 0)
			continue;
		for (unsigned i = 0; i < ninf; i++) {
			if (!strcmp(inf[i].name, "CoreType"))
				type = inf[i].value;
			if (!strcmp(inf[i].name, "FrequencyMaxMHz"))
				mhz = inf[i].value;
		}
		if (type)
			snprintf(s->kind[k], sizeof(s->kind[k]), "%s", core_type_label(type));
		else if (mhz)
			snprintf(s->kind[k], sizeof(s->kind[k]), "%s core (max %s MHz)",
				 k ? "E" : "P", mhz);
	}
}

/* A node gets a hugepage line when a VM takes pages there or it has a pool. */
static void hp_lines(struct svg *s)
{
	for (int n = 0; n < s->t->nnode; n++) {
		const struct pv_node *nd = &s->t->node[n];

		s->node[n].hp = nd->hp1g_total > 0 || nd->hp2m_total > 0;
		for (int v = 0; v < s->in->nvm; v++) {
			const struct pv_plan *p = s->in->vm[v].plan;

			for (int k = 0; p->hp_kb && k < p->npages; k++)
				if (p->pages[k].node == (int)nd->os && p->pages[k].count > 0)
					s->node[n].hp = true;
		}
	}
}

static int alloc_all(struct svg *s, struct pv_err *e)
{
	const struct pv_topo *t = s->t;
	size_t np = (size_t)t->npu + 1, nl = (size_t)t->nl3 + 1, nc = (size_t)t->ncore + 1;
	size_t nn = (size_t)t->nnode + 1, nd = (size_t)t->npci + 1;

	s->pu = calloc(np, sizeof(*s->pu));
	s->l3vm = calloc(nl, sizeof(int));
	s->devvm = calloc(nd, sizeof(int));
	s->l3core = calloc(nl, sizeof(int *));
	s->nl3core = calloc(nl, sizeof(int));
	s->node = calloc(nn, sizeof(*s->node));
	s->corebox = calloc(nc, sizeof(*s->corebox));
	s->l3box = calloc(nl, sizeof(*s->l3box));
	s->nodebox = calloc(nn, sizeof(*s->nodebox));
	s->devbox = calloc(nd, sizeof(*s->devbox));
	if (!s->pu || !s->l3vm || !s->devvm || !s->l3core || !s->nl3core || !s->node ||
	    !s->corebox || !s->l3box || !s->nodebox || !s->devbox)
		return pv_fail(e, ENOMEM, "svg");
	return 0;
}

int svg_model(struct svg *s, struct pv_err *e)
{
	unsigned maxos = 0;

	if (alloc_all(s, e) < 0 || roles(s, e) < 0 || group_cores(s, e) < 0 ||
	    group_l3s(s, e) < 0 || group_nodes(s, e) < 0 || group_devs(s, e) < 0)
		return -1;
	kind_labels(s);
	hp_lines(s);
	for (int i = 0; i < s->t->npu; i++)
		if (s->t->pu[i].os > maxos)
			maxos = s->t->pu[i].os;
	s->pw = maxos >= 1000 ? PU_W + 6 : PU_W;
	return 0;
}

void svg_model_free(struct svg *s)
{
	for (int l = 0; s->l3core && l < s->t->nl3; l++)
		free(s->l3core[l]);
	for (int n = 0; s->node && n < s->t->nnode; n++) {
		free(s->node[n].l3);
		free(s->node[n].dev);
	}
	for (int k = 0; s->pkg && k < s->npkg; k++)
		free(s->pkg[k].node);
	free(s->pu);
	free(s->l3vm);
	free(s->devvm);
	free(s->l3core);
	free(s->nl3core);
	free(s->node);
	free(s->pkg);
	free(s->loose);
	free(s->corebox);
	free(s->l3box);
	free(s->nodebox);
	free(s->pkgbox);
	free(s->devbox);
}

/* Company suffixes say nothing in a box 250 px wide. */
static void drop_words(char *s)
{
	static const char *const words[] = { " Corporation", ", Inc.", " Inc.", " Co., Ltd.",
					     " Co., Ltd", " Technology", " Semiconductor" };

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		char *p;
		size_t n = strlen(words[w]);

		while ((p = strstr(s, words[w])))
			memmove(p, p + n, strlen(p + n) + 1);
	}
}

/* "NVIDIA Corporation AD102 [GeForce RTX 4090]" -> "NVIDIA GeForce RTX 4090":
 * the bracketed marketing name when there is one, vendor's first word. */
static void short_name(char *buf, size_t n, const char *name)
{
	const char *lb = strrchr(name, '['), *rb = lb ? strchr(lb, ']') : NULL;
	const char *sp = strchr(name, ' ');
	int vlen = sp ? (int)(sp - name) : (int)strlen(name);

	if (!strncmp(name, "Advanced Micro Devices", 22)) {
		name = "AMD";
		vlen = 3;
		lb = rb = NULL;
	}
	if (lb && rb && rb[1] == '\0' && lb > name + vlen) {
		snprintf(buf, n, "%.*s %.*s", vlen, name, (int)(rb - lb - 1), lb + 1);
		return;
	}
	snprintf(buf, n, "%s", name);
	drop_words(buf);
}

const char *svg_dev_label(char *buf, size_t n, const struct pv_pcidev *d)
{
	char nm[128];
	const char *bdf = strncmp(d->bdf, "0000:", 5) ? d->bdf : d->bdf + 5;

	short_name(nm, sizeof(nm), d->name);
	snprintf(buf, n, "%s%s%s", bdf, nm[0] ? " " : "", nm);
	return buf;
}
