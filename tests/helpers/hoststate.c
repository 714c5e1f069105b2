/* hoststate: print a stable, sorted text snapshot of the host state pvepin
 * may change, so a test can `diff` the snapshot taken before a VM started
 * with the one taken after it stopped: an empty diff means pvepin gave the
 * host back exactly as it found it.
 *
 *   hoststate [--root DIR] [--section pci|hugepages|cgroup|irq|cpufreq|irqbalance]...
 *
 * IRQs of PCI MSI/MSI-X vectors are named by function and index, not by
 * number: a driver that binds again gets new numbers for the same vectors.
 *
 * Missing attributes print as "-", unreadable ones as "?<errno name>", so
 * the snapshot itself never hides a difference. Exit 1 when a directory that
 * must exist (/sys/bus/pci/devices, /proc/irq) cannot be read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define PATHLEN 4096
#define VALLEN 4096

struct ctx {
	const char *root;
	int errors;
};

static int rpath(const struct ctx *c, char *buf, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "<root><path>"; a path that does not fit is a bug in this tool. */
static int rpath(const struct ctx *c, char *buf, const char *fmt, ...)
{
	char rel[PATHLEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(rel))
		return -1;
	n = snprintf(buf, PATHLEN, "%s%s", c->root, rel);
	if (n < 0 || n >= PATHLEN)
		return -1;
	return 0;
}

static void err_value(char *out, size_t n, int err)
{
	const char *name = strerrorname_np(err);

	if (err == ENOENT)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "?%s", name ? name : "error");
}

/* One attribute as a single line: newlines become spaces, trailing ones
 * dropped. Missing -> "-", other errors -> "?ERRNO". */
static void read_attr(const char *path, char *out, size_t n)
{
	ssize_t r;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_value(out, n, errno);
		return;
	}
	while (off < n - 1) {
		r = read(fd, out + off, n - 1 - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_value(out, n, errno);
			close(fd);
			return;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	while (off > 0 && (out[off - 1] == '\n' || out[off - 1] == ' '))
		off--;
	out[off] = '\0';
	for (size_t i = 0; i < off; i++)
		if (out[i] == '\n')
			out[i] = ' ';
}

static void attr(const struct ctx *c, char *out, const char *fmt, const char *a,
		 const char *b)
{
	char p[PATHLEN];

	if (rpath(c, p, fmt, a, b) < 0) {
		snprintf(out, VALLEN, "?ENAMETOOLONG");
		return;
	}
	read_attr(p, out, VALLEN);
}

static void link_base(const struct ctx *c, char *out, size_t n, const char *fmt,
		      const char *a)
{
	char p[PATHLEN], t[PATHLEN];
	ssize_t r;
	const char *slash;

	if (rpath(c, p, fmt, a) < 0) {
		snprintf(out, n, "?ENAMETOOLONG");
		return;
	}
	r = readlink(p, t, sizeof(t) - 1);
	if (r < 0) {
		err_value(out, n, errno);
		return;
	}
	t[r] = '\0';
	slash = strrchr(t, '/');
	snprintf(out, n, "%s", slash ? slash + 1 : t);
}

static int not_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Directory entries in natural order (irq 2 before irq 10). Returns the
 * count, or -1 with errno set. */
static int list_dir(const struct ctx *c, const char *dir, struct dirent ***out)
{
	char p[PATHLEN];

	if (rpath(c, p, "%s", dir) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return scandir(p, out, not_dot, versionsort);
}

static void free_list(struct dirent **l, int n)
{
	for (int i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static void snap_pci(struct ctx *c)
{
	struct dirent **l;
	char drv[VALLEN], ov[VALLEN];
	int n;

	n = list_dir(c, "/sys/bus/pci/devices", &l);
	if (n < 0) {
		fprintf(stderr, "hoststate: %s/sys/bus/pci/devices: %s\n", c->root, strerror(errno));
		c->errors++;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *b = l[i]->d_name;

		link_base(c, drv, sizeof(drv), "/sys/bus/pci/devices/%s/driver", b);
		attr(c, ov, "/sys/bus/pci/devices/%s/%s", b, "driver_override");
		printf("pci %s driver=%s override=%s\n", b, drv, ov);
	}
	free_list(l, n);
}

static void hp_line(struct ctx *c, const char *who, const char *dir, const char *size)
{
	static const char *const keys[] = { "nr_hugepages", "free_hugepages",
					    "surplus_hugepages", "resv_hugepages",
					    "nr_overcommit_hugepages" };
	static const char *const tags[] = { "nr", "free", "surplus", "resv", "overcommit" };
	char v[VALLEN], p[PATHLEN];

	printf("hugepages %s %s", who, size + strlen("hugepages-"));
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (rpath(c, p, "%s/%s/%s", dir, size, keys[k]) < 0)
			continue;
		if (access(p, F_OK) != 0)
			continue; /* per-node dirs have no resv/overcommit */
		read_attr(p, v, sizeof(v));
		printf(" %s=%s", tags[k], v);
	}
	printf("\n");
}

static void hp_dir(struct ctx *c, const char *who, const char *dir)
{
	struct dirent **l;
	int n;

	n = list_dir(c, dir, &l);
	if (n < 0)
		return; /* no hugetlb support, or a node without the directory */
	for (int i = 0; i < n; i++)
		if (strncmp(l[i]->d_name, "hugepages-", 10) == 0)
			hp_line(c, who, dir, l[i]->d_name);
	free_list(l, n);
}

static void snap_hugepages(struct ctx *c)
{
	struct dirent **l;
	char dir[PATHLEN];
	int n;

	hp_dir(c, "global", "/sys/kernel/mm/hugepages");
	n = list_dir(c, "/sys/devices/system/node", &l);
	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		const char *d = l[i]->d_name;

		if (strncmp(d, "node", 4) != 0 || d[4] < '0' || d[4] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/sys/devices/system/node/%s/hugepages", d);
		hp_dir(c, d, dir);
	}
	free_list(l, n);
}

static void cg_line(struct ctx *c, const char *rel)
{
	static const char *const keys[] = { "cpuset.cpus", "cpuset.cpus.effective",
					    "cpuset.cpus.partition", "cpuset.mems",
					    "cgroup.subtree_control" };
	static const char *const tags[] = { "cpus", "effective", "partition", "mems",
					    "subtree" };
	char v[VALLEN];

	printf("cgroup %s", rel[0] ? rel : "/");
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		attr(c, v, "/sys/fs/cgroup%s/%s", rel, keys[k]);
		printf(" %s=%s", tags[k], v);
	}
	printf("\n");
}

/* Depth first, children in natural order; rel is "" for the root. */
static void cg_walk(struct ctx *c, const char *rel, int depth)
{
	struct dirent **l;
	char dir[PATHLEN], sub[PATHLEN];
	int n;

	cg_line(c, rel);
	if (depth > 32)
		return;
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s", rel);
	n = list_dir(c, dir, &l);
	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		struct stat st;
		char p[PATHLEN];

		if (snprintf(sub, sizeof(sub), "%s/%s", rel, l[i]->d_name) >= (int)sizeof(sub))
			continue;
		if (rpath(c, p, "/sys/fs/cgroup%s", sub) < 0 || lstat(p, &st) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		cg_walk(c, sub, depth + 1);
	}
	free_list(l, n);
}

static void snap_cgroup(struct ctx *c)
{
	char p[PATHLEN];

	if (rpath(c, p, "/sys/fs/cgroup/cgroup.controllers") < 0 || access(p, F_OK) != 0)
		return; /* no cgroup v2 mounted there */
	cg_walk(c, "", 0);
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

/* An IRQ as the host driver sees it: MSI vectors get new numbers each time
 * a driver binds (pvepin rebinds), so they are named by their function and
 * index ("msi 0000:02:00.0#3"); other IRQs by number. */
struct irq {
	char label[300];
	long num;          /* sort key of a numbered IRQ, -1 for MSI ones */
	char aff[VALLEN];
};

struct irqs {
	struct irq *v;
	int n, cap;
};

static struct irq *irq_add(struct irqs *l)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;
		struct irq *v = realloc(l->v, (size_t)cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	return &l->v[l->n++];
}

static int irq_cmp(const void *a, const void *b)
{
	const struct irq *x = a, *y = b;

	if (x->num >= 0 && y->num >= 0)
		return x->num < y->num ? -1 : x->num > y->num;
	if (x->num >= 0 || y->num >= 0)
		return x->num >= 0 ? -1 : 1;
	return strverscmp(x->label, y->label);
}

/* Label the IRQ numbers in one function's msi_irqs directory. */
static void msi_labels(struct ctx *c, const char *bdf, struct irqs *l)
{
	struct dirent **d;
	char dir[PATHLEN];
	int n;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/msi_irqs", bdf);
	n = list_dir(c, dir, &d);
	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		struct irq *q = irq_add(l);

		if (!q)
			break;
		q->num = atol(d[i]->d_name);
		snprintf(q->label, sizeof(q->label), "msi %s#%d", bdf, i);
	}
	free_list(d, n);
}

static const char *label_of(const struct irqs *msi, long num)
{
	for (int i = 0; i < msi->n; i++)
		if (msi->v[i].num == num)
			return msi->v[i].label;
	return NULL;
}

static void snap_irq(struct ctx *c)
{
	struct irqs msi = { 0 }, out = { 0 };
	struct dirent **l;
	char v[VALLEN];
	int n;

	attr(c, v, "/proc/irq/%s%s", "default_smp_affinity", "");
	printf("irq default smp_affinity=%s\n", v);
	n = list_dir(c, "/sys/bus/pci/devices", &l);
	for (int i = 0; i < n; i++)
		msi_labels(c, l[i]->d_name, &msi);
	if (n >= 0)
		free_list(l, n);
	n = list_dir(c, "/proc/irq", &l);
	if (n < 0) {
		fprintf(stderr, "hoststate: %s/proc/irq: %s\n", c->root, strerror(errno));
		c->errors++;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *lab;
		struct irq *q;

		if (!all_digits(l[i]->d_name))
			continue;
		q = irq_add(&out);
		if (!q) {
			fprintf(stderr, "hoststate: out of memory\n");
			c->errors++;
			break;
		}
		lab = label_of(&msi, atol(l[i]->d_name));
		q->num = lab ? -1 : atol(l[i]->d_name);
		snprintf(q->label, sizeof(q->label), "%s", lab ? lab : l[i]->d_name);
		attr(c, q->aff, "/proc/irq/%s/%s", l[i]->d_name, "smp_affinity_list");
	}
	free_list(l, n);
	qsort(out.v, (size_t)out.n, sizeof(*out.v), irq_cmp);
	for (int i = 0; i < out.n; i++)
		printf("irq %s affinity=%s\n", out.v[i].label, out.v[i].aff);
out:
	free(msi.v);
	free(out.v);
}

static void snap_cpufreq(struct ctx *c)
{
	struct dirent **l;
	char v[VALLEN];
	int n;

	n = list_dir(c, "/sys/devices/system/cpu/cpufreq", &l);
	if (n < 0)
		return; /* no cpufreq driver (VMs, the test bed) */
	for (int i = 0; i < n; i++) {
		if (strncmp(l[i]->d_name, "policy", 6) != 0)
			continue;
		attr(c, v, "/sys/devices/system/cpu/cpufreq/%s/%s", l[i]->d_name,
		     "scaling_governor");
		printf("cpufreq %s governor=%s", l[i]->d_name, v);
		attr(c, v, "/sys/devices/system/cpu/cpufreq/%s/%s", l[i]->d_name,
		     "affected_cpus");
		printf(" cpus=%s\n", v);
	}
	free_list(l, n);
}

/* irqbalance only answers root, proven by SCM_CREDENTIALS on the message. */
static int send_with_creds(int fd, const char *msg)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct ucred cred = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_CREDENTIALS;
	cm->cmsg_len = CMSG_LEN(sizeof(cred));
	memcpy(CMSG_DATA(cm), &cred, sizeof(cred));
	return sendmsg(fd, &mh, 0) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* Connect to the daemon's socket file, else to its abstract fallback (an
 * all-zero sun_path: irqbalance binds that when the file cannot be made). */
static int irqbalance_connect(struct ctx *c, const char *pid)
{
	/* up to 1.9.3 it answers only between its 10 s sleeps */
	struct timeval tv = { .tv_sec = 15 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char p[PATHLEN];
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	if (rpath(c, p, "/run/irqbalance/irqbalance%s.sock", pid) == 0 &&
	    strlen(p) < sizeof(sa.sun_path) && access(p, F_OK) == 0) {
		memcpy(sa.sun_path, p, strlen(p) + 1);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		goto fail;
	}
	memset(sa.sun_path, 0, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
fail:
	close(fd);
	return -1;
}

/* "SLEEP s IRQ n LOAD l DIFF d CLASS c ... BANNED mask": print the banned
 * IRQs and the banned CPU mask, the parts pvepin changes. */
static void irqbalance_print(const char *reply)
{
	const char *p = reply, *b = strstr(reply, "BANNED ");
	bool any = false;

	printf("irqbalance running banned_irqs=");
	while ((p = strstr(p, "IRQ ")) && (!b || p < b)) {
		p += 4;
		printf("%s%.*s", any ? "," : "", (int)strspn(p, "0123456789"), p);
		any = true;
	}
	if (!any)
		printf("-");
	if (b) {
		b += strlen("BANNED ");
		printf(" banned_cpus=%.*s\n", (int)strcspn(b, " \n"), b);
	} else {
		printf(" banned_cpus=?\n");
	}
}

static void irqbalance_query(struct ctx *c, const char *pid)
{
	char buf[VALLEN];
	size_t off = 0;
	ssize_t r;
	int fd;

	fd = irqbalance_connect(c, pid);
	if (fd < 0 || send_with_creds(fd, "setup") != 0) {
		err_value(buf, sizeof(buf), errno);
		printf("irqbalance running banned=%s\n", buf);
		if (fd >= 0)
			close(fd);
		return;
	}
	while (off < sizeof(buf) - 1 && (r = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0)
		off += (size_t)r;
	close(fd);
	buf[off] = '\0';
	irqbalance_print(buf);
}

static void snap_irqbalance(struct ctx *c)
{
	struct dirent **l;
	char comm[VALLEN];
	int n;

	n = list_dir(c, "/proc", &l);
	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		if (!all_digits(l[i]->d_name))
			continue;
		attr(c, comm, "/proc/%s/%s", l[i]->d_name, "comm");
		if (strcmp(comm, "irqbalance") == 0)
			irqbalance_query(c, l[i]->d_name);
	}
	free_list(l, n);
}

static const struct {
	const char *name;
	void (*fn)(struct ctx *c);
} sections[] = {
	{ "pci", snap_pci },		{ "hugepages", snap_hugepages },
	{ "cgroup", snap_cgroup },	{ "irq", snap_irq },
	{ "cpufreq", snap_cpufreq },	{ "irqbalance", snap_irqbalance },
};
#define NSECT (sizeof(sections) / sizeof(sections[0]))

static int usage(FILE *f)
{
	fprintf(f, "usage: hoststate [--root DIR] [--section NAME]...\n"
		   "sections: pci hugepages cgroup irq cpufreq irqbalance (default: all)\n");
	return f == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { .root = "" };
	bool want[NSECT] = { false };
	bool any = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout);
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
			c.root = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--section") == 0 && i + 1 < argc) {
			size_t k;

			i++;
			for (k = 0; k < NSECT; k++)
				if (strcmp(argv[i], sections[k].name) == 0)
					break;
			if (k == NSECT)
				return usage(stderr);
			want[k] = any = true;
			continue;
		}
		return usage(stderr);
	}
	for (size_t k = 0; k < NSECT; k++)
		if (!any || want[k])
			sections[k].fn(&c);
	if (fflush(stdout) != 0) {
		perror("hoststate: stdout");
		return 1;
	}
	return c.errors ? 1 : 0;
}
