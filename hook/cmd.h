/* Subcommands. Each gets the arguments after its name (argv[0] = name) and
 * returns the process exit code. */
#pragma once
#include <stdbool.h>

int cmd_topo(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_check(int argc, char **argv);
int pv_cmd_agent(int argc, char **argv);

/* Parse a vmid argument or print why not; -1 on error. */
int cmd_vmid(const char *cmd, const char *arg);
/* Sub-options shared by commands: --json, --pve, --svg. Returns 0, or -1
 * after printing an error for an unknown option. *pos gets the first
 * positional argument or NULL. */
struct cmd_flags {
	const char *pos;
	bool pve;
	bool svg;                 /* --svg [FILE] */
	const char *svg_file;     /* NULL or "-": stdout */
	bool latency;             /* --latency [FILE] */
	const char *latency_file; /* NULL: measure now */
	double seconds;           /* --seconds N, 0 if not given */
};
/* The optional sub-options a command takes besides --json. */
enum { CMD_F_PVE = 1, CMD_F_SVG = 2, CMD_F_LATENCY = 4, CMD_F_SECONDS = 8 };
/* --json and --pve, as every command had them. */
int cmd_parse_flags(const char *cmd, int argc, char **argv, struct cmd_flags *f);
/* --json and the options in allow (CMD_F_*). --svg and --latency take the
 * next argument as FILE unless it starts with '-' (a lone "-" is stdout)
 * or is a number (a VMID); --svg=FILE always does. */
int cmd_parse_flags_ex(const char *cmd, int argc, char **argv, struct cmd_flags *f,
		       unsigned allow);
/* Whether the --svg picture goes to stdout (then nothing else may). */
bool cmd_svg_stdout(const struct cmd_flags *f);
