/* A phase's one line in PVE's task log. PVE runs the hookscript without
 * -v and shows its output in the start's or stop's task log: this line is
 * what a user reads there when all went well. It is written once, at the
 * end of the phase, and flushed: a stream would leave PVE's pipe open. */
#include "hook/phases.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/opts.h"

struct what {
	enum pv_step_kind kind;
	const char *one, *many; /* "%d" is the count */
};

/* In the order a start makes them. cgroup control and partition steps are
 * part of isolating the host: counted with the cpusets. */
static const struct what whats[] = {
	{ PV_STEP_REBIND, "bound %d device to vfio-pci", "bound %d devices to vfio-pci" },
	{ PV_STEP_HUGEPAGES, "reserved hugepages (%d pool)", "reserved hugepages (%d pools)" },
	{ PV_STEP_CPUSET, "moved host tasks off the VM's CPUs (%d cpuset)",
	  "moved host tasks off the VM's CPUs (%d cpusets)" },
	{ PV_STEP_GOVERNOR, "set %d CPU governor", "set %d CPU governors" },
	{ PV_STEP_AFFINITY, "pinned %d thread", "pinned %d threads" },
	{ PV_STEP_IRQ, "steered %d IRQ", "steered %d IRQs" },
	{ PV_STEP_IRQB, "told irqbalance (%d setting)", "told irqbalance (%d settings)" },
	{ PV_STEP_ATTR, "changed %d other setting", "changed %d other settings" },
};

static int count(const struct pv_phase_sum *s, enum pv_step_kind k)
{
	int n = s->ndone[k];

	if (k == PV_STEP_CPUSET)
		n += s->ndone[PV_STEP_CGCTL] + s->ndone[PV_STEP_PARTITION] + s->ndone[PV_STEP_PARTCPUS];
	return n;
}

/* The line is put together here and written with one write(2): no
 * printf, no stdio buffer. pre-stop is a program start and this line,
 * and each part of libc it touches is a page to fault in. */
struct line {
	char buf[512];
	size_t n;
};

static void put(struct line *l, const char *s, size_t len)
{
	if (len > sizeof(l->buf) - l->n)
		len = sizeof(l->buf) - l->n;
	memcpy(l->buf + l->n, s, len);
	l->n += len;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_int(struct line *l, int v)
{
	char t[16];
	size_t i = sizeof(t);
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;

	do
		t[--i] = (char)('0' + u % 10);
	while ((u /= 10) && i > 1);
	if (v < 0)
		t[--i] = '-';
	put(l, t + i, sizeof(t) - i);
}

/* fmt with its one "%d" replaced by n. */
static void put_count(struct line *l, const char *fmt, int n)
{
	const char *d = strstr(fmt, "%d");

	if (!d) {
		puts_(l, fmt);
		return;
	}
	put(l, fmt, (size_t)(d - fmt));
	put_int(l, n);
	puts_(l, d + 2);
}

static void put_made(struct line *l, const struct pv_phase_sum *s)
{
	const char *sep = "";
	int any = 0;

	for (size_t i = 0; i < sizeof(whats) / sizeof(whats[0]); i++) {
		int n = count(s, whats[i].kind);

		if (!n)
			continue;
		puts_(l, sep);
		put_count(l, n == 1 ? whats[i].one : whats[i].many, n);
		sep = ", ";
		any++;
	}
	if (!any)
		puts_(l, "nothing to do (the host is as the plan wants it)");
}

static void put_given_back(struct line *l, const struct pv_phase_sum *s)
{
	int put_back = s->nundo - s->nleft;

	if (!s->nundo) {
		puts_(l, "nothing to give back");
		return;
	}
	put_count(l, "gave the host back (%d change", put_back);
	puts_(l, put_back == 1 ? " undone" : "s undone");
	if (s->nleft) {
		put_count(l, ", %d left as someone else changed ", s->nleft);
		puts_(l, s->nleft == 1 ? "it since" : "them since");
	}
	puts_(l, ")");
}

static void write_line(FILE *f, const struct line *l)
{
	size_t off = 0;

	/* anything printed before goes first */
	if (fflush(f) == EOF)
		fprintf(stderr, "pvepin: write the summary: %s\n", strerror(errno));
	while (off < l->n) {
		ssize_t w = write(fileno(f), l->buf + off, l->n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fprintf(stderr, "pvepin: write the summary: %s\n", strerror(errno));
			return;
		}
		off += (size_t)w;
	}
}

void pv_phase_summary(FILE *f, int vmid, enum pv_phase ph, const struct pv_phase_sum *s)
{
	struct line l = { .n = 0 };

	/* a dry run has printed what it would do, line by line */
	if (pv_opt.dry_run)
		return;
	puts_(&l, "pvepin: VM ");
	put_int(&l, vmid);
	puts_(&l, " ");
	puts_(&l, pv_phase_name(ph));
	puts_(&l, ": ");
	if (ph == PV_POST_STOP)
		put_given_back(&l, s);
	else if (ph == PV_PRE_STOP)
		puts_(&l, "nothing to do");
	else
		put_made(&l, s);
	if (l.n == sizeof(l.buf))
		l.n--;
	puts_(&l, "\n");
	write_line(f, &l);
}
