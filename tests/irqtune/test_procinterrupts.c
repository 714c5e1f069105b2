/* /proc/interrupts parser on captured and synthetic hosts, and on junk. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "irqtune/procinterrupts.h"
#include "tests/lib/tap.h"

#define FIX "tests/fixtures/irq/"

/* Sum of a parsed line's per-CPU counts. */
static unsigned long long line_total(const struct pv_pi_line *l)
{
	unsigned long long t = 0;

	for (int i = 0; i < l->ncount; i++)
		t += l->counts[i];
	return t;
}

static char *load(const char *name, size_t *len)
{
	struct pv_err e = { 0 };
	char path[256];
	char *t;

	snprintf(path, sizeof(path), FIX "%s", name);
	t = pv_slurp(path, len, &e);
	if (!t) {
		printf("not ok: cannot load %s: %s\n", path, e.msg);
		exit(1);
	}
	return t;
}

static int parse_fixture(const char *name, struct pv_procint *pi)
{
	struct pv_err e = { 0 };
	size_t len;
	char *t = load(name, &len);
	int r = pv_procint_parse(t, len, pi, &e);

	CHECK(r == 0, "%s: %s", name, e.msg);
	free(t);
	return r;
}

static int count_numbered(const struct pv_procint *pi)
{
	int n = 0;

	for (int i = 0; i < pi->nline; i++)
		n += pi->line[i].irq >= 0;
	return n;
}

static const struct pv_pi_line *find_label(const struct pv_procint *pi, const char *label)
{
	for (int i = 0; i < pi->nline; i++)
		if (strcmp(pi->line[i].label, label) == 0)
			return &pi->line[i];
	return NULL;
}

/* Cross-check every numbered line against a naive independent reading:
 * the first ncpu numbers after "N:" summed, and the number of such lines. */
static void cross_check(const char *name)
{
	struct pv_procint pi;
	size_t len;
	char *t = load(name, &len), *save = NULL, *line;
	int lines = 0, bad = 0;

	if (parse_fixture(name, &pi) < 0) {
		free(t);
		return;
	}
	strtok_r(t, "\n", &save); /* header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *p = line, *s2 = NULL, *tok;
		unsigned long long sum = 0;
		const struct pv_pi_line *l;
		long irq;
		int k = 0;

		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			continue;
		irq = strtol(p, &p, 10);
		if (*p != ':')
			continue;
		lines++;
		for (tok = strtok_r(p + 1, " ", &s2); tok && k < pi.ncpu;
		     tok = strtok_r(NULL, " ", &s2), k++)
			sum += strtoull(tok, NULL, 10);
		l = pv_procint_find(&pi, (int)irq);
		if (!l || line_total(l) != sum || l->ncount != pi.ncpu)
			bad++;
	}
	CHECK_INT(count_numbered(&pi), lines);
	CHECK(bad == 0, "%s: %d lines disagree with the naive reading", name, bad);
	CHECK_INT(pi.nbad, 0);
	pv_procint_free(&pi);
	free(t);
}

static void test_qemu(void)
{
	struct pv_procint pi;
	const struct pv_pi_line *l;

	if (parse_fixture("qemu-2cpu-6.18.txt", &pi) < 0)
		return;
	CHECK_INT(pi.ncpu, 2);
	CHECK_INT(pi.cpu[0], 0);
	CHECK_INT(pi.cpu[1], 1);
	CHECK_INT(count_numbered(&pi), 19);
	CHECK_INT(pi.nline - count_numbered(&pi), 16);
	l = pv_procint_find(&pi, 36);
	CHECK(l != NULL, "irq 36");
	if (l) {
		CHECK_STR(l->chip, "PCI-MSIX-0000:00:02.0");
		CHECK_INT(l->hwirq, 1);
		CHECK_STR(l->handler, "edge");
		CHECK_STR(l->actions, "virtio1-req.0");
		CHECK_INT(l->counts[1], 108191);
		CHECK_INT(l->counts[0], 0);
	}
	l = pv_procint_find(&pi, 24);
	CHECK(l && strcmp(l->chip, "IO-APIC") == 0 && l->hwirq == 5 &&
		      strcmp(l->actions, "ACPI:Ged") == 0,
	      "irq 24");
	l = find_label(&pi, "ERR");
	CHECK(l && l->ncount == 1 && l->irq == -1 && l->actions[0] == '\0', "ERR line");
	l = find_label(&pi, "HYP");
	CHECK(l && l->ncount == 2 && strcmp(l->actions, "Hypervisor callback interrupts") == 0,
	      "HYP");
	CHECK(pv_procint_find(&pi, 27) == NULL, "no irq 27");
	pv_procint_free(&pi);
}

static void test_7970x(const char *name, bool v61)
{
	struct pv_procint pi;
	const struct pv_pi_line *l;
	const char *cur;
	char a[64];

	if (parse_fixture(name, &pi) < 0)
		return;
	CHECK_INT(pi.ncpu, 64);
	CHECK_INT(pi.cpu[63], 63);
	CHECK_INT(count_numbered(&pi), 63);
	CHECK_INT(pi.nline, 63 + 19);
	l = pv_procint_find(&pi, 107);
	CHECK(l != NULL, "irq 107");
	if (l) {
		CHECK_STR(l->chip, v61 ? "IR-PCI-MSI" : "IR-PCI-MSIX-0000:01:00.0");
		CHECK_INT(l->hwirq, v61 ? 524288 : 0);
		CHECK_STR(l->actions, "vfio-msix[0](0000:01:00.0)");
	}
	l = pv_procint_find(&pi, 58);
	cur = l ? l->actions : "";
	CHECK(pv_pi_next_action(&cur, a, sizeof(a)) && strcmp(a, "PCIe PME") == 0,
	      "first action '%s'", a);
	CHECK(pv_pi_next_action(&cur, a, sizeof(a)) && strcmp(a, "aerdrv") == 0,
	      "second action '%s'", a);
	CHECK(!pv_pi_next_action(&cur, a, sizeof(a)), "two actions only");
	l = pv_procint_find(&pi, 112);
	CHECK(l && l->actions[0] == '\0' && strcmp(l->handler, "edge") == 0, "actionless line");
	CHECK(l && l->hwirq == (v61 ? 7346180 : 4), "hwirq of 112 %lld", l ? l->hwirq : -2);
	l = pv_procint_find(&pi, 38);
	CHECK(l && strcmp(l->chip, "IR-IO-APIC") == 0 && l->hwirq == 38 &&
		      strcmp(l->handler, "fasteoi") == 0,
	      "irq 38");
	l = find_label(&pi, "MIS");
	CHECK(l && l->ncount == 1, "MIS");
	l = find_label(&pi, "DFR");
	CHECK(l && l->ncount == 64 && strcmp(l->actions, "Deferred Error APIC interrupts") == 0,
	      "DFR");
	pv_procint_free(&pi);
}

static void test_arm64(void)
{
	struct pv_procint pi;
	const struct pv_pi_line *l;

	if (parse_fixture("arm64-gicv3-4cpu.txt", &pi) < 0)
		return;
	CHECK_INT(pi.ncpu, 4);
	l = pv_procint_find(&pi, 11);
	CHECK(l && strcmp(l->chip, "GICv3") == 0 && l->hwirq == 27 &&
		      strcmp(l->level, "Level") == 0 && strcmp(l->actions, "arch_timer") == 0 &&
		      l->handler[0] == '\0',
	      "arch_timer line");
	l = pv_procint_find(&pi, 50);
	CHECK(l && strcmp(l->chip, "ITS-MSI") == 0 && l->hwirq == 1048576 &&
		      strcmp(l->level, "Edge") == 0 &&
		      strcmp(l->actions, "vfio-msix[0](0000:02:00.0)") == 0,
	      "ITS line");
	l = find_label(&pi, "IPI3");
	CHECK(l && l->ncount == 4 &&
		      strcmp(l->actions, "CPU stop (for crash dump) interrupts") == 0,
	      "IPI3");
	l = find_label(&pi, "Err");
	CHECK(l && l->ncount == 1, "Err");
	pv_procint_free(&pi);
}

static void test_offline(void)
{
	struct pv_procint pi;
	const struct pv_pi_line *l;
	static const int want[] = { 0, 1, 3, 4, 6, 7 };

	if (parse_fixture("offline-cpus-8.txt", &pi) < 0)
		return;
	CHECK_INT(pi.ncpu, 6);
	for (int i = 0; i < 6 && i < pi.ncpu; i++)
		CHECK_INT(pi.cpu[i], want[i]);
	l = pv_procint_find(&pi, 121);
	CHECK(l && l->counts[5] == 90000, "column 5 is CPU7");
	l = pv_procint_find(&pi, 16);
	CHECK(l && strcmp(l->actions, "i801_smbus, vfio-intx(0000:04:00.0)") == 0, "shared line");
	pv_procint_free(&pi);
}

static void test_xen_old(void)
{
	struct pv_procint pi;
	const struct pv_pi_line *l;

	if (parse_fixture("xen-pv-2cpu.txt", &pi) == 0) {
		l = pv_procint_find(&pi, 24);
		CHECK(l && strcmp(l->chip, "xen-percpu") == 0 && l->hwirq == -1 &&
			      strcmp(l->handler, "virq") == 0 && strcmp(l->actions, "timer0") == 0,
		      "xen-percpu");
		l = pv_procint_find(&pi, 41);
		CHECK(l && strcmp(l->chip, "xen-dyn") == 0 && strcmp(l->handler, "event") == 0 &&
			      strcmp(l->actions, "blkif") == 0,
		      "xen-dyn");
		pv_procint_free(&pi);
	}
	if (parse_fixture("oldstyle-2cpu.txt", &pi) == 0) {
		l = pv_procint_find(&pi, 9);
		CHECK(l && strcmp(l->chip, "IO-APIC-fasteoi") == 0 && l->hwirq == -1 &&
			      strcmp(l->actions, "acpi") == 0,
		      "old style");
		l = pv_procint_find(&pi, 25);
		CHECK(l && l->counts[1] == 34567, "old style counts");
		pv_procint_free(&pi);
	}
}

static int parse_str(const char *s, struct pv_procint *pi, struct pv_err *e)
{
	return pv_procint_parse(s, strlen(s), pi, e);
}

static void test_junk(void)
{
	struct pv_procint pi;
	struct pv_err e = { 0 };
	const struct pv_pi_line *l;
	static const char mixed[] = "\n   CPU0 CPU1\r\n"
				    "garbage without colon\n"
				    "99999999999: 1 2 chip 1-edge x\n"
				    "this-label-is-far-too-long: 1 2\n"
				    "  5: 1\n"
				    "  6: 1 2 3 4 IO-APIC 6-edge a, b\r\n"
				    "  7: 18446744073709551616 2 IO-APIC 7-edge big\n"
				    "  8: 1 2 IO-APIC 8-\n"
				    "  9:\n"
				    ": 1 2\n"
				    "LOC: 5 6 Local timer interrupts   \n"
				    " 10: 3 4 IO-APIC 10-edge last";

	CHECK(parse_str("", &pi, &e) < 0 && e.errnum == EINVAL, "empty input");
	CHECK(parse_str("\n\n  \n", &pi, &e) < 0, "blank input");
	CHECK(parse_str("  0: 1 2 IO-APIC 2-edge timer\n", &pi, &e) < 0, "no header");
	CHECK(parse_str("   CPU0 CPU0\n", &pi, &e) < 0, "duplicate column");
	CHECK(parse_str("   CPU1 CPU0\n", &pi, &e) < 0, "decreasing columns");
	CHECK(parse_str("   CPU0 CPUx\n", &pi, &e) < 0, "bad column");
	CHECK(parse_str("   CPU99999\n", &pi, &e) < 0, "CPU beyond limit");
	CHECK(parse_str("   CPU0\n", &pi, &e) == 0 && pi.nline == 0, "header only");
	pv_procint_free(&pi);

	if (parse_str(mixed, &pi, &e) < 0) {
		CHECK(0, "mixed: %s", e.msg);
		return;
	}
	CHECK_INT(pi.ncpu, 2);
	CHECK_INT(pi.nbad, 4);
	l = pv_procint_find(&pi, 5);
	CHECK(l && l->ncount == 1 && l->chip[0] == '\0', "short line");
	l = pv_procint_find(&pi, 6);
	CHECK(l && l->ncount == 2 && strcmp(l->chip, "3") == 0, "extra numbers become the chip");
	l = pv_procint_find(&pi, 7);
	CHECK(l && l->ncount == 0 && strcmp(l->chip, "18446744073709551616") == 0,
	      "overflowing count");
	l = pv_procint_find(&pi, 8);
	CHECK(l && l->hwirq == 8 && l->handler[0] == '\0', "dangling dash");
	l = pv_procint_find(&pi, 9);
	CHECK(l && l->ncount == 0 && l->chip[0] == '\0', "empty line body");
	l = find_label(&pi, "LOC");
	CHECK(l && strcmp(l->actions, "Local timer interrupts") == 0, "trailing blanks trimmed");
	l = pv_procint_find(&pi, 10);
	CHECK(l && strcmp(l->actions, "last") == 0 && l->counts[1] == 4, "no final newline");
	pv_procint_free(&pi);

	/* A NUL ends the text, as it would end a C string. */
	{
		static const char nul[] =
			"   CPU0\n  1: 5 IO-APIC 1-edge i8042\n\0  2: 7 X 2-edge y\n";

		CHECK(pv_procint_parse(nul, sizeof(nul) - 1, &pi, &e) == 0 && pi.nline == 1, "NUL");
		pv_procint_free(&pi);
	}
}

static void test_read_root(void)
{
	struct pv_procint pi;
	struct pv_err e = { 0 };

	pv_opt.root = "/nonexistent-pvepin-root";
	CHECK(pv_procint_read(&pi, &e) < 0 && e.errnum == ENOENT, "missing file: %s", e.msg);
	pv_opt.root = "";
	/* The live file of whatever machine runs the tests. */
	if (pv_procint_read(&pi, &e) == 0) {
		CHECK(pi.ncpu >= 1 && pi.nbad == 0, "live /proc/interrupts: %d cols %d bad",
		      pi.ncpu, pi.nbad);
		pv_procint_free(&pi);
	} else {
		CHECK(0, "live /proc/interrupts: %s", e.msg);
	}
}

int main(void)
{
	static const char *const all[] = {
		"qemu-2cpu-6.18.txt",	"tr7970x-64cpu-pve6.8.txt", "tr7970x-64cpu-6.1.txt",
		"arm64-gicv3-4cpu.txt", "offline-cpus-8.txt",	    "xen-pv-2cpu.txt",
		"oldstyle-2cpu.txt",
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cross_check(all[i]);
	test_qemu();
	test_7970x("tr7970x-64cpu-pve6.8.txt", false);
	test_7970x("tr7970x-64cpu-6.1.txt", true);
	test_arm64();
	test_offline();
	test_xen_old();
	test_junk();
	test_read_root();
	return tap_done("test_procinterrupts");
}
