/* What the module tools will do on this host, read as kmod reads it:
 * modprobe.d (blacklist, install ... /bin/false, options; /etc wins over
 * /run and /lib for the same file name), module parameters on the kernel
 * command line, and the kernel's index: modules.dep and modules.builtin
 * (which modules exist), modules.alias (which module drives which device). */
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "check/host_int.h"

#define HC_MAX_CONFS 128

bool hc_valid_modname(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < HC_MODNAME &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

void hc_modname_fold(char *s)
{
	for (; *s; s++)
		if (*s == '-')
			*s = '_';
}

static void add_modline(struct hc *h, enum hc_mod_kind kind, const char *module, const char *args,
			const char *file, int line)
{
	struct hc_modline *m;

	if (h->nml >= HC_MAX_MODLINES || !hc_valid_modname(module))
		return;
	m = &h->ml[h->nml++];
	m->kind = kind;
	snprintf(m->module, sizeof(m->module), "%s", module);
	hc_modname_fold(m->module);
	snprintf(m->args, sizeof(m->args), "%s", args);
	snprintf(m->file, sizeof(m->file), "%s", file);
	m->line = line;
}

/* `install MOD /bin/false` is the other common way to keep a module out. */
static bool is_false_install(const char *cmd)
{
	static const char *const f[] = { "/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true",
					 "false", "true" };

	size_t len = strcspn(cmd, " \t;");

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (len == strlen(f[i]) && !strncmp(cmd, f[i], len))
			return true;
	return false;
}

static void parse_conf_line(struct hc *h, char *s, const char *file, int line)
{
	char *cmd, *mod, *rest, *save = NULL;

	cmd = strtok_r(s, " \t", &save);
	mod = cmd ? strtok_r(NULL, " \t", &save) : NULL;
	if (!mod)
		return;
	rest = save ? save + strspn(save, " \t") : mod + strlen(mod);
	if (!strcmp(cmd, "blacklist"))
		add_modline(h, HC_BLACKLIST, mod, "", file, line);
	else if (!strcmp(cmd, "install") && is_false_install(rest))
		add_modline(h, HC_INSTALL_FALSE, mod, rest, file, line);
	else if (!strcmp(cmd, "options"))
		add_modline(h, HC_OPTIONS, mod, rest, file, line);
}

static void parse_conf(struct hc *h, char *text, const char *file)
{
	int line = 0;

	for (char *s = text; s && *s; line++) {
		char *nl = strchr(s, '\n');

		if (nl)
			*nl = '\0';
		s[strcspn(s, "\r")] = '\0';
		if (*s != '#')
			parse_conf_line(h, s, file, line + 1);
		s = nl ? nl + 1 : NULL;
	}
}

struct conf_name {
	char name[96];
	const char *dir;
};

static int cmp_conf(const void *a, const void *b)
{
	return strcmp(((const struct conf_name *)a)->name, ((const struct conf_name *)b)->name);
}

static bool known_name(const struct conf_name *c, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return true;
	return false;
}

/* kmod: files from every directory, sorted by name; the same name in an
 * earlier directory hides a later one. */
static int list_confs(struct conf_name *c, int max)
{
	static const char *const dirs[] = { "/etc/modprobe.d", "/run/modprobe.d", "/usr/lib/modprobe.d",
					    "/lib/modprobe.d" };
	int n = 0;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		char p[PV_PATH_MAX];
		struct pv_err e;
		struct dirent *de;
		DIR *dh;

		if (pv_path(p, sizeof(p), &e, "%s", dirs[d]) < 0 || !(dh = opendir(p)))
			continue;
		while ((de = readdir(dh)) && n < max) {
			size_t len = strlen(de->d_name);

			if (de->d_name[0] == '.' || len < 6 || len >= sizeof(c[n].name) ||
			    strcmp(de->d_name + len - 5, ".conf") || known_name(c, n, de->d_name))
				continue;
			memcpy(c[n].name, de->d_name, len + 1);
			c[n++].dir = dirs[d];
		}
		closedir(dh);
	}
	qsort(c, (size_t)n, sizeof(*c), cmp_conf);
	return n;
}

static void read_modprobe_d(struct hc *h)
{
	struct conf_name c[HC_MAX_CONFS];
	int n = list_confs(c, HC_MAX_CONFS);

	for (int i = 0; i < n; i++) {
		char p[PV_PATH_MAX], file[HC_FILE];
		_cleanup_free_ char *text = NULL;
		struct pv_err e;

		if (snprintf(file, sizeof(file), "%s/%s", c[i].dir, c[i].name) >= (int)sizeof(file))
			continue;
		if (pv_path(p, sizeof(p), &e, "%s", file) < 0 || !(text = pv_slurp(p, NULL, &e)))
			continue;
		parse_conf(h, text, file);
	}
}

/* modprobe.blacklist=a,b and MODULE.PARAM=VALUE on the kernel command line
 * act like modprobe.d lines; they come last, so they win. */
static void read_cmdline_modopts(struct hc *h)
{
	char buf[sizeof(h->cmdline)];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", h->cmdline);
	for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '='), *dot = strchr(tok, '.');
		char mod[HC_MODNAME];

		if (!eq || !dot || dot > eq || (size_t)(dot - tok) >= sizeof(mod))
			continue;
		memcpy(mod, tok, (size_t)(dot - tok));
		mod[dot - tok] = '\0';
		if (strcmp(mod, "modprobe") || strncmp(dot + 1, "blacklist=", 10)) {
			add_modline(h, HC_OPTIONS, mod, dot + 1, "/proc/cmdline", 0);
			continue;
		}
		for (char *s2 = NULL, *m = strtok_r(eq + 1, ",", &s2); m; m = strtok_r(NULL, ",", &s2))
			add_modline(h, HC_BLACKLIST, m, "", "/proc/cmdline", 0);
	}
}

static char *slurp_modfile(const struct hc *h, const char *name)
{
	char p[PV_PATH_MAX];
	struct pv_err e;

	if (!h->osrelease[0] || pv_path(p, sizeof(p), &e, "/lib/modules/%s/%s", h->osrelease, name) < 0)
		return NULL;
	return pv_slurp(p, NULL, &e);
}

static void parse_aliases(struct hc *h)
{
	int cap = 0;

	for (const char *s = h->alias_text; (s = strstr(s, "alias pci:")); s++)
		cap++;
	if (!cap || !(h->alias = calloc((size_t)cap, sizeof(*h->alias))))
		return;
	for (char *s = h->alias_text; s && *s && h->nalias < cap;) {
		char *nl = strchr(s, '\n'), *pat, *mod, *save = NULL;

		if (nl)
			*nl = '\0';
		if (!strncmp(s, "alias pci:", 10)) {
			strtok_r(s, " \t", &save);
			pat = strtok_r(NULL, " \t", &save);
			mod = pat ? strtok_r(NULL, " \t", &save) : NULL;
			if (mod && hc_valid_modname(mod)) {
				hc_modname_fold(mod);
				h->alias[h->nalias].pattern = pat;
				h->alias[h->nalias++].module = mod;
			}
		}
		s = nl ? nl + 1 : NULL;
	}
}

void hc_load_modconf(struct hc *h)
{
	read_modprobe_d(h);
	read_cmdline_modopts(h);
	h->dep = slurp_modfile(h, "modules.dep");
	h->builtin = slurp_modfile(h, "modules.builtin");
	h->alias_text = slurp_modfile(h, "modules.alias");
	if (h->alias_text)
		parse_aliases(h);
}

void hc_free_modconf(struct hc *h)
{
	free(h->dep);
	free(h->builtin);
	free(h->alias_text);
	free(h->alias);
	h->dep = h->builtin = h->alias_text = NULL;
	h->alias = NULL;
}

/* "kernel/drivers/vfio/pci/vfio-pci.ko.zst" names module vfio_pci. */
static bool path_names(const char *line, size_t len, const char *name)
{
	const char *base = line, *ko;
	char mod[HC_MODNAME];
	size_t n;

	for (size_t i = 0; i < len; i++)
		if (line[i] == '/')
			base = line + i + 1;
	ko = strstr(base, ".ko");
	if (!ko || ko >= line + len || (n = (size_t)(ko - base)) >= sizeof(mod))
		return false;
	memcpy(mod, base, n);
	mod[n] = '\0';
	hc_modname_fold(mod);
	return !strcmp(mod, name);
}

static bool index_has(const char *text, const char *name, bool dep)
{
	for (const char *s = text; s && *s;) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		size_t key = dep ? strcspn(s, ":\n") : len;

		if (path_names(s, key < len ? key : len, name))
			return true;
		s = nl ? nl + 1 : NULL;
	}
	return false;
}

enum hc_mod_state hc_mod_state(const struct hc *h, const char *name)
{
	char folded[HC_MODNAME];

	if (!hc_valid_modname(name))
		return HC_MOD_MISSING;
	snprintf(folded, sizeof(folded), "%s", name);
	hc_modname_fold(folded);
	if (!h->dep && !h->builtin)
		return HC_MOD_UNKNOWN;
	if (index_has(h->builtin, folded, false))
		return HC_MOD_BUILTIN;
	return index_has(h->dep, folded, true) ? HC_MOD_MODULE : HC_MOD_MISSING;
}

bool hc_mod_loaded(const char *name)
{
	char folded[HC_MODNAME];

	if (!hc_valid_modname(name))
		return false;
	snprintf(folded, sizeof(folded), "%s", name);
	hc_modname_fold(folded);
	return hc_existsf("/sys/module/%s", folded);
}

bool hc_mod_drives(const struct hc *h, const char *module, const char *modalias)
{
	if (!modalias[0])
		return false;
	for (int i = 0; i < h->nalias; i++)
		if (!strcmp(h->alias[i].module, module) && fnmatch(h->alias[i].pattern, modalias, 0) == 0)
			return true;
	return false;
}

static bool blacklisted(const struct hc *h, const char *module)
{
	for (int i = 0; i < h->nml; i++)
		if (h->ml[i].kind != HC_OPTIONS && !strcmp(h->ml[i].module, module))
			return true;
	return false;
}

/* vfio-pci and pci-stub hold a device away from the host, not for it. */
bool hc_other_driver(const struct hc *h, const char *module, const char *modalias)
{
	if (!modalias[0])
		return false;
	for (int i = 0; i < h->nalias; i++) {
		const char *m = h->alias[i].module;

		if (strcmp(m, module) && strcmp(m, "vfio_pci") && strcmp(m, "pci_stub") && !blacklisted(h, m) &&
		    fnmatch(h->alias[i].pattern, modalias, 0) == 0)
			return true;
	}
	return false;
}

/* "ids=10de:2684 disable_vga=1": the value of param, if set. */
static bool args_value(const char *args, const char *param, char *val, size_t n)
{
	char buf[512];
	char *save = NULL;
	bool found = false;
	size_t plen = strlen(param);

	snprintf(buf, sizeof(buf), "%s", args);
	for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char key[HC_MODNAME];
		size_t k = strcspn(tok, "=");

		if (k != plen || k >= sizeof(key))
			continue;
		memcpy(key, tok, k);
		key[k] = '\0';
		hc_modname_fold(key);
		if (strcmp(key, param))
			continue;
		snprintf(val, n, "%s", tok[k] ? tok + k + 1 : "1");
		found = true;
	}
	return found;
}

const struct hc_modline *hc_mod_option(const struct hc *h, const char *module, const char *param,
				       char *val, size_t n)
{
	const struct hc_modline *last = NULL;

	for (int i = 0; i < h->nml; i++)
		if (h->ml[i].kind == HC_OPTIONS && !strcmp(h->ml[i].module, module) &&
		    args_value(h->ml[i].args, param, val, n))
			last = &h->ml[i];
	return last;
}

const char *hc_modline_where(const struct hc_modline *m, char *buf, size_t n)
{
	if (m->line)
		snprintf(buf, n, "%s:%d", m->file, m->line);
	else
		snprintf(buf, n, "the kernel command line");
	return buf;
}
