/* Subcommands. Each gets the arguments after its name (argv[0] = name) and
 * returns the process exit code. */
#pragma once
#include <stdbool.h>

int cmd_topo(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_check(int argc, char **argv);

/* Parse a vmid argument or print why not; -1 on error. */
int cmd_vmid(const char *cmd, const char *arg);
/* Sub-options shared by commands: --json, --pve, --svg. Returns 0, or -1
 * after printing an error for an unknown option. *pos gets the first
 * positional argument or NULL. */
struct cmd_flags {
	const char *pos;
	bool pve;
};
int cmd_parse_flags(const char *cmd, int argc, char **argv, struct cmd_flags *f);
