#include "engine/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/cleanup.h"

#define LINE_MAX_LEN (4 * (PV_JTARGET + 3 * PV_JVAL) + 128)

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

/* The escape of byte c into out (at most 4 bytes); its length. */
static size_t escape_byte(char *out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '\\':
		out[1] = '\\';
		break;
	case '\t':
		out[1] = 't';
		break;
	case '\n':
		out[1] = 'n';
		break;
	case '\r':
		out[1] = 'r';
		break;
	default:
		if (c >= 0x20 && c != 0x7f) {
			out[0] = (char)c;
			return 1;
		}
		out[1] = 'x';
		out[2] = hex[c >> 4];
		out[3] = hex[c & 15];
		out[0] = '\\';
		return 4;
	}
	out[0] = '\\';
	return 2;
}

/* Byte by byte, without a printf per byte: every journal record of a
 * phase (5,000 of them where a host has 5,000 IRQs) goes through here. */
int pv_escape(char *out, size_t n, const char *in)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		char tmp[4];
		size_t len = escape_byte(tmp, *p);

		if (o + len + 1 > n)
			return -1;
		memcpy(out + o, tmp, len);
		o += len;
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

/* "\t<8 hex digits>\n", the checksum that closes a line (a printf per
 * record was a tenth of the time to write 5,000 of them); its length. */
static size_t put_sum(char *out, uint32_t sum)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '\t';
	for (int i = 0; i < 8; i++)
		out[1 + i] = hex[(sum >> (28 - 4 * i)) & 15];
	out[9] = '\n';
	out[10] = '\0';
	return 10;
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
	return o + put_sum(line + o, pv_fnv1a(line, o));
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
	j->size += (long)len;
	if (f[0][0] != 'H')
		j->l.nrec++;
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
static int cut_torn_tail(struct pv_journal *j, struct pv_err *e)
{
	if (!j->l.torn)
		return 0;
	fprintf(stderr, "pvepin: warning: %s: dropping a torn last record (crash while writing it)\n",
		j->path);
	if (ftruncate(j->fd, (off_t)j->l.torn_at) < 0)
		return pv_fail(e, errno, "truncate journal %s", j->path);
	j->size = (long)j->l.torn_at;
	j->l.torn = false;
	return 0;
}

static void say_bad(const char *path, const struct pv_jlist *l)
{
	char lines[96];

	if (!l->nbad)
		return;
	pv_jlist_bad_text(l, lines, sizeof(lines));
	fprintf(stderr, "pvepin: warning: %s: line%s %s failed their checksum and %s skipped: what "
		"they recorded is not restored\n", path, l->nbad > 1 ? "s" : "", lines,
		l->nbad > 1 ? "are" : "is");
}

static int header(struct pv_journal *j, struct pv_err *e)
{
	char vm[16];

	pv_jlist_free(&j->l);
	if (ftruncate(j->fd, 0) < 0)
		return pv_fail(e, errno, "truncate journal %s", j->path);
	j->size = 0;
	j->l.vmid = j->vmid;
	snprintf(vm, sizeof(vm), "%d", j->vmid);
	return append(j, (const char *[]){ "H", "1", vm }, 3, false, e);
}

/* j->fd is open at the start of the file: read it into j->l. */
static int read_list(struct pv_journal *j, struct pv_err *e)
{
	size_t len = 0;
	struct stat st;
	int rc;

	if (fstat(j->fd, &st) < 0)
		return pv_fail(e, errno, "stat journal %s", j->path);
	j->dev = st.st_dev;
	j->ino = st.st_ino;
	rc = pv_journal_read_fd(j->fd, j->path, (size_t)PV_JOURNAL_MAX_BYTES * 2, &j->l, &len, e);
	if (rc < 0)
		return -1;
	j->size = (long)len;
	if (rc == 1)
		return header(j, e);
	if (j->l.vmid == 0) /* only a torn header */
		return header(j, e);
	if (j->l.vmid != j->vmid)
		return pv_fail(e, 0, "journal %s belongs to VM %d", j->path, j->l.vmid);
	say_bad(j->path, &j->l);
	return cut_torn_tail(j, e);
}

static int open_file(struct pv_journal *j, struct pv_err *e)
{
	struct statfs fs;

	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0)
		return pv_fail(e, errno, "open journal %s", j->path);
	if (fstatfs(j->fd, &fs) < 0)
		return pv_fail(e, errno, "statfs journal %s", j->path);
	j->volatile_fs = fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
	return read_list(j, e);
}

int pv_journal_open(struct pv_journal *j, int vmid, struct pv_err *e)
{
	memset(&j->l, 0, sizeof(j->l));
	j->fd = -1;
	j->npend = 0;
	j->vmid = vmid;
	j->size = 0;
	j->max_live = PV_JOURNAL_MAX_LIVE;
	if (pv_rundir(e) < 0 || pv_journal_path(j->path, sizeof(j->path), vmid, e) < 0 ||
	    open_file(j, e) < 0) {
		pv_journal_close(j);
		return -1;
	}
	j->next_seq = j->l.max_seq + 1;
	return 0;
}

int pv_journal_reopen(struct pv_journal *j, struct pv_err *e)
{
	struct stat st;

	if (j->fd < 0)
		return pv_journal_open(j, j->vmid, e);
	if (pv_journal_flush(j, e) < 0)
		return -1;
	if (lstat(j->path, &st) == 0 && st.st_dev == j->dev && st.st_ino == j->ino &&
	    st.st_size == j->size)
		return 0;
	/* written by someone else since (a phase, restore): read it again */
	pv_journal_close(j);
	return pv_journal_open(j, j->vmid, e);
}

void pv_journal_close(struct pv_journal *j)
{
	struct pv_err e = { 0 };

	if (j->fd >= 0 && pv_journal_flush(j, &e) < 0)
		pv_err_print(&e);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	pv_jlist_free(&j->l);
}

/* Write the live entries to a new file and put it in place: the records
 * of undone steps and every superseded mark go. */
static int write_compact(struct pv_journal *j, const char *tmp, struct pv_err *e)
{
	struct pv_journal t = { .fd = -1, .volatile_fs = j->volatile_fs };
	char vm[16], s[24];
	int rc = 0;

	snprintf(t.path, sizeof(t.path), "%s", tmp);
	t.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t.fd < 0)
		return pv_fail(e, errno, "open %s", tmp);
	snprintf(vm, sizeof(vm), "%d", j->vmid);
	rc = append(&t, (const char *[]){ "H", "1", vm }, 3, true, e);
	for (int i = 0; rc == 0 && i < j->l.n; i++) {
		const struct pv_jent *x = &j->l.r[i];

		if (x->undone)
			continue;
		snprintf(s, sizeof(s), "%ld", x->seq);
		rc = append(&t, (const char *[]){ "S", s, pv_phase_name(x->phase),
						  pv_step_name(x->kind), x->target, x->old, x->nv },
			    7, true, e);
		if (rc == 0 && x->done)
			rc = append(&t, (const char *[]){ "D", s, x->got }, 3, true, e);
	}
	if (rc == 0)
		rc = pv_journal_flush(&t, e);
	pv_jlist_free(&t.l);
	if (close(t.fd) < 0 && rc == 0)
		rc = pv_fail(e, errno, "close %s", tmp);
	if (rc == 0 && rename(tmp, j->path) < 0)
		rc = pv_fail(e, errno, "rename %s to %s", tmp, j->path);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int pv_journal_compact(struct pv_journal *j, struct pv_err *e)
{
	char tmp[PV_PATH_MAX + 16];
	long next = j->next_seq;

	if (pv_journal_flush(j, e) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.compact", j->path);
	if (write_compact(j, tmp, e) < 0)
		return -1;
	/* the new file, read back: the list is then as small as the file */
	close(j->fd);
	j->fd = -1;
	pv_jlist_free(&j->l);
	if (open_file(j, e) < 0)
		return -1;
	j->next_seq = next > j->l.max_seq ? next : j->l.max_seq + 1;
	return 0;
}

/* Before a record: compact when most records are dead weight, and refuse
 * when even the live entries are past the bound. grow: the record adds an
 * entry. */
static int room(struct pv_journal *j, bool grow, const char *target, struct pv_err *e)
{
	if (j->l.nrec > 2 * j->l.nlive + 1024 && pv_journal_compact(j, e) < 0)
		return -1;
	if (grow && j->l.nlive >= j->max_live)
		return pv_fail(e, ENOSPC, "journal %s holds %d live steps, the most it takes: %s "
			       "left as it is (restore still covers every step recorded)",
			       j->path, j->l.nlive, target);
	if (j->size > PV_JOURNAL_MAX_BYTES)
		return pv_fail(e, ENOSPC, "journal %s is %ld bytes, the most it takes: %s left as "
			       "it is (restore still covers every step recorded)", j->path, j->size,
			       target);
	return 0;
}

static int step(struct pv_journal *j, enum pv_phase ph, enum pv_step_kind k, const char *target,
		const char *old, const char *nv, long *seq, bool held, struct pv_err *e)
{
	const char *t, *o, *n;
	char s[24];

	if (strlen(target) >= PV_JTARGET || strlen(old) >= PV_JVAL || strlen(nv) >= PV_JVAL)
		return pv_fail(e, E2BIG, "journal: value too long for %s", target);
	if (room(j, true, target, e) < 0)
		return -1;
	snprintf(s, sizeof(s), "%ld", j->next_seq);
	if (append(j, (const char *[]){ "S", s, pv_phase_name(ph), pv_step_name(k), target, old, nv },
		   7, held, e) < 0)
		return -1;
	if (!(t = pv_jlist_str(&j->l, target)) || !(o = pv_jlist_str(&j->l, old)) ||
	    !(n = pv_jlist_str(&j->l, nv)) || pv_jlist_add(&j->l, j->next_seq, ph, k, t, o, n) < 0)
		return pv_fail(e, ENOMEM, "journal %s", j->path);
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

static int mark(struct pv_journal *j, char type, long seq, const char *val, bool lazy,
		struct pv_err *e)
{
	char s[24], f0[2] = { type, '\0' };
	const char *v;

	snprintf(s, sizeof(s), "%ld", seq);
	if (append(j, (const char *[]){ f0, s, val }, 3, lazy, e) < 0)
		return -1;
	if (!(v = pv_jlist_str(&j->l, val)))
		return pv_fail(e, ENOMEM, "journal %s", j->path);
	pv_jlist_mark(&j->l, type, seq, v); /* a step of another run: on file only */
	return 0;
}

int pv_journal_done(struct pv_journal *j, long seq, const char *got, struct pv_err *e)
{
	if (strlen(got) >= PV_JVAL)
		return pv_fail(e, E2BIG, "journal: value too long");
	return mark(j, 'D', seq, got, true, e);
}

int pv_journal_undone(struct pv_journal *j, long seq, const char *note, struct pv_err *e)
{
	char n[256];

	snprintf(n, sizeof(n), "%s", note);
	return mark(j, 'U', seq, n, false, e);
}

int pv_journal_update(struct pv_journal *j, long seq, const char *nv, struct pv_err *e)
{
	const struct pv_jent *x = pv_jlist_find(&j->l, seq);

	if (!x || x->undone)
		return pv_fail(e, EINVAL, "journal %s: no live step %ld to re-assert", j->path, seq);
	if (strlen(nv) >= PV_JVAL)
		return pv_fail(e, E2BIG, "journal: value too long for %s", x->target);
	if (room(j, false, x->target, e) < 0)
		return -1;
	return mark(j, 'R', seq, nv, false, e);
}

int pv_journal_load(int vmid, struct pv_jlist *l, struct pv_err *e)
{
	_cleanup_close_ int fd = -1;
	char path[PV_PATH_MAX];
	size_t len;
	int rc;

	memset(l, 0, sizeof(*l));
	if (pv_journal_path(path, sizeof(path), vmid, e) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 1 : pv_fail(e, errno, "open %s", path);
	/* empty: created, crashed before the header: nothing was done */
	if ((rc = pv_journal_read_fd(fd, path, (size_t)64 << 20, l, &len, e)) != 0)
		return rc;
	if (l->vmid == 0) {
		pv_jlist_free(l);
		return 1;
	}
	if (l->torn)
		fprintf(stderr, "pvepin: warning: %s: ignoring a torn last record\n", path);
	if (l->vmid != vmid) {
		pv_jlist_free(l);
		return pv_fail(e, 0, "journal %s is not VM %d's", path, vmid);
	}
	return 0;
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
