#include "conf/policy_keys.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/fsio.h"

#define PV_MAX_NODES 1024 /* Linux's MAX_NUMNODES at NODES_SHIFT 10 */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct word {
	const char *w;
	int v;
};

/* Keywords match in any case; what is stored is the canonical one. */
static int match(const struct word *t, size_t n, const char *v, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(v, t[i].w) == 0) {
			*out = t[i].v;
			return 0;
		}
	}
	return -1;
}

static int set_bool(bool *out, const char *v)
{
	static const struct word t[] = { { "yes", 1 }, { "true", 1 }, { "1", 1 },
					 { "no", 0 },  { "false", 0 }, { "0", 0 } };
	int b;

	if (match(t, NELEM(t), v, &b) < 0)
		return -1;
	*out = b;
	return 0;
}

static int set_mode(struct pv_policy *p, const char *v, struct pv_err *e)
{
	static const struct word t[] = { { "auto", PV_MODE_AUTO },
					 { "gaming", PV_MODE_GAMING },
					 { "workstation", PV_MODE_WORKSTATION },
					 { "manual", PV_MODE_MANUAL } };
	int m;

	if (match(t, NELEM(t), v, &m) < 0)
		return -1;
	p->mode = (enum pv_mode)m;
	return 0;
}

static int set_vcpus(struct pv_policy *p, const char *v, struct pv_err *e)
{
	long n;

	p->vcpus_count = 0;
	p->vcpus_n = 0;
	if (strcasecmp(v, "auto") == 0)
		return 0;
	if (*v && v[strspn(v, "0123456789")] == '\0') {
		if (pv_parse_long(v, 1, PV_MAX_CPUS, &n) < 0)
			return pv_fail(e, 0, "a count must be 1..%d", PV_MAX_CPUS);
		p->vcpus_count = (int)n;
		return 0;
	}
	if (pv_cpulist_parse_ordered(v, ',', PV_MAX_CPUS, p->vcpus_list, PV_MAX_CPUS,
				     &p->vcpus_n, e) < 0) {
		p->vcpus_n = 0;
		return -1;
	}
	p->vcpus_count = p->vcpus_n;
	return 0;
}

static int set_prefer(struct pv_policy *p, const char *v, struct pv_err *e)
{
	static const struct word t[] = { { "cache", PV_PREFER_CACHE },
					 { "frequency", PV_PREFER_FREQUENCY } };
	int m;

	if (match(t, NELEM(t), v, &m) < 0)
		return -1;
	p->prefer = (enum pv_prefer)m;
	return 0;
}

static int set_max_l3(struct pv_policy *p, const char *v, struct pv_err *e)
{
	long n;

	if (pv_parse_long(v, 1, 64, &n) < 0)
		return -1;
	p->max_l3 = (int)n;
	return 0;
}

static int set_smt(struct pv_policy *p, const char *v, struct pv_err *e)
{
	static const struct word t[] = { { "auto", PV_AUTO }, { "off", PV_OFF }, { "on", PV_ON } };
	int m;

	if (match(t, NELEM(t), v, &m) < 0)
		return -1;
	p->smt = (enum pv_tri)m;
	return 0;
}

static int set_hugepages(struct pv_policy *p, const char *v, struct pv_err *e)
{
	static const struct word t[] = { { "auto", PV_HP_AUTO }, { "1G", PV_HP_1G },
					 { "2M", PV_HP_2M }, { "off", PV_HP_OFF } };
	int m;

	if (match(t, NELEM(t), v, &m) < 0)
		return -1;
	p->hugepages = (enum pv_hp)m;
	return 0;
}

/* "auto" leaves *set NULL; a list allocates it into the policy at once so
 * pv_policy_free() owns it whatever happens next. */
static int set_list(hwloc_bitmap_t *set, const char *v, unsigned limit, struct pv_err *e)
{
	if (*set)
		hwloc_bitmap_free(*set);
	*set = NULL;
	if (strcasecmp(v, "auto") == 0)
		return 0;
	*set = hwloc_bitmap_alloc();
	if (!*set)
		return pv_fail(e, ENOMEM, "list");
	return pv_cpulist_parse(v, ',', limit, *set, e);
}

static int set_nodes(struct pv_policy *p, const char *v, struct pv_err *e)
{
	return set_list(&p->nodes, v, PV_MAX_NODES, e);
}

static int add_vfio(struct pv_policy *p, const char *tok, struct pv_err *e)
{
	struct pv_bdf b;
	char a[PV_BDF_LEN], o[PV_BDF_LEN];

	if (pv_bdf_parse(tok, true, &b, e) < 0)
		return -1;
	pv_bdf_format(&b, a);
	for (int i = 0; i < p->nvfio; i++) {
		pv_bdf_format(&p->vfio[i], o);
		if (strcmp(a, o) == 0)
			return pv_fail(e, 0, "%s listed twice", a);
	}
	if (p->nvfio >= PV_MAX_VFIO)
		return pv_fail(e, 0, "more than %d devices", PV_MAX_VFIO);
	p->vfio[p->nvfio++] = b;
	return 0;
}

static int set_vfio(struct pv_policy *p, const char *v, struct pv_err *e)
{
	char buf[256], *tok, *save = NULL;

	p->nvfio = 0;
	p->vfio_auto = strcasecmp(v, "auto") == 0;
	if (p->vfio_auto)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return pv_fail(e, 0, "too long");
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (add_vfio(p, tok, e) < 0)
			return -1;
	}
	if (p->nvfio == 0)
		return pv_fail(e, 0, "no device listed");
	return 0;
}

static int set_restore_driver(struct pv_policy *p, const char *v, struct pv_err *e)
{
	return set_bool(&p->restore_driver, v);
}

static int set_steer(struct pv_policy *p, const char *v, struct pv_err *e)
{
	return set_bool(&p->irq_steer, v);
}

static int set_irq_cpus(struct pv_policy *p, const char *v, struct pv_err *e)
{
	return set_list(&p->irq_cpus, v, PV_MAX_CPUS, e);
}

static int set_irqbalance(struct pv_policy *p, const char *v, struct pv_err *e)
{
	static const struct word t[] = { { "ban", PV_IRQB_BAN }, { "ignore", PV_IRQB_IGNORE } };
	int m;

	if (match(t, NELEM(t), v, &m) < 0)
		return -1;
	p->irqbalance = (enum pv_irqbalance)m;
	return 0;
}

static int set_isolate(struct pv_policy *p, const char *v, struct pv_err *e)
{
	return set_bool(&p->isolate, v);
}

static int set_governor(struct pv_policy *p, const char *v, struct pv_err *e)
{
	static const char *const t[] = { "performance", "powersave", "schedutil",
					 "ondemand", "conservative", "userspace" };

	if (strcasecmp(v, "keep") == 0) {
		p->governor[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < NELEM(t); i++) {
		if (strcasecmp(v, t[i]) == 0) {
			strcpy(p->governor, t[i]);
			return 0;
		}
	}
	return -1;
}

/* auto (-1) or a count 0..max */
static int set_auto_long(long *out, const char *v, long max)
{
	if (strcasecmp(v, "auto") == 0) {
		*out = -1;
		return 0;
	}
	return pv_parse_long(v, 0, max, out);
}

static int set_reserve_cores(struct pv_policy *p, const char *v, struct pv_err *e)
{
	long n;

	if (set_auto_long(&n, v, PV_MAX_CPUS) < 0)
		return -1;
	p->reserve_cores = (int)n;
	return 0;
}

static int set_reserve_mib(struct pv_policy *p, const char *v, struct pv_err *e)
{
	return set_auto_long(&p->reserve_mib, v, 1L << 30);
}

#define BOOLS "yes, no, true, false, 1, 0"

static const struct pv_policy_key keys[] = {
	{ PV_PK_MODE, "vm", "mode", "gaming, workstation, manual, auto", set_mode },
	{ PV_PK_VCPUS, "vm", "vcpus", "auto, a count, or a cpu list like 0-7,16-23", set_vcpus },
	{ PV_PK_PREFER, "vm", "prefer", "cache, frequency", set_prefer },
	{ PV_PK_MAX_L3, "vm", "max_l3", "1..64", set_max_l3 },
	{ PV_PK_SMT, "vm", "smt", "off, on, auto", set_smt },
	{ PV_PK_HUGEPAGES, "memory", "hugepages", "auto, 1G, 2M, off", set_hugepages },
	{ PV_PK_NODES, "memory", "nodes", "auto or a node list like 0,1", set_nodes },
	{ PV_PK_VFIO, "devices", "vfio", "auto or PCI addresses like 0000:81:00.0, comma or space separated", set_vfio },
	{ PV_PK_RESTORE_DRIVER, "devices", "restore_driver", BOOLS, set_restore_driver },
	{ PV_PK_STEER, "irq", "steer", BOOLS, set_steer },
	{ PV_PK_IRQ_CPUS, "irq", "cpus", "auto or a cpu list like 32-39", set_irq_cpus },
	{ PV_PK_IRQBALANCE, "irq", "irqbalance", "ban, ignore", set_irqbalance },
	{ PV_PK_ISOLATE, "host", "isolate", BOOLS, set_isolate },
	{ PV_PK_GOVERNOR, "host", "governor",
	  "performance, powersave, schedutil, ondemand, conservative, userspace, keep", set_governor },
	{ PV_PK_RESERVE_CORES, "host", "reserve_cores", "auto or a count of cores (0: none)", set_reserve_cores },
	{ PV_PK_RESERVE_MIB, "memory", "reserve", "auto or MiB per node (0: none)", set_reserve_mib },
};

static const struct {
	const char *name, *keys;
} sections[] = {
	{ "vm", "mode, vcpus, prefer, max_l3, smt" },
	{ "memory", "hugepages, nodes, reserve" },
	{ "devices", "vfio, restore_driver" },
	{ "irq", "steer, cpus, irqbalance" },
	{ "host", "isolate, governor, reserve_cores" },
};

const struct pv_policy_key *pv_policy_key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < NELEM(keys); i++) {
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

const char *pv_policy_section_keys(const char *section)
{
	for (size_t i = 0; i < NELEM(sections); i++) {
		if (strcmp(sections[i].name, section) == 0)
			return sections[i].keys;
	}
	return NULL;
}

bool pv_policy_section_known(const char *section)
{
	return pv_policy_section_keys(section) != NULL;
}
