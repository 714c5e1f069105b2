#include "irqtune/procinterrupts.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/cpulist.h"

struct parser {
	struct pv_procint *pi;
	size_t maxline;
	size_t maxcount;
	size_t ncount;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char *skip_blank(char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

static char *token_end(char *p)
{
	while (*p && !is_blank(*p))
		p++;
	return p;
}

/* NUL-terminate the token starting at p; return where the next one may start. */
static char *cut_token(char *p)
{
	p = token_end(p);
	if (*p)
		*p++ = '\0';
	return p;
}

static void rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
}

/* All of [s, end) is an unsigned decimal that fits. */
static int parse_ull(const char *s, const char *end, unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		unsigned d;

		if (!isdigit((unsigned char)*s))
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int parse_header(struct pv_procint *pi, char *s, struct pv_err *e)
{
	char *p = skip_blank(s);
	long last = -1;
	size_t cap = 0;

	for (char *q = p; *q; q++)
		cap += *q == 'C';
	pi->cpu = calloc(cap ? cap : 1, sizeof(*pi->cpu));
	if (!pi->cpu)
		return pv_fail(e, ENOMEM, "/proc/interrupts header");
	while (*p) {
		char *end = token_end(p);
		unsigned long long v;

		if (end - p < 4 || strncmp(p, "CPU", 3) != 0 || parse_ull(p + 3, end, &v) < 0 ||
		    v >= PV_MAX_CPUS || (long)v <= last)
			return pv_fail(e, EINVAL, "/proc/interrupts: bad header column '%.*s'",
				       (int)(end - p > 16 ? 16 : end - p), p);
		last = (long)v;
		pi->cpu[pi->ncpu++] = (int)v;
		p = skip_blank(end);
	}
	if (pi->ncpu == 0)
		return pv_fail(e, EINVAL, "/proc/interrupts: no CPU columns in header");
	return 0;
}

/* Per-CPU counts right after the label; stops at the first other token. */
static char *parse_counts(struct parser *ps, struct pv_pi_line *l, char *p)
{
	l->counts = ps->pi->countbuf + ps->ncount;
	for (;;) {
		char *q = skip_blank(p), *end;
		unsigned long long v;

		if (l->ncount == ps->pi->ncpu || !isdigit((unsigned char)*q))
			return q;
		end = token_end(q);
		if (parse_ull(q, end, &v) < 0 || ps->ncount >= ps->maxcount)
			return q;
		ps->pi->countbuf[ps->ncount++] = v;
		l->ncount++;
		p = end;
	}
}

static bool is_word(const char *p, const char *w)
{
	size_t n = strlen(w);

	return strncmp(p, w, n) == 0 && (p[n] == '\0' || is_blank(p[n]));
}

/* "<chip> [hwirq][-handler] [Level|Edge] [-handler]  action, action" */
static void parse_tail(struct pv_pi_line *l, char *p)
{
	p = skip_blank(p);
	if (!*p)
		return;
	l->chip = p;
	p = skip_blank(cut_token(p));
	if (isdigit((unsigned char)*p)) {
		char *end = token_end(p), *d = p;
		unsigned long long v;

		while (isdigit((unsigned char)*d))
			d++;
		if ((d == end || *d == '-') && parse_ull(p, d, &v) == 0 && v <= (1ULL << 62)) {
			l->hwirq = (long long)v;
			if (*d == '-' && d + 1 < end)
				l->handler = d + 1;
			p = skip_blank(cut_token(p));
		}
	}
	if (is_word(p, "Level") || is_word(p, "Edge")) {
		l->level = p;
		p = skip_blank(cut_token(p));
	}
	if (!l->handler[0] && p[0] == '-' && p[1] && !is_blank(p[1])) {
		l->handler = p + 1;
		p = skip_blank(cut_token(p));
	}
	rtrim(p);
	l->actions = p;
}

static bool label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* One line, NUL-terminated. Blank lines are fine; junk counts as bad. */
static void parse_line(struct parser *ps, char *s)
{
	struct pv_pi_line l = {
		.irq = -1, .label = "", .chip = "", .hwirq = -1,
		.handler = "", .level = "", .actions = "",
	};
	char *p = skip_blank(s), *label = p;

	if (!*p)
		return;
	while (*p && *p != ':' && !is_blank(*p))
		p++;
	if (*p != ':' || p == label || ps->pi->nline >= (int)ps->maxline)
		goto bad;
	*p++ = '\0';
	if (isdigit((unsigned char)label[0])) {
		long v;

		if (pv_parse_long(label, 0, PV_PI_IRQ_LIMIT - 1, &v) < 0)
			goto bad;
		l.irq = (int)v;
	} else if (label_ok(label)) {
		l.label = label;
	} else {
		goto bad;
	}
	p = parse_counts(ps, &l, p);
	if (l.irq >= 0) {
		parse_tail(&l, p);
	} else {
		rtrim(p);
		l.actions = p;
	}
	ps->pi->line[ps->pi->nline++] = l;
	return;
bad:
	ps->pi->nbad++;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 1;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

static int alloc_tables(struct parser *ps, size_t len, struct pv_err *e)
{
	struct pv_procint *pi = ps->pi;
	size_t nl = count_lines(pi->text, len);

	/* Each count takes a digit and a separator, so len/2+1 bounds them all. */
	ps->maxcount = len / 2 + 1;
	if (nl <= ps->maxcount / (size_t)pi->ncpu)
		ps->maxcount = nl * (size_t)pi->ncpu;
	ps->maxline = nl;
	pi->line = calloc(nl, sizeof(*pi->line));
	pi->countbuf = calloc(ps->maxcount, sizeof(*pi->countbuf));
	if (!pi->line || !pi->countbuf)
		return pv_fail(e, ENOMEM, "/proc/interrupts: %zu lines", nl);
	return 0;
}

static int parse_text(struct pv_procint *pi, size_t len, struct pv_err *e)
{
	struct parser ps = { .pi = pi };
	char *p = pi->text, *nl;
	bool header = false;

	for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (header) {
			parse_line(&ps, p);
		} else if (*skip_blank(p)) {
			if (parse_header(pi, p, e) < 0 || alloc_tables(&ps, len, e) < 0)
				return -1;
			header = true;
		}
		if (!nl)
			break;
	}
	if (!header)
		return pv_fail(e, EINVAL, "/proc/interrupts: empty (no CPU header)");
	return 0;
}

/* Parse text (NUL-terminated, len bytes), which pi takes over. */
static int parse_owned(char *text, size_t len, struct pv_procint *pi, struct pv_err *e)
{
	memset(pi, 0, sizeof(*pi));
	pi->text = text;
	if (parse_text(pi, len, e) < 0) {
		pv_procint_free(pi);
		return -1;
	}
	return 0;
}

int pv_procint_parse(const char *buf, size_t len, struct pv_procint *pi, struct pv_err *e)
{
	const char *nul = memchr(buf, '\0', len);
	char *text;

	memset(pi, 0, sizeof(*pi));
	if (nul)
		len = (size_t)(nul - buf);
	text = malloc(len + 1);
	if (!text)
		return pv_fail(e, ENOMEM, "/proc/interrupts: %zu bytes", len);
	memcpy(text, buf, len);
	text[len] = '\0';
	return parse_owned(text, len, pi, e);
}

/* The text read is parsed where it lies: a copy of it was megabytes of
 * fresh memory on a host with thousands of IRQs. */
int pv_procint_read(struct pv_procint *pi, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	char *text, *nul;
	size_t len;

	memset(pi, 0, sizeof(*pi));
	if (pv_path(path, sizeof(path), e, "/proc/interrupts") < 0)
		return -1;
	text = pv_slurp(path, &len, e);
	if (!text)
		return -1;
	if ((nul = memchr(text, '\0', len)))
		len = (size_t)(nul - text);
	if (parse_owned(text, len, pi, e) < 0)
		return pv_wrap(e, "%s", path);
	return 0;
}

void pv_procint_free(struct pv_procint *pi)
{
	free(pi->cpu);
	free(pi->line);
	free(pi->text);
	free(pi->countbuf);
	memset(pi, 0, sizeof(*pi));
}

const struct pv_pi_line *pv_procint_find(const struct pv_procint *pi, int irq)
{
	if (irq < 0)
		return NULL;
	for (int i = 0; i < pi->nline; i++)
		if (pi->line[i].irq == irq)
			return &pi->line[i];
	return NULL;
}

bool pv_pi_next_action(const char **cur, char *name, size_t n)
{
	const char *p = *cur, *end;
	size_t len;

	while (*p == ' ' || *p == ',')
		p++;
	if (!*p)
		return false;
	/* Names may hold spaces ("PCIe PME"); only ", " separates them. */
	end = strstr(p, ", ");
	if (!end)
		end = p + strlen(p);
	len = (size_t)(end - p);
	if (n) {
		if (len >= n)
			len = n - 1;
		memcpy(name, p, len);
		name[len] = '\0';
	}
	*cur = end;
	return true;
}

