/* The journal's records in memory: parsed in one pass (fields unescaped in
 * place, entries pointing into the text), found by seq with a binary
 * search and by (kind, target) through a hash index, so neither a load nor
 * a re-assert costs more than linear time. */
#include "engine/journal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/limits.h"

#define MAX_FIELDS 8
#define ARENA_CHUNK 65536

struct pv_jarena {
	struct pv_jarena *next;
	size_t used, cap;
	char data[];
};

uint32_t pv_fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

const char *pv_jlist_str(struct pv_jlist *l, const char *s)
{
	size_t len = strlen(s) + 1;
	struct pv_jarena *a = l->arena;

	if (len == 1)
		return "";
	if (!a || a->cap - a->used < len) {
		size_t cap = len > ARENA_CHUNK ? len : ARENA_CHUNK;

		if (!(a = malloc(sizeof(*a) + cap)))
			return NULL;
		a->next = l->arena;
		a->used = 0;
		a->cap = cap;
		l->arena = a;
	}
	memcpy(a->data + a->used, s, len);
	a->used += len;
	return a->data + a->used - len;
}

static uint32_t key_hash(enum pv_step_kind k, const char *target)
{
	return pv_fnv1a(target, strlen(target)) ^ ((uint32_t)k * 0x9e3779b1u);
}

static int *slot_of(const struct pv_jlist *l, enum pv_step_kind k, const char *target)
{
	uint32_t mask = (uint32_t)l->idxcap - 1;

	for (uint32_t h = key_hash(k, target) & mask;; h = (h + 1) & mask) {
		int *s = &l->idx[h];

		if (*s < 0 || (l->r[*s].kind == k && !strcmp(l->r[*s].target, target)))
			return s;
	}
}

static int index_grow(struct pv_jlist *l, int want)
{
	int cap = l->idxcap ? l->idxcap * 2 : 64, *old = l->idx, oldcap = l->idxcap;

	while (cap < want)
		cap *= 2;

	if (!(l->idx = malloc((size_t)cap * sizeof(int)))) {
		l->idx = old;
		return -1;
	}
	memset(l->idx, 0xff, (size_t)cap * sizeof(int));
	l->idxcap = cap;
	for (int i = 0; i < oldcap; i++)
		if (old[i] >= 0)
			*slot_of(l, l->r[old[i]].kind, l->r[old[i]].target) = old[i];
	free(old);
	return 0;
}

/* The index holds at most one slot per key: the newest entry of it. */
static int index_put(struct pv_jlist *l, int i)
{
	if ((l->n + 1) * 2 > l->idxcap && index_grow(l, 0) < 0)
		return -1;
	*slot_of(l, l->r[i].kind, l->r[i].target) = i;
	return 0;
}

int pv_jlist_reindex(struct pv_jlist *l)
{
	free(l->idx);
	l->idx = NULL;
	l->idxcap = 0;
	if (index_grow(l, 0) < 0)
		return -1;
	for (int i = 0; i < l->n; i++)
		if (index_put(l, i) < 0)
			return -1;
	return 0;
}

struct pv_jent *pv_jlist_live(const struct pv_jlist *l, enum pv_step_kind k, const char *target)
{
	int *s;

	if (!l->idxcap)
		return NULL;
	s = slot_of(l, k, target);
	return *s >= 0 && !l->r[*s].undone ? &l->r[*s] : NULL;
}

struct pv_jent *pv_jlist_find(const struct pv_jlist *l, long seq)
{
	int lo = 0, hi = l->n - 1;

	/* a done mark follows its step: the newest entry, most of the time */
	if (l->n && l->r[l->n - 1].seq == seq)
		return &l->r[l->n - 1];
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (l->r[mid].seq == seq)
			return &l->r[mid];
		if (l->r[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

int pv_jlist_add(struct pv_jlist *l, long seq, enum pv_phase ph, enum pv_step_kind k,
		 const char *target, const char *old, const char *nv)
{
	struct pv_jent *x;

	if (seq <= l->max_seq)
		return -1; /* entries stay in seq order: binary search */
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 32;
		struct pv_jent *nr = realloc(l->r, (size_t)cap * sizeof(*nr));

		if (!nr)
			return -1;
		l->r = nr;
		l->cap = cap;
	}
	x = &l->r[l->n];
	*x = (struct pv_jent){ .seq = seq, .phase = ph, .kind = k, .target = target, .old = old,
			       .nv = nv, .got = "", .note = "" };
	if (index_put(l, l->n) < 0)
		return -1;
	l->n++;
	l->nlive++;
	l->max_seq = seq;
	return 0;
}

/* A D, U or R record on the entry of seq. */
int pv_jlist_mark(struct pv_jlist *l, char type, long seq, const char *val)
{
	struct pv_jent *x = pv_jlist_find(l, seq);

	if (!x)
		return -1;
	if (type == 'D') {
		x->done = true;
		x->got = val;
	} else if (type == 'U') {
		l->nlive -= !x->undone;
		x->undone = true;
		x->note = val;
	} else if (type == 'R' && !x->undone) {
		x->nv = val;
		x->done = false;
		x->got = "";
	} else {
		return -1;
	}
	return 0;
}

/* s into a buffer of n, cut to fit, as snprintf("%s") would. */
static void copy_cut(char *out, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len >= n)
		len = n - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

/* Field by field, without clearing the 3.5 KiB of buffers first: restore
 * takes every entry through here. */
void pv_jent_rec(const struct pv_jent *x, struct pv_jrec *r)
{
	r->seq = x->seq;
	r->phase = x->phase;
	r->kind = x->kind;
	r->done = x->done;
	r->undone = x->undone;
	copy_cut(r->target, sizeof(r->target), x->target);
	copy_cut(r->old, sizeof(r->old), x->old);
	copy_cut(r->nv, sizeof(r->nv), x->nv);
	copy_cut(r->got, sizeof(r->got), x->got);
	copy_cut(r->note, sizeof(r->note), x->note);
}

void pv_jlist_bad_text(const struct pv_jlist *l, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < l->nbad && i < PV_JBAD_LINES && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? ", " : "", l->bad_line[i]);
	if (l->nbad > PV_JBAD_LINES && o < n)
		snprintf(buf + o, n - o, " and %d more", l->nbad - PV_JBAD_LINES);
}

/* ------------------------------------------------------------ parsing */

/* Split a checksummed line into unescaped fields (in place). */
static int split(char *line, size_t len, char **f, int *nf)
{
	char *sum = memrchr(line, '\t', len), *p = line;
	unsigned long want;
	char *end;

	if (!sum || line + len - (sum + 1) != 8)
		return -1;
	want = strtoul(sum + 1, &end, 16);
	if (*end || pv_fnv1a(line, (size_t)(sum - line)) != (uint32_t)want)
		return -1;
	*sum = '\0';
	for (*nf = 0; *nf < MAX_FIELDS;) {
		char *tab = strchr(p, '\t');

		f[(*nf)++] = p;
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	for (int i = 0; i < *nf; i++)
		if (pv_unescape(f[i], strlen(f[i]) + 1, f[i]) < 0)
			return -1;
	return 0;
}

static bool fits(const char *s, size_t n)
{
	return strlen(s) < n;
}

static int parse_step(struct pv_jlist *l, char **f, int nf, long seq)
{
	enum pv_phase ph;
	enum pv_step_kind k;

	if (nf != 7 || pv_phase_parse(f[2], &ph) < 0 || pv_step_parse(f[3], &k) < 0 ||
	    !fits(f[4], PV_JTARGET) || !fits(f[5], PV_JVAL) || !fits(f[6], PV_JVAL))
		return -1;
	return pv_jlist_add(l, seq, ph, k, f[4], f[5], f[6]);
}

static int parse_record(struct pv_jlist *l, char **f, int nf, bool first)
{
	long seq;

	if (nf < 2 || pv_parse_long(f[1], 1, 1L << 40, &seq) < 0)
		return -1;
	if (first != (strcmp(f[0], "H") == 0))
		return -1;
	if (first) {
		long vmid;

		if (seq != 1 || nf != 3 || pv_parse_long(f[2], PV_VMID_MIN, PV_VMID_MAX, &vmid) < 0)
			return -1;
		l->vmid = (int)vmid;
		return 0;
	}
	l->nrec++;
	if (strcmp(f[0], "S") == 0)
		return parse_step(l, f, nf, seq);
	if (nf != 3 || strlen(f[0]) != 1 || !strchr("DUR", f[0][0]))
		return -1;
	if (!fits(f[2], f[0][0] == 'U' ? 256 : PV_JVAL))
		return -1;
	return pv_jlist_mark(l, f[0][0], seq, f[2]);
}

static void bad(struct pv_jlist *l, int lineno)
{
	if (l->nbad < PV_JBAD_LINES)
		l->bad_line[l->nbad] = lineno;
	l->nbad++;
}

/* Room for as many entries as the text has lines: no regrowing, no
 * rehashing while a large journal is read. */
static int presize(struct pv_jlist *l, const char *buf)
{
	int lines = 0;

	for (const char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	if (lines < 32)
		return 0;
	if (!(l->r = malloc((size_t)lines * sizeof(*l->r))))
		return -1;
	l->cap = lines;
	return index_grow(l, 2 * lines);
}

static int parse(char *buf, const char *name, bool tolerant, struct pv_jlist *l,
		 struct pv_err *e)
{
	char *line, *next;
	int lineno = 0;

	memset(l, 0, sizeof(*l));
	l->text = buf;
	if (presize(l, buf) < 0) {
		pv_fail(e, ENOMEM, "%s", name);
		goto fail;
	}
	for (line = buf; *line; line = next) {
		char *f[MAX_FIELDS];
		char *nl = strchr(line, '\n');
		int nf;

		lineno++;
		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (!nl || split(line, (size_t)(nl - line), f, &nf) < 0) {
			if (!*next) {
				l->torn = true; /* the last line: a write cut short */
				l->torn_at = (size_t)(line - buf);
				break;
			}
			if (tolerant && lineno > 1) {
				bad(l, lineno);
				continue;
			}
			pv_fail(e, 0, "%s:%d: corrupt journal record", name, lineno);
			goto fail;
		}
		if (parse_record(l, f, nf, lineno == 1) < 0) {
			if (tolerant && lineno > 1) {
				bad(l, lineno);
				continue;
			}
			pv_fail(e, 0, "%s:%d: bad journal record '%s'", name, lineno, f[0]);
			goto fail;
		}
	}
	if (l->vmid == 0 && !(l->torn && lineno == 1)) {
		pv_fail(e, 0, "%s: journal has no header", name);
		goto fail;
	}
	return 0; /* vmid 0: only a torn header, nothing was recorded */
fail:
	pv_jlist_free(l); /* a failed parse holds nothing */
	return -1;
}

int pv_journal_parse(const char *text, const char *name, struct pv_jlist *l, struct pv_err *e)
{
	char *buf = strdup(text);

	if (!buf) {
		memset(l, 0, sizeof(*l));
		return pv_fail(e, ENOMEM, "%s", name);
	}
	return parse(buf, name, false, l, e);
}

int pv_journal_parse_tolerant(char *text, const char *name, struct pv_jlist *l,
			      struct pv_err *e)
{
	return parse(text, name, true, l, e);
}

void pv_jlist_free(struct pv_jlist *l)
{
	while (l->arena) {
		struct pv_jarena *a = l->arena;

		l->arena = a->next;
		free(a);
	}
	free(l->r);
	free(l->idx);
	free(l->text);
	memset(l, 0, sizeof(*l));
}
