#include "conf/qemuargs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/cpulist.h"
#include "conf/propstr.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Copy one shell word starting at **p into tok, removing quotes and
 * backslashes as Perl's shellwords (PVE's split_args) does. Returns 1 for
 * a word, 0 at the end, -1 for an unterminated quote. */
static int next_word(const char **p, char *tok)
{
	const char *s = *p;
	char quote = 0;

	while (is_space(*s))
		s++;
	if (!*s)
		return 0;
	while (*s && (quote || !is_space(*s))) {
		if (quote && *s == quote) {
			quote = 0;
		} else if (!quote && (*s == '\'' || *s == '"')) {
			quote = *s;
		} else if (*s == '\\' && quote != '\'' && s[1]) {
			*tok++ = *++s;
		} else {
			*tok++ = *s;
		}
		s++;
	}
	*tok = '\0';
	*p = s;
	return quote ? -1 : 1;
}

static int pv_smp_parse(const char *s, struct pv_smp *smp, struct pv_err *e);

int pv_args_parse_smp(const char *args, struct pv_smp *smp, struct pv_err *e)
{
	_cleanup_free_ char *tok = malloc(strlen(args) + 1);
	const char *p = args;
	bool want_value = false;
	int r;

	memset(smp, 0, sizeof(*smp));
	if (!tok)
		return pv_fail(e, ENOMEM, "args");
	while ((r = next_word(&p, tok)) > 0) {
		if (want_value) {
			if (pv_smp_parse(tok, smp, e) < 0)
				return pv_wrap(e, "-smp '%.64s'", tok);
			want_value = false;
			continue;
		}
		if (strcmp(tok, "-smp") != 0 && strcmp(tok, "--smp") != 0)
			continue;
		if (smp->present)
			return pv_fail(e, 0, "-smp given twice (give it once)");
		want_value = true;
	}
	if (r < 0)
		return pv_fail(e, 0, "unterminated quote");
	if (want_value)
		return pv_fail(e, 0, "-smp without a value");
	return 0;
}

static int *smp_field(struct pv_smp *smp, const char *key)
{
	static const char *const names[] = { "cpus", "sockets", "dies", "cores",
					     "threads", "maxcpus" };
	int *fields[] = { &smp->cpus, &smp->sockets, &smp->dies, &smp->cores,
			  &smp->threads, &smp->maxcpus };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(key, names[i]) == 0)
			return fields[i];
	}
	return NULL;
}

/* Topology levels QEMU knows but pvepin does not place against. */
static int smp_ignored(const char *key)
{
	return !strcmp(key, "clusters") || !strcmp(key, "books") ||
	       !strcmp(key, "drawers") || !strcmp(key, "modules");
}

/* Parse an -smp value: "16,cores=16,threads=1" or "cpus=16,...". */
static int pv_smp_parse(const char *s, struct pv_smp *smp, struct pv_err *e)
{
	struct pv_props pr;
	int r = -1;

	memset(smp, 0, sizeof(*smp));
	if (pv_props_split(s, "cpus", &pr, e) < 0)
		goto out;
	for (int i = 0; i < pr.n; i++) {
		int *f = smp_field(smp, pr.it[i].key);
		long v;

		if (!f && smp_ignored(pr.it[i].key))
			continue;
		if (!f) {
			pv_fail(e, 0, "unknown option '%.32s' (allowed: cpus, sockets, dies, cores, threads, maxcpus)",
				pr.it[i].key);
			goto out;
		}
		if (pv_parse_long(pr.it[i].val, 1, PV_MAX_CPUS, &v) < 0) {
			pv_fail(e, 0, "%s=%.32s: expected a number 1..%d", pr.it[i].key,
				pr.it[i].val, PV_MAX_CPUS);
			goto out;
		}
		*f = (int)v;
	}
	if (pr.n == 0) {
		pv_fail(e, 0, "empty");
		goto out;
	}
	smp->present = true;
	r = 0;
out:
	pv_props_free(&pr);
	return r;
}
