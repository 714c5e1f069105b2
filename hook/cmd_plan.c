/* pvepin plan VMID [--json|--pve] [--svg [FILE]]: the plan, touching
 * nothing; drawn on the host with the VMs already running. */
#include <stdio.h>
#include <stdlib.h>

#include "common/opts.h"
#include "hook/cmd.h"
#include "engine/ledger.h"
#include "draw/svg.h"
#include "vmctx/vmctx.h"

/* Running VMs from the ledger besides vmid, as drawable plans. */
static int others(const struct pv_ledger *l, int vmid, struct pv_plan **plans, struct pv_svg_vm *vms,
		  int max)
{
	int n = 0;

	for (int i = 0; i < l->nvm && n < max; i++) {
		struct pv_err e = { 0 };

		if (l->vm[i].vmid == vmid)
			continue;
		plans[n] = calloc(1, sizeof(**plans));
		if (!plans[n])
			break;
		if (pv_svg_plan_from_ledger(plans[n], &l->vm[i], &e) < 0) {
			fprintf(stderr, "pvepin plan: %s (not drawn)\n", e.msg);
			free(plans[n]);
			continue;
		}
		vms[n] = (struct pv_svg_vm){ .vmid = l->vm[i].vmid, .plan = plans[n] };
		n++;
	}
	return n;
}

#define MAX_DRAWN 32

static int draw(const struct pv_vmctx *c, const struct cmd_flags *fl)
{
	struct pv_svg_vm vms[MAX_DRAWN];
	struct pv_plan *plans[MAX_DRAWN];
	struct pv_ledger l = { 0 };
	struct pv_err e = { 0 };
	char caption[160];
	struct pv_svg s = { .t = &c->topo, .vm = vms, .caption = caption };
	int n = 0, rc;

	vms[n++] = (struct pv_svg_vm){ .vmid = c->vmid, .name = c->vc.name, .plan = &c->plan,
				       .proposed = true };
	if (pv_ledger_load(&l, &e) < 0)
		fprintf(stderr, "pvepin plan: %s (other VMs not drawn)\n", e.msg);
	else
		n += others(&l, c->vmid, plans, vms + 1, MAX_DRAWN - 1);
	pv_ledger_free(&l);
	s.nvm = n;
	snprintf(caption, sizeof(caption), "pvepin plan %d: the placement proposed for VM %d%s, nothing "
		 "applied yet", c->vmid, c->vmid, n > 1 ? " among the running VMs" : "");
	rc = pv_svg_save(cmd_svg_stdout(fl) ? "-" : fl->svg_file, &s, &e);
	for (int i = 1; i < n; i++) {
		pv_plan_free(plans[i - 1]);
		free(plans[i - 1]);
	}
	if (rc < 0)
		fprintf(stderr, "pvepin plan: %s\n", e.msg);
	return rc;
}

static void print(const struct pv_vmctx *c, const struct cmd_flags *fl)
{
	if (pv_opt.json)
		pv_plan_json(stdout, &c->plan, &c->topo);
	else if (fl->pve)
		pv_plan_print_pve(stdout, &c->plan, &c->vc);
	else
		pv_plan_print(stdout, &c->plan, &c->topo);
}

static int parse(int argc, char **argv, struct cmd_flags *fl)
{
	if (cmd_parse_flags_ex("plan", argc, argv, fl, CMD_F_PVE | CMD_F_SVG) < 0)
		return -1;
	if (pv_opt.json && fl->pve) {
		fprintf(stderr, "pvepin plan: --json and --pve are two different outputs: choose one\n");
		return -1;
	}
	if (cmd_svg_stdout(fl) && (pv_opt.json || fl->pve)) {
		fprintf(stderr, "pvepin plan: --svg without a FILE and --%s both want stdout\n",
			fl->pve ? "pve" : "json");
		return -1;
	}
	return cmd_vmid("plan", fl->pos);
}

int cmd_plan(int argc, char **argv)
{
	struct pv_vmctx c;
	struct cmd_flags fl;
	struct pv_err e = { 0 };
	int vmid, rc = 1;

	if ((vmid = parse(argc, argv, &fl)) < 0)
		return 2;
	if (pv_vmctx_load(&c, vmid, true, &e) < 0) {
		pv_vmctx_free(&c);
		fprintf(stderr, "pvepin plan: %s\n", e.msg);
		return 1;
	}
	if (fl.svg && draw(&c, &fl) < 0)
		goto out;
	if (!cmd_svg_stdout(&fl))
		print(&c, &fl);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	pv_vmctx_free(&c);
	return rc;
}
