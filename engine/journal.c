#include "engine/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/limits.h"

#define LINE_MAX_LEN (4 * (PV_JTARGET + 3 * PV_JVAL) + 128)
#define MAX_FIELDS 8

static const char *const step_names[PV_STEP__N] = {
	[PV_STEP_ATTR] = "ATTR",         [PV_STEP_REBIND] = "REBIND",
	[PV_STEP_HUGEPAGES] = "HUGEPAGES", [PV_STEP_AFFINITY] = "AFFINITY",
	[PV_STEP_CPUSET] = "CPUSET",     [PV_STEP_CGCTL] = "CGCTL",
	[PV_STEP_GOVERNOR] = "GOVERNOR", [PV_STEP_IRQ] = "IRQ",
	[PV_STEP_IRQB] = "IRQB",         [PV_STEP_PARTITION] = "PARTITION",
	[PV_STEP_PARTCPUS] = "PARTCPUS",
};

const char *pv_step_name(enum pv_step_kind k)
{
	return (unsigned)k < PV_STEP__N ? step_names[k] : "?";
}

int pv_step_parse(const char *s, enum pv_step_kind *k)
{
	for (int i = 0; i < PV_STEP__N; i++)
		if (strcmp(s, step_names[i]) == 0) {
			*k = (enum pv_step_kind)i;
			return 0;
		}
	return -1;
}

int pv_phase_parse(const char *s, enum pv_phase *ph)
{
	for (int i = PV_PRE_START; i <= PV_POST_STOP; i++)
		if (strcmp(s, pv_phase_name((enum pv_phase)i)) == 0) {
			*ph = (enum pv_phase)i;
			return 0;
		}
	return -1;
}

int pv_escape(char *out, size_t n, const char *in)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		char tmp[5];
		int len;

		if (*p == '\\')
			len = snprintf(tmp, sizeof(tmp), "\\\\");
		else if (*p == '\t')
			len = snprintf(tmp, sizeof(tmp), "\\t");
		else if (*p == '\n')
			len = snprintf(tmp, sizeof(tmp), "\\n");
		else if (*p == '\r')
			len = snprintf(tmp, sizeof(tmp), "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			len = snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
		else
			len = snprintf(tmp, sizeof(tmp), "%c", *p);
		if (o + (size_t)len + 1 > n)
			return -1;
		memcpy(out + o, tmp, (size_t)len);
		o += (size_t)len;
	}
	if (o + 1 > n)
		return -1;
	out[o] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int pv_unescape(char *out, size_t n, const char *in)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		char c = *p;

		if ((unsigned char)c < 0x20 || c == 0x7f)
			return -1;
		if (c == '\\') {
			p++;
			if (*p == '\\')
				c = '\\';
			else if (*p == 't')
				c = '\t';
			else if (*p == 'n')
				c = '\n';
			else if (*p == 'r')
				c = '\r';
			else if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
				c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
				if (c == '\0')
					return -1;
				p += 2;
			} else
				return -1;
		}
		if (o + 2 > n)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

int pv_rundir(struct pv_err *e)
{
	char path[PV_PATH_MAX];
	const char *parts[] = { "/run", "/run/pvepin" };

	for (int i = 0; i < 2; i++) {
		if (pv_path(path, sizeof(path), e, "%s", parts[i]) < 0)
			return -1;
		if (mkdir(path, i ? 0700 : 0755) < 0 && errno != EEXIST)
			return pv_fail(e, errno, "mkdir %s", path);
	}
	/* journals, ledger and lock live here: no one but root may swap them */
	return pv_check_root_dir(path, e);
}

int pv_journal_path(char *buf, size_t n, int vmid, struct pv_err *e)
{
	return pv_path(buf, n, e, "/run/pvepin/%d.journal", vmid);
}

/* One record (escaped fields, tab-separated, checksum, newline) into
 * line; its length, or 0 if a field does not fit. */
static size_t format(char *line, size_t cap, const char *const *f, int nf)
{
	size_t o = 0;

	for (int i = 0; i < nf; i++) {
		if (i)
			line[o++] = '\t';
		if (pv_escape(line + o, cap - o - 16, f[i]) < 0)
			return 0;
		o += strlen(line + o);
	}
	return o + (size_t)snprintf(line + o, 16, "\t%08x\n", fnv1a(line, o));
}

static int write_all(struct pv_journal *j, const char *p, size_t len, struct pv_err *e)
{
	while (len > 0) {
		ssize_t w = write(j->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return pv_fail(e, errno, "write journal %s", j->path);
		p += w;
		len -= (size_t)w;
	}
	/* tmpfs (/run) has nothing to flush, and what the journal guards
	 * does not outlive a reboot either: the syscall is skipped there */
	if (!j->volatile_fs && fsync(j->fd) < 0)
		return pv_fail(e, errno, "fsync journal %s", j->path);
	return 0;
}

/* Append one record, after the done marks still held back. lazy: hold
 * this one back too (a done mark: see pv_journal_done). */
static int append(struct pv_journal *j, const char *const *f, int nf, bool lazy,
		  struct pv_err *e)
{
	char line[LINE_MAX_LEN];
	size_t len = format(line, sizeof(line), f, nf);

	if (!len)
		return pv_fail(e, E2BIG, "journal %s: record too long", j->path);
	if (j->npend + len <= sizeof(j->pend)) {
		memcpy(j->pend + j->npend, line, len);
		j->npend += len;
		/* a record that is not a done mark goes out now, with them */
		return lazy ? 0 : pv_journal_flush(j, e);
	}
	if (pv_journal_flush(j, e) < 0)
		return -1;
	return write_all(j, line, len, e);
}

int pv_journal_flush(struct pv_journal *j, struct pv_err *e)
{
	size_t n = j->npend;

	if (!n)
		return 0;
	j->npend = 0;
	return write_all(j, j->pend, n, e);
}

/* Cut a torn tail so the next record starts on a line of its own. A torn
 * step record was never acted on: the action comes after its write. */
static int cut_torn_tail(struct pv_journal *j, const char *text, size_t len,
			 const struct pv_jlist *l, struct pv_err *e)
{
	size_t keep = len;

	if (!l->torn)
		return 0;
	while (keep > 0 && text[keep - 1] == '\n')
		keep--;
	while (keep > 0 && text[keep - 1] != '\n')
		keep--;
	fprintf(stderr, "pvepin: warning: %s: dropping a torn last record (crash while writing it)\n",
		j->path);
	if (ftruncate(j->fd, (off_t)keep) < 0)
		return pv_fail(e, errno, "truncate journal %s", j->path);
	return 0;
}

int pv_journal_open(struct pv_journal *j, int vmid, struct pv_err *e)
{
	_cleanup_free_ char *text = NULL;
	struct pv_jlist l = { 0 };
	struct statfs fs;
	char vm[16];
	size_t len = 0;
	int rc;

	j->fd = -1;
	j->npend = 0;
	j->vmid = vmid;
	j->next_seq = 1;
	if (pv_rundir(e) < 0 || pv_journal_path(j->path, sizeof(j->path), vmid, e) < 0)
		return -1;
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0)
		return pv_fail(e, errno, "open journal %s", j->path);
	if (fstatfs(j->fd, &fs) < 0) {
		pv_fail(e, errno, "statfs journal %s", j->path);
		goto fail;
	}
	j->volatile_fs = fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
	if (!(text = pv_slurp(j->path, &len, e)))
		goto fail;
	if (len > 0 && pv_journal_parse(text, j->path, &l, e) < 0)
		goto fail;
	if (len == 0 || l.vmid == 0) { /* new, or only a torn header */
		pv_jlist_free(&l);
		if (ftruncate(j->fd, 0) < 0) {
			pv_fail(e, errno, "truncate journal %s", j->path);
			goto fail;
		}
		snprintf(vm, sizeof(vm), "%d", vmid);
		if (append(j, (const char *[]){ "H", "1", vm }, 3, false, e) < 0)
			goto fail;
		return 0;
	}
	rc = 0;
	if (l.vmid != vmid)
		rc = pv_fail(e, 0, "journal %s belongs to VM %d", j->path, l.vmid);
	if (rc == 0)
		rc = cut_torn_tail(j, text, len, &l, e);
	j->next_seq = l.max_seq + 1;
	pv_jlist_free(&l);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	pv_journal_close(j);
	return -1;
}

void pv_journal_close(struct pv_journal *j)
{
	struct pv_err e = { 0 };

	if (j->fd >= 0 && pv_journal_flush(j, &e) < 0)
		pv_err_print(&e);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

static int step(struct pv_journal *j, enum pv_phase ph, enum pv_step_kind k, const char *target,
		const char *old, const char *nv, long *seq, bool held, struct pv_err *e)
{
	char s[24];

	if (strlen(target) >= PV_JTARGET || strlen(old) >= PV_JVAL || strlen(nv) >= PV_JVAL)
		return pv_fail(e, E2BIG, "journal: value too long for %s", target);
	snprintf(s, sizeof(s), "%ld", j->next_seq);
	if (append(j, (const char *[]){ "S", s, pv_phase_name(ph), pv_step_name(k), target, old, nv },
		   7, held, e) < 0)
		return -1;
	*seq = j->next_seq++;
	return 0;
}

int pv_journal_step(struct pv_journal *j, enum pv_phase ph, enum pv_step_kind k,
		    const char *target, const char *old, const char *nv, long *seq,
		    struct pv_err *e)
{
	return step(j, ph, k, target, old, nv, seq, false, e);
}

int pv_journal_step_held(struct pv_journal *j, enum pv_phase ph, enum pv_step_kind k,
			 const char *target, const char *old, const char *nv, long *seq,
			 struct pv_err *e)
{
	return step(j, ph, k, target, old, nv, seq, true, e);
}

int pv_journal_done(struct pv_journal *j, long seq, const char *got, struct pv_err *e)
{
	char s[24];

	if (strlen(got) >= PV_JVAL)
		return pv_fail(e, E2BIG, "journal: value too long");
	snprintf(s, sizeof(s), "%ld", seq);
	return append(j, (const char *[]){ "D", s, got }, 3, true, e);
}

int pv_journal_undone(struct pv_journal *j, long seq, const char *note, struct pv_err *e)
{
	char s[24], n[256];

	snprintf(s, sizeof(s), "%ld", seq);
	snprintf(n, sizeof(n), "%s", note);
	return append(j, (const char *[]){ "U", s, n }, 3, false, e);
}

/* Split a checksummed line into unescaped fields (in place). */
static int split(char *line, char **f, int *nf)
{
	char *sum = strrchr(line, '\t'), *p = line;
	unsigned long want;
	char *end;

	if (!sum || strlen(sum + 1) != 8)
		return -1;
	want = strtoul(sum + 1, &end, 16);
	if (*end || fnv1a(line, (size_t)(sum - line)) != (uint32_t)want)
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

static struct pv_jrec *find(struct pv_jlist *l, long seq)
{
	for (int i = l->n - 1; i >= 0; i--)
		if (l->r[i].seq == seq)
			return &l->r[i];
	return NULL;
}

static int copy_field(char *dst, size_t n, const char *src)
{
	if (strlen(src) >= n)
		return -1;
	strcpy(dst, src);
	return 0;
}

static int add_step(struct pv_jlist *l, char **f, int nf, long seq)
{
	struct pv_jrec *r;

	if (nf != 7 || find(l, seq))
		return -1;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 32;
		struct pv_jrec *nr = realloc(l->r, (size_t)cap * sizeof(*nr));

		if (!nr)
			return -1;
		l->r = nr;
		l->cap = cap;
	}
	r = &l->r[l->n];
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	if (pv_phase_parse(f[2], &r->phase) < 0 || pv_step_parse(f[3], &r->kind) < 0 ||
	    copy_field(r->target, sizeof(r->target), f[4]) < 0 ||
	    copy_field(r->old, sizeof(r->old), f[5]) < 0 || copy_field(r->nv, sizeof(r->nv), f[6]) < 0)
		return -1;
	l->n++;
	return 0;
}

static int parse_record(struct pv_jlist *l, char **f, int nf, bool first)
{
	struct pv_jrec *r;
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
	if (strcmp(f[0], "S") == 0) {
		if (add_step(l, f, nf, seq) < 0)
			return -1;
		if (seq > l->max_seq)
			l->max_seq = seq;
		return 0;
	}
	if (nf != 3 || !(r = find(l, seq)))
		return -1;
	if (strcmp(f[0], "D") == 0) {
		r->done = true;
		return copy_field(r->got, sizeof(r->got), f[2]);
	}
	if (strcmp(f[0], "U") == 0) {
		r->undone = true;
		return copy_field(r->note, sizeof(r->note), f[2]);
	}
	return -1;
}

int pv_journal_parse(const char *text, const char *name, struct pv_jlist *l, struct pv_err *e)
{
	_cleanup_free_ char *buf = strdup(text);
	char *line, *next;
	int lineno = 0;

	memset(l, 0, sizeof(*l));
	if (!buf)
		return pv_fail(e, ENOMEM, "%s", name);
	for (line = buf; *line; line = next) {
		char *f[MAX_FIELDS];
		char *nl = strchr(line, '\n');
		int nf;

		lineno++;
		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (!nl || split(line, f, &nf) < 0) {
			if (!*next) {
				l->torn = true; /* the last line: a write cut short */
				break;
			}
			pv_fail(e, 0, "%s:%d: corrupt journal record", name, lineno);
			goto fail;
		}
		if (parse_record(l, f, nf, lineno == 1) < 0) {
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

int pv_journal_load(int vmid, struct pv_jlist *l, struct pv_err *e)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX];

	memset(l, 0, sizeof(*l));
	if (pv_journal_path(path, sizeof(path), vmid, e) < 0)
		return -1;
	if (!pv_exists(path))
		return 1;
	if (!(text = pv_slurp(path, NULL, e)))
		return -1;
	if (!*text)
		return 1; /* created, crashed before the header: nothing was done */
	if (pv_journal_parse(text, path, l, e) < 0)
		return -1;
	if (l->vmid == 0)
		return 1;
	if (l->torn)
		fprintf(stderr, "pvepin: warning: %s: ignoring a torn last record\n", path);
	if (l->vmid != vmid)
		return pv_fail(e, 0, "journal %s belongs to VM %d", path, l->vmid);
	return 0;
}

void pv_jlist_free(struct pv_jlist *l)
{
	free(l->r);
	memset(l, 0, sizeof(*l));
}

int pv_journal_remove(int vmid, struct pv_err *e)
{
	char path[PV_PATH_MAX];

	if (pv_journal_path(path, sizeof(path), vmid, e) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return pv_fail(e, errno, "remove %s", path);
	return 0;
}
