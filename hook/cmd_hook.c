#include "hook/cmd_hook.h"

#include <stdio.h>
#include <string.h>

#include "common/opts.h"
#include "hook/cmd.h"
#include "draw/svg.h"
#include "engine/journal.h"
#include "engine/ledger.h"
#include "hook/phases.h"
#include "check/status.h"

int pv_cmd_phase(int argc, char **argv)
{
	struct pv_err e = { 0 };
	enum pv_phase ph;
	int vmid;

	if (argc != 2) {
		fprintf(stderr, "pvepin: usage: pvepin VMID pre-start|post-start|pre-stop|post-stop\n");
		return 2;
	}
	if ((vmid = cmd_vmid("hook", argv[0])) < 0)
		return 2;
	/* PVE may grow phases: a hookscript ignores what it does not know */
	if (pv_phase_parse(argv[1], &ph) < 0) {
		if (pv_opt.verbose)
			fprintf(stderr, "pvepin: VM %d: phase '%s' ignored\n", vmid, argv[1]);
		return 0;
	}
	if (pv_phase_run(vmid, ph, &e) < 0) {
		pv_err_print(&e);
		return 1;
	}
	return 0;
}

/* Whether anything is recorded for vmid: journal records or a ledger entry.
 * -1 when that cannot be read (restore then runs and says why). */
static int recorded(int vmid)
{
	struct pv_jlist j = { 0 };
	struct pv_ledger l = { 0 };
	struct pv_err e = { 0 };
	int rc = pv_journal_load(vmid, &j, &e);

	if (rc < 0)
		return -1;
	rc = j.n > 0;
	pv_jlist_free(&j);
	if (rc)
		return 1;
	if (pv_ledger_load(&l, &e) < 0)
		return -1;
	rc = pv_ledger_vm(&l, vmid) != NULL;
	pv_ledger_free(&l);
	return rc;
}

int pv_cmd_restore(int argc, char **argv)
{
	struct pv_err e = { 0 };
	struct cmd_flags f;
	int vmid;

	if (cmd_parse_flags("restore", argc, argv, &f) < 0 || (vmid = cmd_vmid("restore", f.pos)) < 0)
		return 2;
	if (recorded(vmid) == 0) {
		/* a restore or post-stop killed between its last undo and the
		 * agent's stop leaves the agent (or guard) with nothing to give
		 * back: it goes now (the same restore, run again, finishes) */
		bool retired = pv_agent_retire(vmid) > 0;

		printf("pvepin restore: nothing is recorded for VM %d (no journal, not in the ledger): "
		       "nothing to undo%s\n", vmid,
		       retired ? "; stopped its agent, which had nothing left to give back" : "");
		return 0;
	}
	if (pv_restore(vmid, &e) < 0) {
		pv_err_print(&e);
		return 1;
	}
	return 0;
}

int pv_cmd_status(int argc, char **argv)
{
	struct pv_err e = { 0 };
	struct cmd_flags f;
	int vmid = -1, drift;

	if (cmd_parse_flags_ex("status", argc, argv, &f, CMD_F_SVG) < 0 ||
	    (f.pos && (vmid = cmd_vmid("status", f.pos)) < 0))
		return 2;
	if (f.svg) {
		if (pv_svg_status(f.svg_file, vmid, &e) < 0) {
			pv_err_print(&e);
			return 2;
		}
		if (cmd_svg_stdout(&f))
			return 0;
	}
	if ((drift = pv_status(vmid, pv_opt.json, stdout, &e)) < 0) {
		pv_err_print(&e);
		return 2;
	}
	return drift ? 1 : 0;
}
