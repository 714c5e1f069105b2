/* pvepin: the hookscript PVE runs (`pvepin <vmid> <phase>`) and the
 * commands people run (plan, check, status, topo, restore, ...). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/opts.h"
#include "common/testknob.h"
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
	"  help COMMAND, COMMAND --help   that command's usage\n"
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

	/* '+': stop at the command; its own options follow it. ':' and
	 * opterr = 0: the errors are ours, "pvepin: ...", not argv[0]'s. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vh", lo, NULL)) != -1) {
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
		case ':':
			fprintf(stderr, "pvepin: option '%s' needs an argument. Try 'pvepin --help'.\n",
				argv[optind - 1]);
			exit(2);
		default:
			if (optopt && optopt < 256)
				fprintf(stderr, "pvepin: unknown option '-%c'.", optopt);
			else
				fprintf(stderr, "pvepin: unknown option '%s'.", argv[optind - 1]);
			fprintf(stderr, " Try 'pvepin --help'.\n");
			exit(2);
		}
	}
	return optind;
}

/* --root must name a directory: a mistyped one would otherwise describe
 * nothing, or this machine (the paths under it simply missing). */
static int check_root(void)
{
	struct stat st;

	if (!pv_opt.root[0])
		return 0;
	if (stat(pv_opt.root, &st) < 0) {
		fprintf(stderr, "pvepin: --root %s: %s\n", pv_opt.root, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pvepin: --root %s: not a directory\n", pv_opt.root);
		return -1;
	}
	return 0;
}

/* One command's lines of usage_text (its entries under "Commands:", with
 * their continuation lines), then the global options: `pvepin help CMD`. */
static bool command_usage(const char *cmd)
{
	const char *opts = strstr(usage_text, "\nOptions ");
	size_t n = strlen(cmd);
	bool found = false, in = false;

	for (const char *l = strstr(usage_text, "\nCommands:\n") + 11; l < opts;) {
		const char *nl = strchr(l, '\n');
		size_t len = (size_t)(nl - l);

		if (len > 2 && l[2] != ' ')
			in = !strncmp(l + 2, cmd, n) && (l[2 + n] == ' ' || l[2 + n] == '\n');
		if (in) {
			if (l[2] != ' ')
				printf("%s pvepin [OPTIONS] %.*s\n", found ? "      " : "Usage:",
				       (int)len - 2, l + 2);
			else
				printf("%.*s\n", (int)len, l);
			found = true;
		}
		l = nl + 1;
	}
	if (found)
		printf("%s", opts);
	return found;
}

/* `pvepin help [CMD]`, `pvepin CMD --help|-h`: -1 when argv asks no help. */
static int help(int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "help")) {
		if (argc < 2) {
			fputs(usage_text, stdout);
			return 0;
		}
		cmd = argv[1];
	} else {
		int k = 1;

		while (k < argc && strcmp(argv[k], "--") && strcmp(argv[k], "--help") &&
		       strcmp(argv[k], "-h"))
			k++;
		if (k >= argc || !strcmp(argv[k], "--"))
			return -1;
	}
	if (command_usage(cmd))
		return 0;
	fprintf(stderr, "pvepin: no command '%s'. Try 'pvepin --help'.\n", cmd);
	return 2;
}

int main(int argc, char **argv)
{
	int i, rc;
	const char *cmd;
	bool digit;

	/* a hook runs with an environment it sets (release builds) */
	if (pv_env_reset() < 0) {
		perror("pvepin: reset the environment");
		return 2;
	}
	i = parse_globals(argc, argv);

	if (i >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (check_root() < 0)
		return 2;
	cmd = argv[i];
	/* a digit without <ctype.h>'s locale table: one page less to fault
	 * in for every phase */
	digit = cmd[0] >= '0' && cmd[0] <= '9';
	if (!digit && (rc = help(argc - i, argv + i)) >= 0)
		return rc;
	/* PVE runs the hookscript as `pvepin VMID PHASE` */
	if (digit)
		return pv_cmd_phase(argc - i, argv + i);
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(cmd, commands[k].name)) {
			optind = 1;
			return commands[k].fn(argc - i, argv + i);
		}
	fprintf(stderr, "pvepin: unknown command '%s'. Try 'pvepin --help'.\n", cmd);
	return 2;
}
