/* The agent's pure parts: the plan it keeps, the re-assert rate limit, its
 * stat file; the proc connector filter run by the kernel on an AF_UNIX
 * socket (classic BPF works there as on netlink), message parsing, and,
 * where this process may use it, the real proc connector on its own
 * threads. */
#include <arpa/inet.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/cpulist.h"
#include "agent/agent_int.h"
#include "tests/lib/tap.h"

static struct pv_action *act(struct pv_plan *p, enum pv_act_kind k, const char *target,
			     const char *value)
{
	struct pv_action *a = &p->act[p->nact++];

	memset(a, 0, sizeof(*a));
	a->phase = PV_POST_START;
	a->kind = k;
	snprintf(a->target, sizeof(a->target), "%s", target);
	snprintf(a->value, sizeof(a->value), "%s", value);
	return a;
}

static void test_cfg(void)
{
	static struct pv_plan p;
	static struct pv_agent_cfg c;
	struct pv_err e = { 0 };
	hwloc_bitmap_t other = hwloc_bitmap_alloc(), set = hwloc_bitmap_alloc();
	char buf[64];

	memset(&p, 0, sizeof(p));
	p.vmid = 100;
	act(&p, PV_ACT_CPUSET, "system.slice", "4-7")->phase = PV_PRE_START;
	act(&p, PV_ACT_CPUSET, "qemu.slice/100.scope", "0-3");
	act(&p, PV_ACT_PIN_VCPU, "CPU 0/KVM", "2")->vcpu = 0;
	p.act[p.nact - 1].pu = 2;
	act(&p, PV_ACT_PIN_VCPU, "CPU 2/KVM", "3")->vcpu = 2;
	p.act[p.nact - 1].pu = 3;
	act(&p, PV_ACT_PIN_OTHER, "emulator", "0-1");
	act(&p, PV_ACT_IRQ_STEER, "0000:01:00.0", "1");
	act(&p, PV_ACT_IRQ_STEER, "0000:01:00.1", "1");
	act(&p, PV_ACT_IRQBALANCE, "irqbalance", "0-3");
	CHECK_INT(pv_agent_cfg_from_plan(&c, &p, &e), 0);
	CHECK_INT(c.vmid, 100);
	CHECK_INT(c.nvcpu, 3);
	CHECK_INT(c.vcpu_pu[0], 2);
	CHECK_INT(c.vcpu_pu[1], -1);
	CHECK_INT(c.vcpu_pu[2], 3);
	CHECK_STR(c.other, "0-1");
	CHECK_STR(c.irq_cpus, "1");
	CHECK_INT(c.nbdf, 2);
	CHECK_STR(c.bdf[1], "0000:01:00.1");
	CHECK(c.ban_irqs, "irqbalance ban carried over");
	CHECK_INT(c.ncg, 2);
	CHECK(!c.cg[0].own && c.cg[1].own, "own scope told from host cgroups");
	CHECK_STR(c.cg[1].cpus, "0-3");

	pv_cpulist_parse(c.other, ',', PV_MAX_CPUS, other, &e);
	CHECK(pv_agent_thread_want(&c, other, "CPU 2/KVM", set), "vCPU 2 is pinned");
	pv_cpulist_format(buf, sizeof(buf), set);
	CHECK_STR(buf, "3");
	CHECK(pv_agent_thread_want(&c, other, "CPU 1/KVM", set), "vCPU without a PU");
	pv_cpulist_format(buf, sizeof(buf), set);
	CHECK_STR(buf, "0-1");
	CHECK(pv_agent_thread_want(&c, other, "CPU 9/KVM", set), "hotplugged vCPU past the plan");
	pv_cpulist_format(buf, sizeof(buf), set);
	CHECK_STR(buf, "0-1");
	CHECK(pv_agent_thread_want(&c, other, "worker", set), "worker");
	pv_cpulist_format(buf, sizeof(buf), set);
	CHECK_STR(buf, "0-1");
	hwloc_bitmap_zero(other);
	CHECK(!pv_agent_thread_want(&c, other, "worker", set), "no emulator set: not pinned");

	p.act[2].vcpu = PV_AGENT_MAX_VCPUS;
	CHECK(pv_agent_cfg_from_plan(&c, &p, &e) < 0, "vCPU past the table is refused");
	hwloc_bitmap_free(other);
	hwloc_bitmap_free(set);
}

static void test_rate_limit(void)
{
	struct pv_agent_rl rl = { 0 };
	long long t = 1000000;
	int held = 0;

	CHECK(pv_agent_rl_allow(&rl, t), "fresh item allowed");
	/* the first PV_AGENT_RL_FREE - 1 re-asserts are free */
	for (int i = 1; i < PV_AGENT_RL_FREE; i++)
		held += pv_agent_rl_note(&rl, t + i * 1000);
	CHECK_INT(held, 0);
	CHECK(pv_agent_rl_note(&rl, t + 5000), "the next one starts a hold");
	CHECK_INT(rl.backoff, PV_AGENT_RL_FIRST_MS);
	CHECK(!pv_agent_rl_allow(&rl, t + 5000 + PV_AGENT_RL_FIRST_MS - 1), "on hold");
	CHECK(pv_agent_rl_allow(&rl, t + 5000 + PV_AGENT_RL_FIRST_MS), "hold over");
	/* a fighter that comes back at every hold's end: the hold doubles to the cap */
	t += 5000;
	for (int i = 0; i < 12; i++) {
		t = rl.hold_until;
		CHECK(pv_agent_rl_note(&rl, t), "still fighting: on hold again (%d)", i);
	}
	CHECK_INT(rl.backoff, PV_AGENT_RL_MAX_MS);
	/* quiet for twice the hold: afresh */
	t += 2 * PV_AGENT_RL_MAX_MS + 1;
	CHECK(!pv_agent_rl_note(&rl, t), "quiet long enough: free again");
	CHECK_INT(rl.backoff, 0);
}

static void test_stat(void)
{
	struct pv_agent_info a = { .running = true, .pid = 42, .qemu = 4242, .started = 1700000000,
				   .updated = 1700000123 };
	struct pv_agent_info b = { 0 };
	char buf[4096];

	snprintf(a.state, sizeof(a.state), "running");
	snprintf(a.mode, sizeof(a.mode), "proc-connector");
	snprintf(a.last, sizeof(a.last), "12:00:00 irq 45: put\nback");
	a.st.new_threads = 3;
	a.st.cpu_ms = 17;
	a.st.irq_fixes = 2;
	CHECK(pv_agent_stat_format(buf, sizeof(buf), &a) > 0, "format");
	CHECK(strstr(buf, "new_threads=3\n") != NULL, "counter line: %s", buf);
	CHECK(strstr(buf, "last=12:00:00 irq 45: put back\n") != NULL, "one line: %s", buf);
	CHECK_INT(pv_agent_stat_parse(buf, &b), 0);
	CHECK_INT(b.pid, 42);
	CHECK_INT(b.qemu, 4242);
	CHECK_STR(b.state, "running");
	CHECK_STR(b.mode, "proc-connector");
	CHECK_INT(b.started, 1700000000);
	CHECK_INT(b.st.new_threads, 3);
	CHECK_INT(b.st.irq_fixes, 2);
	CHECK_INT(b.st.cpu_ms, 17);
	CHECK_STR(b.last, "12:00:00 irq 45: put back");
	memset(&b, 0, sizeof(b));
	CHECK_INT(pv_agent_stat_parse("future_key=1\nrepins=5\n", &b), 0);
	CHECK_INT(b.st.repins, 5);
	CHECK(pv_agent_stat_parse("", &b) < 0, "empty file");
	CHECK(pv_agent_stat_format(buf, 64, &a) < 0, "too small a buffer fails");
}

/* A datagram as the kernel's proc connector sends it. */
static size_t event_msg(char *buf, unsigned what, pid_t a, pid_t b, pid_t c, pid_t d)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct cn_msg *cm = NLMSG_DATA(nh);
	struct proc_event e = { 0 }, *ev = &e; /* copied in at the end: misaligned there */

	memset(buf, 0, NLMSG_SPACE(sizeof(*cm) + sizeof(*ev)));
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(*cm) + sizeof(*ev));
	nh->nlmsg_type = NLMSG_DONE;
	cm->id.idx = CN_IDX_PROC;
	cm->id.val = CN_VAL_PROC;
	cm->len = sizeof(*ev);
	ev->what = what;
	switch (what) {
	case PROC_EVENT_FORK:
		ev->event_data.fork.parent_pid = a;
		ev->event_data.fork.parent_tgid = b;
		ev->event_data.fork.child_pid = c;
		ev->event_data.fork.child_tgid = d;
		break;
	case PROC_EVENT_COMM:
		ev->event_data.comm.process_pid = a;
		ev->event_data.comm.process_tgid = b;
		break;
	case PROC_EVENT_EXIT:
		ev->event_data.exit.process_pid = a;
		ev->event_data.exit.process_tgid = b;
		break;
	case PROC_EVENT_NONE:
		ev->event_data.ack.err = (uint32_t)a;
		break;
	default:
		break;
	}
	memcpy(cm->data, &e, sizeof(e));
	return nh->nlmsg_len;
}

static void test_parse(void)
{
	char buf[256] __attribute__((aligned(8)));
	struct pv_cn_event ev;
	size_t n;

	n = event_msg(buf, PROC_EVENT_FORK, 1000, 1000, 1234, 1000);
	pv_cn_parse(buf, n, 1000, &ev);
	CHECK(ev.kind == PV_CN_THREAD && ev.tid == 1234, "new thread of QEMU: %d %d", ev.kind, ev.tid);
	pv_cn_parse(buf, n, 999, &ev);
	CHECK_INT(ev.kind, PV_CN_IGNORE);
	n = event_msg(buf, PROC_EVENT_FORK, 1000, 1000, 1235, 1235);
	pv_cn_parse(buf, n, 1000, &ev);
	CHECK_INT(ev.kind, PV_CN_IGNORE); /* a child process of QEMU is no thread of it */
	n = event_msg(buf, PROC_EVENT_COMM, 1236, 1000, 0, 0);
	pv_cn_parse(buf, n, 1000, &ev);
	CHECK(ev.kind == PV_CN_COMM && ev.tid == 1236, "rename");
	n = event_msg(buf, PROC_EVENT_NONE, EPERM, 0, 0, 0);
	pv_cn_parse(buf, n, 1000, &ev);
	CHECK(ev.kind == PV_CN_ACK && ev.err == EPERM, "ack with error");
	n = event_msg(buf, PROC_EVENT_EXIT, 1234, 1000, 0, 0);
	pv_cn_parse(buf, n, 1000, &ev);
	CHECK_INT(ev.kind, PV_CN_IGNORE);
	n = event_msg(buf, PROC_EVENT_FORK, 1000, 1000, 1234, 1000);
	pv_cn_parse(buf, 30, 1000, &ev);
	CHECK_INT(ev.kind, PV_CN_IGNORE); /* truncated */
	((struct cn_msg *)NLMSG_DATA((struct nlmsghdr *)buf))->id.idx = CN_IDX_PROC + 1;
	pv_cn_parse(buf, n, 1000, &ev);
	CHECK_INT(ev.kind, PV_CN_IGNORE); /* another connector */
}

/* The filter as the kernel runs it: what passes an AF_UNIX socket with it. */
static void test_filter(void)
{
	struct sock_filter f[PV_CN_FILTER_LEN];
	struct sock_fprog prog = { .len = PV_CN_FILTER_LEN, .filter = f };
	char buf[256] __attribute__((aligned(8))), in[256];
	const struct {
		unsigned what;
		pid_t a, b, c, d;
		bool pass;
	} cases[] = {
		{ PROC_EVENT_FORK, 1000, 1000, 1234, 1000, true },  /* QEMU's new thread */
		{ PROC_EVENT_FORK, 1, 1, 777, 777, false },         /* someone's fork */
		{ PROC_EVENT_FORK, 777, 777, 778, 777, false },     /* someone's thread */
		{ PROC_EVENT_FORK, 1000, 1000, 1001, 1001, false }, /* QEMU's child process */
		{ PROC_EVENT_COMM, 1234, 1000, 0, 0, true },        /* QEMU's thread renamed */
		{ PROC_EVENT_COMM, 777, 777, 0, 0, false },
		{ PROC_EVENT_EXIT, 1234, 1000, 0, 0, false },
		{ PROC_EVENT_EXEC, 777, 777, 0, 0, false },
		{ PROC_EVENT_NONE, 0, 0, 0, 0, true },              /* the listen ack */
	};
	int sv[2];

	CHECK_INT(pv_cn_filter(1000, f, PV_CN_FILTER_LEN), PV_CN_FILTER_LEN);
	CHECK(pv_cn_filter(1000, f, 3) < 0, "short buffer");
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) {
		CHECK(0, "socketpair: %s", strerror(errno));
		return;
	}
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0,
	      "the kernel takes the filter: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = event_msg(buf, cases[i].what, cases[i].a, cases[i].b, cases[i].c, cases[i].d);
		ssize_t r;

		send(sv[0], buf, n, 0);
		r = recv(sv[1], in, sizeof(in), MSG_DONTWAIT);
		CHECK((r > 0) == cases[i].pass, "case %zu (event %#x): %s", i, (unsigned)cases[i].what,
		      r > 0 ? "passed" : "dropped");
	}
	close(sv[0]);
	close(sv[1]);
}

static int go_fd = -1;

static void *named_thread(void *arg)
{
	char c;

	pthread_setname_np(pthread_self(), "CPU 7/KVM");
	if (read(go_fd, &c, 1) < 0)
		return NULL;
	return arg;
}

struct seen {
	pid_t thread, comm;
	int n;
};

static void collect(void *ctx, const struct pv_cn_event *ev)
{
	struct seen *s = ctx;

	s->n++;
	if (ev->kind == PV_CN_THREAD)
		s->thread = ev->tid;
	if (ev->kind == PV_CN_COMM)
		s->comm = ev->tid;
}

/* This process's own new thread through the real connector. */
static void test_live(void)
{
	struct pv_err e = { 0 };
	struct seen s = { 0 };
	pthread_t t;
	int fd, pfd[2];
	bool overrun = false;
	pid_t other;

	if (pv_cn_open(getpid(), 500, &fd, &e) < 0) {
		SKIP("live proc connector: %s", e.msg);
		return;
	}
	/* noise: a child process and its own child are no threads of ours */
	if ((other = fork()) == 0) {
		if (fork() == 0)
			_exit(0);
		_exit(0);
	}
	waitpid(other, NULL, 0);
	if (pipe(pfd) < 0) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	go_fd = pfd[0];
	pthread_create(&t, NULL, named_thread, NULL);
	for (int i = 0; i < 50 && (!s.thread || !s.comm); i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		poll(&p, 1, 20);
		CHECK_INT(pv_cn_drain(fd, getpid(), collect, &s, &overrun, &e), 0);
	}
	CHECK(s.thread > 0 && s.thread != getpid(), "new thread reported: %d", s.thread);
	CHECK(s.comm == s.thread, "its rename reported: %d", s.comm);
	CHECK_INT(s.n, 2); /* and nothing else: the filter dropped the noise */
	CHECK(!overrun, "no overrun");
	if (write(pfd[1], "x", 1) < 0)
		CHECK(0, "write");
	pthread_join(t, NULL);
	pv_cn_close(fd);
	close(pfd[0]);
	close(pfd[1]);
}

int main(void)
{
	test_cfg();
	test_rate_limit();
	test_stat();
	test_parse();
	test_filter();
	test_live();
	return tap_done("test_agent");
}
