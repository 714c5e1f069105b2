/* pci.cfg is PVE's section config without a type: an entry's name at column
 * 0, then indented "key value" lines, where each `map` value is a property
 * string (id=..,iommugroup=..,node=..,path=A;B). Only the requested entry is
 * read closely: an unrelated broken entry is PVE's to complain about. */
#include "conf/pcimap.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/propstr.h"

struct scan {
	const char *name, *node;
	struct pv_mapalt *alt;
	int max, n;
	bool in_target, seen_target, found;
	int line, target_line; /* the line read, and the entry's header line */
};

static void rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static int header(struct scan *s, char *line, struct pv_err *e)
{
	rtrim(line);
	s->in_target = strcmp(line, s->name) == 0;
	if (s->in_target && s->seen_target)
		return pv_fail(e, 0, "mapping '%s' defined twice (first at line %d)", s->name,
			       s->target_line);
	if (s->in_target)
		s->target_line = s->line;
	s->seen_target |= s->in_target;
	return 0;
}

static int parse_path(struct scan *s, struct pv_mapalt *a, const char *path, struct pv_err *e)
{
	_cleanup_free_ char *copy = strdup(path);
	char *item, *save = NULL;

	if (!copy)
		return pv_fail(e, ENOMEM, "pci.cfg");
	a->nbdf = 0;
	for (item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		if (a->nbdf >= PV_MAX_FUNCS)
			return pv_fail(e, 0, "more than %d devices in path=", PV_MAX_FUNCS);
		if (pv_bdf_parse(item, true, &a->bdf[a->nbdf], e) < 0)
			return -1;
		a->nbdf++;
	}
	if (a->nbdf == 0)
		return pv_fail(e, 0, "path= lists no device");
	return 0;
}

/* id=VVVV:DDDD and iommugroup=N, which PVE checks against the hardware
 * before it uses an entry (PVE::Mapping::PCI::assert_valid). */
static int parse_ids(struct pv_mapalt *a, const struct pv_props *pr, struct pv_err *e)
{
	const char *id = pv_props_get(pr, "id");
	const char *grp = pv_props_get(pr, "iommugroup");
	char tail;
	long g;

	a->iommugroup = -1;
	if (id && (sscanf(id, "%4x:%4x%c", &a->vendor, &a->device, &tail) != 2 || strlen(id) != 9))
		return pv_fail(e, 0, "id=%.32s is not a vendor:device id like 10de:2684", id);
	if (grp && pv_parse_long(grp, 0, 1 << 20, &g) < 0)
		return pv_fail(e, 0, "iommugroup=%.32s is not a number", grp);
	if (grp)
		a->iommugroup = (int)g;
	return 0;
}

static int map_fill(struct scan *s, const struct pv_props *pr, struct pv_err *e)
{
	const char *node = pv_props_get(pr, "node");
	const char *path = pv_props_get(pr, "path");
	struct pv_mapalt *a = &s->alt[s->n];

	if (!node)
		return pv_fail(e, 0, "a map line has no node=");
	if (strcmp(node, s->node) != 0)
		return 0;
	if (!path)
		return pv_fail(e, 0, "the map line for node '%s' has no path= (expected path=0000:81:00.0)",
			       s->node);
	if (s->n >= s->max)
		return pv_fail(e, 0, "more than %d map lines for node '%s'", s->max, s->node);
	memset(a, 0, sizeof(*a));
	if (parse_path(s, a, path, e) < 0 || parse_ids(a, pr, e) < 0)
		return pv_wrap(e, "map for node '%s'", s->node);
	s->n++;
	return 0;
}

static int map_line(struct scan *s, const char *val, struct pv_err *e)
{
	struct pv_props pr;
	int r = -1;

	if (pv_props_split(val, NULL, &pr, e) == 0)
		r = map_fill(s, &pr, e);
	pv_props_free(&pr);
	if (r < 0)
		return pv_wrap(e, "mapping '%s'", s->name);
	return 0;
}

/* "\tkey value": only `map` matters. */
static int property(struct scan *s, char *line, struct pv_err *e)
{
	char *key = line, *val;

	while (isspace((unsigned char)*key))
		key++;
	val = key + strcspn(key, " \t");
	if (*val)
		*val++ = '\0';
	while (isspace((unsigned char)*val))
		val++;
	rtrim(val);
	if (strcmp(key, "map") != 0 || !s->in_target)
		return 0;
	return map_line(s, val, e);
}

static int scan_line(struct scan *s, char *line, struct pv_err *e)
{
	if (line[strspn(line, " \t\r")] == '\0' || line[0] == '#')
		return 0;
	if (!isspace((unsigned char)line[0]))
		return header(s, line, e);
	return property(s, line, e);
}

int pv_pcimap_parse_alts(const char *text, const char *cfgname, const char *name,
			 const char *node, struct pv_mapalt *alt, int max, int *n,
			 struct pv_err *e)
{
	_cleanup_free_ char *buf = strdup(text);
	struct scan s = { .name = name, .node = node, .alt = alt, .max = max };
	char *line, *nl;
	int lineno = 0;

	*n = 0;
	if (!buf)
		return pv_fail(e, ENOMEM, "%s", cfgname);
	for (line = buf; line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		s.line = ++lineno;
		if (scan_line(&s, line, e) < 0)
			return pv_wrap(e, "%s:%d", cfgname, lineno);
	}
	/* PCI.pm parse_hostpci: "PCI device mapping not found" */
	if (!s.seen_target)
		return pv_fail(e, 0, "PCI device mapping not found for '%s' in %s (define it under Datacenter > Resource Mappings)",
			       name, cfgname);
	if (!s.n)
		return pv_fail(e, 0, "%s:%d: PCI device mapping not found for '%s': no device for node '%s' (add a map line with node=%s)",
			       cfgname, s.target_line, name, node, node);
	*n = s.n;
	return 0;
}

int pv_pcimap_parse_string(const char *text, const char *cfgname, const char *name,
			   const char *node, struct pv_bdf *out, int max, int *n,
			   struct pv_err *e)
{
	struct pv_mapalt alt[PV_MAX_MAPALT];
	int nalt;

	*n = 0;
	if (pv_pcimap_parse_alts(text, cfgname, name, node, alt, PV_MAX_MAPALT, &nalt, e) < 0)
		return -1;
	if (alt[0].nbdf > max)
		return pv_fail(e, 0, "mapping '%s': more than %d devices in path=", name, max);
	memcpy(out, alt[0].bdf, sizeof(*out) * (size_t)alt[0].nbdf);
	*n = alt[0].nbdf;
	return 0;
}

static int valid_nodename(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-')
			return 0;
	}
	return 1;
}

static int set_nodename(char *buf, size_t n, const char *full, const char *from,
			struct pv_err *e)
{
	size_t len = strcspn(full, ". \t\r\n");

	if (len >= n)
		return pv_fail(e, 0, "node name in %s is too long", from);
	memcpy(buf, full, len);
	buf[len] = '\0';
	if (!valid_nodename(buf))
		return pv_fail(e, 0, "bad node name '%.64s' in %s", full, from);
	return 0;
}

/* This host's PVE node name: the short name in <root>/etc/hostname, else
 * uname's nodename. */
static int pv_nodename(char *buf, size_t n, struct pv_err *e)
{
	char path[PV_PATH_MAX], name[256];
	struct pv_err rerr = { 0 };
	struct utsname u;
	const char *start = name;

	if (pv_path(path, sizeof(path), e, "/etc/hostname") < 0)
		return -1;
	if (pv_read_file(path, name, sizeof(name), &rerr) < 0) {
		if (rerr.errnum != ENOENT) {
			*e = rerr;
			return -1;
		}
		name[0] = '\0';
	}
	start += strspn(name, " \t");
	if (*start)
		return set_nodename(buf, n, start, path, e);
	if (uname(&u) < 0)
		return pv_fail(e, errno, "uname");
	return set_nodename(buf, n, u.nodename, "uname", e);
}

static int resolve_one(struct pv_hostpci *h, const char *text, const char *cfg,
		       const char *node, struct pv_err *e)
{
	if (pv_pcimap_parse_alts(text, cfg, h->mapping, node, h->alt, PV_MAX_MAPALT, &h->nalt, e) < 0)
		return -1;
	memcpy(h->bdf, h->alt[0].bdf, sizeof(h->bdf));
	h->nbdf = h->alt[0].nbdf;
	return 0;
}

int pv_pcimap_resolve(struct pv_vmconf *c, const char *conf, struct pv_err *e)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX], node[128];

	for (int i = 0; i < PV_MAX_HOSTPCI; i++) {
		struct pv_hostpci *h = &c->hostpci[i];

		if (!h->present || !h->mapping[0])
			continue;
		if (!text) {
			if (pv_path(path, sizeof(path), e, "/etc/pve/mapping/pci.cfg") < 0 ||
			    pv_nodename(node, sizeof(node), e) < 0)
				return pv_wrap(e, "%s:%d: hostpci%d: mapping '%s'", conf, h->line, i,
					       h->mapping);
			text = pv_slurp(path, NULL, e);
			if (!text)
				return pv_wrap(e, "%s:%d: hostpci%d: mapping '%s'", conf, h->line, i,
					       h->mapping);
		}
		if (resolve_one(h, text, path, node, e) < 0)
			return pv_wrap(e, "%s:%d: hostpci%d", conf, h->line, i);
	}
	return 0;
}
