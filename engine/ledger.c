#include "engine/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"
#include "common/opts.h"
#include "conf/cpulist.h"

#define MAX_FIELDS 6

static int ledger_path(char *buf, size_t n, const char *name, struct pv_err *e)
{
	return pv_path(buf, n, e, "/run/pvepin/%s", name);
}

void pv_ledger_free(struct pv_ledger *l)
{
	free(l->vm);
	free(l->sh);
	memset(l, 0, sizeof(*l));
}

struct pv_lvm *pv_ledger_vm(const struct pv_ledger *l, int vmid)
{
	for (int i = 0; i < l->nvm; i++)
		if (l->vm[i].vmid == vmid)
			return &l->vm[i];
	return NULL;
}

int pv_ledger_put(struct pv_ledger *l, const struct pv_lvm *v, struct pv_err *e)
{
	struct pv_lvm *old = pv_ledger_vm(l, v->vmid), *nv;

	if (old) {
		*old = *v;
		return 0;
	}
	if (!(nv = realloc(l->vm, (size_t)(l->nvm + 1) * sizeof(*nv))))
		return pv_fail(e, ENOMEM, "ledger");
	l->vm = nv;
	l->vm[l->nvm++] = *v;
	return 0;
}

void pv_ledger_drop(struct pv_ledger *l, int vmid)
{
	struct pv_lvm *v = pv_ledger_vm(l, vmid);

	if (!v)
		return;
	memmove(v, v + 1, (size_t)(l->vm + l->nvm - v - 1) * sizeof(*v));
	l->nvm--;
}

struct pv_lshared *pv_ledger_shared(const struct pv_ledger *l, enum pv_step_kind k,
				    const char *target)
{
	for (int i = 0; i < l->nsh; i++)
		if (l->sh[i].kind == k && !strcmp(l->sh[i].target, target))
			return &l->sh[i];
	return NULL;
}

int pv_ledger_share(struct pv_ledger *l, enum pv_step_kind k, const char *target,
		    const char *orig, const char *written, struct pv_err *e)
{
	struct pv_lshared *s = pv_ledger_shared(l, k, target);

	if (strlen(target) >= PV_JTARGET || strlen(orig) >= PV_JVAL || strlen(written) >= PV_JVAL)
		return pv_fail(e, E2BIG, "ledger: value too long for %s", target);
	if (!s) {
		struct pv_lshared *ns = realloc(l->sh, (size_t)(l->nsh + 1) * sizeof(*ns));

		if (!ns)
			return pv_fail(e, ENOMEM, "ledger");
		l->sh = ns;
		s = &l->sh[l->nsh++];
		s->kind = k;
		strcpy(s->target, target);
		strcpy(s->orig, orig);
	}
	strcpy(s->written, written);
	return 0;
}

void pv_ledger_unshare(struct pv_ledger *l, enum pv_step_kind k, const char *target)
{
	struct pv_lshared *s = pv_ledger_shared(l, k, target);

	if (!s)
		return;
	memmove(s, s + 1, (size_t)(l->sh + l->nsh - s - 1) * sizeof(*s));
	l->nsh--;
}

int pv_ledger_others(const struct pv_ledger *l, int self)
{
	int n = 0;

	for (int i = 0; i < l->nvm; i++)
		n += l->vm[i].vmid != self;
	return n;
}

/* ---- text form: tab-separated pv_escape'd fields, one record a line ----
 * Version 2 closes every line with the FNV-1a checksum of what precedes it
 * (as the journal does) and the file with "end <records>": a torn, cut or
 * scribbled-on ledger is told from a good one, and rebuilt (ledger_rebuild.c).
 * Version 1 (no checksums, no end) is still read: a ledger the previous
 * package wrote while its VMs run. */

#define LEDGER_VERSION "2"

static int put_line(FILE *f, const char *const *fld, int n, int *nrec)
{
	char buf[MAX_FIELDS * (4 * PV_JVAL + 1) + 16];
	size_t o = 0;

	for (int i = 0; i < n; i++) {
		if (i)
			buf[o++] = '\t';
		if (pv_escape(buf + o, sizeof(buf) - o - 16, fld[i]) < 0)
			return -1;
		o += strlen(buf + o);
	}
	fprintf(f, "%s\t%08x\n", buf, pv_fnv1a(buf, o));
	(*nrec)++;
	return 0;
}

static int write_vm(FILE *f, const struct pv_lvm *v, int *nrec)
{
	char id[16], a[24], b[24], c[24];

	snprintf(id, sizeof(id), "%d", v->vmid);
	if (put_line(f, (const char *[]){ "vm", id, v->state, v->cpus, v->host }, 5, nrec) < 0)
		return -1;
	for (int i = 0; i < v->npages; i++) {
		snprintf(a, sizeof(a), "%d", v->pages[i].node);
		snprintf(b, sizeof(b), "%ld", v->page_kb);
		snprintf(c, sizeof(c), "%ld", v->pages[i].count);
		if (put_line(f, (const char *[]){ "page", id, a, b, c }, 5, nrec) < 0)
			return -1;
	}
	for (int i = 0; i < v->ndevs; i++)
		if (put_line(f, (const char *[]){ "dev", id, v->devs[i] }, 3, nrec) < 0)
			return -1;
	return 0;
}

static int write_all(FILE *f, const struct pv_ledger *l)
{
	int nrec = 0, nhead = 0;
	char count[16];

	if (put_line(f, (const char *[]){ "pvepin-ledger", LEDGER_VERSION }, 2, &nhead) < 0)
		return -1;
	for (int i = 0; i < l->nvm; i++)
		if (write_vm(f, &l->vm[i], &nrec) < 0)
			return -1;
	for (int i = 0; i < l->nsh; i++) {
		const struct pv_lshared *s = &l->sh[i];

		if (put_line(f, (const char *[]){ "shared", pv_step_name(s->kind), s->target, s->orig,
						  s->written }, 5, &nrec) < 0)
			return -1;
	}
	snprintf(count, sizeof(count), "%d", nrec);
	return put_line(f, (const char *[]){ "end", count }, 2, &nhead);
}

int pv_ledger_save(const struct pv_ledger *l, struct pv_err *e)
{
	char path[PV_PATH_MAX], tmp[PV_PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (pv_opt.dry_run) /* --dry-run writes nothing */
		return 0;
	if (pv_rundir(e) < 0 || ledger_path(path, sizeof(path), "ledger", e) < 0 ||
	    ledger_path(tmp, sizeof(tmp), "ledger.tmp", e) < 0)
		return -1;
	if (l->nvm == 0 && l->nsh == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return pv_fail(e, errno, "remove %s", path);
		/* and what an older save killed before its rename left */
		if (unlink(tmp) < 0 && errno != ENOENT)
			return pv_fail(e, errno, "remove %s", tmp);
		return 0;
	}
	/* built in memory, then written in one go: a save cut short (EIO, a
	 * kill) leaves the old ledger and no file of its own (common/fsio.h) */
	if (!(f = open_memstream(&buf, &len)))
		return pv_fail(e, errno, "ledger: build");
	rc = write_all(f, l);
	if (fclose(f) != 0)
		return pv_fail(e, errno, "ledger: build");
	if (rc < 0)
		return pv_fail(e, E2BIG, "ledger: value too long");
	return pv_save_file(path, buf, len, 0600, e);
}

static int split(char *line, char **f)
{
	int n = 0;

	for (char *p = line;; p++) {
		char *tab = strchr(p, '\t');

		if (n == MAX_FIELDS)
			return -1;
		f[n++] = p;
		if (!tab)
			break;
		*tab = '\0';
		p = tab;
	}
	for (int i = 0; i < n; i++)
		if (pv_unescape(f[i], strlen(f[i]) + 1, f[i]) < 0)
			return -1;
	return n;
}

static int num(const char *s, long lo, long hi, long *out)
{
	return pv_parse_long(s, lo, hi, out);
}

static int copy(char *dst, size_t n, const char *s)
{
	if (strlen(s) >= n)
		return -1;
	strcpy(dst, s);
	return 0;
}

static int parse_vm(struct pv_ledger *l, char **f, int n)
{
	struct pv_lvm v = { 0 };
	long id;

	if (n != 5 || num(f[1], PV_VMID_MIN, PV_VMID_MAX, &id) < 0 || pv_ledger_vm(l, (int)id))
		return -1;
	v.vmid = (int)id;
	if (copy(v.state, sizeof(v.state), f[2]) < 0 || copy(v.cpus, sizeof(v.cpus), f[3]) < 0 ||
	    copy(v.host, sizeof(v.host), f[4]) < 0)
		return -1;
	return pv_ledger_put(l, &v, NULL);
}

static int parse_sub(struct pv_ledger *l, char **f, int n)
{
	struct pv_lvm *v;
	long id, node, kb, count;

	if (n < 3 || num(f[1], PV_VMID_MIN, PV_VMID_MAX, &id) < 0 || !(v = pv_ledger_vm(l, (int)id)))
		return -1;
	if (!strcmp(f[0], "dev")) {
		if (n != 3 || v->ndevs >= PV_MAX_DEVS)
			return -1;
		return copy(v->devs[v->ndevs++], PV_BDF_LEN, f[2]);
	}
	if (n != 5 || v->npages >= PV_MAX_NODES || num(f[2], 0, PV_MAX_CPUS, &node) < 0 ||
	    num(f[3], 1, 1L << 30, &kb) < 0 || num(f[4], 0, 1L << 40, &count) < 0)
		return -1;
	v->page_kb = kb;
	v->pages[v->npages].node = (int)node;
	v->pages[v->npages++].count = count;
	return 0;
}

static int parse_line(struct pv_ledger *l, char **f, int n)
{
	enum pv_step_kind k;

	if (!strcmp(f[0], "vm"))
		return parse_vm(l, f, n);
	if (!strcmp(f[0], "dev") || !strcmp(f[0], "page"))
		return parse_sub(l, f, n);
	if (!strcmp(f[0], "shared")) {
		if (n != 5 || pv_step_parse(f[1], &k) < 0)
			return -1;
		if (pv_ledger_shared(l, k, f[2]))
			return -1;
		return pv_ledger_share(l, k, f[2], f[3], f[4], NULL);
	}
	return -1;
}

/* A ledger that fails to parse is corrupt (EBADMSG, without strerror's
 * words): callers tell it from one they could not read, and rebuild it. */
static int corrupt(struct pv_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int corrupt(struct pv_err *e, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pv_fail(e, 0, "%s", msg);
	if (e)
		e->errnum = EBADMSG;
	return -1;
}

/* Version 2: check and cut a line's "\t<fnv1a>" tail. */
static int unsum(char *line)
{
	char *tab = strrchr(line, '\t');
	unsigned long want;

	if (!tab || strlen(tab + 1) != 8 || strspn(tab + 1, "0123456789abcdef") != 8)
		return -1;
	want = strtoul(tab + 1, NULL, 16);
	if (pv_fnv1a(line, (size_t)(tab - line)) != (uint32_t)want)
		return -1;
	*tab = '\0';
	return 0;
}

static int header(char *line, int *version)
{
	if (!strcmp(line, "pvepin-ledger\t1")) {
		*version = 1;
		return 0;
	}
	if (unsum(line) == 0 && !strcmp(line, "pvepin-ledger\t" LEDGER_VERSION)) {
		*version = 2;
		return 0;
	}
	return -1;
}

/* "end <records>": the records counted are exactly those before it. */
static int end_record(char **f, int n, int nrec)
{
	long want;

	return n == 2 && num(f[1], 0, INT32_MAX, &want) == 0 && want == nrec ? 0 : -1;
}

static int parse_lines(char *buf, struct pv_ledger *l, struct pv_err *e)
{
	char *line, *next, *f[MAX_FIELDS];
	int lineno = 0, version = 0, nrec = 0;
	bool ended = false;

	for (line = buf; *line; line = next) {
		char *nl = strchr(line, '\n');
		int n;

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (++lineno == 1) {
			if (header(line, &version) < 0)
				return corrupt(e, "ledger:1: not a pvepin ledger");
			continue;
		}
		if (ended)
			return corrupt(e, "ledger:%d: a record after the end", lineno);
		if (version == 2 && unsum(line) < 0)
			return corrupt(e, "ledger:%d: bad checksum", lineno);
		n = split(line, f);
		if (version == 2 && n >= 1 && !strcmp(f[0], "end")) {
			if (end_record(f, n, nrec) < 0)
				return corrupt(e, "ledger:%d: bad end record", lineno);
			ended = true;
			continue;
		}
		if (n < 1 || parse_line(l, f, n) < 0)
			return corrupt(e, "ledger:%d: bad record", lineno);
		nrec++;
	}
	if (version == 2 && !ended)
		return corrupt(e, "ledger:%d: cut short (no end record)", lineno);
	return 0;
}

int pv_ledger_parse(const char *text, struct pv_ledger *l, struct pv_err *e)
{
	_cleanup_free_ char *buf = strdup(text);

	memset(l, 0, sizeof(*l));
	if (!buf)
		return pv_fail(e, ENOMEM, "ledger");
	/* save removes an empty ledger: an empty file is a truncated one */
	if (!*buf)
		return corrupt(e, "ledger:1: not a pvepin ledger (empty)");
	if (parse_lines(buf, l, e) < 0) {
		/* a refused ledger holds nothing: callers free only on success */
		pv_ledger_free(l);
		return -1;
	}
	return 0;
}

int pv_ledger_load(struct pv_ledger *l, struct pv_err *e)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX];

	memset(l, 0, sizeof(*l));
	if (ledger_path(path, sizeof(path), "ledger", e) < 0)
		return -1;
	if (!pv_exists(path))
		return 0;
	if (!(text = pv_slurp(path, NULL, e)))
		return -1;
	if (pv_ledger_parse(text, l, e) < 0) {
		pv_ledger_free(l);
		return pv_wrap(e, "%s", path);
	}
	return 0;
}

/* ---- what the ledger tells the planner and the phases ---- */

int pv_ledger_from_plan(struct pv_lvm *v, const struct pv_plan *p, bool isolate,
			struct pv_err *e)
{
	memset(v, 0, sizeof(*v));
	v->vmid = p->vmid;
	snprintf(v->state, sizeof(v->state), "starting");
	if (pv_cpulist_format(v->cpus, sizeof(v->cpus), p->vm_cpus) < 0 ||
	    (isolate && pv_cpulist_format(v->host, sizeof(v->host), p->host_cpus) < 0))
		return pv_fail(e, E2BIG, "cpu list too long");
	v->page_kb = p->hp_kb;
	for (int i = 0; p->hp_kb && i < p->npages && i < PV_MAX_NODES; i++)
		v->pages[v->npages++] = p->pages[i];
	for (int i = 0; i < p->ndev; i++)
		snprintf(v->devs[v->ndevs++], PV_BDF_LEN, "%s", p->dev[i].bdf);
	return 0;
}

static int parse_cpus(const char *s, hwloc_bitmap_t set, struct pv_err *e)
{
	hwloc_bitmap_zero(set);
	return *s ? pv_cpulist_parse(s, ',', PV_MAX_CPUS, set, e) : 0;
}

int pv_ledger_claims(const struct pv_ledger *l, int self, struct pv_claims *c, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t one = hwloc_bitmap_alloc();

	memset(c, 0, sizeof(*c));
	if (!one || !(c->cpus = hwloc_bitmap_alloc()))
		return pv_fail(e, ENOMEM, "claims");
	for (int i = 0; i < l->nvm; i++) {
		const struct pv_lvm *v = &l->vm[i];

		if (v->vmid == self)
			continue;
		if (parse_cpus(v->cpus, one, e) < 0) {
			/* a failed call holds nothing, as a refused parse */
			hwloc_bitmap_free(c->cpus);
			c->cpus = NULL;
			return pv_wrap(e, "ledger, VM %d", v->vmid);
		}
		hwloc_bitmap_or(c->cpus, c->cpus, one);
		for (int d = 0; d < v->ndevs && c->ndevs < PV_MAX_DEVS; d++) {
			snprintf(c->devs[c->ndevs], PV_BDF_LEN, "%s", v->devs[d]);
			c->devs_vmid[c->ndevs++] = v->vmid;
		}
	}
	return 0;
}

int pv_ledger_conflicts(const struct pv_ledger *l, const struct pv_plan *p, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t one = hwloc_bitmap_alloc();
	char list[256];

	if (!one)
		return pv_fail(e, ENOMEM, "claims");
	for (int i = 0; i < l->nvm; i++) {
		const struct pv_lvm *v = &l->vm[i];

		if (v->vmid == p->vmid)
			continue;
		for (int d = 0; d < v->ndevs; d++)
			for (int k = 0; k < p->ndev; k++)
				if (!strcmp(v->devs[d], p->dev[k].bdf))
					return pv_fail(e, 0, "VM %d wants %s, which running VM %d holds: "
						       "stop VM %d or pass another device", p->vmid,
						       v->devs[d], v->vmid, v->vmid);
		if (parse_cpus(v->cpus, one, e) < 0)
			return pv_wrap(e, "ledger, VM %d", v->vmid);
		hwloc_bitmap_and(one, one, p->vm_cpus);
		if (!hwloc_bitmap_iszero(one)) {
			pv_cpulist_format(list, sizeof(list), one);
			return pv_fail(e, 0, "VM %d wants CPUs %s, which running VM %d holds exclusively: "
				       "stop VM %d or give VM %d other CPUs (policy vcpus =)", p->vmid,
				       list, v->vmid, v->vmid, p->vmid);
		}
	}
	return 0;
}

long pv_ledger_pending_pages(const struct pv_ledger *l, int self, int node, long size_kb)
{
	long sum = 0;

	for (int i = 0; i < l->nvm; i++) {
		const struct pv_lvm *v = &l->vm[i];

		if (v->vmid == self || strcmp(v->state, "starting") || v->page_kb != size_kb)
			continue;
		for (int k = 0; k < v->npages; k++)
			if (v->pages[k].node == node)
				sum += v->pages[k].count;
	}
	return sum;
}

int pv_ledger_host_set(const struct pv_ledger *l, int except, hwloc_bitmap_t set, bool *any,
		       struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t one = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t excl = hwloc_bitmap_alloc();

	*any = false;
	if (!one || !excl)
		return pv_fail(e, ENOMEM, "host cpus");
	for (int i = 0; i < l->nvm; i++) {
		const struct pv_lvm *v = &l->vm[i];

		if (v->vmid == except)
			continue;
		if (parse_cpus(v->cpus, one, e) < 0)
			return pv_wrap(e, "ledger, VM %d", v->vmid);
		hwloc_bitmap_or(excl, excl, one);
		if (!v->host[0])
			continue;
		if (parse_cpus(v->host, one, e) < 0)
			return pv_wrap(e, "ledger, VM %d", v->vmid);
		if (*any)
			hwloc_bitmap_and(set, set, one);
		else
			hwloc_bitmap_copy(set, one);
		*any = true;
	}
	if (*any)
		hwloc_bitmap_andnot(set, set, excl);
	return 0;
}
