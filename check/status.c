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
#include "common/opts.h"
#include "engine/engine.h"
#include "engine/vfio.h"

static const char *const st_name[] = { [PV_HOLDS] = "ok", [PV_DRIFTED] = "drift",
				       [PV_GONE] = "gone" };

/* The summary's groups: one line each. */
enum grp { G_THREAD, G_IRQ, G_GOVERNOR, G_CPUSET, G_OTHER, G__N };
static const char *const grp_name[G__N] = { "threads", "irqs", "governors", "cpusets",
					    "other settings" };
static const char *const grp_verb[G__N] = { "pinned", "steered", "set", "held", "held" };

static enum grp grp_of(enum pv_step_kind k)
{
	switch (k) {
	case PV_STEP_AFFINITY:
		return G_THREAD;
	case PV_STEP_IRQ:
		return G_IRQ;
	case PV_STEP_GOVERNOR:
		return G_GOVERNOR;
	case PV_STEP_CPUSET:
	case PV_STEP_PARTCPUS:
	case PV_STEP_PARTITION:
		return G_CPUSET;
	default:
		return G_OTHER;
	}
}

struct tally {
	int n[G__N][3];        /* per group, per state */
	char gov[64];          /* the governor asked for ("" none, "mixed") */
};

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

/* One row per target (the journal's newest live entry of it): a thread
 * re-pinned by the agent is still one thread, and one drift. Rows are
 * printed with -v (all) or when they drifted; JSON always has them all. */
static int show_steps(struct out *o, const struct pv_jlist *l, const struct pv_ledger *led,
		      struct tally *t)
{
	int drift = 0, shown = 0;

	if (o->json)
		fputs(",\"applied\":[", o->f);
	o->nitem = 0;
	for (int i = 0; l && i < l->n; i++) {
		const struct pv_jent *x = &l->r[i];
		struct pv_inspect w;
		enum grp g = grp_of(x->kind);

		if (x->undone || pv_jlist_live(l, x->kind, x->target) != x ||
		    pv_engine_inspect(x, led, &w) != 0)
			continue;
		drift += w.st == PV_DRIFTED;
		t->n[g][w.st]++;
		if (g == G_GOVERNOR)
			snprintf(t->gov, sizeof(t->gov), "%.60s", !t->gov[0] || !strcmp(t->gov, w.want)
				 ? w.want : "mixed");
		item_begin(o);
		if (o->json) {
			jkv(o, "kind", pv_step_name(x->kind), false);
			jkv(o, "what", w.label, false);
			jkv(o, "want", w.want, false);
			jkv(o, "now", w.now, false);
			jkv(o, "state", st_name[w.st], true);
			fputc('}', o->f);
		} else if (pv_opt.verbose || (w.st == PV_DRIFTED && shown++ < 12)) {
			fprintf(o->f, "  %-40s want %-16s now %-16s %s\n", w.label, w.want,
				w.st == PV_GONE ? "-" : w.now, w.st == PV_DRIFTED ? "DRIFT" : st_name[w.st]);
		}
	}
	if (o->json)
		fputc(']', o->f);
	else if (!pv_opt.verbose && shown > 12)
		fprintf(o->f, "  ... and %d more drifted (pvepin status -v %d lists every item)\n",
			shown - 12, l->vmid);
	return drift;
}

/* One line per group: how many hold, drifted, are gone. */
static void show_tally(struct out *o, const struct tally *t)
{
	for (int g = 0; g < G__N; g++) {
		const int *n = t->n[g];

		if (!n[PV_HOLDS] && !n[PV_DRIFTED] && !n[PV_GONE])
			continue;
		if (o->json) {
			fprintf(o->f, "%s\"%s\":{\"ok\":%d,\"drift\":%d,\"gone\":%d}",
				o->nitem++ ? "," : "", grp_name[g], n[PV_HOLDS], n[PV_DRIFTED],
				n[PV_GONE]);
			continue;
		}
		fprintf(o->f, "  %s: %d %s", grp_name[g], n[PV_HOLDS], grp_verb[g]);
		if (g == G_GOVERNOR && t->gov[0])
			fprintf(o->f, " (%s)", t->gov);
		if (n[PV_DRIFTED])
			fprintf(o->f, ", %d drifted", n[PV_DRIFTED]);
		if (n[PV_GONE])
			fprintf(o->f, ", %d gone", n[PV_GONE]);
		fputc('\n', o->f);
	}
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
	struct tally t = { 0 };
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
	drift += show_steps(o, have ? &l : NULL, led, &t);
	if (o->json)
		fputs(",\"summary\":{", o->f);
	o->nitem = 0;
	show_tally(o, &t);
	if (o->json)
		fputc('}', o->f);
	show_agent(o, v);
	if (o->json)
		fprintf(o->f, ",\"drift\":%d}", drift);
	else
		fprintf(o->f, "  %d drift%s\n", drift,
			drift && !pv_opt.verbose ? " (status -v: every item)" : "");
	if (have)
		pv_jlist_free(&l);
	return drift;
}

int pv_status(int vmid, bool json, FILE *out, struct pv_err *e)
{
	struct out o = { .f = out, .json = json };
	struct pv_ledger led;
	int total = 0, shown = 0;

	/* a corrupt ledger: status shows the one rebuilt from the journals */
	if (pv_ledger_load_repair(&led, false, e) < 0)
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
