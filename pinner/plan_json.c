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

static void json_dev_origin(FILE *f, const struct pv_plan_dev *d)
{
	static const char *const treat[] = { "bind", "keep", "mdev" };

	fprintf(f, ",\"treatment\":\"%s\",\"hostpci\":%d,\"mapping\":", treat[d->treat], d->hostpci);
	pv_json_str(f, d->mapping);
	fprintf(f, ",\"map_entry\":%d,\"node\":%d,\"kind\":", d->map_entry, d->node);
	pv_json_str(f, d->kind);
	fputc('}', f);
}

/* What was read from the VM config, as PVE applies it. */
static void json_config(FILE *f, const struct pv_plan *p)
{
	const struct pv_plan_cfg *c = &p->cfg;
	char buf[PV_MAX_CPUS * 2];

	fprintf(f, ",\"config\":{\"cores\":%d,\"sockets\":%d,\"vcpus\":%d,\"memory\":%ld,"
		"\"numa\":%s,\"hugepages_kb\":%ld,\"template\":%s,\"kvm\":%s,\"hotplug_memory\":%s,"
		"\"guest_numa\":[", c->cores, c->sockets, c->vcpus, c->memory_mb, c->numa ? "true" : "false",
		c->hugepages_kb, c->template ? "true" : "false", c->kvm ? "true" : "false",
		c->hotplug_memory ? "true" : "false");
	for (int i = 0; i < c->ngnode; i++) {
		if (pv_cpulist_format(buf, sizeof(buf), c->g[i].cpus) < 0)
			buf[0] = '\0';
		fprintf(f, "%s{\"cpus\":", i ? "," : "");
		pv_json_str(f, buf);
		if (!c->g[i].hostnodes || pv_cpulist_format(buf, sizeof(buf), c->g[i].hostnodes) < 0)
			buf[0] = '\0';
		fputs(",\"hostnodes\":", f);
		pv_json_str(f, buf);
		fprintf(f, ",\"policy\":\"%s\",\"memory\":%ld,\"from_socket\":%s}", c->g[i].policy,
			c->g[i].memory_mb, c->g[i].from_socket ? "true" : "false");
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
		fprintf(f, ",\"target\":\"%s\",\"listed\":%s", d->target, d->listed ? "true" : "false");
		json_dev_origin(f, d);
	}
	fputs("]", f);
	fputs(",\"gpu\":", f);
	pv_json_str(f, p->gpu);
	fputs(",\"placed_by\":", f);
	pv_json_str(f, p->placed_by);
	fputs(",\"placed_why\":", f);
	pv_json_str(f, p->placed_why);
	fprintf(f, ",\"reserve_cores\":%d", p->reserve_cores);
	json_config(f, p);
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
