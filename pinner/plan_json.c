/* `plan --json`: the stable schema of doc/DESIGN.md "plan --json" (fields may be added,
 * never renamed or removed). */
#include <stdio.h>

#include "common/json.h"
#include "conf/cpulist.h"
#include "pinner/plan.h"

static void json_cpus(FILE *f, const char *key, hwloc_const_bitmap_t set)
{
	char buf[PV_MAX_CPUS * 2];

	if (pv_cpulist_format(buf, sizeof(buf), set) < 0)
		buf[0] = '\0';
	fprintf(f, ",\"%s\":", key);
	pv_json_str(f, buf);
}

static void json_strings(FILE *f, const char *key, const char (*s)[256], int n)
{
	fprintf(f, ",\"%s\":[", key);
	for (int i = 0; i < n; i++) {
		fputs(i ? "," : "", f);
		pv_json_str(f, s[i]);
	}
	fputc(']', f);
}

static void json_action(FILE *f, const struct pv_action *a)
{
	fprintf(f, "{\"phase\":\"%s\",\"action\":\"%s\",\"target\":", pv_phase_name(a->phase),
		pv_act_name(a->kind));
	pv_json_str(f, a->target);
	fputs(",\"value\":", f);
	pv_json_str(f, a->value);
	if (a->kind == PV_ACT_HUGEPAGES)
		fprintf(f, ",\"node\":%d,\"count\":%ld,\"size_kb\":%ld", a->node, a->count, a->size_kb);
	if (a->kind == PV_ACT_PIN_VCPU)
		fprintf(f, ",\"vcpu\":%d,\"pu\":%u", a->vcpu, a->pu);
	fputc('}', f);
}

static void json_guest(FILE *f, const struct pv_plan *p)
{
	char buf[PV_MAX_CPUS * 2];

	fputs(",\"guest\":{\"smp\":", f);
	pv_json_str(f, p->smp);
	fputs(",\"numa\":[", f);
	for (int i = 0; i < p->ngnuma; i++) {
		if (pv_cpulist_format(buf, sizeof(buf), p->gnuma[i].cpus) < 0)
			buf[0] = '\0';
		fprintf(f, "%s{\"cpus\":", i ? "," : "");
		pv_json_str(f, buf);
		fprintf(f, ",\"hostnodes\":\"%d\",\"memory\":%ld}", p->gnuma[i].hostnode,
			p->gnuma[i].memory_mb);
	}
	fputs("]}", f);
}

int pv_plan_json(FILE *f, const struct pv_plan *p, const struct pv_topo *t)
{
	fprintf(f, "{\"vmid\":%d,\"mode\":\"%s\",\"vcpus\":[", p->vmid, pv_mode_name(p->mode));
	for (int i = 0; i < p->nvcpu; i++) {
		const struct pv_plan_vcpu *v = &p->vcpus[i];

		fprintf(f, "%s{\"vcpu\":%d,\"pu\":%u,\"core\":%d,\"l3\":%d,\"node\":%d}", i ? "," : "",
			v->vcpu, v->pu, v->core, v->l3, v->node);
	}
	fputc(']', f);
	json_cpus(f, "emulator", p->emulator);
	json_cpus(f, "irq_cpus", p->irq_cpus);
	json_cpus(f, "vm_cpus", p->vm_cpus);
	fprintf(f, ",\"memory\":{\"hugepage_size_kb\":%ld,\"pages\":[", p->hp_kb);
	for (int i = 0; i < p->npages; i++)
		fprintf(f, "%s{\"node\":%d,\"count\":%ld}", i ? "," : "", p->pages[i].node,
			p->pages[i].count);
	fputs("]", f);
	json_cpus(f, "nodes", p->mem_nodes);
	fputs("},\"devices\":[", f);
	for (int i = 0; i < p->ndev; i++) {
		const struct pv_plan_dev *d = &p->dev[i];

		fprintf(f, "%s{\"bdf\":\"%s\",\"group\":%d,\"driver\":", i ? "," : "", d->bdf, d->group);
		pv_json_str(f, d->driver);
		fprintf(f, ",\"target\":\"%s\",\"listed\":%s}", d->target, d->listed ? "true" : "false");
	}
	fputs("]", f);
	fputs(",\"gpu\":", f);
	pv_json_str(f, p->gpu);
	json_cpus(f, "host_cpus", p->host_cpus);
	json_guest(f, p);
	fputs(",\"actions\":[", f);
	for (int i = 0; i < p->nact; i++) {
		fputs(i ? "," : "", f);
		json_action(f, &p->act[i]);
	}
	fputc(']', f);
	json_strings(f, "warnings", p->warn, p->nwarn);
	json_strings(f, "refusals", p->refuse, p->nrefuse);
	fputs("}\n", f);
	(void)t;
	return ferror(f) ? -1 : 0;
}
