/* bench_agent: what the runtime agent costs and how fast it reacts.
 *
 *   bench_agent PVEPIN ROOT TOPOLOGY CONF POLICY SECONDS
 *
 * This process plays VM 100's QEMU in the fake tree ROOT (bench/run_agent.sh
 * lays it out and runs pre-start): the main thread "kvm", 16 "CPU n/KVM",
 * 8 "worker" threads and "call_rcu", all real, then runs post-start, which
 * starts the agent detached, exactly as PVE would. Then, against that agent:
 *   - CPU time per hour while nothing happens, measured over SECONDS from
 *     /proc/<agent>/schedstat (ns), wake-ups per second, RSS;
 *   - reaction latency, from the change to the fix being visible: a new
 *     thread started on a CPU where it does not belong, a hotplugged vCPU
 *     thread named "CPU 0/KVM" once it runs, a thread pin moved by hand, a
 *     device IRQ that appears (msi_irqs entry), an IRQ affinity changed by
 *     hand, a cpuset reset;
 *   - post-stop with the agent running: stopping it and restoring all.
 * Figures, not pass/fail; the targets are printed beside them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NVCPU 16
#define NWORKER 8
#define NIRQ 8
#define FIRST_IRQ 40
#define DEV "0000:01:00.0"
#define SCOPE "sys/fs/cgroup/qemu.slice/100.scope/cpuset.cpus"

struct bench {
	const char *pvepin, *root, *topo, *conf, *policy;
	int seconds;
	pid_t agent;
	pid_t tids[NVCPU + NWORKER];
	int ntids;
	cpu_set_t emu, vcpu0, wrong; /* want of emulator threads, of vCPU 0; a CPU for neither */
	char irq_cpus[64];
};

struct lat {
	const char *what;
	double v[64];
	int n, missed;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static int die(const char *what)
{
	fprintf(stderr, "bench_agent: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void path_of(const struct bench *b, const char *rel, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", b->root, rel);
}

static int put(const struct bench *b, const char *rel, const char *val)
{
	char p[512];
	FILE *f;

	path_of(b, rel, p, sizeof(p));
	if (!(f = fopen(p, "w")))
		return -1;
	fprintf(f, "%s\n", val);
	return fclose(f);
}

static int get(const struct bench *b, const char *rel, char *buf, size_t n)
{
	char p[512];
	FILE *f;

	path_of(b, rel, p, sizeof(p));
	if (!(f = fopen(p, "r")))
		return -1;
	if (!fgets(buf, (int)n, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* ------------------------------------------------------------ QEMU */

static int go[2] = { -1, -1 };

struct spec {
	const char *name;
	pid_t tid;
	int fd;          /* it waits for a byte (or EOF) here */
	volatile int ready;
};

/* QEMU's threads name themselves once they run. */
static void *thread_main(void *arg)
{
	struct spec *s = arg;
	char c;

	pthread_setname_np(pthread_self(), s->name);
	s->tid = gettid();
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	while (read(s->fd, &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static pid_t start_thread(struct spec *s, const cpu_set_t *mask, pthread_t *t)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	if (mask)
		pthread_attr_setaffinity_np(&attr, sizeof(*mask), mask);
	if (pthread_create(t, &attr, thread_main, s))
		die("pthread_create");
	pthread_attr_destroy(&attr);
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
		nap_us(50);
	return s->tid;
}

static void become_qemu(struct bench *b)
{
	static struct spec specs[NVCPU + NWORKER + 1];
	static char names[NVCPU][16];
	char p[64], link[512], pid[32];
	pthread_t t;
	int k = 0;

	prctl(PR_SET_NAME, "kvm");
	if (pipe(go) < 0)
		die("pipe");
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		specs[i].fd = go[0];
	specs[k].name = "call_rcu";
	start_thread(&specs[k++], NULL, &t);
	for (int i = 0; i < NVCPU; i++) {
		snprintf(names[i], sizeof(names[i]), "CPU %d/KVM", i);
		specs[k].name = names[i];
		b->tids[b->ntids++] = start_thread(&specs[k++], NULL, &t);
	}
	for (int i = 0; i < NWORKER; i++) {
		specs[k].name = "worker";
		b->tids[b->ntids++] = start_thread(&specs[k++], NULL, &t);
	}
	snprintf(p, sizeof(p), "proc/%d", getpid());
	path_of(b, p, link, sizeof(link));
	snprintf(p, sizeof(p), "/proc/%d", getpid());
	if (symlink(p, link) < 0 && errno != EEXIST)
		die("symlink /proc/<pid>");
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (put(b, "run/qemu-server/100.pid", pid) < 0)
		die("pidfile");
}

/* ------------------------------------------------------------ pvepin */

static int pvepin(const struct bench *b, const char *phase, double *ms)
{
	double t0 = now_ms();
	pid_t pid = fork();
	int st;

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0);
		dup2(fd, 1);
		execl(b->pvepin, "pvepin", "--root", b->root, "--topology", b->topo, "--conf", b->conf,
		      "--policy", b->policy, "100", phase, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (ms)
		*ms = now_ms() - t0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static long long schedstat_ns(pid_t pid)
{
	char p[64];
	long long ns = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/schedstat", pid);
	if ((f = fopen(p, "r"))) {
		if (fscanf(f, "%lld", &ns) != 1)
			ns = -1;
		fclose(f);
	}
	return ns;
}

/* "Pss:" of smaps_rollup, "VmRSS:", "voluntary_ctxt_switches:" ... */
static long proc_field(pid_t pid, const char *file, const char *key)
{
	char p[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/%s", pid, file);
	if (!(f = fopen(p, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atol(line + strlen(key));
	fclose(f);
	return v;
}

static long status_field(pid_t pid, const char *key)
{
	return proc_field(pid, "status", key);
}

/* Gone, or a zombie waiting for init to reap it. */
static bool ended(pid_t pid)
{
	char p[64], buf[256], *close_paren;
	FILE *f;
	bool z = true;

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	if (!(f = fopen(p, "r")))
		return true;
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')))
		z = close_paren[2] == 'Z';
	fclose(f);
	return z;
}

static pid_t agent_pid(const struct bench *b)
{
	char buf[64], stat[64];

	for (int i = 0; i < 300; i++) {
		if (get(b, "run/pvepin/100.agent.stat", stat, sizeof(stat)) == 0 &&
		    get(b, "run/pvepin/100.agent", buf, sizeof(buf)) == 0 && atoi(buf) > 0)
			return atoi(buf);
		nap_us(10000);
	}
	return 0;
}

/* ------------------------------------------------------------ reactions */

static bool mask_is(pid_t tid, const cpu_set_t *want)
{
	cpu_set_t cur;

	return sched_getaffinity(tid, sizeof(cur), &cur) == 0 && CPU_EQUAL(&cur, want);
}

static void record(struct lat *l, double ms)
{
	if (ms < 0) {
		l->missed++;
		return;
	}
	if (l->n < 64)
		l->v[l->n++] = ms;
}

/* ms until tid's mask is want, -1 after 3 s */
static double until_mask(pid_t tid, const cpu_set_t *want, double t0)
{
	while (now_ms() - t0 < 3000) {
		if (mask_is(tid, want))
			return now_ms() - t0;
		nap_us(200);
	}
	return -1;
}

static double until_file(const struct bench *b, const char *rel, const char *want, double t0)
{
	char buf[256];

	while (now_ms() - t0 < 3000) {
		if (get(b, rel, buf, sizeof(buf)) == 0 && !strcmp(buf, want))
			return now_ms() - t0;
		nap_us(200);
	}
	return -1;
}

/* Between samples, so the agent's events and ticks fall anywhere. */
static void settle(void)
{
	nap_us(150000 + rand() % 400000);
}

static void new_threads(struct lat *l, const char *name, const cpu_set_t *start,
			const cpu_set_t *want, int n)
{
	for (int i = 0; i < n; i++) {
		struct spec s = { .name = name };
		int quit[2];
		pthread_t t;
		double t0;
		pid_t tid;

		if (pipe(quit) < 0)
			die("pipe");
		s.fd = quit[0];
		t0 = now_ms();
		tid = start_thread(&s, start, &t);
		record(l, until_mask(tid, want, t0));
		close(quit[1]);
		pthread_join(t, NULL);
		close(quit[0]);
		settle();
	}
}

/* Each thread moved at most twice: the third re-assert in a minute
 * would put it on hold (the agent's rate limit). */
static void moved_pins(struct bench *b, struct lat *l, int n)
{
	for (int i = 0; i < n && i < 2 * b->ntids; i++) {
		pid_t tid = b->tids[i % b->ntids];
		const cpu_set_t *want = i % b->ntids == 0 ? &b->vcpu0 : &b->emu;
		double t0;

		if (sched_setaffinity(tid, sizeof(b->wrong), &b->wrong) < 0)
			die("sched_setaffinity");
		t0 = now_ms();
		record(l, until_mask(tid, want, t0));
		settle();
	}
}

static void new_irqs(struct bench *b, struct lat *l, int n)
{
	for (int i = 0; i < n; i++) {
		char aff[64], entry[128];
		int irq = FIRST_IRQ + NIRQ + i;
		double t0;

		snprintf(aff, sizeof(aff), "proc/irq/%d", irq);
		path_of(b, aff, entry, sizeof(entry));
		mkdir(entry, 0755);
		snprintf(aff, sizeof(aff), "proc/irq/%d/smp_affinity_list", irq);
		put(b, aff, "0-1");
		snprintf(entry, sizeof(entry), "sys/bus/pci/devices/" DEV "/msi_irqs/%d", irq);
		t0 = now_ms();
		put(b, entry, "msix");
		record(l, until_file(b, aff, b->irq_cpus, t0));
		settle();
	}
}

static void moved_irqs(struct bench *b, struct lat *l, int n)
{
	for (int i = 0; i < n && i < 2 * NIRQ; i++) {
		char aff[64];
		double t0;

		snprintf(aff, sizeof(aff), "proc/irq/%d/smp_affinity_list", FIRST_IRQ + i % NIRQ);
		t0 = now_ms();
		put(b, aff, "0");
		record(l, until_file(b, aff, b->irq_cpus, t0));
		settle();
	}
}

static void cpuset_resets(struct bench *b, struct lat *l, int n)
{
	char want[256];

	if (get(b, SCOPE, want, sizeof(want)) < 0 || !want[0])
		return;
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();

		put(b, SCOPE, "");
		record(l, until_file(b, SCOPE, want, t0));
		settle();
		/* past the rate limit's window would take minutes: two are enough */
		if (i == 1)
			break;
	}
}

static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return (a > c) - (a < c);
}

static void report(const struct lat *l)
{
	double v[64], sum = 0;

	if (!l->n) {
		printf("  %-44s %s\n", l->what, l->missed ? "never fixed within 3 s" : "-");
		return;
	}
	memcpy(v, l->v, sizeof(double) * (size_t)l->n);
	qsort(v, (size_t)l->n, sizeof(double), cmp_d);
	for (int i = 0; i < l->n; i++)
		sum += v[i];
	printf("  %-44s %7.1f %7.1f %7.1f ms  (%d%s)\n", l->what, sum / l->n, v[l->n / 2],
	       v[l->n - 1], l->n, l->missed ? ", some never fixed within 3 s" : "");
}

/* ------------------------------------------------------------ main */

static void masks(struct bench *b)
{
	cpu_set_t all;

	/* the plan of run_agent.sh's host: vCPU 0 on CPU 0, the rest on CPU 1 */
	CPU_ZERO(&b->vcpu0);
	CPU_SET(0, &b->vcpu0);
	CPU_ZERO(&b->emu);
	CPU_SET(1, &b->emu);
	CPU_ZERO(&b->wrong);
	CPU_SET(0, &b->wrong);
	snprintf(b->irq_cpus, sizeof(b->irq_cpus), "1");
	if (sched_getaffinity(0, sizeof(all), &all) < 0 || !CPU_ISSET(0, &all) ||
	    !CPU_ISSET(1, &all)) {
		fprintf(stderr, "bench_agent: needs CPUs 0 and 1\n");
		exit(1);
	}
}

static void idle(struct bench *b)
{
	long long c0, c1;
	long w0, w1;
	double t0, secs;

	nap_us(1000000);
	c0 = schedstat_ns(b->agent);
	w0 = status_field(b->agent, "voluntary_ctxt_switches:");
	t0 = now_ms();
	nap_us((long)b->seconds * 1000000);
	c1 = schedstat_ns(b->agent);
	w1 = status_field(b->agent, "voluntary_ctxt_switches:");
	secs = (now_ms() - t0) / 1e3;
	if (c0 < 0 || c1 < 0) {
		printf("idle CPU: no /proc/%d/schedstat\n", b->agent);
		return;
	}
	printf("idle CPU: %.3f s per hour (%.2f ms over %.0f s; target < 1 s), %.1f wake-ups/s\n",
	       (double)(c1 - c0) / 1e9 * 3600 / secs, (double)(c1 - c0) / 1e6, secs,
	       (double)(w1 - w0) / secs);
	printf("RSS: %.2f MiB (target < 4 MiB): private %.2f, the rest library pages shared with "
	       "every process (PSS %.2f)\n",
	       status_field(b->agent, "VmRSS:") / 1024.0, status_field(b->agent, "RssAnon:") / 1024.0,
	       proc_field(b->agent, "smaps_rollup", "Pss:") / 1024.0);
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	struct lat l[6] = {
		{ .what = "new thread, started on a wrong CPU" },
		{ .what = "hotplugged vCPU, named once it runs" },
		{ .what = "thread pin moved by hand" },
		{ .what = "new device IRQ (msi_irqs entry)" },
		{ .what = "IRQ affinity changed by hand" },
		{ .what = "VM scope's cpuset reset" },
	};
	double ms;
	char stat[64];

	/* The agent takes a process for VM 100's QEMU only when its command
	 * line names the VM as qemu-server's does (engine/threads.c
	 * pv_qemu_is_vm, "-id 100"): this process plays that QEMU, so it
	 * says so, once, by running itself again with those words. */
	if (argc == 7) {
		char *args[10];

		memcpy(args, argv, 7 * sizeof(*args));
		args[7] = "-id";
		args[8] = "100";
		args[9] = NULL;
		execv("/proc/self/exe", args);
		die("re-exec with -id 100");
	}
	if (argc != 9 || strcmp(argv[7], "-id") || strcmp(argv[8], "100")) {
		fprintf(stderr, "usage: bench_agent PVEPIN ROOT TOPOLOGY CONF POLICY SECONDS\n");
		return 2;
	}
	b = (struct bench){ .pvepin = argv[1], .root = argv[2], .topo = argv[3], .conf = argv[4],
			    .policy = argv[5], .seconds = atoi(argv[6]) };
	srand((unsigned)getpid());
	masks(&b);
	become_qemu(&b);
	if (pvepin(&b, "post-start", &ms) != 0)
		fprintf(stderr, "bench_agent: post-start failed (going on)\n");
	if (!(b.agent = agent_pid(&b))) {
		fprintf(stderr, "bench_agent: no agent started\n");
		return 1;
	}
	get(&b, "run/pvepin/100.agent.stat", stat, sizeof(stat));
	printf("== runtime agent: VM 100, %d QEMU threads, %d device IRQs (fake tree, real threads)\n",
	       b.ntids + 2, NIRQ);
	printf("post-start (starting the agent detached): %.1f ms\n", ms);
	idle(&b);
	printf("reaction, from the change until the fix shows  mean  median    max (samples; target < 1 s):\n");
	new_threads(&l[0], "worker", &b.wrong, &b.emu, 10);
	new_threads(&l[1], "CPU 0/KVM", &b.emu, &b.vcpu0, 5);
	moved_pins(&b, &l[2], 20);
	new_irqs(&b, &l[3], 10);
	moved_irqs(&b, &l[4], 10);
	cpuset_resets(&b, &l[5], 2);
	for (int i = 0; i < 6; i++)
		report(&l[i]);
	printf("agent CPU in total: %.1f ms\n", schedstat_ns(b.agent) / 1e6);
	if (pvepin(&b, "post-stop", &ms) != 0)
		fprintf(stderr, "bench_agent: post-stop failed\n");
	printf("post-stop, stopping the agent and restoring: %.1f ms; agent %s\n", ms,
	       ended(b.agent) ? "ended" : "STILL RUNNING");
	return 0;
}
