/* The program's options: the only global state pvepin has. */
#pragma once
#include <stdbool.h>

struct pv_opts {
	const char *root;     /* --root: prefix for every /sys /proc /etc /run path ("" = real host) */
	const char *topology; /* --topology: hwloc XML instead of discovery */
	const char *conf;     /* --conf: VM config instead of /etc/pve/qemu-server/<vmid>.conf */
	const char *policy;   /* --policy: policy ini instead of the search path */
	int verbose;          /* -v, repeatable */
	bool json;            /* --json */
	bool force;           /* --force: override safety refusals */
	bool dry_run;         /* --dry-run: journal and print, write nothing */
};

extern struct pv_opts pv_opt;
