/* Argument handling shared by the subcommands. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../common/opts.h"
#include "../conf/bdf.h"
#include "cmd.h"

int cmd_vmid(const char *cmd, const char *arg)
{
	struct pv_err e = { 0 };
	int vmid;

	if (!arg) {
		fprintf(stderr, "pvepin %s: missing VMID. Try 'pvepin --help'.\n", cmd);
		return -1;
	}
	if (pv_vmid_parse(arg, &vmid, &e) < 0) {
		fprintf(stderr, "pvepin %s: %s\n", cmd, e.msg);
		return -1;
	}
	return vmid;
}

int cmd_parse_flags(const char *cmd, int argc, char **argv, struct cmd_flags *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			pv_opt.json = true;
		else if (!strcmp(argv[i], "--pve"))
			f->pve = true;
		else if (argv[i][0] == '-' || f->pos) {
			fprintf(stderr, "pvepin %s: unexpected argument '%s'. Try 'pvepin --help'.\n",
				cmd, argv[i]);
			return -1;
		} else
			f->pos = argv[i];
	}
	return 0;
}
