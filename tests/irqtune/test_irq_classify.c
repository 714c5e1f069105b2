/* Which IRQs belong to a PCI function; per-CPU and managed detection;
 * the agent's msi_irqs scan. A fixture that cannot be read or parsed is a
 * failure (load()), never a skipped block. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "irqtune/classify.h"
#include "irqtune/irqtune.h"
#include "tests/lib/irq_fakeroot.h"
#include "tests/lib/tap.h"

static void test_vfio_names(void)
{
	static const struct {
		const char *action;
		const char *bdf; /* NULL: not a vfio action */
	} cases[] = {
		{ "vfio-msix[0](0000:01:00.0)", "0000:01:00.0" },
		{ "vfio-msix[2047](0000:c1:00.0)", "0000:c1:00.0" },
		{ "vfio-msi[12](0001:81:1f.7)", "0001:81:1f.7" },
		{ "vfio-intx(0000:47:00.0)", "0000:47:00.0" },
		{ "vfio-msix[](0000:01:00.0)", NULL },
		{ "vfio-msix[0](0000:01:00.0)x", NULL },
		{ "vfio-msix[0]0000:01:00.0)", NULL },
		{ "vfio-msix[0](0000:01:00.0", NULL },
		{ "vfio-intx(../../../etc)", NULL },
		{ "vfio-intx(0000:01:20.0)", NULL },
		{ "vfio-msi[0](01:00.0)", NULL },
		{ "vfio-msiz[0](0000:01:00.0)", NULL },
		{ "vfio-intx()", NULL },
		{ "nvidia", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[PV_BDF_LEN] = "";
		bool ok = pv_irq_vfio_action_bdf(cases[i].action, out);

		CHECK(ok == (cases[i].bdf != NULL), "'%s' -> %d", cases[i].action, ok);
		if (ok && cases[i].bdf)
			CHECK_STR(out, cases[i].bdf);
	}
}

static int load(const char *name, struct pv_procint *pi)
{
	struct pv_err e = { 0 };
	char path[256];
	size_t len;
	char *t;
	int r;

	snprintf(path, sizeof(path), "tests/fixtures/irq/%s", name);
	t = pv_slurp(path, &len, &e);
	if (!t) {
		CHECK(0, "fixture %s: %s", path, e.msg);
		return -1;
	}
	r = pv_procint_parse(t, len, pi, &e);
	free(t);
	CHECK(r == 0, "parse %s: %s", path, e.msg);
	return r;
}

static void test_line_predicates(void)
{
	struct pv_procint pi;
	char bdf[PV_BDF_LEN];

	if (load("tr7970x-64cpu-pve6.8.txt", &pi) == 0) {
		const struct pv_pi_line *l = pv_procint_find(&pi, 107);

		CHECK(l && pv_irq_line_names_bdf(l, "0000:01:00.0"), "6.8 gpu line");
		CHECK(l && !pv_irq_line_names_bdf(l, "0000:01:00.1"), "not the audio fn");
		CHECK(l && pv_irq_line_is_vfio(l), "vfio");
		l = pv_procint_find(&pi, 105);
		CHECK(l && pv_irq_line_names_bdf(l, "0000:41:00.0"),
		      "nvidia by chip");
		CHECK(l && !pv_irq_line_is_vfio(l), "nvidia not vfio");
		l = pv_procint_find(&pi, 9);
		CHECK(l && !pv_irq_line_names_bdf(l, "0000:41:00.0"), "acpi is no device's");
		CHECK(l && !pv_irq_line_percpu(l), "acpi not per-CPU");
		l = pv_procint_find(&pi, 38);
		CHECK(l && pv_irq_line_names_bdf(l, "0000:47:00.0"),
		      "intx by action");
		pv_procint_free(&pi);
	}
	if (load("tr7970x-64cpu-6.1.txt", &pi) == 0) {
		const struct pv_pi_line *l = pv_procint_find(&pi, 62);

		CHECK(l && pv_irq_line_names_bdf(l, "0000:02:00.0"),
		      "6.1 hwirq decodes nvme: %s", bdf);
		l = pv_procint_find(&pi, 111);
		CHECK(l && pv_irq_line_names_bdf(l, "0000:01:00.1"),
		      "6.1 audio fn");
		l = pv_procint_find(&pi, 112);
		CHECK(l && pv_irq_line_names_bdf(l, "0000:0e:00.3"),
		      "6.1 actionless vector still attributed");
		l = pv_procint_find(&pi, 57);
		CHECK(l && pv_irq_line_names_bdf(l, "0000:00:00.2"), "AMD-Vi");
		pv_procint_free(&pi);
	}
	if (load("arm64-gicv3-4cpu.txt", &pi) == 0) {
		CHECK(pv_irq_line_percpu(pv_procint_find(&pi, 11)), "PPI 27 per-CPU");
		CHECK(pv_irq_line_percpu(pv_procint_find(&pi, 12)), "PPI 23 per-CPU");
		CHECK(!pv_irq_line_percpu(pv_procint_find(&pi, 14)), "SPI 36 not per-CPU");
		CHECK(pv_irq_line_names_bdf(pv_procint_find(&pi, 50), "0000:02:00.0"), "ITS hwirq");
		CHECK(pv_irq_line_names_bdf(pv_procint_find(&pi, 46), "0000:01:00.0"), "ITS nvme");
		pv_procint_free(&pi);
	}
	if (load("xen-pv-2cpu.txt", &pi) == 0) {
		CHECK(pv_irq_line_percpu(pv_procint_find(&pi, 24)), "xen-percpu");
		CHECK(!pv_irq_line_percpu(pv_procint_find(&pi, 40)), "xen-dyn");
		pv_procint_free(&pi);
	}
	if (load("offline-cpus-8.txt", &pi) == 0) {
		const struct pv_pi_line *l = pv_procint_find(&pi, 16);

		CHECK(l && pv_irq_line_names_bdf(l, "0000:04:00.0"),
		      "second action of a shared line");
		CHECK(l && pv_irq_line_is_vfio(l), "shared line is vfio");
		pv_procint_free(&pi);
	}
	CHECK(pv_irq_is_system(0) && pv_irq_is_system(2) && !pv_irq_is_system(1), "system IRQs");
}

static void test_refusals(void)
{
	CHECK(pv_irq_refusal_is_skip(EIO, false), "EIO (6.1)");
	CHECK(pv_irq_refusal_is_skip(EPERM, false), "EPERM (newer)");
	CHECK(!pv_irq_refusal_is_skip(EINVAL, false), "EINVAL on an ordinary IRQ fails");
	CHECK(pv_irq_refusal_is_skip(EINVAL, true), "EINVAL on a known managed IRQ");
	CHECK(!pv_irq_refusal_is_skip(EBUSY, true), "EBUSY fails");
	CHECK(!pv_irq_refusal_is_skip(ENOSPC, false), "ENOSPC fails");
}

static void msi(const char *bdf, int irq, const char *mode)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/msi_irqs/%d", bdf, irq);
	fr_put(rel, "%s\n", mode);
}

static void attr(const char *bdf, const char *name, const char *val)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/%s", bdf, name);
	fr_put(rel, "%s\n", val);
}

/* A device's IRQs as the program finds them: /proc/interrupts read once,
 * then the device's msi_irqs and INTx against it. */
static int device_irqs(const char *bdf, int *irqs, int max, int *n, struct pv_err *e)
{
	struct pv_procint pi;
	int r;

	*n = 0;
	if (pv_procint_read(&pi, e) < 0)
		return -1;
	r = pv_irq_device_irqs_pi(&pi, bdf, irqs, max, n, e);
	pv_procint_free(&pi);
	return r;
}

static int dev_irqs(const char *bdf, char *out, size_t n)
{
	struct pv_err e = { 0 };
	int irqs[64], k, o = 0;

	out[0] = '\0';
	if (device_irqs(bdf, irqs, 64, &k, &e) < 0) {
		snprintf(out, n, "error: %.400s", e.msg);
		return -1;
	}
	for (int i = 0; i < k; i++)
		o += snprintf(out + o, n - (size_t)o, "%s%d", i ? " " : "", irqs[i]);
	return 0;
}

static void test_device_irqs(void)
{
	char got[512];
	struct pv_err e = { 0 };
	int irqs[4], n;

	fr_new();
	fr_fixture("tr7970x-64cpu-pve6.8.txt");
	for (int i = 107; i <= 110; i++)
		msi("0000:01:00.0", i, "msix");
	attr("0000:01:00.0", "irq", "255"); /* INTx pin routed, unused with MSI-X */
	msi("0000:01:00.1", 111, "msi");
	attr("0000:01:00.1", "irq", "111"); /* MSI on: irq is its first vector */
	attr("0000:47:00.0", "irq", "38");
	fr_dir("/sys/bus/pci/devices/0000:47:00.0");
	attr("0000:09:00.0", "irq", "0");
	fr_dir("/sys/bus/pci/devices/0000:09:00.0/msi_irqs");
	msi("0000:41:00.0", 105, "msi");
	fr_put("/sys/bus/pci/devices/0000:41:00.0/msi_irqs/junk", "x\n");

	dev_irqs("0000:01:00.0", got, sizeof(got));
	CHECK_STR(got, "107 108 109 110");
	dev_irqs("01:00.0", got, sizeof(got));
	CHECK_STR(got, "107 108 109 110");
	dev_irqs("0000:01:00.1", got, sizeof(got));
	CHECK_STR(got, "111");
	dev_irqs("0000:47:00.0", got, sizeof(got));
	CHECK_STR(got, "38");
	dev_irqs("0000:09:00.0", got, sizeof(got));
	CHECK_STR(got, "");
	dev_irqs("0000:41:00.0", got, sizeof(got));
	CHECK_STR(got, "105");
	/* No sysfs directory at all: the per-device chip names still tell. */
	dev_irqs("0000:05:00.0", got, sizeof(got));
	CHECK_STR(got, "95 96 97 98 99");
	CHECK(dev_irqs("../../../etc", got, sizeof(got)) < 0, "bad bdf refused");
	CHECK(device_irqs("0000:01:00.0", irqs, 3, &n, &e) < 0 && e.errnum == E2BIG,
	      "overflow: %s", e.msg);

	/* msi_irqs is the primary signal: an entry the text does not show yet. */
	msi("0000:01:00.0", 113, "msix");
	dev_irqs("0000:01:00.0", got, sizeof(got));
	CHECK_STR(got, "107 108 109 110 113");

	/* 6.1: one global MSI domain; with msi_irqs unreadable the hwirq tells. */
	fr_new();
	fr_fixture("tr7970x-64cpu-6.1.txt");
	dev_irqs("0000:01:00.0", got, sizeof(got));
	CHECK_STR(got, "107 108 109 110");
	dev_irqs("0000:0e:00.3", got, sizeof(got));
	CHECK_STR(got, "100 101 102 103 112");

	/* INTx served by a host driver: named by driver, only without MSI. */
	fr_new();
	fr_fixture("offline-cpus-8.txt");
	attr("0000:00:1f.4", "irq", "16");
	fr_symlink("../../../bus/pci/drivers/i801_smbus",
		   "/sys/bus/pci/devices/0000:00:1f.4/driver");
	attr("0000:04:00.0", "irq", "16");
	attr("0000:00:1f.3", "irq", "16");
	fr_symlink("../../../bus/pci/drivers/snd_hda_intel",
		   "/sys/bus/pci/devices/0000:00:1f.3/driver");
	attr("0000:00:1c.0", "irq", "16");
	msi("0000:00:1c.0", 120, "msi");
	dev_irqs("0000:00:1f.4", got, sizeof(got));
	CHECK_STR(got, "16");
	dev_irqs("0000:04:00.0", got, sizeof(got));
	CHECK_STR(got, "16");
	dev_irqs("0000:00:1f.3", got, sizeof(got));
	CHECK_STR(got, ""); /* routed to 16 but nothing of its own on the line */
	dev_irqs("0000:00:1c.0", got, sizeof(got));
	CHECK_STR(got, "120");
	fr_done();
}

static void test_managed(void)
{
	fr_new();
	fr_put("/sys/kernel/debug/irq/irqs/63",
	       "handler:  handle_edge_irq\ndevice:   0000:02:00.0\nstatus:   0x00004000\n"
	       "istate:   0x00000000\nddepth:   0\nwdepth:   0\ndstate:   0x31601200\n"
	       "            IRQD_ACTIVATED\n            IRQD_IRQ_STARTED\n"
	       "            IRQD_SINGLE_TARGET\n            IRQD_AFFINITY_MANAGED\n");
	fr_put("/sys/kernel/debug/irq/irqs/95",
	       "handler:  handle_edge_irq\ndstate:   0x3400200\n            IRQD_ACTIVATED\n"
	       "            IRQD_IRQ_STARTED\n            IRQD_SINGLE_TARGET\n");
	CHECK_INT(pv_irq_is_managed(63), 1);
	CHECK_INT(pv_irq_is_managed(95), 0);
	CHECK_INT(pv_irq_is_managed(96), -1);
	fr_done();
}

/* Numeric entries of a live msi_irqs directory, counted independently. */
static int count_msi(const char *bdf)
{
	char path[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/msi_irqs", bdf);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] >= '0' && de->d_name[0] <= '9';
	closedir(d);
	return n;
}

static void test_live(void)
{
	static int irqs[PV_IRQ_MAX_DEV_IRQS];
	struct pv_err e = { 0 };
	int n, devs = 0, with = 0;
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;

	/* Read-only discovery on the machine running the tests; a machine
	 * without PCI in sysfs (a container) has nothing to compare. */
	if (!d) {
		SKIP("live host: /sys/bus/pci/devices: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		devs++;
		if (device_irqs(de->d_name, irqs, PV_IRQ_MAX_DEV_IRQS, &n, &e) < 0) {
			CHECK(0, "%s: %s", de->d_name, e.msg);
			continue;
		}
		CHECK(n >= count_msi(de->d_name), "%s: %d IRQs, msi_irqs has %d", de->d_name, n,
		      count_msi(de->d_name));
		with += n > 0;
	}
	closedir(d);
	printf("# live host: %d PCI functions, %d with IRQs\n", devs, with);
}

int main(void)
{
	test_vfio_names();
	test_line_predicates();
	test_refusals();
	test_device_irqs();
	test_managed();
	test_live();
	return tap_done("test_irq_classify");
}
