/* A corrupt ledger rebuilt from what survives it: each VM's journal says
 * what that VM changed, and its QEMU or agent says whether it still holds
 * it. Refusing a corrupt ledger blocked every VM on the host until someone
 * removed the file by hand, which loses the shared settings' values from
 * before the first VM; the journals still have them. */
#include "engine/ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "engine/agent_ctl.h"
#include "engine/threads.h"

bool pv_ledger_vm_alive(int vmid)
{
	struct pv_agent_info ai;
	pid_t pid;

	/* an unreadable pid file is no proof QEMU is gone (as pv_vm_stale) */
	if (pv_qemu_pid(vmid, &pid, NULL) != 1)
		return true;
	/* agents are real processes, never a captured tree's: under --root
	 * only the tree's own pid file and /proc say a VM runs */
	if (pv_opt.root && pv_opt.root[0])
		return false;
	return pv_agent_info(vmid, &ai, NULL) == 0 && ai.running;
}

/* ---- one VM's claims, from the live entries of its journal ---- */

static bool own_scope(const char *target, int vmid)
{
	const char *colon = strchr(target, ':');
	char scope[64];

	pv_vm_scope(scope, sizeof(scope), vmid);
	return colon && !strcmp(colon + 1, scope);
}

static bool shared_kind(const struct pv_jent *x, int vmid)
{
	switch (x->kind) {
	case PV_STEP_CGCTL:
	case PV_STEP_PARTITION:
	case PV_STEP_PARTCPUS:
		return true;
	case PV_STEP_CPUSET:
		return !own_scope(x->target, vmid);
	default:
		return false;
	}
}

static const char *written(const struct pv_jent *x)
{
	return x->done ? x->got : x->nv;
}

static void add_dev(struct pv_lvm *v, const char *bdf)
{
	for (int i = 0; i < v->ndevs; i++)
		if (!strcmp(v->devs[i], bdf))
			return;
	if (v->ndevs < PV_MAX_DEVS && strlen(bdf) < PV_BDF_LEN)
		snprintf(v->devs[v->ndevs++], PV_BDF_LEN, "%s", bdf);
}

/* Pages this VM added to a node's pool: its claim as far as the journal
 * knows (pages already free when it started were not journaled). */
static void add_pages(struct pv_lvm *v, const struct pv_jent *x)
{
	long old, now, kb;
	int node;

	if (sscanf(x->target, "node%d/%ldkB", &node, &kb) != 2 ||
	    pv_parse_long(x->old, 0, 1L << 40, &old) < 0 ||
	    pv_parse_long(written(x), 0, 1L << 40, &now) < 0 || now <= old)
		return;
	if (v->npages && v->page_kb != kb)
		return; /* one page size per VM, as the plan has */
	v->page_kb = kb;
	for (int i = 0; i < v->npages; i++)
		if (v->pages[i].node == node) {
			v->pages[i].count += now - old;
			return;
		}
	if (v->npages < PV_MAX_NODES)
		v->pages[v->npages++] = (struct pv_plan_pages){ .node = node, .count = now - old };
}

static void add_cpus(hwloc_bitmap_t set, const char *list)
{
	_cleanup_bitmap_ hwloc_bitmap_t one = hwloc_bitmap_alloc();

	if (one && *list && pv_cpulist_parse(list, ',', PV_MAX_CPUS, one, NULL) == 0)
		hwloc_bitmap_or(set, set, one);
}

static void add_governor_cpu(hwloc_bitmap_t set, const char *target)
{
	unsigned cpu;
	char tail[32];

	if (sscanf(target, "/sys/devices/system/cpu/cpu%u/cpufreq/%31s", &cpu, tail) == 2 &&
	    cpu < PV_MAX_CPUS)
		hwloc_bitmap_set(set, cpu);
}

/* Every CPU a cgroup may have: the online ones, else (a tree without CPU
 * sysfs) what the root cgroup has. */
static int online_cpus(char *buf, size_t n)
{
	static const char *const from[] = { "/sys/devices/system/cpu/online",
					    "/sys/fs/cgroup/cpuset.cpus.effective" };
	char path[PV_PATH_MAX];

	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++)
		if (pv_path(path, sizeof(path), NULL, "%s", from[i]) == 0 &&
		    pv_read_attr(path, buf, n, NULL) >= 0 && *buf)
			return 0;
	return -1;
}

/* The host CPUs an isolating VM asked for: what it left the host slices
 * (the fallback narrows them directly), else every online CPU but its
 * partition's. "" when it did not isolate. */
static int host_of(const struct pv_jlist *jl, int vmid, char *host, size_t n)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char online[PV_JVAL];
	const struct pv_jent *part = NULL;

	if (!set)
		return -1;
	for (int i = 0; i < jl->n; i++) {
		const struct pv_jent *x = &jl->r[i];

		if (x->undone)
			continue;
		if (x->kind == PV_STEP_CPUSET && shared_kind(x, vmid))
			return snprintf(host, n, "%s", written(x)) < (int)n ? 0 : -1;
		if (x->kind == PV_STEP_PARTCPUS)
			part = x;
	}
	if (!part || online_cpus(online, sizeof(online)) < 0)
		return 0;
	add_cpus(set, online);
	{
		_cleanup_bitmap_ hwloc_bitmap_t vm = hwloc_bitmap_alloc();

		if (!vm)
			return -1;
		add_cpus(vm, written(part));
		hwloc_bitmap_andnot(set, set, vm);
	}
	return pv_cpulist_format(host, n, set) < 0 ? -1 : 0;
}

static int vm_from_journal(const struct pv_jlist *jl, int vmid, struct pv_lvm *v, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t cpus = hwloc_bitmap_alloc();
	bool running = false;

	memset(v, 0, sizeof(*v));
	v->vmid = vmid;
	if (!cpus)
		return pv_fail(e, ENOMEM, "ledger rebuild");
	for (int i = 0; i < jl->n; i++) {
		const struct pv_jent *x = &jl->r[i];

		if (x->undone)
			continue;
		running |= x->phase == PV_POST_START;
		if (x->kind == PV_STEP_REBIND && !strncmp(x->nv, "vfio-pci", 8))
			add_dev(v, x->target);
		else if (x->kind == PV_STEP_HUGEPAGES)
			add_pages(v, x);
		else if (x->kind == PV_STEP_AFFINITY ||
			 (x->kind == PV_STEP_CPUSET && own_scope(x->target, vmid)))
			add_cpus(cpus, x->nv);
		else if (x->kind == PV_STEP_GOVERNOR)
			add_governor_cpu(cpus, x->target);
	}
	snprintf(v->state, sizeof(v->state), "%s", running ? "running" : "starting");
	if (pv_cpulist_format(v->cpus, sizeof(v->cpus), cpus) < 0 ||
	    host_of(jl, vmid, v->host, sizeof(v->host)) < 0)
		return pv_fail(e, E2BIG, "ledger rebuild: VM %d: cpu list too long", vmid);
	return 0;
}

/* ---- shared settings, from every journal ---- */

struct shent {
	enum pv_step_kind kind;
	const char *target, *old, *written;
};

struct shlist {
	struct shent *s;
	int n, cap;
};

static int sh_add(struct shlist *sl, const struct pv_jent *x)
{
	if (sl->n == sl->cap) {
		int cap = sl->cap ? 2 * sl->cap : 16;
		struct shent *ns = realloc(sl->s, (size_t)cap * sizeof(*ns));

		if (!ns)
			return -1;
		sl->s = ns;
		sl->cap = cap;
	}
	sl->s[sl->n++] = (struct shent){ x->kind, x->target, x->old, written(x) };
	return 0;
}

static bool same_setting(const struct shent *a, const struct shent *b)
{
	return a->kind == b->kind && !strcmp(a->target, b->target);
}

/* Several VMs' steps on one setting form a chain, each VM's old value the
 * one the VM before it wrote. */
static bool linked(const struct shlist *sl, int at, int i, bool first)
{
	const struct shent *a = &sl->s[i];

	for (int k = at; k < sl->n; k++)
		if (k != i && same_setting(&sl->s[k], a) &&
		    !strcmp(first ? sl->s[k].written : sl->s[k].old, first ? a->old : a->written))
			return true;
	return false;
}

/* first: the step whose old value no VM wrote (the host's own, from before
 * the first VM); else the one whose value no VM found (what holds now).
 * A chain that closes on itself falls back to the first or last step. */
static const struct shent *chain_end(const struct shlist *sl, int at, bool first)
{
	const struct shent *fallback = NULL;

	for (int i = at; i < sl->n; i++) {
		if (!same_setting(&sl->s[i], &sl->s[at]))
			continue;
		if (!fallback || !first)
			fallback = &sl->s[i];
		if (!linked(sl, at, i, first))
			return &sl->s[i];
	}
	return fallback;
}

static int sh_apply(const struct shlist *sl, struct pv_ledger *l, struct pv_err *e)
{
	for (int i = 0; i < sl->n; i++) {
		const struct shent *a = &sl->s[i], *from, *to;

		if (pv_ledger_shared(l, a->kind, a->target))
			continue;
		from = chain_end(sl, i, true);
		to = chain_end(sl, i, false);
		if (pv_ledger_share(l, a->kind, a->target, from->old, to->written, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- the journals in /run/pvepin ---- */

static int journal_vmid(const char *name)
{
	char digits[16];
	long id;
	size_t n = strspn(name, "0123456789");

	if (!n || n >= sizeof(digits) || strcmp(name + n, ".journal"))
		return -1;
	memcpy(digits, name, n);
	digits[n] = '\0';
	return pv_parse_long(digits, PV_VMID_MIN, PV_VMID_MAX, &id) < 0 ? -1 : (int)id;
}

/* vmids() takes at most PV_LEDGER_REBUILD_MAX journals: these never fill */
static void note_vm(int *ids, int *n, int vmid)
{
	if (*n < PV_LEDGER_REBUILD_MAX)
		ids[(*n)++] = vmid;
}

/* One journal: the VM's entry when it is alive, its shared steps always
 * (a stale VM may have been first: its old values are the host's own). */
static int take_journal(int vmid, struct pv_ledger *l, struct pv_jlist *jl, struct shlist *sl,
			struct pv_ledger_rebuilt *rb, struct pv_err *e)
{
	struct pv_lvm v;
	int rc = pv_journal_load(vmid, jl, e);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < jl->n; i++)
		if (!jl->r[i].undone && shared_kind(&jl->r[i], vmid) && sh_add(sl, &jl->r[i]) < 0)
			return pv_fail(e, ENOMEM, "ledger rebuild");
	if (!jl->nlive)
		return 0;
	if (!pv_ledger_vm_alive(vmid)) {
		note_vm(rb->stale, &rb->nstale, vmid);
		return 0;
	}
	note_vm(rb->live, &rb->nlive, vmid);
	if (vm_from_journal(jl, vmid, &v, e) < 0)
		return -1;
	return pv_ledger_put(l, &v, e);
}

static int vmids(int *ids, int *n, struct pv_err *e)
{
	char dir[PV_PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	*n = 0;
	if (pv_path(dir, sizeof(dir), e, PV_RUN_DIR) < 0)
		return -1;
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0 : pv_fail(e, errno, "open %s", dir);
	while ((errno = 0, de = readdir(d))) {
		int id = journal_vmid(de->d_name);

		if (id > 0 && *n < PV_LEDGER_REBUILD_MAX)
			ids[(*n)++] = id;
	}
	if (errno)
		return pv_fail(e, errno, "read %s", dir);
	qsort(ids, (size_t)*n, sizeof(*ids), pv_cmp_int);
	return 0;
}

int pv_ledger_rebuild(struct pv_ledger *l, struct pv_ledger_rebuilt *rb, struct pv_err *e)
{
	int ids[PV_LEDGER_REBUILD_MAX], n, rc = 0;
	struct shlist sl = { 0 };
	struct pv_jlist *jls;

	memset(l, 0, sizeof(*l));
	memset(rb, 0, sizeof(*rb));
	if (vmids(ids, &n, e) < 0)
		return -1;
	/* the shared steps point into the journals' text: all kept to the end */
	if (!(jls = calloc((size_t)(n ? n : 1), sizeof(*jls))))
		return pv_fail(e, ENOMEM, "ledger rebuild");
	for (int i = 0; i < n && rc == 0; i++)
		rc = take_journal(ids[i], l, &jls[i], &sl, rb, e);
	if (rc == 0)
		rc = sh_apply(&sl, l, e);
	rb->nsh = l->nsh;
	for (int i = 0; i < n; i++)
		pv_jlist_free(&jls[i]);
	free(jls);
	free(sl.s);
	if (rc < 0)
		pv_ledger_free(l);
	return rc;
}

/* ---- a corrupt ledger: set aside, rebuilt, said in one line ---- */

/* ledger.corrupt, or ledger.corrupt.N while an earlier one is kept: a
 * corrupt file is evidence, never replaced or deleted. */
static int set_aside(const char *path, char *aside, size_t n, struct pv_err *e)
{
	for (int i = 0; i < 100; i++) {
		int len = i ? snprintf(aside, n, "%s.corrupt.%d", path, i)
			    : snprintf(aside, n, "%s.corrupt", path);

		if (len < 0 || (size_t)len >= n)
			return pv_fail(e, ENAMETOOLONG, "%s.corrupt", path);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, aside, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL)
			return pv_fail(e, errno, "rename %s to %s", path, aside);
		/* a file system without RENAME_NOREPLACE: look, then rename */
		if (pv_exists(aside))
			continue;
		if (rename(path, aside) < 0)
			return pv_fail(e, errno, "rename %s to %s", path, aside);
		return 0;
	}
	return pv_fail(e, EEXIST, "%s.corrupt.1-99 are all kept: remove old ones", path);
}

static void append(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t n, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
}

/* "VM 101 (CPUs 2-3, 1 device, 2 pages), 1 shared setting; left out ..." */
static void rebuilt_text(char *buf, size_t n, const struct pv_ledger *l,
			 const struct pv_ledger_rebuilt *rb)
{
	*buf = '\0';
	for (int i = 0; i < l->nvm; i++) {
		const struct pv_lvm *v = &l->vm[i];
		long pages = 0;

		for (int k = 0; k < v->npages; k++)
			pages += v->pages[k].count;
		append(buf, n, "%sVM %d (CPUs %s, %d device%s, %ld page%s)", i ? ", " : "", v->vmid,
		       *v->cpus ? v->cpus : "none", v->ndevs, v->ndevs == 1 ? "" : "s", pages,
		       pages == 1 ? "" : "s");
	}
	append(buf, n, "%s%d shared setting%s", l->nvm ? ", " : "no VM, ", l->nsh,
	       l->nsh == 1 ? "" : "s");
	if (!rb->nstale)
		return;
	append(buf, n, "; left out, as neither QEMU nor agent runs:");
	for (int i = 0; i < rb->nstale; i++)
		append(buf, n, " VM %d", rb->stale[i]);
	append(buf, n, " (`pvepin restore VMID` gives its changes back)");
}

int pv_ledger_load_repair(struct pv_ledger *l, bool keep, struct pv_err *e)
{
	struct pv_err why = { 0 };
	struct pv_ledger_rebuilt rb;
	char path[PV_PATH_MAX], aside[PV_PATH_MAX + 16], text[1024];

	if (pv_ledger_load(l, &why) == 0)
		return 0;
	if (why.errnum != EBADMSG) {
		if (e)
			*e = why;
		return -1;
	}
	if (pv_path(path, sizeof(path), e, PV_RUN_DIR "/ledger") < 0 ||
	    pv_ledger_rebuild(l, &rb, e) < 0)
		return pv_wrap(e, "%s, and rebuilding it failed", why.msg);
	rebuilt_text(text, sizeof(text), l, &rb);
	if (!keep || pv_opt.dry_run) {
		fprintf(stderr, "pvepin: %s: using a ledger rebuilt from the journals: %s; the next "
			"phase keeps it\n", why.msg, text);
		return 0;
	}
	if (set_aside(path, aside, sizeof(aside), e) < 0 || pv_ledger_save(l, e) < 0) {
		pv_ledger_free(l);
		return pv_wrap(e, "%s", why.msg);
	}
	fprintf(stderr, "pvepin: %s: set aside as %s and rebuilt from the journals: %s\n", why.msg,
		aside, text);
	return 0;
}
