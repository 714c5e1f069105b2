/* A phase's one line in PVE's task log. PVE runs the hookscript without
 * -v and shows its output in the start's or stop's task log: this line is
 * what a user reads there when all went well. It is written once, at the
 * end of the phase, and flushed: a stream would leave PVE's pipe open. */
#include "hook/phases.h"

#include <stdio.h>

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

static void print_made(FILE *f, const struct pv_phase_sum *s)
{
	const char *sep = "";
	int any = 0;

	for (size_t i = 0; i < sizeof(whats) / sizeof(whats[0]); i++) {
		int n = count(s, whats[i].kind);

		if (!n)
			continue;
		fputs(sep, f);
		fprintf(f, n == 1 ? whats[i].one : whats[i].many, n);
		sep = ", ";
		any++;
	}
	if (!any)
		fputs("nothing to do (the host is as the plan wants it)", f);
}

static void print_given_back(FILE *f, const struct pv_phase_sum *s)
{
	int put = s->nundo - s->nleft;

	if (!s->nundo) {
		fputs("nothing to give back", f);
		return;
	}
	fprintf(f, "gave the host back (%d change%s undone", put, put == 1 ? "" : "s");
	if (s->nleft)
		fprintf(f, ", %d left as someone else changed %s since", s->nleft,
			s->nleft == 1 ? "it" : "them");
	fputc(')', f);
}

void pv_phase_summary(FILE *f, int vmid, enum pv_phase ph, const struct pv_phase_sum *s)
{
	/* a dry run has printed what it would do, line by line */
	if (pv_opt.dry_run)
		return;
	fprintf(f, "pvepin: VM %d %s: ", vmid, pv_phase_name(ph));
	if (ph == PV_POST_STOP)
		print_given_back(f, s);
	else if (ph == PV_PRE_STOP)
		fputs("nothing to do", f);
	else
		print_made(f, s);
	fputc('\n', f);
	fflush(f);
}
