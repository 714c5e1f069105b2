/* fakeqemu: what pvepin sees of PVE's QEMU, without emulating anything.
 *
 *   fakeqemu --vmid|-id N [--vcpus|-smp N] [--iothreads N] [--pidfile|-pidfile P]
 *            [--vfio-group G]... [--vfio-dev BDF]... [--msix N]
 *            [--mem1g N [--mem-node M]] [--comm NAME] [--no-iouring]
 *            [--spawn NAME[:CPUS]]...
 *
 * It names its threads as QEMU does (main thread "kvm" as under PVE,
 * "CPU n/KVM" per vCPU, "IO iothreadN", "call_rcu", "worker", and a real
 * io_uring worker "iou-wrk-<tid>" which the kernel will not let anyone pin),
 * holds /dev/vfio/vfio and the groups open so they are in use, enables real
 * vfio MSI-X vectors on passed-through functions (vfio-msix IRQs in
 * /proc/interrupts, as when the guest driver loads), can fault in 1 GiB
 * hugepages bound to a node, and writes its pidfile last, when all of that
 * is in place.
 *
 * Signals: SIGUSR1 starts one more "worker" thread (QEMU's thread pool
 * grows at run time). --spawn specs are taken in turn by successive SIGUSR1
 * threads, the last one repeating: NAME instead of "worker" ("CPU 4/KVM"
 * for a hotplugged vCPU: named after it starts, as QEMU does), CPUS a
 * cpu list it starts on instead of inheriting the main thread's mask, so a
 * runtime pinner has something to fix), SIGUSR2 enables every MSI-X vector of every vfio
 * device (a guest driver that loads late), SIGHUP disables them all (a guest
 * driver unloading: the vectors leave msi_irqs until the next SIGUSR2), SIGTERM/SIGINT remove the
 * pidfile and exit 0. Every event is logged on stdout, one line each. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/io_uring.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_GROUPS 16
#define MAX_DEVS 16
#define MAX_VEC 64
#define MAX_SPAWN 8
#define MPOL_BIND_ 2 /* linux/mempolicy.h MPOL_BIND, without libnuma */

struct vdev {
	char bdf[16];
	int group;
	int fd;
	unsigned nvec_max; /* MSI-X vectors the function has */
	unsigned nvec;     /* enabled now */
	int efd[MAX_VEC];
};

struct fq {
	int vmid;
	int vcpus;
	int iothreads;
	const char *pidfile;
	char pidbuf[256];
	const char *comm;
	int want[MAX_GROUPS];   /* --vfio-group */
	int nwant;
	int groups[MAX_GROUPS]; /* open, in open_group() order */
	int ngroups;
	int group_fd[MAX_GROUPS];
	struct vdev dev[MAX_DEVS];
	int ndevs;
	unsigned msix;
	long mem1g;
	int mem_node;
	bool iouring;
	int container;
	int workers;
	struct spawn_spec {
		char name[16];
		cpu_set_t cpus;
		bool masked;
	} spawn[MAX_SPAWN];      /* --spawn, taken in turn by SIGUSR1 threads */
	int nspawn;
	int spawned;
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("fakeqemu[%d]: ", getpid());
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static int die(const char *what, int err)
{
	fprintf(stderr, "fakeqemu: %s: %s\n", what, strerror(err));
	return 1;
}

static int die_neg(const char *what, int err)
{
	die(what, err);
	return -1;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int spawn_masked(const char *name, const cpu_set_t *cpus)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	r = pthread_attr_init(&attr);
	if (r == 0 && cpus)
		r = pthread_attr_setaffinity_np(&attr, sizeof(*cpus), cpus);
	if (r != 0)
		return die("pthread_attr", r);
	r = pthread_create(&t, &attr, idle_thread, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return die("pthread_create", r);
	r = pthread_setname_np(t, name);
	if (r != 0)
		return die(name, r);
	return 0;
}

static int spawn(const char *name)
{
	return spawn_masked(name, NULL);
}

static int spawn_threads(struct fq *q)
{
	char name[32]; /* names stay under 16 bytes: iothreads <= 64, vCPUs <= 512 */

	if (spawn("call_rcu"))
		return 1;
	for (int i = 0; i < q->iothreads; i++) {
		snprintf(name, sizeof(name), "IO iothread%d", i);
		if (spawn(name))
			return 1;
	}
	for (int i = 0; i < q->vcpus; i++) {
		snprintf(name, sizeof(name), "CPU %d/KVM", i);
		if (spawn(name))
			return 1;
	}
	q->workers++;
	return spawn("worker");
}

/* A real io-wq worker: an async read on a pipe nobody writes makes the
 * kernel start "iou-wrk-<tid>" in this process and park it there. */
static int start_iouring(void)
{
	struct io_uring_params p = { 0 };
	static char buf[1];
	struct io_uring_sqe *sqe;
	uint32_t *tail, *mask, *array;
	size_t sq_len;
	void *sq, *sqes;
	int fd, pfd[2];

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return die("pipe", errno);
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return die("io_uring_setup", errno);
	sq_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return die("mmap sq ring", errno);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sqes == MAP_FAILED)
		return die("mmap sqes", errno);
	tail = (uint32_t *)((char *)sq + p.sq_off.tail);
	mask = (uint32_t *)((char *)sq + p.sq_off.ring_mask);
	array = (uint32_t *)((char *)sq + p.sq_off.array);
	sqe = sqes;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = pfd[0];
	sqe->addr = (uintptr_t)buf;
	sqe->len = sizeof(buf);
	sqe->flags = IOSQE_ASYNC;
	array[*tail & *mask] = 0;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, fd, 1, 0, 0, NULL, 0) != 1)
		return die("io_uring_enter", errno);
	return 0;
}

static int group_of(const char *bdf)
{
	char p[256], t[256];
	const char *s;
	ssize_t r;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	r = readlink(p, t, sizeof(t) - 1);
	if (r < 0)
		return -1;
	t[r] = '\0';
	s = strrchr(t, '/');
	return s ? atoi(s + 1) : -1;
}

static int open_group(struct fq *q, int g)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char p[64];
	int fd;

	for (int i = 0; i < q->ngroups; i++)
		if (q->groups[i] == g)
			return q->group_fd[i];
	if (q->ngroups == MAX_GROUPS) {
		fprintf(stderr, "fakeqemu: too many groups\n");
		return -1;
	}
	snprintf(p, sizeof(p), "/dev/vfio/%d", g);
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return die_neg(p, errno);
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) != 0)
		return die_neg("VFIO_GROUP_GET_STATUS", errno);
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		fprintf(stderr, "fakeqemu: group %d is not viable (a member is not on vfio-pci)\n", g);
		return -1;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &q->container) != 0)
		return die_neg("VFIO_GROUP_SET_CONTAINER", errno);
	/* The IOMMU model can only be set once a group is in the container. */
	if (q->ngroups == 0 && ioctl(q->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0)
		return die_neg("VFIO_SET_IOMMU", errno);
	q->groups[q->ngroups] = g;
	q->group_fd[q->ngroups++] = fd;
	logf_("group %d open", g);
	return fd;
}

static int msix_set(struct vdev *d, unsigned n)
{
	char buf[sizeof(struct vfio_irq_set) + MAX_VEC * sizeof(int32_t)];
	struct vfio_irq_set *s = (struct vfio_irq_set *)buf;

	/* 6.1 cannot grow an enabled MSI-X block: disable, then enable with
	 * the new count, as QEMU does there. */
	if (d->nvec) {
		*s = (struct vfio_irq_set){ .argsz = sizeof(*s),
					    .flags = VFIO_IRQ_SET_DATA_NONE |
						     VFIO_IRQ_SET_ACTION_TRIGGER,
					    .index = VFIO_PCI_MSIX_IRQ_INDEX };
		if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s) != 0)
			return die("VFIO_DEVICE_SET_IRQS disable", errno);
		d->nvec = 0;
	}
	if (n > d->nvec_max)
		n = d->nvec_max; /* none at all on a function without MSI-X */
	if (n == 0)
		return 0;
	*s = (struct vfio_irq_set){ .argsz = (uint32_t)(sizeof(*s) + n * sizeof(int32_t)),
				    .flags = VFIO_IRQ_SET_DATA_EVENTFD |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				    .index = VFIO_PCI_MSIX_IRQ_INDEX,
				    .count = n };
	for (unsigned i = 0; i < n; i++) {
		if (d->efd[i] < 0)
			d->efd[i] = eventfd(0, EFD_CLOEXEC);
		if (d->efd[i] < 0)
			return die("eventfd", errno);
		memcpy(s->data + i * sizeof(int32_t), &d->efd[i], sizeof(int32_t));
	}
	if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s) != 0)
		return die("VFIO_DEVICE_SET_IRQS enable", errno);
	d->nvec = n;
	logf_("%s msix %u/%u vectors enabled", d->bdf, n, d->nvec_max);
	return 0;
}

static int open_dev(struct fq *q, struct vdev *d)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	int gfd;

	d->group = group_of(d->bdf);
	if (d->group < 0) {
		fprintf(stderr, "fakeqemu: %s: no iommu_group\n", d->bdf);
		return 1;
	}
	gfd = open_group(q, d->group);
	if (gfd < 0)
		return 1;
	d->fd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->fd < 0)
		return die(d->bdf, errno);
	if (ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) != 0)
		return die("VFIO_DEVICE_GET_IRQ_INFO", errno);
	d->nvec_max = ii.count > MAX_VEC ? MAX_VEC : ii.count;
	for (int i = 0; i < MAX_VEC; i++)
		d->efd[i] = -1;
	logf_("%s open (group %d, %u msix vectors)", d->bdf, d->group, d->nvec_max);
	return msix_set(d, q->msix);
}

static int open_vfio(struct fq *q)
{
	if (q->nwant == 0 && q->ndevs == 0)
		return 0;
	q->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (q->container < 0)
		return die("/dev/vfio/vfio", errno);
	if (ioctl(q->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return die("VFIO_GET_API_VERSION", EINVAL);
	/* --vfio-group entries are opened (in use) even without a device */
	for (int i = 0; i < q->nwant; i++)
		if (open_group(q, q->want[i]) < 0)
			return 1;
	for (int i = 0; i < q->ndevs; i++)
		if (open_dev(q, &q->dev[i]))
			return 1;
	return 0;
}

/* Memory as PVE's QEMU gets it with hugepages: 1G and numaN
 * hostnodes=M,policy=bind: faulted in on that node, now. */
static int map_memory(struct fq *q)
{
	unsigned long mask;
	size_t len;
	char *m;

	if (q->mem1g <= 0)
		return 0;
	if (q->mem_node >= 0) {
		mask = 1UL << q->mem_node;
		if (syscall(SYS_set_mempolicy, MPOL_BIND_, &mask, sizeof(mask) * 8) != 0)
			return die("set_mempolicy", errno);
	}
	len = (size_t)q->mem1g << 30;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0);
	if (m == MAP_FAILED)
		return die("mmap 1G hugepages", errno);
	for (long i = 0; i < q->mem1g; i++)
		m[(size_t)i << 30] = 1;
	logf_("%ld GiB of 1G hugepages mapped (node %d)", q->mem1g, q->mem_node);
	return 0;
}

static int write_pidfile(struct fq *q)
{
	char tmp[300];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", q->pidfile);
	f = fopen(tmp, "we");
	if (!f)
		return die(tmp, errno);
	fprintf(f, "%d\n", getpid());
	if (fclose(f) != 0)
		return die(tmp, errno);
	if (rename(tmp, q->pidfile) != 0)
		return die(q->pidfile, errno);
	return 0;
}

static const struct spawn_spec *next_spawn(struct fq *q)
{
	if (!q->nspawn)
		return NULL;
	return &q->spawn[q->spawned < q->nspawn ? q->spawned++ : q->nspawn - 1];
}

static int serve(struct fq *q, const sigset_t *set)
{
	siginfo_t si;

	for (;;) {
		if (sigwaitinfo(set, &si) < 0) {
			if (errno == EINTR)
				continue;
			return die("sigwaitinfo", errno);
		}
		switch (si.si_signo) {
		case SIGUSR1: {
			const struct spawn_spec *sp = next_spawn(q);

			q->workers++;
			if (spawn_masked(sp ? sp->name : "worker", sp && sp->masked ? &sp->cpus : NULL))
				return 1;
			logf_("%s thread %d started", sp ? sp->name : "worker", q->workers);
			break;
		}
		case SIGUSR2:
		case SIGHUP:
			for (int i = 0; i < q->ndevs; i++)
				if (msix_set(&q->dev[i], si.si_signo == SIGUSR2 ? q->dev[i].nvec_max : 0))
					return 1;
			if (si.si_signo == SIGHUP)
				logf_("msix disabled on every device");
			break;
		default:
			if (unlink(q->pidfile) != 0 && errno != ENOENT)
				return die(q->pidfile, errno);
			logf_("exit on signal %d", si.si_signo);
			return 0;
		}
	}
}

static int usage(void)
{
	fprintf(stderr,
		"usage: fakeqemu --vmid N [--vcpus N] [--iothreads N] [--pidfile PATH]\n"
		"       [--vfio-group G]... [--vfio-dev BDF]... [--msix N]\n"
		"       [--mem1g N [--mem-node M]] [--comm NAME] [--no-iouring]\n"
		"       [--spawn NAME[:CPUS]]...\n");
	return 2;
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	/* "-smp 4,sockets=1,..." as QEMU takes it: the count comes first */
	if (errno || end == s || (*end && *end != ',') || *out < min || *out > max)
		return -1;
	return 0;
}

enum { O_VMID = 1, O_VCPUS, O_IOT, O_PIDFILE, O_GROUP, O_DEV, O_MSIX, O_MEM, O_NODE,
       O_COMM, O_NOURING, O_SPAWN };

/* "0-1,3": CPUs into set. */
static int parse_cpus(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s || a < 0 || a >= CPU_SETSIZE)
			return -1;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a || b >= CPU_SETSIZE)
				return -1;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, set);
		if (*end != ',' && *end)
			return -1;
		s = *end ? end + 1 : end;
	}
	return CPU_COUNT(set) ? 0 : -1;
}

/* "NAME" or "NAME:CPUS" */
static int parse_spawn(const char *s, struct spawn_spec *sp)
{
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);

	if (len == 0 || len >= sizeof(sp->name))
		return -1;
	memcpy(sp->name, s, len);
	sp->name[len] = '\0';
	sp->masked = colon != NULL;
	return colon ? parse_cpus(colon + 1, &sp->cpus) : 0;
}

static int parse_args(struct fq *q, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vmid", 1, NULL, O_VMID },	    { "id", 1, NULL, O_VMID },
		{ "vcpus", 1, NULL, O_VCPUS },	    { "smp", 1, NULL, O_VCPUS },
		{ "iothreads", 1, NULL, O_IOT },    { "pidfile", 1, NULL, O_PIDFILE },
		{ "vfio-group", 1, NULL, O_GROUP }, { "vfio-dev", 1, NULL, O_DEV },
		{ "msix", 1, NULL, O_MSIX },	    { "mem1g", 1, NULL, O_MEM },
		{ "mem-node", 1, NULL, O_NODE },    { "comm", 1, NULL, O_COMM },
		{ "no-iouring", 0, NULL, O_NOURING }, { "spawn", 1, NULL, O_SPAWN },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;

	while ((c = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
		const char *a = optarg;

		switch (c) {
		case O_VMID:
			if (parse_int(a, 100, 999999999, &v))
				return usage();
			q->vmid = (int)v;
			break;
		case O_VCPUS:
			if (parse_int(a, 1, 512, &v))
				return usage();
			q->vcpus = (int)v;
			break;
		case O_IOT:
			if (parse_int(a, 0, 64, &v))
				return usage();
			q->iothreads = (int)v;
			break;
		case O_PIDFILE:
			q->pidfile = a;
			break;
		case O_GROUP:
			if (q->nwant == MAX_GROUPS || parse_int(a, 0, 1 << 20, &v))
				return usage();
			q->want[q->nwant++] = (int)v;
			break;
		case O_DEV:
			if (q->ndevs == MAX_DEVS || strlen(a) >= sizeof(q->dev[0].bdf) ||
			    strchr(a, '/'))
				return usage();
			snprintf(q->dev[q->ndevs++].bdf, sizeof(q->dev[0].bdf), "%s", a);
			break;
		case O_MSIX:
			if (parse_int(a, 0, MAX_VEC, &v))
				return usage();
			q->msix = (unsigned)v;
			break;
		case O_MEM:
			if (parse_int(a, 0, 64, &v))
				return usage();
			q->mem1g = v;
			break;
		case O_NODE:
			if (parse_int(a, 0, 63, &v))
				return usage();
			q->mem_node = (int)v;
			break;
		case O_COMM:
			q->comm = a;
			break;
		case O_NOURING:
			q->iouring = false;
			break;
		case O_SPAWN:
			if (q->nspawn == MAX_SPAWN || parse_spawn(a, &q->spawn[q->nspawn++]))
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || q->vmid == 0)
		return usage();
	return 0;
}

int main(int argc, char **argv)
{
	struct fq q = { .vcpus = 1, .comm = "kvm", .mem_node = -1, .iouring = true,
			.container = -1 };
	sigset_t set;
	int r;

	r = parse_args(&q, argc, argv);
	if (r)
		return r;
	if (!q.pidfile) {
		snprintf(q.pidbuf, sizeof(q.pidbuf), "/run/qemu-server/%d.pid", q.vmid);
		q.pidfile = q.pidbuf;
	}
	if (prctl(PR_SET_NAME, q.comm) != 0)
		return die("PR_SET_NAME", errno);
	/* Every thread inherits this mask; only the main thread takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	r = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (r != 0)
		return die("pthread_sigmask", r);
	if (map_memory(&q) || open_vfio(&q) || spawn_threads(&q))
		return 1;
	if (q.iouring && start_iouring())
		return 1;
	if (write_pidfile(&q))
		return 1;
	logf_("vmid %d ready: %d vCPUs, %d iothreads, %d groups, %d devices", q.vmid, q.vcpus,
	      q.iothreads, q.ngroups, q.ndevs);
	return serve(&q, &set);
}
