/* The engine and phases with hand-built plans against a fake root: host
 * cpusets shared by two VMs (the last one out restores the original),
 * ledger refusals naming both VMs, hugepages other VMs have spoken for,
 * and thread pinning of real threads (the fake root's /proc is the real
 * one) with compare-and-swap on restore. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "conf/policy.h"
#include "engine/engine.h"
#include "engine/ledger.h"
#include "engine/threads.h"
#include "hook/phases.h"
#include "irqtune/irqtune.h"
#include "tests/lib/tap.h"

static char root[64];

static void put(const char *rel, const char *val)
{
	char path[512], dir[600];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "mkdir -p '%s'", path);
	*strrchr(dir, '/') = '\0';
	strcat(dir, "'");
	if (system(dir) != 0)
		abort();
	FILE *f = fopen(path, "w");
	fprintf(f, "%s\n", val);
	fclose(f);
}

static const char *get(const char *rel)
{
	static char buf[1 << 16]; /* whole journals: a longer file is an error */
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (pv_read_file(path, buf, sizeof(buf), NULL) < 0)
		snprintf(buf, sizeof(buf), "<missing>");
	return buf;
}

static hwloc_bitmap_t set_of(const char *list)
{
	hwloc_bitmap_t s = hwloc_bitmap_alloc();

	if (*list)
		pv_cpulist_parse(list, ',', PV_MAX_CPUS, s, NULL);
	return s;
}

static void plan_init(struct pv_plan *p, int vmid, const char *vm, const char *host)
{
	memset(p, 0, sizeof(*p));
	p->vmid = vmid;
	p->vm_cpus = set_of(vm);
	p->host_cpus = set_of(host);
}

static struct pv_action *act(struct pv_plan *p, enum pv_phase ph, enum pv_act_kind k,
			     const char *target, const char *value)
{
	struct pv_action *a = &p->act[p->nact++];

	memset(a, 0, sizeof(*a));
	a->phase = ph;
	a->kind = k;
	snprintf(a->target, sizeof(a->target), "%s", target);
	snprintf(a->value, sizeof(a->value), "%s", value);
	return a;
}

static void plan_done(struct pv_plan *p)
{
	hwloc_bitmap_free(p->vm_cpus);
	hwloc_bitmap_free(p->host_cpus);
}

/* Run one phase as pvepin does: ledger loaded fresh, then applied. */
static int phase(const struct pv_plan *p, const struct pv_policy *pol, enum pv_phase ph,
		 struct pv_err *e)
{
	struct pv_ledger led;
	int rc;

	if (pv_ledger_load(&led, e) < 0)
		return -1;
	rc = pv_phase_apply(p, pol, &led, ph, e);
	pv_ledger_free(&led);
	return rc;
}

static void test_shared_cpusets(const struct pv_policy *pol)
{
	struct pv_plan a, b, c;
	struct pv_err e = { 0 };

	put("sys/fs/cgroup/cgroup.subtree_control", "cpuset cpu");
	put("sys/fs/cgroup/cgroup.controllers", "cpuset cpu");
	put("sys/fs/cgroup/system.slice/cgroup.controllers", "cpuset cpu");
	put("sys/fs/cgroup/system.slice/cpuset.cpus", "");
	plan_init(&a, 100, "0-1", "2-7");
	act(&a, PV_PRE_START, PV_ACT_CPUSET, "system.slice", "2-7");
	plan_init(&b, 101, "2-3", "0-1,4-7");
	act(&b, PV_PRE_START, PV_ACT_CPUSET, "system.slice", "0-1,4-7");

	CHECK_INT(phase(&a, pol, PV_PRE_START, &e), 0);
	CHECK_STR(get("sys/fs/cgroup/system.slice/cpuset.cpus"), "2-7");
	CHECK_INT(phase(&b, pol, PV_PRE_START, &e), 0);
	CHECK_STR(get("sys/fs/cgroup/system.slice/cpuset.cpus"), "4-7");

	/* a third VM may not take CPUs or a device another one holds */
	plan_init(&c, 102, "1-2", "4-7");
	CHECK_INT(phase(&c, pol, PV_PRE_START, &e), -1);
	CHECK(strstr(e.msg, "VM 102") && strstr(e.msg, "VM 100"), "both named: %s", e.msg);
	plan_done(&c);
	plan_init(&c, 102, "6", "4-5,7");
	snprintf(c.dev[c.ndev++].bdf, PV_BDF_LEN, "0000:01:00.0");
	snprintf(b.dev[b.ndev++].bdf, PV_BDF_LEN, "0000:01:00.0");
	CHECK_INT(phase(&b, pol, PV_PRE_START, &e), 0); /* again: records the device */
	CHECK_INT(phase(&c, pol, PV_PRE_START, &e), -1);
	CHECK(strstr(e.msg, "0000:01:00.0") && strstr(e.msg, "VM 101") && strstr(e.msg, "VM 102"),
	      "device conflict: %s", e.msg);
	plan_done(&c);

	/* the first VM leaves: the slice keeps off the second VM's CPUs */
	CHECK_INT(phase(&a, pol, PV_POST_STOP, &e), 0);
	CHECK_STR(get("sys/fs/cgroup/system.slice/cpuset.cpus"), "0-1,4-7");
	/* the last VM leaves: the value from before the first comes back */
	CHECK_INT(phase(&b, pol, PV_POST_STOP, &e), 0);
	CHECK_STR(get("sys/fs/cgroup/system.slice/cpuset.cpus"), "");
	CHECK_STR(get("run/pvepin/ledger"), "<missing>");
	plan_done(&a);
	plan_done(&b);
}

static void test_pending_pages(const struct pv_policy *pol)
{
	const char *hp = "sys/devices/system/node/node0/hugepages/hugepages-1048576kB";
	char nr[128], fr[128];
	struct pv_plan a, b;
	struct pv_action *x;
	struct pv_err e = { 0 };

	snprintf(nr, sizeof(nr), "%s/nr_hugepages", hp);
	snprintf(fr, sizeof(fr), "%s/free_hugepages", hp);
	put(nr, "2");
	put(fr, "2");
	/* VM 100 is starting and counts on the 2 free pages */
	plan_init(&a, 100, "0-1", "");
	a.hp_kb = 1048576;
	a.pages[a.npages++] = (struct pv_plan_pages){ .node = 0, .count = 2 };
	x = act(&a, PV_PRE_START, PV_ACT_HUGEPAGES, "node0", "");
	x->node = 0, x->count = 2, x->size_kb = 1048576;
	CHECK_INT(phase(&a, pol, PV_PRE_START, &e), 0);
	CHECK_STR(get(nr), "2");
	/* VM 101 wants 1: the 2 free ones are spoken for, so it adds one */
	plan_init(&b, 101, "2-3", "");
	b.hp_kb = 1048576;
	b.pages[b.npages++] = (struct pv_plan_pages){ .node = 0, .count = 1 };
	x = act(&b, PV_PRE_START, PV_ACT_HUGEPAGES, "node0", "");
	x->node = 0, x->count = 1, x->size_kb = 1048576;
	CHECK_INT(phase(&b, pol, PV_PRE_START, &e), 0);
	CHECK_STR(get(nr), "3");
	/* restore gives back only what is free beyond VM 100's claim */
	CHECK_INT(phase(&b, pol, PV_POST_STOP, &e), 0);
	CHECK_STR(get(nr), "3");
	put(fr, "3"); /* as the kernel would show the grown pool */
	CHECK_INT(phase(&b, pol, PV_PRE_START, &e), 0);
	CHECK_STR(get(nr), "3");
	CHECK_INT(phase(&b, pol, PV_POST_STOP, &e), 0);
	CHECK_STR(get(nr), "3"); /* nothing of 101's own was added this time */
	CHECK_INT(phase(&a, pol, PV_POST_STOP, &e), 0);
	CHECK_STR(get(nr), "3"); /* 100 added nothing either: never below what was there */
	plan_done(&a);
	plan_done(&b);
}

/* irqtune steers through the engine's writer: journaled, and restored by
 * compare-and-swap. */
static void test_irqs(void)
{
	char mine[64] = "/tmp/pvepin-irq-XXXXXX", saved[64], cmd[128];
	const char bdfs[1][PV_BDF_LEN] = { "0000:01:00.0" };
	struct pv_irq_report rep = { 0 };
	hwloc_bitmap_t cpus = set_of("2-3");
	struct pv_engine en;
	struct pv_err e = { 0 };

	snprintf(saved, sizeof(saved), "%s", root);
	snprintf(root, sizeof(root), "%s", mkdtemp(mine));
	pv_opt.root = root;
	put("proc/interrupts", "            CPU0       CPU1\n"
	    " 40:          0          0  PCI-MSIX-0000:01:00.0   0-edge      vfio-msix[0](0000:01:00.0)\n"
	    " 41:          0          0  PCI-MSIX-0000:01:00.0   1-edge      vfio-msix[1](0000:01:00.0)\n"
	    " 42:          0          0  PCI-MSIX-0000:01:00.0   2-edge      vfio-msix[2](0000:01:00.0)");
	put("sys/bus/pci/devices/0000:01:00.0/msi_irqs/40", "msix");
	put("sys/bus/pci/devices/0000:01:00.0/msi_irqs/41", "msix");
	put("sys/bus/pci/devices/0000:01:00.0/msi_irqs/42", "msix");
	for (int i = 40; i <= 42; i++) {
		char p[64];

		snprintf(p, sizeof(p), "proc/irq/%d/smp_affinity_list", i);
		put(p, "0-7");
	}
	CHECK_INT(pv_engine_open(&en, 100, PV_POST_START, NULL, &e), 0);
	pv_irq_steer_devices(bdfs, 1, cpus, pv_engine_attr_writer, &en, &rep, &e);
	pv_engine_close(&en);
	CHECK_STR(get("proc/irq/40/smp_affinity_list"), "2-3");
	CHECK_STR(get("proc/irq/41/smp_affinity_list"), "2-3");
	CHECK(strstr(get("run/pvepin/100.journal"), "IRQ\t/proc/irq/41/smp_affinity_list\t0-7\t2-3"),
	      "IRQ step journaled");
	pv_irq_report_free(&rep);
	put("proc/irq/41/smp_affinity_list", "5"); /* someone else moves 41 */
	CHECK_INT(pv_engine_open(&en, 100, PV_POST_STOP, NULL, &e), 0);
	CHECK_INT(pv_engine_restore(&en, &e), 0);
	pv_engine_close(&en);
	CHECK_STR(get("proc/irq/40/smp_affinity_list"), "0-7");
	CHECK_STR(get("proc/irq/41/smp_affinity_list"), "5");
	CHECK_STR(get("run/pvepin/100.journal"), "<missing>");
	hwloc_bitmap_free(cpus);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK_INT(system(cmd), 0);
	snprintf(root, sizeof(root), "%s", saved);
	pv_opt.root = root;
}

static pthread_barrier_t bar;

static void *vcpu_thread(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "CPU %d/KVM", (int)(long)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar); /* until the test is done */
	return NULL;
}

static void tid_cpus(pid_t tid, char *buf, size_t n)
{
	hwloc_bitmap_t s = hwloc_bitmap_alloc();

	pv_thread_get_cpus(tid, s, NULL);
	pv_cpulist_format(buf, n, s);
	hwloc_bitmap_free(s);
}

static void test_pins(const struct pv_policy *pol)
{
	struct pv_plan p;
	struct pv_action *x;
	struct pv_thread *t = NULL;
	struct pv_err e = { 0 };
	pthread_t th[2];
	char pid[16], link[128], buf[64], all[64];
	pid_t v0 = 0, v1 = 0;
	int n;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		SKIP("thread pins: one CPU");
		return;
	}
	tid_cpus(getpid(), all, sizeof(all));
	snprintf(link, sizeof(link), "%s/proc", root);
	rmdir(link);
	CHECK_INT(symlink("/proc", link), 0);
	snprintf(pid, sizeof(pid), "%d", getpid());
	put("run/qemu-server/100.pid", pid);
	pthread_barrier_init(&bar, NULL, 3);
	for (long i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, vcpu_thread, (void *)i);
	pthread_barrier_wait(&bar);
	CHECK_INT(pv_threads_list(getpid(), &t, &n, &e), 0);
	for (int i = 0; i < n; i++) {
		if (t[i].vcpu == 0)
			v0 = t[i].tid;
		if (t[i].vcpu == 1)
			v1 = t[i].tid;
	}
	free(t);
	CHECK(v0 && v1, "vCPU threads found: %d %d", v0, v1);

	plan_init(&p, 100, "0-1", "");
	x = act(&p, PV_POST_START, PV_ACT_PIN_VCPU, "CPU 0/KVM", "0");
	x->vcpu = 0, x->pu = 0;
	x = act(&p, PV_POST_START, PV_ACT_PIN_VCPU, "CPU 1/KVM", "1");
	x->vcpu = 1, x->pu = 1;
	act(&p, PV_POST_START, PV_ACT_PIN_OTHER, "emulator", "1");
	CHECK_INT(phase(&p, pol, PV_POST_START, &e), 0);
	tid_cpus(v0, buf, sizeof(buf));
	CHECK_STR(buf, "0");
	tid_cpus(v1, buf, sizeof(buf));
	CHECK_STR(buf, "1");
	tid_cpus(getpid(), buf, sizeof(buf));
	CHECK_STR(buf, "1");
	CHECK(strstr(get("run/pvepin/ledger"), "running") != NULL, "ledger says running");

	/* someone moves vCPU 1 since: restore leaves it there */
	{
		hwloc_bitmap_t s = set_of("0");

		pv_thread_set_cpus(v1, s, NULL);
		hwloc_bitmap_free(s);
	}
	CHECK_INT(phase(&p, pol, PV_POST_STOP, &e), 0);
	tid_cpus(v0, buf, sizeof(buf));
	CHECK_STR(buf, all);
	tid_cpus(getpid(), buf, sizeof(buf));
	CHECK_STR(buf, all);
	tid_cpus(v1, buf, sizeof(buf));
	CHECK_STR(buf, "0");
	pthread_barrier_wait(&bar);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	plan_done(&p);
}

/* QEMU names vCPU threads by accelerator: KVM on PVE, TCG with `kvm: 0`. */
static void test_vcpu_names(void)
{
	CHECK_INT(pv_vcpu_of_comm("CPU 3/KVM"), 3);
	CHECK_INT(pv_vcpu_of_comm("CPU 0/TCG"), 0);
	CHECK_INT(pv_vcpu_of_comm("CPU 12/TCG"), 12);
	CHECK_INT(pv_vcpu_of_comm("CPU 1/HVF"), -1);
	CHECK_INT(pv_vcpu_of_comm("CPU x/TCG"), -1);
	CHECK_INT(pv_vcpu_of_comm("IO mon_iothread"), -1);
}

/* Where the kernel has pidfd_open, pv_pidfd_open gives one: the agent
 * follows QEMU's end by it (engine/threads.c once lacked the header that
 * defines SYS_pidfd_open, so it always said ENOSYS and the agent polled). */
static void test_pidfd(void)
{
	struct pv_err e = { 0 };
	int raw = -1, fd;

#ifdef SYS_pidfd_open
	raw = (int)syscall(SYS_pidfd_open, getpid(), 0);
#endif
	if (raw < 0) {
		printf("ok # SKIP pidfd_open: the kernel has none\n");
		return;
	}
	close(raw);
	fd = pv_pidfd_open(getpid(), &e);
	CHECK(fd >= 0, "pv_pidfd_open: %s", e.msg);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	struct pv_policy pol;
	char cmd[128];

	snprintf(root, sizeof(root), "/tmp/pvepin-engine-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	pv_opt.root = root;
	pv_policy_defaults(&pol);
	test_shared_cpusets(&pol);
	test_pending_pages(&pol);
	test_irqs();
	test_pins(&pol);
	test_vcpu_names();
	test_pidfd();
	pv_policy_free(&pol);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return tap_done("test_engine");
}
