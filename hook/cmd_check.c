/* pvepin check [VMID] [--json]: without a VMID the host's one-time setup
 * for every VM config's devices; with one, the same for that VM's devices,
 * then its config and policy against the plan. Exit 0 clean, 1 warnings,
 * 2 errors. */
#include <stdio.h>
#include <string.h>

#include "common/opts.h"
#include "check/host.h"
#include "check/vm.h"
#include "hook/cmd.h"
#include "check/latency.h"

/* An XML topology without --root describes some other machine: this
 * host's /sys and /etc say nothing about it. */
static bool other_host(void)
{
	return pv_opt.topology && !(pv_opt.root && pv_opt.root[0]);
}

static bool has_item(const struct pv_report *r, const char *id, enum pv_level min)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->item[i].id, id) && r->item[i].level >= min)
			return true;
	return false;
}

/* The VM lint sees IOMMU off and partial groups too; the host items say
 * it with the drivers and fixes, so keep one of each. */
static void merge_vm(struct pv_report *r, const struct pv_report *vr)
{
	bool iommu_off = has_item(r, "iommu-on", PV_ERROR), groups = has_item(r, "group-viable", PV_WARN);

	for (int i = 0; i < vr->n; i++) {
		const struct pv_item *it = &vr->item[i];

		if ((iommu_off && !strcmp(it->id, "iommu")) || (groups && !strcmp(it->id, "iommu-group")))
			continue;
		pv_report_add(r, it->level, it->id, "%s", it->msg);
	}
}

static void check_host_only(struct pv_report *r)
{
	struct pv_topo t;
	struct pv_err e = { 0 };

	if (pv_topo_load(&t, pv_opt.topology, &e) < 0) {
		pv_report_add(r, PV_ERROR, "topology", "%s", e.msg);
		return;
	}
	pv_check_host(&t, NULL, r);
	pv_topo_free(&t);
}

static void check_one_vm(int vmid, struct pv_report *r)
{
	static struct pv_report vr;
	struct pv_vmctx c;
	struct pv_err e = { 0 };
	int loaded = pv_vmctx_load(&c, vmid, true, &e);

	if (c.have_topo && !other_host()) {
		struct pv_vmconf none = { .vmid = vmid };

		pv_check_host(&c.topo, c.have_vc ? &c.vc : &none, r);
	} else if (c.have_topo) {
		fprintf(stderr, "pvepin check: --topology without --root describes another host: host checks "
				"skipped\n");
	}
	memset(&vr, 0, sizeof(vr));
	if (loaded < 0)
		pv_report_add(&vr, PV_ERROR, "load", "%s", e.msg);
	else
		pv_check_vm(&c, &vr);
	merge_vm(r, &vr);
	pv_vmctx_free(&c);
}

/* Measured latency against the topology's grouping (L3, NUMA, SMT). */
static void check_latency(const char *file, struct pv_report *r)
{
	struct pv_topo t;
	struct pv_err e = { 0 };

	if (pv_topo_load(&t, pv_opt.topology, &e) < 0) {
		pv_report_add(r, PV_ERROR, "latency-file", "%s", e.msg);
		return;
	}
	pv_latency_check(&t, file, r);
	pv_topo_free(&t);
}

int cmd_check(int argc, char **argv)
{
	static struct pv_report r;
	struct cmd_flags fl;
	int vmid = 0;

	if (cmd_parse_flags_ex("check", argc, argv, &fl, CMD_F_LATENCY) < 0 ||
	    (fl.pos && (vmid = cmd_vmid("check", fl.pos)) < 0))
		return 2;
	if (fl.latency && !fl.latency_file) {
		fprintf(stderr, "pvepin check: --latency takes a saved measurement: "
				"pvepin topo --latency --json > FILE, then check --latency FILE\n");
		return 2;
	}
	if (!fl.pos && other_host()) {
		fprintf(stderr, "pvepin check: --topology describes another host; give --root DIR (a captured "
				"host) with it, or check a VM: pvepin check VMID\n");
		return 2;
	}
	if (fl.pos)
		check_one_vm(vmid, &r);
	else
		check_host_only(&r);
	if (fl.latency_file)
		check_latency(fl.latency_file, &r);
	if (pv_opt.json)
		pv_report_json(stdout, &r, vmid);
	else
		pv_report_print(stdout, &r, vmid);
	return pv_report_exit(&r);
}
