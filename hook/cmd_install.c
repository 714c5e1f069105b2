/* pvepin install [--storage-dir DIR] [--force]
 * pvepin uninstall [--storage-dir DIR] [--force]
 *
 * PVE runs a hookscript only from a storage with the `snippets` content
 * type, so this binary is copied there: a copy, not a symlink, so VMs that
 * name it still start while the package is being upgraded or after it is
 * removed. The copy goes to a temporary file in the same directory, is
 * fsync'd and renamed over the old one, so a VM starting meanwhile runs
 * either the old or the new binary, never half of one. */
#include "hook/cmd_install.h"
#include "hook/cmd_install_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"
#include "common/opts.h"
#include "conf/bdf.h"

/* A storage section of storage.cfg while it is being read. */
struct stor {
	char id[STORAGE_MAX];
	char path[DIR_MAX];
	char sdir[DIR_MAX];         /* content-dirs snippets=..., "" = "snippets" */
	char content[CONTENT_MAX];
};

/* An absolute path of plain components: it is printed, compared with
 * storage.cfg and used to build paths, so nothing odd gets through. */
static int dir_normalize(const char *in, char *out, size_t n, struct pv_err *e)
{
	size_t len = strlen(in);

	while (len > 1 && in[len - 1] == '/')
		len--;
	if (in[0] != '/' || len < 2)
		return pv_fail(e, 0, "--storage-dir '%.64s': need an absolute directory path", in);
	if (len >= n)
		return pv_fail(e, 0, "--storage-dir: path longer than %zu bytes", n - 1);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)in[i]) && !strchr("/._+-@", in[i]))
			return pv_fail(e, 0, "--storage-dir '%.64s': character 0x%02x not allowed", in,
				       (unsigned char)in[i]);
	memcpy(out, in, len);
	out[len] = '\0';
	for (const char *p = out; *p;) {
		const char *c = p + 1;
		size_t cl = strcspn(c, "/");

		if (cl == 0 || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
			return pv_fail(e, 0, "--storage-dir '%s': empty, '.' or '..' component", out);
		p = c + cl;
	}
	return 0;
}

/* PVE's pve-storage-id format: [a-z][a-z0-9-_.]*[a-z0-9], any case. */
static bool storage_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n >= STORAGE_MAX || !isalpha((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static bool list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",; ");

		if (l == wl && !strncmp(p, word, wl))
			return true;
		p += l;
		p += strspn(p, ",; ");
	}
	return false;
}

static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static void set_str(char *dst, size_t n, const char *v)
{
	/* a value that does not fit cannot match a valid directory: drop it */
	if (strlen(v) < n)
		strcpy(dst, v);
}

/* content-dirs is "iso=dir1,snippets=dir2,...": the snippets entry. */
static void content_dirs(struct stor *s, const char *v)
{
	for (const char *p = v; *p;) {
		size_t l = strcspn(p, ",");

		if (l > 9 && !strncmp(p, "snippets=", 9) && l - 9 < sizeof(s->sdir)) {
			memcpy(s->sdir, p + 9, l - 9);
			s->sdir[l - 9] = '\0';
		}
		p += l;
		p += strspn(p, ",");
	}
}

/* The storage whose snippets directory is in->dir, if s is it. */
static void stor_match(struct inst *in, const struct stor *s)
{
	char want[2 * DIR_MAX + 2];
	size_t pl = strlen(s->path);
	const char *sub = s->sdir[0] ? s->sdir : "snippets";

	if (in->from_cfg || !s->id[0] || !pl)
		return;
	while (pl > 1 && s->path[pl - 1] == '/')
		pl--;
	while (*sub == '/')
		sub++;
	snprintf(want, sizeof(want), "%.*s/%s", (int)pl, s->path, sub);
	pl = strlen(want);
	while (pl > 1 && want[pl - 1] == '/')
		want[--pl] = '\0';
	if (strcmp(want, in->dir))
		return;
	strcpy(in->storage, s->id);
	strcpy(in->content, s->content);
	in->snippets = list_has(s->content, "snippets");
	in->from_cfg = true;
}

/* One line of storage.cfg: "type: id" starts a section, indented
 * "key value" lines belong to it. */
static void cfg_line(struct inst *in, struct stor *cur, char *line)
{
	char *k, *v;

	if (line[0] == '#')
		return;
	if (line[0] != ' ' && line[0] != '\t') {
		stor_match(in, cur);
		memset(cur, 0, sizeof(*cur));
		v = strchr(line, ':');
		if (!v)
			return;
		v = trim(v + 1);
		if (storage_id_ok(v))
			strcpy(cur->id, v);
		return;
	}
	k = trim(line);
	if (!*k || *k == '#')
		return;
	v = k + strcspn(k, " \t");
	if (*v)
		*v++ = '\0';
	v = trim(v);
	if (!strcmp(k, "path"))
		set_str(cur->path, sizeof(cur->path), v);
	else if (!strcmp(k, "content"))
		set_str(cur->content, sizeof(cur->content), v);
	else if (!strcmp(k, "content-dirs"))
		content_dirs(cur, v);
}

/* Which PVE storage serves in->dir as its snippets directory. Without
 * /etc/pve/storage.cfg only the default directory is known: `local`. */
static void storage_lookup(struct inst *in)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX];
	struct pv_err e = { 0 };
	struct stor cur = { 0 };

	if (pv_path(path, sizeof(path), &e, "/etc/pve/storage.cfg") == 0 && pv_exists(path)) {
		text = pv_slurp(path, NULL, &e);
		if (!text)
			fprintf(stderr, "pvepin: warning: %s\n", e.msg);
	}
	for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		cfg_line(in, &cur, p);
	}
	stor_match(in, &cur);
	if (!in->from_cfg && !text && !strcmp(in->dir, PV_SNIPPETS_DIR))
		strcpy(in->storage, "local");
}

static bool names_hook(const struct inst *in, const char *v)
{
	const char *colon = strchr(v, ':');

	if (!colon || strcmp(colon + 1, "snippets/" PV_HOOK_NAME))
		return false;
	if (!in->storage[0])
		return true;
	return (size_t)(colon - v) == strlen(in->storage) &&
	       !strncmp(v, in->storage, (size_t)(colon - v));
}

/* Does this VM config (up to its first [snapshot]/[PENDING] section) name
 * our hookscript? */
static bool conf_names_hook(const struct inst *in, char *text)
{
	for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (p[0] == '[')
			return false;
		if (!strncmp(p, "hookscript:", 11) && names_hook(in, trim(p + 11)))
			return true;
	}
	return false;
}

/* VMs of this node whose config names the hookscript, ascending. */
static int find_refs(const struct inst *in, int *vmids, int *n, struct pv_err *e)
{
	_cleanup_closedir_ DIR *d = NULL;
	char dir[PV_PATH_MAX];
	struct dirent *de;

	*n = 0;
	if (pv_path(dir, sizeof(dir), e, "/etc/pve/qemu-server") < 0)
		return -1;
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0 : pv_fail(e, errno, "open %s", dir);
	while ((de = readdir(d)) && *n < MAX_REFS) {
		_cleanup_free_ char *text = NULL;
		char name[32], path[PV_PATH_MAX];
		size_t l = strlen(de->d_name);
		struct pv_err ce = { 0 };
		int vmid;

		if (l < 6 || l >= sizeof(name) || strcmp(de->d_name + l - 5, ".conf"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
		if (pv_vmid_parse(name, &vmid, NULL) < 0 ||
		    pv_path(path, sizeof(path), e, "/etc/pve/qemu-server/%d.conf", vmid) < 0)
			continue;
		if (!(text = pv_slurp(path, NULL, &ce))) {
			fprintf(stderr, "pvepin: warning: %s\n", ce.msg);
			continue;
		}
		if (conf_names_hook(in, text))
			vmids[(*n)++] = vmid;
	}
	qsort(vmids, (size_t)*n, sizeof(*vmids), pv_cmp_int);
	return 0;
}

static int parse_args(const char *cmd, int argc, char **argv, struct inst *in)
{
	const char *dir = PV_SNIPPETS_DIR;
	struct pv_err e = { 0 };

	memset(in, 0, sizeof(*in));
	in->force = pv_opt.force;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force")) {
			in->force = true;
		} else if (!strcmp(argv[i], "--storage-dir")) {
			if (++i == argc) {
				fprintf(stderr, "pvepin %s: --storage-dir needs a directory\n", cmd);
				return -1;
			}
			dir = argv[i];
		} else if (!strncmp(argv[i], "--storage-dir=", 14)) {
			dir = argv[i] + 14;
		} else {
			fprintf(stderr, "pvepin %s: unexpected argument '%s'. Try 'pvepin help %s'.\n",
				cmd, argv[i], cmd);
			return -1;
		}
	}
	if (dir_normalize(dir, in->dir, sizeof(in->dir), &e) < 0 ||
	    pv_path(in->dirpath, sizeof(in->dirpath), &e, "%s", in->dir) < 0 ||
	    pv_path(in->dest, sizeof(in->dest), &e, "%s/%s", in->dir, PV_HOOK_NAME) < 0) {
		fprintf(stderr, "pvepin %s: %s\n", cmd, e.msg);
		return -1;
	}
	return 0;
}

/* Writing a PVE host's snippets needs root; under --root (tests, staging
 * trees) whoever owns the tree may. */
static int need_root(const char *cmd)
{
	if (geteuid() == 0 || (pv_opt.root && pv_opt.root[0]))
		return 0;
	fprintf(stderr, "pvepin %s: must be run as root\n", cmd);
	return -1;
}

static void print_vmids(FILE *f, const int *v, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? ", " : "", v[i]);
}

static void print_qm_line(const struct inst *in)
{
	const char *s = in->storage[0] ? in->storage : "<storage>";

	printf("Make it the hookscript of a VM (PVE runs it at pre-start, post-start, pre-stop "
	       "and post-stop):\n");
	printf("    qm set <vmid> --hookscript %s:snippets/%s\n", s, PV_HOOK_NAME);
	if (!in->storage[0]) {
		printf("where <storage> is the PVE storage whose snippets directory is %s: no storage "
		       "in /etc/pve/storage.cfg has it (see `pvesm status`; a directory storage "
		       "with path P keeps snippets in P/snippets). It needs the 'snippets' "
		       "content type.\n", in->dir);
		return;
	}
	if (!in->from_cfg) {
		printf("(/etc/pve/storage.cfg not found: 'local' is PVE's default storage for %s, "
		       "and it needs the 'snippets' content type.)\n", in->dir);
		return;
	}
	if (in->snippets)
		return;
	printf("Storage '%s' does not have the 'snippets' content type yet; PVE refuses the "
	       "hookscript until it has. Add it first:\n", in->storage);
	if (in->content[0])
		printf("    pvesm set %s --content %s,snippets\n", in->storage, in->content);
	else
		printf("    pvesm set %s --content snippets,<the content types it has now>\n",
		       in->storage);
}

static int do_install(struct inst *in, const char *self, size_t selflen, struct pv_err *e)
{
	enum hook_kind k;
	struct stat st;
	bool ok_mode;

	if (pv_inst_ensure_dir(in, e) < 0 || pv_inst_check_dir(in, e) < 0 ||
	    pv_inst_hook_kind(in->dest, self, selflen, &k, &st, e) < 0)
		return -1;
	if (k == HOOK_FOREIGN && !in->force)
		return pv_fail(e, 0, "%s exists and was not made by pvepin; left alone (move it "
			       "away, or use --force to replace it)", in->dest);
	ok_mode = k == HOOK_SAME && (st.st_mode & 07777) == 0755 &&
		  (geteuid() != 0 || (st.st_uid == 0 && st.st_gid == 0));
	if (ok_mode) {
		printf("%s is already this pvepin\n", in->dest);
		return 0;
	}
	if (pv_opt.dry_run) {
		printf("would write %s (%zu bytes, 0755 root:root)\n", in->dest, selflen);
		return 0;
	}
	if (pv_inst_write(in, self, selflen, e) < 0)
		return -1;
	printf("%s %s (%zu bytes, 0755 root:root)\n",
	       k == HOOK_ABSENT ? "installed" : k == HOOK_FOREIGN ? "replaced (--force)" :
	       k == HOOK_OURS ? "updated" : "fixed the mode of", in->dest, selflen);
	return 0;
}

int cmd_install(int argc, char **argv)
{
	_cleanup_free_ char *self = NULL;
	struct pv_err e = { 0 };
	int refs[MAX_REFS], nrefs = 0;
	struct inst in;
	size_t selflen;

	if (parse_args("install", argc, argv, &in) < 0)
		return 2;
	if (need_root("install") < 0)
		return 1;
	storage_lookup(&in);
	if (!(self = pv_inst_read_self(&selflen, &e)) || do_install(&in, self, selflen, &e) < 0) {
		fprintf(stderr, "pvepin install: %s\n", e.msg);
		return 1;
	}
	print_qm_line(&in);
	if (find_refs(&in, refs, &nrefs, &e) < 0)
		fprintf(stderr, "pvepin install: warning: %s\n", e.msg);
	if (nrefs > 0) {
		printf("Already the hookscript of VM ");
		print_vmids(stdout, refs, nrefs);
		printf(".\n");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int do_uninstall(struct inst *in, struct pv_err *e)
{
	_cleanup_free_ char *self = NULL;
	enum hook_kind k;
	struct stat st;
	size_t selflen;

	if (!(self = pv_inst_read_self(&selflen, e)) || pv_inst_hook_kind(in->dest, self, selflen, &k, &st, e) < 0)
		return -1;
	if (k == HOOK_ABSENT) {
		printf("%s is not there: nothing to remove\n", in->dest);
		return 0;
	}
	if (k == HOOK_FOREIGN && !in->force)
		return pv_fail(e, 0, "%s was not made by pvepin; left alone (--force removes it)",
			       in->dest);
	if (pv_opt.dry_run) {
		printf("would remove %s\n", in->dest);
		return 0;
	}
	if (unlink(in->dest) < 0)
		return pv_fail(e, errno, "remove %s", in->dest);
	if (pv_inst_fsync_dir(in->dirpath, e) < 0)
		return -1;
	printf("removed %s\n", in->dest);
	return 0;
}

int cmd_uninstall(int argc, char **argv)
{
	struct pv_err e = { 0 };
	int refs[MAX_REFS], nrefs = 0;
	struct inst in;

	if (parse_args("uninstall", argc, argv, &in) < 0)
		return 2;
	if (need_root("uninstall") < 0)
		return 1;
	storage_lookup(&in);
	if (do_uninstall(&in, &e) < 0) {
		fprintf(stderr, "pvepin uninstall: %s\n", e.msg);
		return 1;
	}
	if (find_refs(&in, refs, &nrefs, &e) < 0) {
		fprintf(stderr, "pvepin uninstall: %s\n", e.msg);
		return 1;
	}
	if (nrefs == 0)
		return fflush(stdout) == 0 ? 0 : 1;
	printf("VM ");
	print_vmids(stdout, refs, nrefs);
	printf(" still name%s it as hookscript and will not start until it is removed from "
	       "%s config:\n", nrefs == 1 ? "s" : "", nrefs == 1 ? "its" : "their");
	for (int i = 0; i < nrefs; i++)
		printf("    qm set %d --delete hookscript\n", refs[i]);
	return fflush(stdout) == 0 ? 0 : 1;
}
