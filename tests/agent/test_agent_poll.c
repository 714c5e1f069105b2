/* The agent's watch and fix passes driven by hand: this process plays QEMU
 * (its threads are real, /proc/<pid> of the fake root links to the real
 * one), the fake root holds msi_irqs, IRQ affinity and cgroup files, the
 * ledger and the journal. Listing threads again keeps what is known; a
 * pin, an IRQ or a cpuset changed by hand is fixed through the engine and
 * journaled (a re-assert with the value from before pvepin as its old);
 * a new IRQ is steered; a thread that keeps being moved is put on hold; a
 * busy lock defers; a VM gone from the ledger stops the agent. Needs CPUs
 * 0 and 1. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "agent/agent_int.h"
#include "engine/engine.h"
#include "engine/ledger.h"
#include "engine/lock.h"
#include "tests/lib/irq_fakeroot.h"
#include "tests/lib/tap.h"

#define DEV "0000:01:00.0"

static int hold[2];

static void *idle(void *arg)
{
	char c;

	pthread_setname_np(pthread_self(), arg);
	if (read(hold[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

static pid_t tid_named(const char *name)
{
	char path[300], comm[32];
	pid_t found = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		if (de->d_name[0] != '.' && pv_read_file(path, comm, sizeof(comm), NULL) >= 0 &&
		    !strcmp(comm, name))
			found = atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static const char *cpus_of(pid_t tid)
{
	static char buf[64];
	hwloc_bitmap_t s = hwloc_bitmap_alloc();

	buf[0] = '\0';
	if (pv_thread_get_cpus(tid, s, NULL) == 0)
		pv_cpulist_format(buf, sizeof(buf), s);
	hwloc_bitmap_free(s);
	return buf;
}

static void set_cpus(pid_t tid, const char *list)
{
	hwloc_bitmap_t s = hwloc_bitmap_alloc();

	pv_cpulist_parse(list, ',', PV_MAX_CPUS, s, NULL);
	pv_thread_set_cpus(tid, s, NULL);
	hwloc_bitmap_free(s);
}

static const char *file(const char *rel)
{
	static char buf[256];
	char path[512];

	snprintf(path, sizeof(path), "%s%s", fr_root, rel);
	if (pv_read_file(path, buf, sizeof(buf), NULL) < 0)
		snprintf(buf, sizeof(buf), "<missing>");
	return buf;
}

static int journal_count(const char *kind, const char *target, const char *old)
{
	struct pv_jlist l;
	int n = 0;

	if (pv_journal_load(100, &l, NULL) != 0)
		return 0;
	for (int i = 0; i < l.n; i++)
		n += !strcmp(pv_step_name(l.r[i].kind), kind) && strstr(l.r[i].target, target) &&
		     (!old || !strcmp(l.r[i].old, old));
	pv_jlist_free(&l);
	return n;
}

/* What start() does, minus pidfile, signals, the planner child, pidfd. */
static void agent_init(struct pv_agent *a, struct pv_agent_cfg *c)
{
	struct pv_jlist l;
	struct pv_err e = { 0 };
	char path[PV_PATH_MAX];
	int rc;

	memset(a, 0, sizeof(*a));
	a->vmid = 100;
	a->qemu = getpid();
	a->pidfd = a->cn = a->sigfd = a->epfd = a->lockfd = -1;
	a->cfg = c;
	for (a->masklen = sizeof(long); a->masklen < 4096; a->masklen *= 2) {
		cpu_set_t *m = calloc(1, a->masklen);
		int ok = sched_getaffinity(0, a->masklen, m) == 0;

		free(m);
		if (ok)
			break;
	}
	rc = pv_journal_load(100, &l, &e);
	CHECK_INT(pv_agent_watch_init(a, rc == 0 ? &l : NULL, &e), 0);
	if (rc == 0)
		pv_jlist_free(&l);
	/* task-poll mode: no proc connector in a unit test */
	pv_path(path, sizeof(path), NULL, "/proc/%d/task", getpid());
	a->taskdir = opendir(path);
	CHECK(a->taskdir != NULL, "open %s", path);
}

static void pass_(struct pv_agent *a)
{
	a->now = pv_agent_now();
	pv_agent_threads_scan(a);
	pv_agent_check(a);
	a->st.ticks++;
	pv_agent_fix(a);
}

static void setup_root(void)
{
	struct pv_ledger led;
	struct pv_lvm v = { .vmid = 100 };
	struct pv_engine en;
	struct pv_err e = { 0 };
	char link[600], self[32];

	fr_new();
	fr_dir("/run/pvepin");
	fr_dir("/sys/bus/pci/devices/" DEV "/msi_irqs");
	fr_put("/sys/bus/pci/devices/" DEV "/msi_irqs/30", "msix\n");
	fr_put("/proc/irq/30/smp_affinity_list", "0-1\n");
	fr_put("/sys/fs/cgroup/cgroup.controllers", "cpuset\n");
	fr_put("/sys/fs/cgroup/cgroup.subtree_control", "cpuset\n");
	fr_put("/sys/fs/cgroup/qemu.slice/cgroup.controllers", "cpuset\n");
	fr_put("/sys/fs/cgroup/qemu.slice/cgroup.subtree_control", "cpuset\n");
	fr_put("/sys/fs/cgroup/qemu.slice/100.scope/cgroup.controllers", "cpuset\n");
	fr_put("/sys/fs/cgroup/qemu.slice/100.scope/cpuset.cpus", "\n");
	snprintf(link, sizeof(link), "%s/proc/%d", fr_root, getpid());
	snprintf(self, sizeof(self), "/proc/%d", getpid());
	fr_dir("/proc");
	if (symlink(self, link) < 0)
		fr_die("symlink", link);
	snprintf(v.state, sizeof(v.state), "running");
	pv_ledger_load(&led, &e);
	pv_ledger_put(&led, &v, &e);
	CHECK_INT(pv_ledger_save(&led, &e), 0);
	/* post-start's steps: the scope's cpuset and IRQ 30 */
	pv_engine_open(&en, 100, PV_POST_START, &led, &e);
	CHECK_INT(pv_engine_cpuset(&en, "qemu.slice/100.scope", "0-1", false, &e), 0);
	CHECK_INT(pv_engine_write_attr(&en, "/proc/irq/30/smp_affinity_list", "1", &e), 0);
	pv_engine_close(&en);
	pv_ledger_free(&led);
}

int main(void)
{
	static struct pv_agent a;
	static struct pv_agent_cfg c;
	pthread_t t[3];
	pid_t v0, w, r;
	int lock;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_getcpu() < 0) {
		SKIP("needs 2 CPUs");
		return tap_done("test_agent_poll");
	}
	setup_root();
	if (pipe(hold) < 0)
		return 2;
	pthread_create(&t[0], NULL, idle, "CPU 0/KVM");
	pthread_create(&t[1], NULL, idle, "worker");
	pthread_create(&t[2], NULL, idle, "call_rcu");
	while (!(v0 = tid_named("CPU 0/KVM")) || !(w = tid_named("worker")) ||
	       !(r = tid_named("call_rcu")))
		usleep(1000);

	memset(&c, 0, sizeof(c));
	c.vmid = 100;
	for (int i = 0; i < PV_AGENT_MAX_VCPUS; i++)
		c.vcpu_pu[i] = -1;
	c.vcpu_pu[0] = 0;
	c.nvcpu = 1;
	snprintf(c.other, sizeof(c.other), "1");
	snprintf(c.irq_cpus, sizeof(c.irq_cpus), "1");
	snprintf(c.bdf[0], PV_BDF_LEN, DEV);
	c.nbdf = 1;
	snprintf(c.cg[0].cg, sizeof(c.cg[0].cg), "qemu.slice/100.scope");
	snprintf(c.cg[0].cpus, sizeof(c.cg[0].cpus), "0-1");
	c.cg[0].own = true;
	c.ncg = 1;
	agent_init(&a, &c);
	CHECK_INT(a.ncg, 1);

	/* the first pass: every thread placed (no post-start here: the agent
	 * does it, counted as put back, not as new), IRQ 30 adopted as it is */
	pass_(&a);
	CHECK_INT(a.nth, 4);
	CHECK_STR(cpus_of(v0), "0");
	CHECK_STR(cpus_of(w), "1");
	CHECK_STR(cpus_of(getpid()), "1");
	CHECK_INT(a.st.repins, 4);
	CHECK_INT(a.st.new_threads, 0);
	CHECK_INT(a.nirq, 1);
	CHECK_INT(a.st.new_irqs, 0);

	/* listing the threads again keeps what is known, fixes nothing */
	long steps = journal_count("AFFINITY", "/", NULL);
	for (int i = 0; i < 3; i++)
		pass_(&a);
	CHECK_INT(a.nth, 4);
	CHECK_INT(journal_count("AFFINITY", "/", NULL), steps);
	CHECK_INT(a.st.repins, 4);
	CHECK_INT(a.st.new_threads, 0);
	/* so does the periodic listing when events come from the proc connector */
	a.cn = 1000; /* only looked at, never read, by the listing */
	a.now = pv_agent_now();
	pv_agent_threads_scan(&a);
	for (int i = 0; i < a.nth; i++)
		CHECK(!a.th[i].it.dirty && !a.th[i].it.fresh, "thread %d taken as new again", a.th[i].tid);
	a.cn = -1;
	CHECK_INT(a.st.repins + a.st.new_threads, 4);

	/* a pin moved by hand: put back, journaled with the mask from before pvepin */
	set_cpus(w, "0");
	pass_(&a);
	CHECK_STR(cpus_of(w), "1");
	CHECK_INT(a.st.repins, 5);
	char target[64], orig[64];
	snprintf(target, sizeof(target), "/%d@", w);
	snprintf(orig, sizeof(orig), "%s", "0-1");
	/* the re-assert updates the first pin's entry: one per thread, its old
	 * still the mask from before pvepin */
	CHECK_INT(journal_count("AFFINITY", target, orig), 1);
	CHECK_INT(journal_count("AFFINITY", target, NULL), 1);

	/* a thread renamed into a vCPU wants vCPU 0's CPU */
	pthread_setname_np(t[2], "CPU 0/KVM");
	a.now = pv_agent_now();
	pv_agent_thread_event(&a, r, PV_TEV_RENAMED);
	pv_agent_fix(&a);
	CHECK_STR(cpus_of(r), "0");
	CHECK_INT(a.st.new_threads, 1);
	/* a fork event for a known tid: a reused tid, taken as new */
	pv_agent_thread_event(&a, r, PV_TEV_NEW);
	CHECK_INT(a.nth, 4);

	/* a new device IRQ: steered and journaled */
	fr_put("/proc/irq/31/smp_affinity_list", "0-1\n");
	fr_put("/sys/bus/pci/devices/" DEV "/msi_irqs/31", "msix\n");
	pass_(&a);
	CHECK_STR(file("/proc/irq/31/smp_affinity_list"), "1");
	CHECK_INT(a.st.new_irqs, 1);
	CHECK_INT(journal_count("IRQ", "/proc/irq/31/", "0-1"), 1);
	/* IRQ 30 changed by hand: put back, its old the value from before pvepin */
	fr_put("/proc/irq/30/smp_affinity_list", "0\n");
	pass_(&a);
	CHECK_STR(file("/proc/irq/30/smp_affinity_list"), "1");
	CHECK_INT(a.st.irq_fixes, 1);
	CHECK_INT(journal_count("IRQ", "/proc/irq/30/", "0-1"), 1);
	CHECK_INT(journal_count("IRQ", "/proc/irq/30/", NULL), 1);
	CHECK_INT(journal_count("IRQ", "/proc/irq/30/", "0"), 0);
	/* an IRQ gone from msi_irqs is kept, gone: when the guest enables it
	 * again it is no new vector (no new entry, no bypass of its limit) */
	fr_rm("/sys/bus/pci/devices/" DEV "/msi_irqs/31");
	fr_rm("/proc/irq/31/smp_affinity_list");
	pass_(&a);
	CHECK_INT(a.nirq, 2);
	CHECK(a.irq[0].irq == 31 ? a.irq[0].it.gone : a.irq[1].it.gone, "irq 31 gone");
	for (int k = 0; k < 5; k++) {
		fr_put("/proc/irq/31/smp_affinity_list", "0-1\n");
		fr_put("/sys/bus/pci/devices/" DEV "/msi_irqs/31", "msix\n");
		pass_(&a);
		fr_rm("/sys/bus/pci/devices/" DEV "/msi_irqs/31");
		fr_rm("/proc/irq/31/smp_affinity_list");
		pass_(&a);
	}
	CHECK_INT(a.nirq, 2);
	CHECK_INT(a.st.new_irqs, 1);
	CHECK_INT(journal_count("IRQ", "/proc/irq/31/", NULL), 1);
	/* each return was a re-assert under irq 31's own limit: it went on hold */
	CHECK_INT(a.st.held_off, 1);
	a.st.held_off = 0;
	/* vectors enabled one pass after another, as a guest's drivers come
	 * up: each steered at once, more of them than one item's free
	 * re-asserts (the bench's new vectors had waited 10 s from the 4th) */
	for (int k = 0; k < PV_AGENT_RL_FREE + 2; k++) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/irq/%d/smp_affinity_list", 32 + k);
		fr_put(p, "0-1\n");
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/" DEV "/msi_irqs/%d", 32 + k);
		fr_put(p, "msix\n");
		pass_(&a);
		snprintf(p, sizeof(p), "/proc/irq/%d/smp_affinity_list", 32 + k);
		CHECK_STR(file(p), "1");
	}
	CHECK_INT(a.st.new_irqs, 1 + PV_AGENT_RL_FREE + 2);
	CHECK_INT(a.st.held_off, 0);

	/* vectors new to the agent, one pass after another (a guest enabling
	 * ever more): taken in PV_AGENT_RL_FREE_NEW_IRQS passes in all (31 and
	 * the burst above count), then held off, neither steered nor
	 * journaled, until the hold is over (issue 15.2) */
	{
		char p[64];
		int v;

		for (v = 40; a.st.held_off == 0 && v < 40 + PV_AGENT_RL_FREE_NEW_IRQS; v++) {
			snprintf(p, sizeof(p), "/proc/irq/%d/smp_affinity_list", v);
			fr_put(p, "0-1\n");
			snprintf(p, sizeof(p), "/sys/bus/pci/devices/" DEV "/msi_irqs/%d", v);
			fr_put(p, "msix\n");
			pass_(&a);
		}
		v--; /* the one held off */
		CHECK_INT(a.st.new_irqs, PV_AGENT_RL_FREE_NEW_IRQS);
		CHECK(a.st.held_off >= 1, "held off: %ld", (long)a.st.held_off);
		snprintf(p, sizeof(p), "/proc/irq/%d/smp_affinity_list", v - 1);
		CHECK_STR(file(p), "1");
		snprintf(p, sizeof(p), "/proc/irq/%d/smp_affinity_list", v);
		CHECK_STR(file(p), "0-1");
		snprintf(p, sizeof(p), "/proc/irq/%d/", v);
		CHECK_INT(journal_count("IRQ", p, NULL), 0);
		a.new_irqs.hold_until = 0; /* the hold is over */
		pass_(&a);
		snprintf(p, sizeof(p), "/proc/irq/%d/smp_affinity_list", v);
		CHECK_STR(file(p), "1");
		snprintf(p, sizeof(p), "/proc/irq/%d/", v);
		CHECK_INT(journal_count("IRQ", p, "0-1"), 1);
	}
	a.st.held_off = 0;

	/* the scope's cpuset reset */
	fr_put("/sys/fs/cgroup/qemu.slice/100.scope/cpuset.cpus", "\n");
	pass_(&a);
	CHECK_STR(file("/sys/fs/cgroup/qemu.slice/100.scope/cpuset.cpus"), "0-1");
	CHECK_INT(a.st.cpuset_fixes, 1);

	/* moved again and again: after PV_AGENT_RL_FREE re-asserts, a hold */
	for (int i = 1; i < PV_AGENT_RL_FREE; i++) {
		set_cpus(w, "0");
		pass_(&a);
		CHECK_STR(cpus_of(w), "1");
	}
	CHECK_INT(a.st.held_off, 1);
	set_cpus(w, "0");
	pass_(&a);
	CHECK_STR(cpus_of(w), "0"); /* on hold: left for now */

	/* a phase holds the lock: the fix waits, counted */
	set_cpus(v0, "1");
	lock = pv_lock_take(1, NULL);
	a.now = pv_agent_now();
	pv_agent_check(&a);
	CHECK_INT(pv_agent_fix(&a), PV_FIX_BUSY);
	CHECK_INT(a.st.lock_busy, 1);
	CHECK_STR(cpus_of(v0), "1");
	pv_lock_release(lock);
	CHECK_INT(pv_agent_fix(&a), PV_FIX_DONE);
	CHECK_STR(cpus_of(v0), "0");

	/* the tid now names a thread with another start time (the vCPU ended,
	 * its tid reused): a re-pin checks the start time as the first pin
	 * did, and leaves the newcomer alone (issue 15.10) */
	for (int i = 0; i < a.nth; i++)
		if (a.th[i].tid == v0)
			a.th[i].start++;
	set_cpus(v0, "1");
	pass_(&a);
	CHECK_STR(cpus_of(v0), "1");

	/* restored meanwhile (VM gone from the ledger): the agent stops */
	{
		struct pv_ledger led;
		struct pv_err e = { 0 };

		pv_ledger_load(&led, &e);
		pv_ledger_drop(&led, 100);
		pv_ledger_save(&led, &e);
		pv_ledger_free(&led);
	}
	set_cpus(v0, "1");
	pass_(&a);
	CHECK(a.stop, "agent stops: %s", a.why);
	CHECK_STR(cpus_of(v0), "1"); /* and changes nothing more */

	pv_agent_watch_free(&a);
	closedir(a.taskdir);
	close(hold[1]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	fr_done();
	return tap_done("test_agent_poll");
}
