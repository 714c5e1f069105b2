/* Argument handling shared by the subcommands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"
#include "conf/bdf.h"
#include "hook/cmd.h"

int cmd_vmid(const char *cmd, const char *arg)
{
	struct pv_err e = { 0 };
	int vmid;

	if (!arg) {
		fprintf(stderr, "pvepin %s: missing VMID. Try 'pvepin help %s'.\n", cmd, cmd);
		return -1;
	}
	if (pv_vmid_parse(arg, &vmid, &e) < 0) {
		fprintf(stderr, "pvepin %s: %s\n", cmd, e.msg);
		return -1;
	}
	return vmid;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* "--svg=FILE", or "--svg FILE" when the next argument can be a FILE.
 * Returns the arguments consumed after argv[i] (0 or 1), -1 on error. */
static int opt_file(const char *cmd, const char *name, int argc, char **argv, int i,
		    const char **file)
{
	size_t n = strlen(name);
	const char *next = i + 1 < argc ? argv[i + 1] : NULL;

	*file = NULL;
	if (argv[i][n] == '=') {
		*file = argv[i] + n + 1;
		if (!**file) {
			fprintf(stderr, "pvepin %s: %s= needs a FILE\n", cmd, name);
			return -1;
		}
		return 0;
	}
	if (next && (next[0] != '-' || !strcmp(next, "-")) && !all_digits(next)) {
		*file = next;
		return 1;
	}
	return 0;
}

static bool is_opt(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

static int parse_seconds(const char *cmd, const char *s, double *out)
{
	char *end;
	double v;

	if (!s) {
		fprintf(stderr, "pvepin %s: --seconds needs a number\n", cmd);
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400) {
		fprintf(stderr, "pvepin %s: --seconds '%s': want a number of seconds, 0 < N <= 86400\n",
			cmd, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* One option at argv[i]; returns the extra arguments it consumed, -1 on
 * error, -2 when it is not an option this command takes. */
static int parse_opt(const char *cmd, int argc, char **argv, int i, struct cmd_flags *f,
		     unsigned allow)
{
	const char *a = argv[i];

	if (!strcmp(a, "--json")) {
		pv_opt.json = true;
		return 0;
	}
	if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
		pv_opt.verbose++;
		return 0;
	}
	if ((allow & CMD_F_PVE) && !strcmp(a, "--pve")) {
		f->pve = true;
		return 0;
	}
	if ((allow & CMD_F_SVG) && is_opt(a, "--svg")) {
		f->svg = true;
		return opt_file(cmd, "--svg", argc, argv, i, &f->svg_file);
	}
	if ((allow & CMD_F_LATENCY) && is_opt(a, "--latency")) {
		f->latency = true;
		return opt_file(cmd, "--latency", argc, argv, i, &f->latency_file);
	}
	if ((allow & CMD_F_SECONDS) && is_opt(a, "--seconds")) {
		if (a[9] == '=')
			return parse_seconds(cmd, a + 10, &f->seconds);
		return parse_seconds(cmd, i + 1 < argc ? argv[i + 1] : NULL, &f->seconds) < 0 ? -1 : 1;
	}
	return -2;
}

int cmd_parse_flags_ex(const char *cmd, int argc, char **argv, struct cmd_flags *f,
		       unsigned allow)
{
	memset(f, 0, sizeof(*f));
	for (int i = 1; i < argc; i++) {
		int used = argv[i][0] == '-' ? parse_opt(cmd, argc, argv, i, f, allow) : -2;

		if (used == -1)
			return -1;
		if (used >= 0) {
			i += used;
			continue;
		}
		if (argv[i][0] == '-' || f->pos) {
			fprintf(stderr, "pvepin %s: unexpected argument '%s'. Try 'pvepin help %s'.\n",
				cmd, argv[i], cmd);
			return -1;
		}
		f->pos = argv[i];
	}
	return 0;
}

int cmd_parse_flags(const char *cmd, int argc, char **argv, struct cmd_flags *f)
{
	return cmd_parse_flags_ex(cmd, argc, argv, f, CMD_F_PVE);
}

bool cmd_svg_stdout(const struct cmd_flags *f)
{
	return f->svg && (!f->svg_file || !strcmp(f->svg_file, "-"));
}
