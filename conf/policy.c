/* The policy ini, read with inih. Debian's libinih (55) strips inline
 * comments only for ';' after whitespace, silently cuts lines at 199
 * characters and joins indented lines onto the previous key; so pvepin feeds
 * it through its own line reader (which also numbers the lines and refuses
 * long ones), strips '#'/';' comments from values itself, and treats a key
 * seen twice (or continued) as an error. */
#include "conf/policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"
#include "conf/policy_keys.h"

#define POLICY_MAX_SIZE (1 << 20)

struct parse {
	const char *name;
	const char *pos;       /* reader position in the text */
	int line;              /* line the reader handed out last */
	int err_line;          /* 0 = no error yet */
	struct pv_err *e;
	struct pv_policy *p;
	bool seen[PV_POLICY_NKEYS];
	int mode_line, vcpus_line;
	bool mode_given;
};

void pv_policy_defaults(struct pv_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = PV_MODE_AUTO;
	p->prefer = PV_PREFER_CACHE;
	p->max_l3 = 2;
	p->smt = PV_AUTO;
	p->hugepages = PV_HP_AUTO;
	p->vfio_auto = true;
	p->restore_driver = true;
	p->irq_steer = true;
	p->irqbalance = PV_IRQB_BAN;
	p->isolate = true;
	strcpy(p->governor, "performance");
	p->reserve_cores = -1;
	p->reserve_mib = -1;
}

void pv_policy_free(struct pv_policy *p)
{
	if (p->nodes)
		hwloc_bitmap_free(p->nodes);
	if (p->irq_cpus)
		hwloc_bitmap_free(p->irq_cpus);
	p->nodes = NULL;
	p->irq_cpus = NULL;
}

const char *pv_mode_name(enum pv_mode m)
{
	switch (m) {
	case PV_MODE_AUTO:
		return "auto";
	case PV_MODE_GAMING:
		return "gaming";
	case PV_MODE_WORKSTATION:
		return "workstation";
	case PV_MODE_MANUAL:
		return "manual";
	}
	return "?";
}

/* Keep the first error only: later ones are usually its consequences. */
static int fail_at(struct parse *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct parse *ps, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ps->err_line)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->err_line = line;
	pv_fail(ps->e, 0, "%s:%d: %s", ps->name, line, msg);
	return 0;
}

/* A section header line: refuse unknown sections even when they hold no
 * key (inih only reports sections through keys). */
static void check_section_line(struct parse *ps, const char *l, size_t len)
{
	char sec[64];
	size_t i = 0, n;

	if (ps->line == 1 && len >= 3 && !memcmp(l, "\xef\xbb\xbf", 3))
		i = 3; /* inih skips a UTF-8 BOM */
	while (i < len && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i == len || l[i] != '[')
		return;
	n = strcspn(l + i + 1, "]\n");
	if (i + 1 + n >= len || l[i + 1 + n] != ']')
		return; /* inih reports the syntax error */
	if (n >= sizeof(sec))
		n = sizeof(sec) - 1;
	memcpy(sec, l + i + 1, n);
	sec[n] = '\0';
	if (!pv_policy_section_known(sec))
		fail_at(ps, ps->line, "unknown section [%s] (allowed: %s)", sec,
			PV_POLICY_SECTIONS);
}

/* inih's ini_reader over the text: one line per call, numbered here. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	size_t len, copy;

	if (!*ps->pos)
		return NULL;
	len = strcspn(ps->pos, "\n");
	ps->line++;
	copy = len;
	if (len + 1 > (size_t)num - 1) {
		fail_at(ps, ps->line, "line longer than %d characters", num - 2);
		copy = (size_t)num - 2;
	}
	check_section_line(ps, ps->pos, len);
	memcpy(str, ps->pos, copy);
	str[copy] = '\n';
	str[copy + 1] = '\0';
	ps->pos += len + (ps->pos[len] == '\n');
	return str;
}

/* Inline comments: ';' or '#' at the start of the value or after a space
 * (inih strips only " ;"). One glued to a value ("off#x", "a;b") stays in
 * and makes the value invalid: an error, never a silently shortened list. */
static bool comment_at(const char *v, size_t n)
{
	return (v[n] == ';' || v[n] == '#') && (n == 0 || isspace((unsigned char)v[n - 1]));
}

static void strip_comment(char *v)
{
	size_t n = 0;

	while (v[n] && !comment_at(v, n))
		n++;
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	v[n] = '\0';
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	const struct pv_policy_key *k;
	char val[256];
	struct pv_err ke = { 0 };

	if (ps->err_line)
		return 1;
	if (!*section)
		return fail_at(ps, ps->line, "'%s' outside any section (allowed sections: %s)",
			       name, PV_POLICY_SECTIONS);
	if (!pv_policy_section_known(section))
		return fail_at(ps, ps->line, "unknown section [%s] (allowed: %s)", section,
			       PV_POLICY_SECTIONS);
	k = pv_policy_key_find(section, name);
	if (!k)
		return fail_at(ps, ps->line, "unknown key '%s' in [%s] (allowed: %s)", name,
			       section, pv_policy_section_keys(section));
	if (ps->seen[k->id])
		return fail_at(ps, ps->line, "%s given twice in [%s] (or an indented line continues it; give it once)",
			       name, section);
	ps->seen[k->id] = true;
	snprintf(val, sizeof(val), "%s", value);
	strip_comment(val);
	if (k->set(ps->p, val, &ke) < 0)
		return fail_at(ps, ps->line, "%s = '%.64s': %s (allowed: %s)", name, val,
			       ke.msg[0] ? ke.msg : "not a valid value", k->allowed);
	if (k->id == PV_PK_MODE) {
		ps->mode_given = true;
		ps->mode_line = ps->line;
	}
	if (k->id == PV_PK_VCPUS)
		ps->vcpus_line = ps->line;
	return 1;
}

/* Checks across keys, once the whole file is read. */
static int check_mode(struct parse *ps)
{
	struct pv_policy *p = ps->p;

	if (p->vcpus_n && !ps->mode_given)
		p->mode = PV_MODE_MANUAL;
	if (p->vcpus_n && p->mode != PV_MODE_MANUAL)
		return fail_at(ps, ps->mode_line,
			       "mode = %s conflicts with the cpu list in vcpus = (line %d): a list pins vCPUs by hand (use mode = manual, or vcpus = auto or a count)",
			       pv_mode_name(p->mode), ps->vcpus_line);
	if (p->mode == PV_MODE_MANUAL && !p->vcpus_n)
		return fail_at(ps, ps->mode_line,
			       "mode = manual needs a cpu list in [vm] vcpus (e.g. vcpus = 0-7), or use mode = auto|gaming|workstation");
	return 0;
}

int pv_policy_parse_string(const char *text, const char *name, struct pv_policy *p,
			   struct pv_err *e)
{
	struct parse ps = { .name = name, .pos = text, .e = e, .p = p };
	int r;

	pv_policy_defaults(p);
	r = ini_parse_stream(reader, &ps, handler, &ps);
	if (r > 0 && (!ps.err_line || r < ps.err_line)) {
		ps.err_line = 0;
		fail_at(&ps, r, "syntax error (expected [section], key = value, or a ; comment)");
	}
	if (r < 0 && !ps.err_line)
		return pv_fail(e, ENOMEM, "%s", name);
	if (!ps.err_line)
		check_mode(&ps);
	return ps.err_line ? -1 : 0;
}

static int check_regular(int fd, const char *path, struct pv_err *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return pv_fail(e, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return pv_fail(e, 0, "refusing policy %s: not a regular file (fix: put a file there)",
			       path);
	return 0;
}

/* Refuse a policy someone other than root could have written: it decides
 * which devices get unbound and which CPUs the host gives up. */
static int check_owner_of(int fd, const char *path, struct pv_err *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return pv_fail(e, errno, "stat %s", path);
	if (st.st_uid != 0)
		return pv_fail(e, 0, "refusing policy %s: owned by uid %u, not root (fix: chown root:root %s)",
			       path, (unsigned)st.st_uid, path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return pv_fail(e, 0, "refusing policy %s: writable by group or others (mode %04o) (fix: chmod go-w %s)",
			       path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static char *read_fd(int fd, const char *path, struct pv_err *e)
{
	size_t len;
	_cleanup_free_ char *buf = pv_slurp_fd(fd, path, POLICY_MAX_SIZE - 1, &len, e);

	if (!buf)
		return NULL;
	if (memchr(buf, '\0', len)) {
		pv_fail(e, 0, "%s: contains a NUL byte", path);
		return NULL;
	}
	return pv_steal(buf);
}

/* 1 when the file does not exist and need not, else 0 or -1. */
static int load_file(const char *path, bool required, bool check_owner,
		     struct pv_policy *p, struct pv_err *e)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;

	if (strlen(path) >= sizeof(p->source))
		return pv_fail(e, ENAMETOOLONG, "policy %.64s", path);
	/* no symlink, and no blocking on a FIFO while pre-start holds the lock */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && !required)
		return 1;
	if (fd < 0 && errno == ELOOP)
		return pv_fail(e, 0, "refusing policy %s: a symbolic link (fix: put the file itself there)",
			       path);
	if (fd < 0)
		return pv_fail(e, errno, "open policy %s", path);
	if (check_regular(fd, path, e) < 0 || (check_owner && check_owner_of(fd, path, e) < 0))
		return -1;
	text = read_fd(fd, path, e);
	if (!text)
		return -1;
	if (pv_policy_parse_string(text, path, p, e) < 0)
		return -1;
	strcpy(p->source, path);
	return 0;
}

int pv_policy_load(int vmid, const char *explicit_path, bool check_owner,
		   struct pv_policy *p, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	int r;

	pv_policy_defaults(p);
	if (explicit_path)
		return load_file(explicit_path, true, check_owner, p, e);
	if (vmid < PV_VMID_MIN || vmid > PV_VMID_MAX)
		return pv_fail(e, 0, "bad vmid %d (expected " PV_VMID_RANGE ")", vmid);
	/* The cluster-wide file first, then the node-local one. */
	if (pv_path(path, sizeof(path), e, "/etc/pve/pvepin/%d.ini", vmid) < 0)
		return -1;
	r = load_file(path, false, check_owner, p, e);
	if (r <= 0)
		return r;
	if (pv_path(path, sizeof(path), e, "/etc/pvepin/%d.ini", vmid) < 0)
		return -1;
	r = load_file(path, false, check_owner, p, e);
	return r < 0 ? -1 : 0;
}
