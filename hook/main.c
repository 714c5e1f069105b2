/* pvepin: the hookscript PVE runs (`pvepin <vmid> <phase>`) and the
 * commands people run (plan, check, status, topo, restore, ...). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"
#include "conf/bdf.h"
#include "hook/cmd.h"
#include "hook/cmd_install.h"
#include "hook/cmd_hook.h"

#ifndef PVEPIN_VERSION
#define PVEPIN_VERSION "0.1.0"
#endif

static const char usage_text[] =
	"Usage: pvepin [OPTIONS] COMMAND [ARGS]\n"
	"       pvepin VMID pre-start|post-start|pre-stop|post-stop   (as a PVE hookscript)\n"
	"\n"
	"Per-VM CPU pinning, hugepages, vfio binding and IRQ steering for GPU passthrough\n"
	"on Proxmox VE, applied at VM start and given back exactly at VM stop.\n"
	"\n"
	"Commands:\n"
	"  topo [--json] [--svg [FILE]]\n"
	"                              the host: NUMA nodes, L3 domains, cores, SMT, PCI devices\n"
	"  topo --latency [FILE] [--seconds N] [--json] [--svg [FILE]]\n"
	"                              measure core-to-core latency (or show a saved FILE)\n"
	"  plan VMID [--json|--pve|--svg [FILE]]\n"
	"                              what pvepin would do for the VM; touches nothing\n"
	"  check [VMID] [--json] [--latency FILE]\n"
	"                              the host's passthrough setup; with VMID also the VM's\n"
	"                              config and policy; with FILE also a saved latency\n"
	"                              measurement (exit 0 clean, 1 warnings, 2 errors)\n"
	"  status [VMID] [-v] [--json] [--svg [FILE]]   -v: every item, not one line per kind\n"
	"                              what is applied now for running VMs, and any drift\n"
	"                              (exit 0 no drift, 1 drift, 2 error)\n"
	"  restore VMID                undo everything recorded for the VM (crash recovery)\n"
	"  agent VMID                  runtime: keep pins, IRQs, cpusets while the VM runs\n"
	"  install [--storage-dir DIR] [--force]    copy pvepin into a PVE snippets storage\n"
	"  uninstall [--storage-dir DIR] [--force]  remove that copy (default DIR /var/lib/vz/snippets)\n"
	"\n"
	"Options (before the command):\n"
	"  --root DIR        treat DIR as / for every /sys /proc /etc /run path\n"
	"  --topology FILE   use an hwloc XML topology instead of discovering the host\n"
	"  --conf FILE       VM config instead of /etc/pve/qemu-server/VMID.conf\n"
	"  --policy FILE     policy instead of /etc/pve/pvepin/VMID.ini or /etc/pvepin/VMID.ini\n"
	"  --json            machine-readable output where a command has it\n"
	"  --force           override safety refusals (partial IOMMU group, ...)\n"
	"  --dry-run         hook phases and restore: say what would change, change nothing\n"
	"  -v, --verbose     say more\n"
	"  -h, --help        this text;  --version  the version\n"
	"\n"
	"See pvepin(8) and pvepin.ini(5).\n";

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "topo", cmd_topo },
	{ "plan", cmd_plan },
	{ "check", cmd_check },
	{ "status", pv_cmd_status },
	{ "restore", pv_cmd_restore },
	{ "agent", pv_cmd_agent },
	{ "install", cmd_install },
	{ "uninstall", cmd_uninstall },
};

static int parse_globals(int argc, char **argv)
{
	enum { O_ROOT = 256, O_TOPO, O_CONF, O_POLICY, O_JSON, O_FORCE, O_DRY, O_VERSION };
	static const struct option lo[] = {
		{ "root", required_argument, NULL, O_ROOT },
		{ "topology", required_argument, NULL, O_TOPO },
		{ "conf", required_argument, NULL, O_CONF },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "json", no_argument, NULL, O_JSON },
		{ "force", no_argument, NULL, O_FORCE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	int c;

	/* '+': stop at the command; its own options follow it */
	while ((c = getopt_long(argc, argv, "+vh", lo, NULL)) != -1) {
		switch (c) {
		case O_ROOT:
			pv_opt.root = strcmp(optarg, "/") ? optarg : "";
			break;
		case O_TOPO:
			pv_opt.topology = optarg;
			break;
		case O_CONF:
			pv_opt.conf = optarg;
			break;
		case O_POLICY:
			pv_opt.policy = optarg;
			break;
		case O_JSON:
			pv_opt.json = true;
			break;
		case O_FORCE:
			pv_opt.force = true;
			break;
		case O_DRY:
			pv_opt.dry_run = true;
			break;
		case 'v':
			pv_opt.verbose++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case O_VERSION:
			printf("pvepin %s\n", PVEPIN_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'pvepin --help'.\n");
			exit(2);
		}
	}
	return optind;
}

int main(int argc, char **argv)
{
	int i = parse_globals(argc, argv);
	const char *cmd;

	if (i >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	cmd = argv[i];
	/* PVE runs the hookscript as `pvepin VMID PHASE` */
	if (isdigit((unsigned char)cmd[0]))
		return pv_cmd_phase(argc - i, argv + i);
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(cmd, commands[k].name)) {
			optind = 1;
			return commands[k].fn(argc - i, argv + i);
		}
	fprintf(stderr, "pvepin: unknown command '%s'. Try 'pvepin --help'.\n", cmd);
	return 2;
}
