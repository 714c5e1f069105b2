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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/limits.h"

#define MAX_FIELDS 8
#define ARENA_CHUNK 65536
/* A block this large is mapped on its own, in whole steps of this size,
 * and offered transparent huge pages: a 100,000-entry load touches 10 MiB
 * of fresh memory, and 2,500 page faults for it cost as much as the parse
 * (far more where faults are dear, as in a virtual machine). Where THP is
 * off or no huge page is free, it is plain pages, as malloc's. */
#define BIG_BLOCK ((size_t)2 << 20)

struct pv_jarena {
	struct pv_jarena *next;
	size_t used, cap;
	bool mapped;        /* big_map'd: freed with munmap */
	char data[];
};

static size_t big_size(size_t len)
{
	return (len + BIG_BLOCK - 1) & ~(BIG_BLOCK - 1);
}

/* len (a multiple of BIG_BLOCK) of zeroed anonymous memory, or NULL. A
 * size in whole 2 MiB steps is what the kernel aligns for THP. */
static void *big_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len, MADV_HUGEPAGE); /* a hint: EINVAL without THP */
	return p;
}

uint32_t pv_fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static const char *jlist_strn(struct pv_jlist *l, const char *s, size_t n);

/* A new arena chunk in front of l's, with room for at least len bytes:
 * malloc'd, or big_map'd when that large. */
static struct pv_jarena *arena_add(struct pv_jlist *l, size_t len)
{
	size_t cap = len > ARENA_CHUNK ? len : ARENA_CHUNK, size = sizeof(struct pv_jarena) + cap;
	bool mapped = size >= BIG_BLOCK;
	struct pv_jarena *a;

	if (mapped)
		size = big_size(size);
	if (!(a = mapped ? big_map(size) : malloc(size)))
		return NULL;
	a->next = l->arena;
	a->used = 0;
	a->cap = size - sizeof(*a);
	a->mapped = mapped;
	l->arena = a;
	return a;
}

const char *pv_jlist_str(struct pv_jlist *l, const char *s)
{
	return jlist_strn(l, s, strlen(s));
}

/* n bytes of s and a NUL into the arena. */
static const char *jlist_strn(struct pv_jlist *l, const char *s, size_t n)
{
	size_t len = n + 1;
	struct pv_jarena *a = l->arena;

	if (len == 1)
		return "";
	if ((!a || a->cap - a->used < len) && !(a = arena_add(l, len)))
		return NULL;
	memcpy(a->data + a->used, s, n);
	a->data[a->used + n] = '\0';
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
	if (l->idx_lazy)
		return 0;
	if ((l->n + 1) * 2 > l->idxcap && index_grow(l, 0) < 0)
		return -1;
	*slot_of(l, l->r[i].kind, l->r[i].target) = i;
	return 0;
}

int pv_jlist_reindex(struct pv_jlist *l)
{
	l->idx_lazy = false;
	free(l->idx);
	l->idx = NULL;
	l->idxcap = 0;
	if (index_grow(l, 2 * l->n + 2) < 0)
		return -1;
	for (int i = 0; i < l->n; i++)
		if (index_put(l, i) < 0)
			return -1;
	return 0;
}

struct pv_jent *pv_jlist_live(const struct pv_jlist *l, enum pv_step_kind k, const char *target)
{
	int *s;

	/* the index is a cache of the entries: built here, at the first
	 * lookup, for a list that was parsed without it (l is not const
	 * where it was made: pv_journal_parse and friends) */
	if (l->idx_lazy && pv_jlist_reindex((struct pv_jlist *)l) < 0) {
		((struct pv_jlist *)l)->idx_lazy = true;
		return NULL;
	}
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

static int add_entry(struct pv_jlist *l, long seq, enum pv_phase ph, enum pv_step_kind k,
		     const char *target, const char *old, const char *nv, bool index);

/* Room for cap entries: realloc'd while small, then big_map'd and moved
 * by mremap, which takes the pages along instead of copying them. */
static int entries_grow(struct pv_jlist *l, int cap)
{
	size_t len = (size_t)cap * sizeof(*l->r), size = big_size(len);
	void *nr;

	if (len < BIG_BLOCK) {
		if (!(nr = realloc(l->r, len)))
			return -1;
	} else if (l->rmapped) {
		if ((nr = mremap(l->r, l->rmapped, size, MREMAP_MAYMOVE)) == MAP_FAILED)
			return -1;
	} else {
		if (!(nr = big_map(size)))
			return -1;
		/* a list sized from a large file at once has no entries yet,
		 * and no array: memcpy takes no NULL, even for 0 bytes */
		if (l->n)
			memcpy(nr, l->r, (size_t)l->n * sizeof(*l->r));
		free(l->r);
	}
	l->r = nr;
	if (len >= BIG_BLOCK) {
		l->rmapped = size;
		cap = (int)(size / sizeof(*l->r));
	}
	l->cap = cap;
	return 0;
}

int pv_jlist_add(struct pv_jlist *l, long seq, enum pv_phase ph, enum pv_step_kind k,
		 const char *target, const char *old, const char *nv)
{
	return add_entry(l, seq, ph, k, target, old, nv, true);
}

/* index: keep the (kind, target) index up to date; the parser builds it
 * once at the end instead, at its final size. */
static int add_entry(struct pv_jlist *l, long seq, enum pv_phase ph, enum pv_step_kind k,
		     const char *target, const char *old, const char *nv, bool index)
{
	struct pv_jent *x;

	if (seq <= l->max_seq)
		return -1; /* entries stay in seq order: binary search */
	if (l->n == l->cap && entries_grow(l, l->cap ? l->cap * 2 : 32) < 0)
		return -1;
	x = &l->r[l->n];
	*x = (struct pv_jent){ .seq = seq, .phase = ph, .kind = k, .target = target, .old = old,
			       .nv = nv, .got = "", .note = "" };
	if (index && index_put(l, l->n) < 0)
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

/* A load reads the file a chunk at a time and keeps only the fields, in
 * the arena: holding the whole text (10 MB at 100,000 entries) cost more
 * in fresh pages than the parse itself. A chunk holds any valid line. */
#define CHUNK (256 * 1024)

struct field {
	char *s;
	size_t len;
};

/* What the parse of one text keeps between lines. */
struct pstate {
	struct pv_jlist *l;
	const char *name;
	bool tolerant;
	int lineno;
	size_t off;             /* where the next line starts in the text */
	size_t dropped;         /* bytes of an overlong next line not in the buffer */
	const char *prev[3];    /* the last old, new and done values kept: */
	size_t prevlen[3];      /* most entries repeat them, and share the copy */
};

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 8 hex digits that close a line, or -1. */
static long long parse_sum(const char *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		int d = hexdigit(p[i]);

		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	return v;
}

/* A field as pv_unescape takes it, in place: only a field with a
 * backslash or a control byte (then refused) needs the slow path. */
static int field_unescape(struct field *f)
{
	for (size_t i = 0; i < f->len; i++) {
		unsigned char c = (unsigned char)f->s[i];

		if (c < 0x20 || c == 0x7f || c == '\\') {
			if (pv_unescape(f->s, f->len + 1, f->s) < 0)
				return -1;
			f->len = strlen(f->s);
			return 0;
		}
	}
	return 0;
}

/* pv_fnv1a of s, and whether any byte of it needs pv_unescape (a
 * backslash, or a control byte other than the tab that separates fields,
 * which it refuses): one pass over the line for both. */
static uint32_t fnv_scan(const char *s, size_t len, bool *special)
{
	uint32_t h = 2166136261u;
	bool sp = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		h ^= c;
		h *= 16777619u;
		sp |= (c < 0x20 && c != '\t') || c == 0x7f || c == '\\';
	}
	*special = sp;
	return h;
}

/* Split a checksummed line into unescaped fields (in place). */
static int split(char *line, size_t len, struct field *f, int *nf)
{
	char *sum = memrchr(line, '\t', len), *p = line, *end;
	long long want;
	bool special;

	if (!sum || line + len - (sum + 1) != 8 || (want = parse_sum(sum + 1)) < 0 ||
	    fnv_scan(line, (size_t)(sum - line), &special) != (uint32_t)want)
		return -1;
	*sum = '\0';
	end = sum;
	for (*nf = 0; *nf < MAX_FIELDS;) {
		char *tab = memchr(p, '\t', (size_t)(end - p));

		f[*nf].s = p;
		f[*nf].len = (size_t)((tab ? tab : end) - p);
		(*nf)++;
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	for (int i = 0; special && i < *nf; i++)
		if (field_unescape(&f[i]) < 0)
			return -1;
	return 0;
}

/* A decimal in [1, max], no sign, no leading zero. */
static int parse_num(const struct field *f, long max, long *out)
{
	long v = 0;

	if (!f->len || f->len > 19 || f->s[0] == '0')
		return -1;
	for (size_t i = 0; i < f->len; i++) {
		if (f->s[i] < '0' || f->s[i] > '9' || v > (max - (f->s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (f->s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The field in the arena; k (0..2: old, new, done value) or -1: shared
 * with the last value of that slot when it is the same. */
static const char *keep(struct pstate *ps, const struct field *f, int k)
{
	const char *s;

	if (!f->len)
		return "";
	if (k >= 0 && ps->prev[k] && ps->prevlen[k] == f->len && !memcmp(ps->prev[k], f->s, f->len))
		return ps->prev[k];
	if (!(s = jlist_strn(ps->l, f->s, f->len)))
		return NULL;
	if (k >= 0) {
		ps->prev[k] = s;
		ps->prevlen[k] = f->len;
	}
	return s;
}

static int parse_step(struct pstate *ps, struct field *f, int nf, long seq)
{
	enum pv_phase ph;
	enum pv_step_kind k;
	const char *t, *o, *n;

	if (nf != 7 || pv_phase_parse(f[2].s, &ph) < 0 || pv_step_parse(f[3].s, &k) < 0 ||
	    f[4].len >= PV_JTARGET || f[5].len >= PV_JVAL || f[6].len >= PV_JVAL)
		return -1;
	if (!(t = keep(ps, &f[4], -1)) || !(o = keep(ps, &f[5], 0)) || !(n = keep(ps, &f[6], 1)))
		return -1;
	return add_entry(ps->l, seq, ph, k, t, o, n, false);
}

static int parse_record(struct pstate *ps, struct field *f, int nf, bool first)
{
	struct pv_jlist *l = ps->l;
	const char *v;
	long seq;

	if (nf < 2 || parse_num(&f[1], 1L << 40, &seq) < 0)
		return -1;
	if (first != (f[0].len == 1 && f[0].s[0] == 'H'))
		return -1;
	if (first) {
		long vmid;

		if (seq != 1 || nf != 3 || parse_num(&f[2], PV_VMID_MAX, &vmid) < 0 ||
		    vmid < PV_VMID_MIN)
			return -1;
		l->vmid = (int)vmid;
		return 0;
	}
	l->nrec++;
	if (f[0].len == 1 && f[0].s[0] == 'S')
		return parse_step(ps, f, nf, seq);
	if (nf != 3 || f[0].len != 1 || !strchr("DUR", f[0].s[0]))
		return -1;
	if (f[2].len >= (f[0].s[0] == 'U' ? 256u : (size_t)PV_JVAL))
		return -1;
	if (!(v = keep(ps, &f[2], f[0].s[0] == 'D' ? 2 : f[0].s[0] == 'R' ? 1 : -1)))
		return -1;
	return pv_jlist_mark(l, f[0].s[0], seq, v);
}

static void bad(struct pv_jlist *l, int lineno)
{
	if (l->nbad < PV_JBAD_LINES)
		l->bad_line[l->nbad] = lineno;
	l->nbad++;
}

/* One line (len bytes, its newline cut; complete: a newline followed it).
 * last: nothing follows it in the text. 1: stop (a torn last line). */
static int parse_line(struct pstate *ps, char *line, size_t len, bool complete, bool last,
		      struct pv_err *e)
{
	struct field f[MAX_FIELDS];
	int nf;

	ps->lineno++;
	if (!complete || split(line, len, f, &nf) < 0) {
		if (last) {
			ps->l->torn = true; /* the last line: a write cut short */
			ps->l->torn_at = ps->off;
			return 1;
		}
		if (ps->tolerant && ps->lineno > 1) {
			bad(ps->l, ps->lineno);
			return 0;
		}
		return pv_fail(e, 0, "%s:%d: corrupt journal record", ps->name, ps->lineno);
	}
	if (parse_record(ps, f, nf, ps->lineno == 1) == 0)
		return 0;
	if (ps->tolerant && ps->lineno > 1) {
		bad(ps->l, ps->lineno);
		return 0;
	}
	return pv_fail(e, 0, "%s:%d: bad journal record '%s'", ps->name, ps->lineno, f[0].s);
}

/* The complete lines of buf[0..len); eof: nothing comes after buf. The
 * last line with its newline is left for the next call unless eof (a bad
 * line is torn only if nothing follows it). Returns the bytes consumed,
 * or -1. *stop: a torn last line ended the text. */
static ssize_t parse_buf(struct pstate *ps, char *buf, size_t len, bool eof, bool *stop,
			 struct pv_err *e)
{
	size_t at = 0;

	*stop = false;
	while (at < len) {
		char *line = buf + at, *nl = memchr(line, '\n', len - at);
		size_t next = nl ? (size_t)(nl + 1 - buf) : len;
		int rc;

		if (!nl && !eof)
			break;
		if (nl && next == len && !eof)
			break;
		if (nl)
			*nl = '\0';
		rc = parse_line(ps, line, (size_t)((nl ? nl : buf + len) - line), nl != NULL,
				next == len, e);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			*stop = true;
			return (ssize_t)len;
		}
		ps->off += next - at + ps->dropped;
		ps->dropped = 0;
		at = next;
	}
	return (ssize_t)at;
}

/* After the last line: the header check and the index. */
static int parse_end(struct pstate *ps, struct pv_err *e)
{
	struct pv_jlist *l = ps->l;

	if (l->vmid == 0 && !(l->torn && ps->lineno == 1))
		return pv_fail(e, 0, "%s: journal has no header", ps->name);
	l->idx_lazy = l->n > 0;
	return 0; /* vmid 0: only a torn header, nothing was recorded */
}

/* A NUL ends the text, as it always has (a string ends there). */
static size_t text_len(const char *buf, size_t len)
{
	const char *nul = memchr(buf, '\0', len);

	return nul ? (size_t)(nul - buf) : len;
}

static int parse(char *buf, const char *name, bool tolerant, struct pv_jlist *l,
		 struct pv_err *e)
{
	struct pstate ps = { .l = l, .name = name, .tolerant = tolerant };
	bool stop;

	memset(l, 0, sizeof(*l));
	if (parse_buf(&ps, buf, strlen(buf), true, &stop, e) < 0 || parse_end(&ps, e) < 0) {
		pv_jlist_free(l); /* a failed parse holds nothing */
		return -1;
	}
	return 0;
}

int pv_journal_parse(const char *text, const char *name, struct pv_jlist *l, struct pv_err *e)
{
	_cleanup_free_ char *buf = strdup(text);

	if (!buf) {
		memset(l, 0, sizeof(*l));
		return pv_fail(e, ENOMEM, "%s", name);
	}
	return parse(buf, name, false, l, e);
}

int pv_journal_parse_tolerant(char *text, const char *name, struct pv_jlist *l,
			      struct pv_err *e)
{
	int rc = parse(text, name, true, l, e);

	free(text);
	return rc;
}

/* Read more of fd after the have bytes in buf; *eof at its end or at a
 * NUL (the text ends there; the bytes after it are only counted). */
static int fill(int fd, const char *name, char *buf, size_t *have, size_t *total, size_t max,
		bool *eof, struct pv_err *e)
{
	ssize_t r;

	do
		r = read(fd, buf + *have, CHUNK - *have);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return pv_fail(e, errno, "read %s", name);
	*total += (size_t)r;
	if (*total > max)
		return pv_fail(e, EFBIG, "read %s", name);
	if (r == 0) {
		*eof = true;
		return 0;
	}
	if (text_len(buf + *have, (size_t)r) < (size_t)r) {
		*have += text_len(buf + *have, (size_t)r);
		*eof = true;
		for (char sink[4096]; (r = read(fd, sink, sizeof(sink))) != 0;) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return pv_fail(e, errno, "read %s", name);
			if ((*total += (size_t)r) > max)
				return pv_fail(e, EFBIG, "read %s", name);
		}
		return 0;
	}
	*have += (size_t)r;
	return 0;
}

/* A chunk that is all one line (nothing of it parsed): no journal line
 * is that long. It stays a bad line, "X" and its newline if read, and the
 * bytes dropped still count where the lines after it start. */
static void drop_overlong(struct pstate *ps, char *buf, size_t *have)
{
	char *nl = memchr(buf, '\n', *have);
	size_t keep = nl ? *have - (size_t)(nl - buf) : 0;

	memmove(buf + 1, buf + *have - keep, keep);
	buf[0] = 'X';
	ps->dropped += *have - keep - 1;
	*have = keep + 1;
}

/* The tolerant parse of what fd holds from where it is, a chunk at a
 * time; *len gets the bytes read. 1 when there are none. */
static int parse_stream(int fd, const char *name, size_t max, struct pv_jlist *l, size_t *len,
			struct pv_err *e)
{
	struct pstate ps = { .l = l, .name = name, .tolerant = true };
	_cleanup_free_ char *buf = malloc(CHUNK);
	size_t have = 0, total = 0;
	bool eof = false, stop = false;
	struct stat st;

	if (!buf)
		return pv_fail(e, ENOMEM, "read %s", name);
	/* what a load keeps is at most the text: a large one gets its arena
	 * and its entry array (an entry per 64 bytes of text: more than a
	 * journal's lines average) at once, each in one mapping; what it does
	 * not touch costs nothing, and the array still grows if need be */
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= BIG_BLOCK && (size_t)st.st_size <= max &&
	    (!arena_add(l, (size_t)st.st_size) || entries_grow(l, (int)(st.st_size / 64)) < 0))
		return pv_fail(e, ENOMEM, "read %s", name);
	while (!stop) {
		ssize_t used;

		if (!eof && have == CHUNK) {
			drop_overlong(&ps, buf, &have);
			continue;
		}
		if (!eof && fill(fd, name, buf, &have, &total, max, &eof, e) < 0)
			return -1;
		if (eof && total == 0)
			return 1;
		if ((used = parse_buf(&ps, buf, have, eof, &stop, e)) < 0)
			return -1;
		if (eof)
			break;
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
	}
	*len = total;
	return parse_end(&ps, e);
}

int pv_journal_read_fd(int fd, const char *name, size_t max, struct pv_jlist *l, size_t *len,
		       struct pv_err *e)
{
	int rc;

	memset(l, 0, sizeof(*l));
	*len = 0;
	if ((rc = parse_stream(fd, name, max, l, len, e)) != 0)
		pv_jlist_free(l);
	return rc;
}

void pv_jlist_free(struct pv_jlist *l)
{
	while (l->arena) {
		struct pv_jarena *a = l->arena;

		l->arena = a->next;
		if (a->mapped)
			munmap(a, sizeof(*a) + a->cap);
		else
			free(a);
	}
	if (l->rmapped)
		munmap(l->r, l->rmapped);
	else
		free(l->r);
	free(l->idx);
	memset(l, 0, sizeof(*l));
}
