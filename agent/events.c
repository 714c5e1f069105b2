/* The agent's event sources: QEMU's end (pidfd), signals (signalfd) and new
 * or renamed QEMU threads (the proc connector: netlink CN_PROC, which needs
 * CAP_NET_ADMIN in the initial namespaces). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_int.h"

/* A proc_event field's offset in the datagram: nlmsghdr, cn_msg, event. */
#define EV_OFF ((unsigned)(NLMSG_LENGTH(0) + sizeof(struct cn_msg)))
#define EV_FIELD(f) (EV_OFF + (unsigned)offsetof(struct proc_event, f))

/* Classic BPF loads words in network order, hence htonl on the constants. */
int pv_cn_filter(pid_t tgid, struct sock_filter *f, int max)
{
	const struct sock_filter prog[PV_CN_FILTER_LEN] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_FIELD(what)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_FORK), 0, 2),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_FIELD(event_data.fork.child_tgid)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl((uint32_t)tgid), 5, 4),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_COMM), 0, 2),
		/* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_FIELD(event_data.comm.process_tgid)),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl((uint32_t)tgid), 2, 1),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_NONE), 1, 0),
		/* 8 */ BPF_STMT(BPF_RET | BPF_K, 0),
		/* 9 */ BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	};

	if (max < PV_CN_FILTER_LEN)
		return -1;
	memcpy(f, prog, sizeof(prog));
	return PV_CN_FILTER_LEN;
}

void pv_cn_parse(const void *buf, size_t len, pid_t tgid, struct pv_cn_event *ev)
{
	const struct nlmsghdr *nh = buf;
	const struct cn_msg *cm;
	struct proc_event e = { 0 };
	const struct proc_event *pe = &e;

	memset(ev, 0, sizeof(*ev));
	if (len < EV_FIELD(event_data) || nh->nlmsg_len > len || nh->nlmsg_type == NLMSG_ERROR ||
	    nh->nlmsg_type == NLMSG_NOOP)
		return;
	cm = NLMSG_DATA(nh);
	if (cm->id.idx != CN_IDX_PROC || cm->id.val != CN_VAL_PROC)
		return;
	/* the event sits at offset 36: copied out, its 64-bit field is aligned */
	memcpy(&e, cm->data, len - EV_OFF < sizeof(e) ? len - EV_OFF : sizeof(e));
	switch (pe->what) {
	case PROC_EVENT_FORK:
		if (len < EV_FIELD(event_data.fork.child_tgid) + 4 ||
		    pe->event_data.fork.child_tgid != tgid)
			return;
		ev->kind = PV_CN_THREAD;
		ev->tid = pe->event_data.fork.child_pid;
		return;
	case PROC_EVENT_COMM:
		if (len < EV_FIELD(event_data.comm.process_tgid) + 4 ||
		    pe->event_data.comm.process_tgid != tgid)
			return;
		ev->kind = PV_CN_COMM;
		ev->tid = pe->event_data.comm.process_pid;
		return;
	case PROC_EVENT_NONE:
		if (len < EV_FIELD(event_data.ack.err) + 4)
			return;
		ev->kind = PV_CN_ACK;
		ev->err = (int)pe->event_data.ack.err;
		return;
	default:
		return;
	}
}

static int send_op(int fd, enum proc_cn_mcast_op op, struct pv_err *e)
{
	char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))] __attribute__((aligned(8)));
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct cn_msg *cm = NLMSG_DATA(nh);

	memset(buf, 0, sizeof(buf));
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(*cm) + sizeof(op));
	nh->nlmsg_type = NLMSG_DONE;
	nh->nlmsg_pid = 0;
	cm->id.idx = CN_IDX_PROC;
	cm->id.val = CN_VAL_PROC;
	cm->len = sizeof(op);
	memcpy(cm->data, &op, sizeof(op));
	if (send(fd, nh, nh->nlmsg_len, 0) < 0)
		return pv_fail(e, errno, "proc connector: send");
	return 0;
}

/* One datagram from the kernel (nl_pid 0); 0 = none waiting. */
static ssize_t recv_one(int fd, void *buf, size_t n)
{
	struct sockaddr_nl from;
	socklen_t fl = sizeof(from);
	ssize_t r;

	do {
		r = recvfrom(fd, buf, n, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -1;
	if (fl != sizeof(from) || from.nl_pid != 0)
		return -2; /* not from the kernel: ignored */
	return r;
}

/* The kernel answers a listen request with a PROC_EVENT_NONE ack; none
 * means no proc connector here (another pid namespace, or not built). */
static int wait_ack(int fd, pid_t tgid, int wait_ms, struct pv_err *e)
{
	char buf[4096] __attribute__((aligned(8)));
	long long end = pv_agent_now() + wait_ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - pv_agent_now();
		struct pv_cn_event ev;
		ssize_t r;

		if (left <= 0)
			return pv_fail(e, ETIMEDOUT, "proc connector: no answer to the listen request");
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return pv_fail(e, errno, "proc connector: poll");
		r = recv_one(fd, buf, sizeof(buf));
		if (r == -1)
			return pv_fail(e, errno, "proc connector: recv");
		if (r <= 0)
			continue;
		pv_cn_parse(buf, (size_t)r, tgid, &ev);
		if (ev.kind != PV_CN_ACK)
			continue; /* a thread event already: the caller lists threads after this */
		if (ev.err)
			return pv_fail(e, ev.err, "proc connector: listen refused");
		return 0;
	}
}

int pv_cn_open(pid_t tgid, int wait_ms, int *out, struct pv_err *e)
{
	struct sock_filter f[PV_CN_FILTER_LEN];
	struct sock_fprog prog = { .len = PV_CN_FILTER_LEN, .filter = f };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	int fd, rcvbuf = 256 * 1024;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (fd < 0)
		return pv_fail(e, errno, "proc connector: socket");
	pv_cn_filter(tgid, f, PV_CN_FILTER_LEN);
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		pv_fail(e, errno, "proc connector: filter");
		goto fail;
	}
	/* a burst of thread starts must not overrun it; failure is harmless */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		pv_fail(e, errno, "proc connector: bind");
		goto fail;
	}
	if (send_op(fd, PROC_CN_MCAST_LISTEN, e) < 0 || wait_ack(fd, tgid, wait_ms, e) < 0)
		goto fail;
	*out = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

void pv_cn_close(int fd)
{
	struct pv_err e;

	if (fd < 0)
		return;
	/* the kernel counts listeners: with none left it stops making events */
	send_op(fd, PROC_CN_MCAST_IGNORE, &e);
	close(fd);
}

int pv_cn_drain(int fd, pid_t tgid, void (*fn)(void *ctx, const struct pv_cn_event *ev),
		void *ctx, bool *overrun, struct pv_err *e)
{
	char buf[4096] __attribute__((aligned(8)));

	for (;;) {
		struct pv_cn_event ev;
		ssize_t r = recv_one(fd, buf, sizeof(buf));

		if (r == 0)
			return 0;
		if (r == -2)
			continue;
		if (r < 0) {
			if (errno == ENOBUFS) {
				*overrun = true;
				continue;
			}
			return pv_fail(e, errno, "proc connector: recv");
		}
		pv_cn_parse(buf, (size_t)r, tgid, &ev);
		if (ev.kind == PV_CN_THREAD || ev.kind == PV_CN_COMM)
			fn(ctx, &ev);
	}
}

int pv_agent_signals(struct pv_err *e)
{
	const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	sigset_t set;
	int fd;

	sigemptyset(&set);
	/* an ignored signal is never queued, and the hook's parent may ignore them */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		signal(sigs[i], SIG_DFL);
		sigaddset(&set, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return pv_fail(e, errno, "sigprocmask");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return pv_fail(e, errno, "signalfd");
	return fd;
}
