#include "check/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/memory_maps.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/hugepages.h"
#include "engine/threads.h"
#include "engine/agent_ctl.h"
#include "engine/journal.h"
#include "engine/ledger.h"
#include "engine/steps.h"
#include "engine/vfio.h"

enum st { ST_OK, ST_DRIFT, ST_GONE };
static const char *const st_name[] = { "ok", "drift", "gone" };

struct row {
	char label[PV_JTARGET + 40];
	char want[PV_JVAL];
	char now[PV_JVAL];
	enum st st;
};

/* What holds now for one journaled step; false for kinds not shown. A
 * setting VMs share holds what pvepin wrote last, for whichever VM. */
static bool step_row(const struct pv_jrec *r, const struct pv_ledger *led, struct row *w)
{
	const struct pv_lshared *sh = led ? pv_ledger_shared(led, r->kind, r->target) : NULL;
	const char *want = sh ? sh->written : r->done ? r->got : r->nv;
	pid_t pid, tid;
	unsigned long long start;
	bool on = false;

	snprintf(w->want, sizeof(w->want), "%s", want);
	w->now[0] = '\0';
	w->st = ST_OK;
	snprintf(w->label, sizeof(w->label), "%s %s", pv_step_name(r->kind), r->target);
	switch (r->kind) {
	case PV_STEP_PARTITION:
		snprintf(w->label, sizeof(w->label), "partition %s", r->target);
		if (pv_cgroup_partition(r->target, w->now, sizeof(w->now), NULL) < 0)
			w->st = ST_GONE;
		else if (strcmp(w->now, want)) /* also "root invalid (why)" */
			w->st = ST_DRIFT;
		return true;
	case PV_STEP_PARTCPUS:
	case PV_STEP_CPUSET: {
		const char *cg = strchr(r->target, ':');

		cg = cg ? cg + 1 : r->target;
		snprintf(w->label, sizeof(w->label), "cpuset %s", cg);
		if (!pv_cgroup_exists(cg) || pv_cgroup_cpus(cg, w->now, sizeof(w->now), NULL) < 0)
			w->st = ST_GONE;
		else if (!pv_cpus_equal(w->now, want))
			w->st = ST_DRIFT;
		return true;
	}
	case PV_STEP_AFFINITY: {
		_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
		struct pv_thread t = { 0 };
		char comm[PV_PATH_MAX];

		if (!set || sscanf(r->target, "%d/%d@%llu", &pid, &tid, &start) != 3)
			return false;
		snprintf(w->label, sizeof(w->label), "thread %d", tid);
		if (!pv_thread_live(pid, tid, start) || pv_thread_get_cpus(tid, set, NULL) < 0) {
			w->st = ST_GONE;
			return true;
		}
		if (pv_path(comm, sizeof(comm), NULL, "/proc/%d/task/%d/comm", pid, tid) == 0 &&
		    pv_read_file(comm, t.comm, sizeof(t.comm), NULL) >= 0)
			snprintf(w->label, sizeof(w->label), "thread %d (%s)", tid, t.comm);
		pv_cpulist_format(w->now, sizeof(w->now), set);
		w->st = pv_cpus_equal(w->now, want) ? ST_OK : ST_DRIFT;
		return true;
	}
	case PV_STEP_IRQ:
	case PV_STEP_GOVERNOR:
	case PV_STEP_ATTR:
		if (r->kind == PV_STEP_IRQ && sscanf(r->target, "/proc/irq/%d/", &tid) == 1)
			snprintf(w->label, sizeof(w->label), "irq %d", tid);
		else if (r->kind == PV_STEP_GOVERNOR &&
			 sscanf(r->target, "/sys/devices/system/cpu/cpu%d/", &tid) == 1)
			snprintf(w->label, sizeof(w->label), "governor cpu%d", tid);
		if (pv_attr_get(r->target, w->now, sizeof(w->now), NULL) < 0)
			w->st = ST_GONE;
		else if (r->kind == PV_STEP_IRQ ? !pv_cpus_equal(w->now, want) : !!strcmp(w->now, want))
			w->st = ST_DRIFT;
		return true;
	case PV_STEP_CGCTL:
		snprintf(w->label, sizeof(w->label), "+cpuset in %s", r->target);
		if (pv_cgroup_cpuset_enabled(strcmp(r->target, "/") ? r->target : "", &on, NULL) < 0)
			w->st = ST_GONE;
		snprintf(w->now, sizeof(w->now), "%s", on ? "on" : "off");
		w->st = w->st == ST_GONE ? ST_GONE : on ? ST_OK : ST_DRIFT;
		return true;
	default:
		return false;
	}
}

static const char *host_driver(const struct pv_jlist *l, const char *bdf)
{
	for (int i = 0; l && i < l->n; i++)
		if (l->r[i].kind == PV_STEP_REBIND && !strcmp(l->r[i].target, bdf))
			return l->r[i].old;
	return NULL;
}

struct out {
	FILE *f;
	bool json;
	int nitem; /* items written in the current JSON array */
};

static void jkv(struct out *o, const char *k, const char *v, bool last)
{
	pv_json_str(o->f, k);
	fputc(':', o->f);
	pv_json_str(o->f, v);
	if (!last)
		fputc(',', o->f);
}

static void item_begin(struct out *o)
{
	if (o->json)
		fputs(o->nitem++ ? ",{" : "{", o->f);
}

static int show_devices(struct out *o, const struct pv_lvm *v, const struct pv_jlist *l)
{
	int drift = 0;

	if (o->json)
		fputs(",\"devices\":[", o->f);
	o->nitem = 0;
	for (int i = 0; i < v->ndevs; i++) {
		char drv[64] = "", host[64] = "";
		const char *h = host_driver(l, v->devs[i]);

		if (pv_pci_driver(v->devs[i], drv, sizeof(drv), NULL) < 0)
			snprintf(drv, sizeof(drv), "?");
		snprintf(host, sizeof(host), "%.*s", h && strchr(h, '|') ? (int)(strchr(h, '|') - h) : 63,
			 h ? h : "");
		drift += !strcmp(v->state, "running") && strcmp(drv, "vfio-pci");
		item_begin(o);
		if (o->json) {
			jkv(o, "bdf", v->devs[i], false);
			jkv(o, "driver", drv, false);
			jkv(o, "host_driver", host, true);
			fputc('}', o->f);
		} else {
			fprintf(o->f, "  device %s: %s%s%s%s\n", v->devs[i], *drv ? drv : "no driver",
				*host ? " (host driver " : "", host, *host ? ")" : "");
		}
	}
	if (o->json)
		fputc(']', o->f);
	return drift;
}

static void show_pages(struct out *o, const struct pv_lvm *v)
{
	char sz[16];

	if (o->json)
		fputs(",\"hugepages\":[", o->f);
	o->nitem = 0;
	for (int i = 0; i < v->npages; i++) {
		struct pv_hp_count c = { -1, -1 };

		pv_hp_read(v->pages[i].node, v->page_kb, &c, NULL);
		item_begin(o);
		if (o->json)
			fprintf(o->f, "\"node\":%d,\"size_kb\":%ld,\"count\":%ld,\"pool\":%ld,\"free\":%ld}",
				v->pages[i].node, v->page_kb, v->pages[i].count, c.nr, c.free);
		else
			fprintf(o->f, "  hugepages node%d %s: %ld for the VM; pool %ld, %ld free\n",
				v->pages[i].node, pv_hp_size_name(v->page_kb, sz, sizeof(sz)),
				v->pages[i].count, c.nr, c.free);
	}
	if (o->json)
		fputc(']', o->f);
}

static int show_steps(struct out *o, const struct pv_jlist *l, const struct pv_ledger *led)
{
	int drift = 0;

	if (o->json)
		fputs(",\"applied\":[", o->f);
	o->nitem = 0;
	for (int i = 0; l && i < l->n; i++) {
		struct row w;

		if (l->r[i].undone || !step_row(&l->r[i], led, &w))
			continue;
		drift += w.st == ST_DRIFT;
		item_begin(o);
		if (o->json) {
			jkv(o, "kind", pv_step_name(l->r[i].kind), false);
			jkv(o, "what", w.label, false);
			jkv(o, "want", w.want, false);
			jkv(o, "now", w.now, false);
			jkv(o, "state", st_name[w.st], true);
			fputc('}', o->f);
		} else {
			fprintf(o->f, "  %-40s want %-16s now %-16s %s\n", w.label, w.want,
				w.st == ST_GONE ? "-" : w.now, w.st == ST_DRIFT ? "DRIFT" : st_name[w.st]);
		}
	}
	if (o->json)
		fputc(']', o->f);
	return drift;
}

/* The runtime agent's state and counters (hook/agent.h); no drift. */
static void show_agent(struct out *o, const struct pv_lvm *v)
{
	struct pv_agent_info ai;
	int rc = pv_agent_info(v->vmid, &ai, NULL);

	if (o->json) {
		fputs(",\"agent\":", o->f);
		pv_agent_info_print(o->f, &ai, true);
	} else if (rc == 0 || !strcmp(v->state, "running")) {
		pv_agent_info_print(o->f, &ai, false);
	}
}

static int show_vm(struct out *o, const struct pv_ledger *led, const struct pv_lvm *v, bool first,
		   struct pv_err *e)
{
	struct pv_jlist l;
	bool have = false;
	pid_t pid = 0;
	int rc, drift;

	if ((rc = pv_journal_load(v->vmid, &l, e)) < 0)
		return -1;
	have = rc == 0;
	rc = pv_qemu_pid(v->vmid, &pid, NULL);
	if (o->json)
		fprintf(o->f, "%s{\"vmid\":%d,\"state\":\"%s\",\"pid\":%d", first ? "" : ",", v->vmid,
			v->state, rc == 0 ? pid : 0);
	else if (rc == 0)
		fprintf(o->f, "VM %d: %s, QEMU pid %d\n", v->vmid, v->state, pid);
	else
		fprintf(o->f, "VM %d: %s, QEMU not running%s\n", v->vmid, v->state,
			!strcmp(v->state, "running") ? " (post-stop did not run? `pvepin restore`)" : "");
	drift = show_devices(o, v, have ? &l : NULL);
	show_pages(o, v);
	if (rc == 0)
		drift += pv_memory_show(o->f, o->json, v, pid);
	drift += show_steps(o, have ? &l : NULL, led);
	show_agent(o, v);
	if (o->json)
		fprintf(o->f, ",\"drift\":%d}", drift);
	else
		fprintf(o->f, "  %d drift\n", drift);
	if (have)
		pv_jlist_free(&l);
	return drift;
}

int pv_status(int vmid, bool json, FILE *out, struct pv_err *e)
{
	struct out o = { .f = out, .json = json };
	struct pv_ledger led;
	int total = 0, shown = 0;

	if (pv_ledger_load(&led, e) < 0)
		return -1;
	if (json)
		fputs("{\"vms\":[", out);
	for (int i = 0; i < led.nvm; i++) {
		int d;

		if (vmid > 0 && led.vm[i].vmid != vmid)
			continue;
		if ((d = show_vm(&o, &led, &led.vm[i], shown == 0, e)) < 0) {
			pv_ledger_free(&led);
			return -1;
		}
		shown++;
		total += d;
	}
	pv_ledger_free(&led);
	if (json)
		fputs("]}\n", out);
	else if (!shown && vmid > 0)
		fprintf(out, "VM %d: nothing applied by pvepin\n", vmid);
	else if (!shown)
		fprintf(out, "no VM has anything applied by pvepin\n");
	return total;
}
