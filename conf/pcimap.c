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
	struct pv_bdf *out;
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

static int parse_path(struct scan *s, const char *path, struct pv_err *e)
{
	_cleanup_free_ char *copy = strdup(path);
	char *item, *save = NULL;

	if (!copy)
		return pv_fail(e, ENOMEM, "pci.cfg");
	s->n = 0;
	for (item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		if (s->n >= s->max)
			return pv_fail(e, 0, "more than %d devices in path=", s->max);
		if (pv_bdf_parse(item, true, &s->out[s->n], e) < 0)
			return -1;
		s->n++;
	}
	if (s->n == 0)
		return pv_fail(e, 0, "path= lists no device");
	return 0;
}

static int map_fill(struct scan *s, const struct pv_props *pr, struct pv_err *e)
{
	const char *node = pv_props_get(pr, "node");
	const char *path = pv_props_get(pr, "path");

	if (!node)
		return pv_fail(e, 0, "a map line has no node=");
	if (strcmp(node, s->node) != 0)
		return 0;
	if (!path)
		return pv_fail(e, 0, "the map line for node '%s' has no path= (expected path=0000:81:00.0)",
			       s->node);
	if (parse_path(s, path, e) < 0)
		return pv_wrap(e, "map for node '%s'", s->node);
	s->found = true;
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

/* "\tkey value": only `map` matters, and only until this node's is found. */
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
	if (strcmp(key, "map") != 0 || !s->in_target || s->found)
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

int pv_pcimap_parse_string(const char *text, const char *cfgname, const char *name,
			   const char *node, struct pv_bdf *out, int max, int *n,
			   struct pv_err *e)
{
	_cleanup_free_ char *buf = strdup(text);
	struct scan s = { .name = name, .node = node, .out = out, .max = max };
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
	if (!s.seen_target)
		return pv_fail(e, 0, "mapping '%s' not found in %s (define it under Datacenter > Resource Mappings)",
			       name, cfgname);
	if (!s.found)
		return pv_fail(e, 0, "%s:%d: mapping '%s' has no device for node '%s' (add a map line "
			       "with node=%s)", cfgname, s.target_line, name, node, node);
	*n = s.n;
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
	return pv_pcimap_parse_string(text, cfg, h->mapping, node, h->bdf, PV_MAX_FUNCS,
				      &h->nbdf, e);
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
