/* Throwaway driver for the engine's fixture tests until hook/main.c
 * dispatches to hook/hookcmds.h: same global options and the same
 * commands (VMID PHASE | restore VMID | status [VMID] [--json]). */
#include <ctype.h>
#include <getopt.h>
#include <string.h>

#include "../../common/opts.h"
#include "../../hook/hookcmds.h"

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "root", 1, NULL, 'r' }, { "topology", 1, NULL, 't' }, { "conf", 1, NULL, 'c' },
		{ "policy", 1, NULL, 'p' }, { "force", 0, NULL, 'f' }, { "json", 0, NULL, 'j' }, { "dry-run", 0, NULL, 'd' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+v", lo, NULL)) != -1) {
		if (c == 'r')
			pv_opt.root = optarg;
		else if (c == 't')
			pv_opt.topology = optarg;
		else if (c == 'c')
			pv_opt.conf = optarg;
		else if (c == 'p')
			pv_opt.policy = optarg;
		else if (c == 'f')
			pv_opt.force = true;
		else if (c == 'd')
			pv_opt.dry_run = true;
		else if (c == 'j')
			pv_opt.json = true;
		else if (c == 'v')
			pv_opt.verbose++;
		else
			return 2;
	}
	if (optind >= argc)
		return 2;
	argc -= optind;
	argv += optind;
	if (!strcmp(argv[0], "status"))
		return pv_cmd_status(argc, argv);
	if (!strcmp(argv[0], "restore"))
		return pv_cmd_restore(argc, argv);
	return pv_cmd_phase(argc, argv);
}
