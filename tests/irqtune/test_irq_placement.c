/* Where each IRQ goes: device IRQs onto irq_cpus, everything else off the
 * VM's CPUs; hex cpumask text; plans built against a fake --root. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/cpulist.h"
#include "irqtune/classify.h"
#include "irqtune/placement.h"
#include "tests/lib/irq_fakeroot.h"
#include "tests/lib/tap.h"

static hwloc_bitmap_t set(const char *list)
{
	hwloc_bitmap_t b = hwloc_bitmap_alloc();

	if (*list && pv_cpulist_parse(list, ',', PV_MAX_CPUS, b, NULL) < 0)
		printf("not ok: bad list in test: %s\n", list);
	return b;
}

static const char *fmt(hwloc_const_bitmap_t b)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	pv_cpulist_format(buf[k], sizeof(buf[k]), b);
	return buf[k];
}

static void test_values(void)
{
	hwloc_bitmap_t cpus = set("32-39"), three = set("40-41,46"), none = set("");
	char vals[5][PV_IRQ_LIST_LEN];
	struct pv_err e = { 0 };

	CHECK(pv_irq_place_values(5, cpus, PV_IRQ_SPREAD_ALL, vals, &e) == 0, "%s", e.msg);
	for (int i = 0; i < 5; i++)
		CHECK_STR(vals[i], "32-39");
	CHECK(pv_irq_place_values(5, three, PV_IRQ_SPREAD_ONE, vals, &e) == 0, "%s", e.msg);
	CHECK_STR(vals[0], "40");
	CHECK_STR(vals[1], "41");
	CHECK_STR(vals[2], "46");
	CHECK_STR(vals[3], "40");
	CHECK_STR(vals[4], "41");
	CHECK(pv_irq_place_values(1, none, PV_IRQ_SPREAD_ALL, vals, &e) < 0, "empty set refused");
	hwloc_bitmap_free(cpus);
	hwloc_bitmap_free(three);
	hwloc_bitmap_free(none);
}

static void test_other(void)
{
	static const struct {
		const char *cur, *vm, *host, *want; /* want NULL: stays */
	} cases[] = {
		{ "0-63", "0-15,32-47", "16-31,48-63", "16-31,48-63" },
		{ "0-63", "8-15,40-47", "0-7,16-39,48-63", "0-7,16-39,48-63" },
		{ "0,32", "0-15,32-47", "16-31,48-63", "16-31,48-63" }, /* all inside: host */
		{ "4,20", "0-15", "16-31", "20" },
		{ "48", "0-15,32-47", "16-31,48-63", NULL },
		{ "0-1", "1", "0", "0" },
		/* CPU 6 offline (neither the VM's nor the host's): never
		 * left alone in a mask, the kernel would refuse it */
		{ "6-7", "4,7", "0-3,5", "0-3,5" },
		{ "5-7", "4,7", "0-3,5", "5" },
	};
	hwloc_bitmap_t out = hwloc_bitmap_alloc();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hwloc_bitmap_t cur = set(cases[i].cur), vm = set(cases[i].vm),
			       host = set(cases[i].host);
		int r = pv_irq_place_other(cur, vm, host, out);

		CHECK(r == (cases[i].want != NULL), "case %zu r=%d", i, r);
		if (r == 1 && cases[i].want)
			CHECK_STR(fmt(out), cases[i].want);
		hwloc_bitmap_free(cur);
		hwloc_bitmap_free(vm);
		hwloc_bitmap_free(host);
	}
	hwloc_bitmap_free(out);
}

static void test_mask(void)
{
	static const struct {
		const char *mask, *list;
	} ok[] = {
		{ "3", "0-1" },
		{ "ffffffff,ffffffff", "0-63" },
		{ "00000000,00000003", "0-1" },
		{ "ffffff00,ffffff00", "8-31,40-63" },
		{ "1,00000000", "32" },
		{ "FF", "0-7" },
		{ "0", "" },
		{ "00000100,00000000,00000000,00000000,00000000,00000000,00000000,00000001",
		  "0,232" },
	};
	static const char *const bad[] = { "",	      "g",	   ",ff",	   "ff,",
					   "fff,fff", "123456789", "ff,,ffffffff", "0x3",
					   "3 " };
	hwloc_bitmap_t b = hwloc_bitmap_alloc();

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(pv_irq_mask_parse(ok[i].mask, b) == 0, "parse '%s'", ok[i].mask);
		CHECK_STR(fmt(b), ok[i].list);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(pv_irq_mask_parse(bad[i], b) < 0, "'%s' refused", bad[i]);

	hwloc_bitmap_free(b);
}

/* The 7970X fixture with smp_affinity_list for every numbered IRQ. */
static void host_7970x(struct pv_procint *pi)
{
	struct pv_err e = { 0 };
	char rel[96];

	fr_new();
	fr_fixture("tr7970x-64cpu-pve6.8.txt");
	if (pv_procint_read(pi, &e) < 0) {
		printf("not ok: %s\n", e.msg);
		exit(2);
	}
	for (int i = 0; i < pi->nline; i++) {
		int irq = pi->line[i].irq;

		if (irq < 0)
			continue;
		snprintf(rel, sizeof(rel), "/proc/irq/%d/smp_affinity_list", irq);
		if (irq >= 63 && irq <= 94) /* nvme I/O queues: managed, one core's pair each */
			fr_put(rel, "%d,%d\n", irq - 63, irq - 63 + 32);
		else if (irq >= 107 && irq <= 111)
			fr_put(rel, "40-47\n");
		else if (irq == 105)
			fr_put(rel, "48\n");
		else
			fr_put(rel, "0-63\n");
	}
	fr_put("/proc/irq/default_smp_affinity", "ffffffff,ffffffff\n");
	/* The freed vector has no /proc/irq entry any more. */
	fr_rm("/proc/irq/112/smp_affinity_list");
	fr_put("/sys/kernel/debug/irq/irqs/63", "dstate: 0x0\n IRQD_AFFINITY_MANAGED\n");
	fr_put("/sys/kernel/debug/irq/irqs/64", "dstate: 0x0\n IRQD_AFFINITY_MANAGED\n");
}

static const struct pv_irq_place *find(const struct pv_irq_plan *pl, int irq)
{
	for (int i = 0; i < pl->n; i++)
		if (pl->p[i].irq == irq && pl->p[i].kind == PV_PLACE_IRQ)
			return &pl->p[i];
	return NULL;
}

static void test_plan_others(void)
{
	hwloc_bitmap_t vm = set("0-7,32-39"), host = set("8-31,40-63"), b;
	struct pv_irq_plan pl = { 0 };
	struct pv_procint pi;
	struct pv_err e = { 0 };
	const struct pv_irq_place *p;
	int expect = 0;

	host_7970x(&pi);
	CHECK(pv_irq_plan_others(&pi, vm, host, &pl, &e) == 0, "%s", e.msg);
	/* Independent count: candidates whose current list meets the VM. */
	b = hwloc_bitmap_alloc();
	for (int i = 0; i < pi.nline; i++) {
		const struct pv_pi_line *l = &pi.line[i];
		char rel[96], cur[64];

		if (l->irq < 0 || l->irq == 0 || l->irq == 2 || strstr(l->actions, "vfio-"))
			continue;
		snprintf(rel, sizeof(rel), "/proc/irq/%d/smp_affinity_list", l->irq);
		if (!*fr_get(rel, cur, sizeof(cur)))
			continue;
		pv_cpulist_parse(cur, ',', PV_MAX_CPUS, b, NULL);
		expect += hwloc_bitmap_intersects(b, vm);
	}
	hwloc_bitmap_free(b);
	CHECK_INT(pl.n, expect); /* default_smp_affinity is not among them */
	CHECK(find(&pl, 0) == NULL, "IRQ 0 left alone");
	CHECK(find(&pl, 38) == NULL, "vfio-intx left to its VM");
	CHECK(find(&pl, 107) == NULL, "vfio-msix left to its VM");
	CHECK(find(&pl, 105) == NULL, "IRQ already off the VM's CPUs");
	CHECK(find(&pl, 112) == NULL, "vanished IRQ");
	p = find(&pl, 9);
	CHECK(p && strcmp(p->old, "0-63") == 0 && strcmp(p->want, "8-31,40-63") == 0 &&
		      strcmp(p->action, "acpi") == 0 && !p->unsteerable,
	      "acpi");
	p = find(&pl, 63); /* nvme0q1 on 0,32: entirely inside -> host_cpus */
	/* managed: debugfs is read only if the write is refused (test_irq_activate) */
	CHECK(p && strcmp(p->want, "8-31,40-63") == 0 && !p->unsteerable, "managed nvme q1");
	p = find(&pl, 72); /* nvme0q10 on 9,41: outside */
	CHECK(p == NULL, "nvme q10 stays");
	p = find(&pl, 58);
	CHECK(p && strcmp(p->action, "PCIe PME") == 0, "first action named");
	for (int i = 0; i < pl.n; i++)
		CHECK(pl.p[i].kind == PV_PLACE_IRQ && pl.p[i].irq > 0, "only IRQ files: %d", pl.p[i].irq);
	pv_irq_plan_free(&pl);

	/* Nothing to do without VM CPUs; refusals on nonsense. */
	b = set("");
	CHECK(pv_irq_plan_others(&pi, b, host, &pl, &e) == 0 && pl.n == 0, "empty vm");
	CHECK(pv_irq_plan_others(&pi, vm, b, &pl, &e) < 0, "empty host refused");
	CHECK(pv_irq_plan_others(&pi, vm, vm, &pl, &e) < 0, "host overlapping vm refused");
	pv_irq_plan_free(&pl);
	hwloc_bitmap_free(b);

	pv_procint_free(&pi);
	hwloc_bitmap_free(vm);
	hwloc_bitmap_free(host);
	fr_done();
}

static void test_plan_devices(void)
{
	static const char bdfs[3][PV_BDF_LEN] = { "0000:01:00.0", "01:00.1", "0000:09:00.0" };
	hwloc_bitmap_t irq = set("32-39");
	struct pv_irq_plan pl = { 0 };
	struct pv_procint pi;
	struct pv_err e = { 0 };
	const struct pv_irq_place *p;

	host_7970x(&pi);
	for (int i = 107; i <= 110; i++) {
		char rel[96];

		snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/0000:01:00.0/msi_irqs/%d", i);
		fr_put(rel, "msix\n");
	}
	fr_put("/sys/bus/pci/devices/0000:01:00.1/msi_irqs/111", "msi\n");
	fr_put("/sys/bus/pci/devices/0000:09:00.0/irq", "0\n");
	CHECK(pv_irq_plan_devices(&pi, bdfs, 3, irq, PV_IRQ_SPREAD_ALL, &pl, &e) == 0, "%s", e.msg);
	CHECK_INT(pl.n, 6);
	for (int i = 107; i <= 111; i++) {
		p = find(&pl, i);
		CHECK(p && strcmp(p->want, "32-39") == 0 && strcmp(p->old, "40-47") == 0 &&
			      !p->gone,
		      "irq %d", i);
	}
	p = find(&pl, 111);
	CHECK(p && strcmp(p->bdf, "0000:01:00.1") == 0 &&
		      strcmp(p->action, "vfio-msi[0](0000:01:00.1)") == 0,
	      "canonical bdf and action");
	p = &pl.p[pl.n - 1];
	CHECK(p->kind == PV_PLACE_NO_IRQS && strcmp(p->bdf, "0000:09:00.0") == 0, "no IRQs yet");
	pv_irq_plan_free(&pl);

	/* The same device twice: its IRQs once. One vanished IRQ: marked. */
	{
		static const char twice[2][PV_BDF_LEN] = { "0000:01:00.0", "0000:01:00.0" };

		fr_rm("/proc/irq/109/smp_affinity_list");
		CHECK(pv_irq_plan_devices(&pi, twice, 2, irq, PV_IRQ_SPREAD_ONE, &pl, &e) == 0,
		      "%s", e.msg);
		CHECK_INT(pl.n, 4);
		p = find(&pl, 109);
		CHECK(p && p->gone, "gone");
		p = find(&pl, 110);
		CHECK(p && strcmp(p->want, "35") == 0, "spread one: %s", p ? p->want : "-");
		pv_irq_plan_free(&pl);
	}
	{
		static const char bad[1][PV_BDF_LEN] = { "0000:01:00.9" };
		hwloc_bitmap_t none = set("");

		CHECK(pv_irq_plan_devices(&pi, bad, 1, irq, PV_IRQ_SPREAD_ALL, &pl, &e) < 0,
		      "bad bdf");
		CHECK(pv_irq_plan_devices(&pi, bdfs, 1, none, PV_IRQ_SPREAD_ALL, &pl, &e) < 0,
		      "no CPUs");
		pv_irq_plan_free(&pl);
		hwloc_bitmap_free(none);
	}
	pv_procint_free(&pi);
	hwloc_bitmap_free(irq);
	fr_done();
}

int main(void)
{
	test_values();
	test_other();
	test_mask();
	test_plan_others();
	test_plan_devices();
	return tap_done("test_irq_placement");
}
