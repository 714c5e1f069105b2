/* The PVE VM config, read the way qemu-server's parse_vm_config reads it:
 * `key: value` lines, '#' lines are the description, and the current config
 * ends at the first [section] (snapshots, [PENDING], [special:cloudinit]).
 *
 * A key given twice: the last one wins, as in PVE (its parser assigns into a
 * hash). Each handler therefore resets its slot before filling it.
 * Lines PVE itself would not parse, and keys pvepin does not use, are
 * ignored; bad values of the keys pvepin uses are errors. */
#include "conf/vmconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"
#include "conf/cpulist.h"
#include "conf/pcimap.h"
#include "conf/propstr.h"
#include "conf/qemuargs.h"

#define MEMORY_MAX_MB (1L << 30) /* 1 PiB: only guards the arithmetic */
#define PV_MAPPING_MAX sizeof(((struct pv_hostpci *)0)->mapping)

static void bitmap_reset(hwloc_bitmap_t *b)
{
	if (*b)
		hwloc_bitmap_free(*b);
	*b = NULL;
}

/* Allocate *b and parse a cpu/node list into it; *b is owned by the conf
 * from the start so pv_vmconf_free() releases it on any error. */
static int parse_set(hwloc_bitmap_t *b, const char *s, char sep, struct pv_err *e)
{
	bitmap_reset(b);
	*b = hwloc_bitmap_alloc();
	if (!*b)
		return pv_fail(e, ENOMEM, "cpu list");
	return pv_cpulist_parse(s, sep, PV_MAX_CPUS, *b, e);
}

/* PVE's pve-configid, which mapping names are. */
static int valid_configid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n >= PV_MAPPING_MAX || !isalpha((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	}
	return 1;
}

/* romfile is looked up under /usr/share/kvm: a plain file name only. */
static int check_romfile(const char *s, struct pv_err *e)
{
	if (!*s)
		return pv_fail(e, 0, "romfile is empty");
	if (strlen(s) > 255)
		return pv_fail(e, 0, "romfile longer than 255 characters");
	if (strchr(s, '/') || strstr(s, ".."))
		return pv_fail(e, 0, "romfile '%.64s' must be a file name in /usr/share/kvm, without '/' or '..'", s);
	for (const char *p = s; *p; p++) {
		if (iscntrl((unsigned char)*p))
			return pv_fail(e, 0, "romfile contains a control character");
	}
	return 0;
}

static int parse_host_list(struct pv_hostpci *h, const char *host, struct pv_err *e)
{
	_cleanup_free_ char *copy = strdup(host);
	char *item, *save = NULL;

	if (!copy)
		return pv_fail(e, ENOMEM, "hostpci");
	for (item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		if (h->nbdf >= PV_MAX_FUNCS)
			return pv_fail(e, 0, "more than %d devices in host=", PV_MAX_FUNCS);
		if (pv_bdf_parse(item, true, &h->bdf[h->nbdf], e) < 0)
			return -1;
		h->nbdf++;
	}
	if (h->nbdf == 0)
		return pv_fail(e, 0, "host= lists no device");
	return 0;
}

static int opt_bool(const struct pv_props *pr, const char *key, bool *out, struct pv_err *e)
{
	const char *v = pv_props_get(pr, key);

	*out = false;
	if (v && pv_parse_bool(v, out) < 0)
		return pv_fail(e, 0, "%s=%.32s is not a boolean (allowed: 0, 1)", key, v);
	return 0;
}

/* mdev= and driver= as PCI.pm's $hostpci_fmt allows them. */
static int hostpci_driver(struct pv_hostpci *h, const struct pv_props *pr, struct pv_err *e)
{
	const char *mdev = pv_props_get(pr, "mdev");
	const char *drv = pv_props_get(pr, "driver");

	if (drv && strcmp(drv, "vfio") && strcmp(drv, "keep"))
		return pv_fail(e, 0, "driver=%.32s (allowed: vfio, keep)", drv);
	h->keep = drv && !strcmp(drv, "keep");
	if (!mdev)
		return 0;
	if (!*mdev || strlen(mdev) >= sizeof(h->mdev) || strpbrk(mdev, "/.:"))
		return pv_fail(e, 0, "mdev=%.64s is not a mediated device type", mdev);
	/* PCI.pm parse_hostpci */
	if (h->nbdf > 1)
		return pv_fail(e, 0, "cannot use mediated device with multifunction device");
	strcpy(h->mdev, mdev);
	return 0;
}

static int hostpci_fill(struct pv_hostpci *h, const struct pv_props *pr, struct pv_err *e)
{
	const char *host = pv_props_get(pr, "host");
	const char *map = pv_props_get(pr, "mapping");
	const char *rom = pv_props_get(pr, "romfile");

	/* PCI.pm parse_hostpci's words */
	if (host && map)
		return pv_fail(e, 0, "Cannot set both 'host' and 'mapping'");
	if (!host && !map)
		return pv_fail(e, 0, "Either 'host' or 'mapping' must be set (a PCI address like 0000:81:00.0, or mapping=NAME)");
	if (host && parse_host_list(h, host, e) < 0)
		return -1;
	if (map && !valid_configid(map))
		return pv_fail(e, 0, "bad mapping name '%.64s' (2 to 63 letters, digits, '_' or '-', starting with a letter)", map);
	if (map)
		strcpy(h->mapping, map);
	if (opt_bool(pr, "pcie", &h->pcie, e) < 0 || opt_bool(pr, "x-vga", &h->xvga, e) < 0)
		return -1;
	if (rom && check_romfile(rom, e) < 0)
		return -1;
	if (rom)
		strcpy(h->romfile, rom);
	if (hostpci_driver(h, pr, e) < 0)
		return -1;
	h->present = true;
	return 0;
}

static int key_hostpci(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	struct pv_hostpci *h = &c->hostpci[idx];
	struct pv_props pr;
	int r = -1;

	memset(h, 0, sizeof(*h));
	if (pv_props_split(val, "host", &pr, e) == 0)
		r = hostpci_fill(h, &pr, e);
	pv_props_free(&pr);
	if (r < 0)
		memset(h, 0, sizeof(*h));
	return r;
}

static void gnuma_reset(struct pv_gnuma *g)
{
	bitmap_reset(&g->cpus);
	bitmap_reset(&g->hostnodes);
	memset(g, 0, sizeof(*g));
}

static int gnuma_policy(struct pv_gnuma *g, const char *v, struct pv_err *e)
{
	if (strcmp(v, "bind") && strcmp(v, "preferred") && strcmp(v, "interleave"))
		return pv_fail(e, 0, "policy=%.32s (allowed: bind, preferred, interleave)", v);
	strcpy(g->policy, v);
	return 0;
}

static int gnuma_fill(struct pv_gnuma *g, const struct pv_props *pr, struct pv_err *e)
{
	const char *cpus = pv_props_get(pr, "cpus");
	const char *nodes = pv_props_get(pr, "hostnodes");
	const char *mem = pv_props_get(pr, "memory");
	const char *pol = pv_props_get(pr, "policy");

	if (!cpus)
		return pv_fail(e, 0, "cpus= missing (e.g. cpus=0-7)");
	if (parse_set(&g->cpus, cpus, ';', e) < 0)
		return pv_wrap(e, "cpus");
	if (nodes && parse_set(&g->hostnodes, nodes, ';', e) < 0)
		return pv_wrap(e, "hostnodes");
	if (mem && pv_parse_long(mem, 1, MEMORY_MAX_MB, &g->memory_mb) < 0)
		return pv_fail(e, 0, "memory=%.32s is not a size in MiB", mem);
	if (pol && gnuma_policy(g, pol, e) < 0)
		return -1;
	g->present = true;
	return 0;
}

static int key_numa_n(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	struct pv_gnuma *g = &c->gnuma[idx];
	struct pv_props pr;
	int r = -1;

	gnuma_reset(g);
	if (pv_props_split(val, NULL, &pr, e) == 0)
		r = gnuma_fill(g, &pr, e);
	pv_props_free(&pr);
	return r;
}

static int key_numa(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	if (pv_parse_bool(val, &c->numa) < 0)
		return pv_fail(e, 0, "'%.32s' is not a boolean (allowed: 0, 1)", val);
	return 0;
}

static int key_affinity(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	return parse_set(&c->affinity, val, ',', e);
}

static int key_memory(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	struct pv_props pr;
	const char *cur;
	int r = -1;

	if (pv_props_split(val, "current", &pr, e) < 0)
		goto out;
	cur = pv_props_get(&pr, "current");
	if (!cur) {
		pv_fail(e, 0, "current= missing");
		goto out;
	}
	if (pv_parse_long(cur, 16, MEMORY_MAX_MB, &c->memory_mb) < 0) {
		pv_fail(e, 0, "'%.32s' is not a size in MiB (16 or more)", cur);
		goto out;
	}
	r = 0;
out:
	pv_props_free(&pr);
	return r;
}

static int key_hugepages(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	if (strcmp(val, "any") == 0)
		c->hugepages_kb = -1;
	else if (strcmp(val, "2") == 0)
		c->hugepages_kb = PV_HP_2M_KB;
	else if (strcmp(val, "1024") == 0)
		c->hugepages_kb = PV_HP_1G_KB;
	else
		return pv_fail(e, 0, "'%.32s' (allowed: any, 2, 1024)", val);
	return 0;
}

static int parse_count(const char *val, int *out, struct pv_err *e)
{
	long v;

	if (pv_parse_long(val, 1, PV_MAX_CPUS, &v) < 0)
		return pv_fail(e, 0, "'%.32s' is not a number 1..%d", val, PV_MAX_CPUS);
	*out = (int)v;
	return 0;
}

static int key_cores(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	return parse_count(val, &c->cores, e);
}

static int key_sockets(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	return parse_count(val, &c->sockets, e);
}

static int key_vcpus(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	return parse_count(val, &c->vcpus, e);
}

static bool flags_have_pdpe1gb(const char *flags)
{
	_cleanup_free_ char *copy = strdup(flags);
	char *f, *save = NULL;

	if (!copy)
		return false;
	for (f = strtok_r(copy, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
		if (strcmp(f, "+pdpe1gb") == 0)
			return true;
	}
	return false;
}

static int key_cpu(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	struct pv_props pr;
	const char *flags;
	int r = -1;

	c->cpu[0] = '\0';
	c->cpu_pdpe1gb = false;
	if (strlen(val) >= sizeof(c->cpu))
		return pv_fail(e, 0, "longer than %zu characters", sizeof(c->cpu) - 1);
	if (pv_props_split(val, "cputype", &pr, e) < 0)
		goto out;
	flags = pv_props_get(&pr, "flags");
	c->cpu_pdpe1gb = flags && flags_have_pdpe1gb(flags);
	strcpy(c->cpu, val);
	r = 0;
out:
	pv_props_free(&pr);
	return r;
}

/* Only shown to people, so an overlong name is cut, not refused. */
static int key_name(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	snprintf(c->name, sizeof(c->name), "%s", val);
	return 0;
}

static int key_args(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	return pv_args_parse_smp(val, &c->smp, e);
}

static int key_bool(bool *out, const char *val, struct pv_err *e)
{
	if (pv_parse_bool(val, out) < 0)
		return pv_fail(e, 0, "'%.32s' is not a boolean (allowed: 0, 1)", val);
	return 0;
}

static int key_template(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	return key_bool(&c->template, val, e);
}

static int key_kvm(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	return key_bool(&c->kvm, val, e);
}

/* QemuServer.pm parse_hotplug_features: a list of features, or 1/0. */
static int key_hotplug(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e)
{
	_cleanup_free_ char *copy = strdup(val);
	char *f, *save = NULL;

	c->hotplug_memory = false;
	if (!copy)
		return pv_fail(e, ENOMEM, "hotplug");
	if (!strcmp(val, "1") || !strcmp(val, "0"))
		return 0; /* 1 = network,disk,usb: no memory */
	for (f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		if (!strcmp(f, "memory"))
			c->hotplug_memory = true;
		else if (strcmp(f, "network") && strcmp(f, "disk") && strcmp(f, "cpu") &&
			 strcmp(f, "usb") && strcmp(f, "cloudinit"))
			return pv_fail(e, 0, "unable to parse hotplug option '%.32s'", f);
	}
	return 0;
}

typedef int (*key_fn)(struct pv_vmconf *c, int idx, const char *val, struct pv_err *e);

static const struct {
	const char *name;
	int nidx; /* 0: the key takes no index; else indexes 0..nidx-1 */
	key_fn fn;
} keys[] = {
	{ "hostpci", PV_MAX_HOSTPCI, key_hostpci },
	{ "numa", PV_MAX_GNUMA, key_numa_n },
	{ "numa", 0, key_numa },
	{ "affinity", 0, key_affinity },
	{ "memory", 0, key_memory },
	{ "hugepages", 0, key_hugepages },
	{ "cores", 0, key_cores },
	{ "sockets", 0, key_sockets },
	{ "vcpus", 0, key_vcpus },
	{ "cpu", 0, key_cpu },
	{ "name", 0, key_name },
	{ "args", 0, key_args },
	{ "template", 0, key_template },
	{ "kvm", 0, key_kvm },
	{ "hotplug", 0, key_hotplug },
};

struct line {
	char key[32];   /* letters, '_' and '-' */
	const char *idx; /* the digits after them, "" if none */
	char *val;      /* trimmed */
};

/* Split a line as qemu-server's parse_vm_config does,
 * /^([a-z][a-z_\-]*\d*):\s*(.+?)\s*$/; 0 if it does not match (PVE skips
 * such a line with "unable to parse config"; pvepin refuses the config,
 * since what it cannot read may be what it should have done). */
static int split_line(char *s, struct line *l)
{
	size_t na = 0, nd;
	char *end;

	if (*s < 'a' || *s > 'z')
		return 0;
	while ((s[na] >= 'a' && s[na] <= 'z') || s[na] == '_' || s[na] == '-')
		na++;
	nd = strspn(s + na, "0123456789");
	if (s[na + nd] != ':' || na >= sizeof(l->key))
		return 0;
	memcpy(l->key, s, na);
	l->key[na] = '\0';
	s[na + nd] = '\0';
	l->idx = s + na;
	l->val = s + na + nd + 1;
	while (isspace((unsigned char)*l->val))
		l->val++;
	end = l->val + strlen(l->val);
	while (end > l->val && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*l->val) /* (.+?) needs a character, a blank one will do */
		return s[na + nd + 1] ? 1 : 0;
	return 1;
}

static int parse_index(const char *s, int n, int *out, struct pv_err *e)
{
	long v;

	if ((s[0] == '0' && s[1]) || pv_parse_long(s, 0, n - 1, &v) < 0)
		return pv_fail(e, 0, "index %.16s out of range (0..%d)", s, n - 1);
	*out = (int)v;
	return 0;
}

static int handle_line(struct pv_vmconf *c, char *s, struct pv_err *e)
{
	struct line l;
	int idx = 0;

	if (s[strspn(s, " \t\r\f\v")] == '\0')
		return 0; /* parse_vm_config: next if $line =~ m/^\s*$/ */
	if (!split_line(s, &l))
		return pv_fail(e, 0, "vm %d - unable to parse config (not a `key: value` line)",
			       c->vmid);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, l.key) || !keys[i].nidx != !*l.idx)
			continue;
		if (keys[i].nidx && parse_index(l.idx, keys[i].nidx, &idx, e) < 0)
			return -1;
		return keys[i].fn(c, idx, l.val, e);
	}
	return 0;
}

int pv_vmconf_parse_string(const char *text, const char *name, int vmid,
			   struct pv_vmconf *c, struct pv_err *e)
{
	_cleanup_free_ char *buf = strdup(text);
	char *s, *nl;
	int lineno = 0;

	memset(c, 0, sizeof(*c));
	c->vmid = vmid;
	c->memory_mb = 512;
	c->cores = 1;
	c->sockets = 1;
	c->kvm = true;
	if (!buf)
		return pv_fail(e, ENOMEM, "%s", name);
	for (s = buf; s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		lineno++;
		if (*s == '[')
			break;
		if (*s == '#')
			continue;
		if (handle_line(c, s, e) < 0) {
			pv_vmconf_free(c);
			return pv_wrap(e, "%s:%d: %s", name, lineno, s);
		}
		for (int i = 0; i < PV_MAX_HOSTPCI; i++)
			if (c->hostpci[i].present && !c->hostpci[i].line)
				c->hostpci[i].line = lineno;
	}
	return 0;
}

int pv_vmconf_load(int vmid, const char *explicit_path, struct pv_vmconf *c,
		   struct pv_err *e)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX];
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	if (vmid < PV_VMID_MIN || vmid > PV_VMID_MAX)
		return pv_fail(e, 0, "bad vmid %d (expected " PV_VMID_RANGE ")", vmid);
	if (explicit_path) {
		if (snprintf(path, sizeof(path), "%s", explicit_path) >= (int)sizeof(path))
			return pv_fail(e, ENAMETOOLONG, "--conf %.64s", explicit_path);
	} else if (pv_path(path, sizeof(path), e, "/etc/pve/qemu-server/%d.conf", vmid) < 0) {
		return -1;
	}
	text = pv_slurp(path, &len, e);
	if (!text)
		return pv_wrap(e, "VM %d config", vmid);
	/* A NUL would end the text early and silently drop what follows. */
	if (memchr(text, '\0', len))
		return pv_fail(e, 0, "%s: a NUL byte at offset %zu: not a PVE VM config", path,
			       (size_t)((char *)memchr(text, '\0', len) - text));
	if (pv_vmconf_parse_string(text, path, vmid, c, e) < 0)
		return -1;
	if (pv_pcimap_resolve(c, path, e) < 0) {
		pv_vmconf_free(c);
		return -1;
	}
	return 0;
}

void pv_vmconf_free(struct pv_vmconf *c)
{
	for (int i = 0; i < PV_MAX_GNUMA; i++) {
		bitmap_reset(&c->gnuma[i].cpus);
		bitmap_reset(&c->gnuma[i].hostnodes);
	}
	bitmap_reset(&c->affinity);
}

static int smp_nvcpus(const struct pv_smp *s)
{
	long n = 1;

	if (s->cpus)
		return s->cpus;
	if (s->maxcpus)
		return s->maxcpus;
	n *= s->sockets ? s->sockets : 1;
	n *= s->dies ? s->dies : 1;
	n *= s->cores ? s->cores : 1;
	n *= s->threads ? s->threads : 1;
	return n > PV_MAX_CPUS ? PV_MAX_CPUS : (int)n;
}

int pv_vmconf_nvcpus(const struct pv_vmconf *c)
{
	long n;

	if (c->smp.present)
		return smp_nvcpus(&c->smp);
	if (c->vcpus)
		return c->vcpus;
	n = (long)c->cores * c->sockets;
	return n > PV_MAX_CPUS ? PV_MAX_CPUS : (int)n;
}
