#include "engine/threads.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h> /* SYS_pidfd_open: without it pv_pidfd_open was always ENOSYS */
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"

int pv_qemu_pid(int vmid, pid_t *pid, struct pv_err *e)
{
	char path[PV_PATH_MAX], buf[32];
	long v;

	if (pv_path(path, sizeof(path), e, "/run/qemu-server/%d.pid", vmid) < 0)
		return -1;
	if (!pv_exists(path))
		return 1;
	if (pv_read_attr(path, buf, sizeof(buf), e) < 0)
		return -1;
	if (pv_parse_long(buf, 1, 1L << 30, &v) < 0)
		return pv_fail(e, 0, "%s: not a pid: '%s'", path, buf);
	*pid = (pid_t)v;
	if (pv_path(path, sizeof(path), e, "/proc/%ld", v) < 0)
		return -1;
	return pv_exists(path) ? 0 : 1;
}

/* qemu-server's config_to_command always passes "-id <vmid>" and
 * "-pidfile /var/run/qemu-server/<vmid>.pid": either names the VM. */
static bool arg_names(const char *opt, const char *val, int vmid)
{
	char want[32];
	const char *slash;

	if (*opt != '-')
		return false;
	opt += opt[1] == '-'; /* getopt_long_only spellings: --id, --pidfile */
	snprintf(want, sizeof(want), "%d", vmid);
	if (!strcmp(opt, "-id") || !strcmp(opt, "-vmid"))
		return !strcmp(val, want);
	if (strcmp(opt, "-pidfile"))
		return false;
	slash = strrchr(val, '/');
	snprintf(want, sizeof(want), "%d.pid", vmid);
	return slash && !strcmp(slash + 1, want);
}

bool pv_qemu_is_vm(pid_t pid, int vmid)
{
	char path[PV_PATH_MAX], buf[8192];
	ssize_t n;
	const char *prev = NULL;

	if (pv_path(path, sizeof(path), NULL, "/proc/%d/cmdline", (int)pid) < 0 ||
	    (n = pv_read_file(path, buf, sizeof(buf), NULL)) <= 0)
		return false;
	buf[n < (ssize_t)sizeof(buf) ? n : (ssize_t)sizeof(buf) - 1] = '\0';
	for (const char *a = buf; a < buf + n && *a; a += strlen(a) + 1) {
		if (prev && arg_names(prev, a, vmid))
			return true;
		prev = a;
	}
	return false;
}

/* Field 22 (starttime) of a stat line; comm (field 2) may hold spaces. */
static int parse_start(const char *stat, unsigned long long *start)
{
	const char *p = strrchr(stat, ')');
	char *end;

	if (!p)
		return -1;
	for (int field = 2; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -1;
	}
	errno = 0;
	*start = strtoull(p + 1, &end, 10);
	return errno || end == p + 1 ? -1 : 0;
}

int pv_thread_start(pid_t pid, pid_t tid, unsigned long long *start, struct pv_err *e)
{
	char path[PV_PATH_MAX], buf[1024];

	if (pv_path(path, sizeof(path), e, "/proc/%d/task/%d/stat", pid, tid) < 0 ||
	    pv_read_attr(path, buf, sizeof(buf), e) < 0)
		return -1;
	if (parse_start(buf, start) < 0)
		return pv_fail(e, 0, "%s: cannot parse", path);
	return 0;
}

bool pv_thread_live(pid_t pid, pid_t tid, unsigned long long start)
{
	char path[64], buf[1024];
	unsigned long long s;

	if (pv_thread_start(pid, tid, &s, NULL) < 0 || s != start)
		return false;
	if (!pv_opt.root || !pv_opt.root[0])
		return true;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	return pv_read_attr(path, buf, sizeof(buf), NULL) >= 0 && parse_start(buf, &s) == 0 &&
	       s == start;
}

static int read_thread(pid_t pid, pid_t tid, struct pv_thread *t, struct pv_err *e)
{
	char path[PV_PATH_MAX];

	t->tid = tid;
	if (pv_path(path, sizeof(path), e, "/proc/%d/task/%d/comm", pid, tid) < 0 ||
	    pv_read_attr(path, t->comm, sizeof(t->comm), e) < 0 ||
	    pv_thread_start(pid, tid, &t->start, e) < 0)
		return -1;
	t->vcpu = pv_vcpu_of_comm(t->comm);
	return 0;
}

int pv_threads_list(pid_t pid, struct pv_thread **out, int *n, struct pv_err *e)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ struct pv_thread *v = NULL;
	char path[PV_PATH_MAX];
	struct dirent *de;
	int cap = 0;

	*n = 0;
	if (pv_path(path, sizeof(path), e, "/proc/%d/task", pid) < 0)
		return -1;
	if (!(d = opendir(path)))
		return pv_fail(e, errno, "open %s", path);
	while ((de = readdir(d))) {
		long tid;

		if (pv_parse_long(de->d_name, 1, 1L << 30, &tid) < 0)
			continue;
		if (*n == cap) {
			struct pv_thread *nv = realloc(v, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				return pv_fail(e, ENOMEM, "threads of %d", pid);
			v = nv;
		}
		/* a thread may end between readdir and read: skip it */
		if (read_thread(pid, (pid_t)tid, &v[*n], NULL) == 0)
			(*n)++;
	}
	*out = pv_steal(v);
	return 0;
}

static void cpu_freep(cpu_set_t **s)
{
	if (*s)
		CPU_FREE(*s);
}

int pv_thread_get_cpus(pid_t tid, hwloc_bitmap_t set, struct pv_err *e)
{
	_cleanup_(cpu_freep) cpu_set_t *cs = CPU_ALLOC(PV_MAX_CPUS);
	size_t sz = CPU_ALLOC_SIZE(PV_MAX_CPUS);

	if (!cs)
		return pv_fail(e, ENOMEM, "cpu set");
	if (sched_getaffinity(tid, sz, cs) < 0)
		return pv_fail(e, errno, "sched_getaffinity of thread %d", tid);
	hwloc_bitmap_zero(set);
	for (int c = 0; c < PV_MAX_CPUS; c++)
		if (CPU_ISSET_S(c, sz, cs))
			hwloc_bitmap_set(set, (unsigned)c);
	return 0;
}

int pv_thread_set_cpus(pid_t tid, hwloc_const_bitmap_t set, struct pv_err *e)
{
	_cleanup_(cpu_freep) cpu_set_t *cs = CPU_ALLOC(PV_MAX_CPUS);
	size_t sz = CPU_ALLOC_SIZE(PV_MAX_CPUS);
	int c;

	if (!cs)
		return pv_fail(e, ENOMEM, "cpu set");
	CPU_ZERO_S(sz, cs);
	hwloc_bitmap_foreach_begin(c, set)
		if (c < PV_MAX_CPUS)
			CPU_SET_S((size_t)c, sz, cs);
	hwloc_bitmap_foreach_end();
	if (sched_setaffinity(tid, sz, cs) < 0)
		return pv_fail(e, errno, "sched_setaffinity of thread %d", tid);
	return 0;
}

int pv_vcpu_of_comm(const char *comm)
{
	long n;
	char num[16];
	const char *slash;

	/* "/TCG" is what QEMU calls them without KVM (PVE's `kvm: 0`) */
	if (strncmp(comm, "CPU ", 4) || !(slash = strchr(comm + 4, '/')) ||
	    (strcmp(slash, "/KVM") && strcmp(slash, "/TCG")))
		return -1;
	if ((size_t)(slash - comm - 4) >= sizeof(num))
		return -1;
	snprintf(num, sizeof(num), "%.*s", (int)(slash - comm - 4), comm + 4);
	return pv_parse_long(num, 0, PV_MAX_CPUS, &n) < 0 ? -1 : (int)n;
}

int pv_pidfd_open(pid_t pid, struct pv_err *e)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return pv_fail(e, errno, "pidfd_open %d", pid);
	return fd;
#else
	return pv_fail(e, ENOSYS, "pidfd_open %d", pid);
#endif
}
