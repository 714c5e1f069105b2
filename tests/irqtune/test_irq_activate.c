/* Steering through the engine's writer: refusals as skips, idempotence,
 * effective-affinity read-back, dry run, report text. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "conf/cpulist.h"
#include "irqtune/activate.h"
#include "irqtune/irqtune.h"
#include "tests/lib/irq_fakeroot.h"
#include "tests/lib/tap.h"

struct fake {
	int calls;
	char path[64][160];
	char val[64][64];
	int fail_irq[8], fail_err[8], nfail;
	int stuck_irq; /* effective_affinity_list does not follow (moves at next interrupt) */
	bool no_write; /* a dry-run writer: journal only */
};

static int irq_of(const char *path)
{
	const char *p = strstr(path, "/proc/irq/");

	if (!p)
		return -1;
	p += strlen("/proc/irq/");
	return *p >= '0' && *p <= '9' ? atoi(p) : -1;
}

static int fake_writer(void *ctx, const char *path, const char *old, const char *val,
		       struct pv_err *e)
{
	struct fake *f = ctx;
	int irq = irq_of(path);
	char now[256] = "";
	FILE *fp;

	/* the old value handed to the engine is what the file holds; every
	 * file written was planted by the test, so an unreadable one is a bug */
	CHECK(pv_read_file(path, now, sizeof(now), NULL) >= 0, "%s: unreadable", path);
	CHECK(old && strcmp(old, now) == 0, "%s: old '%s' but the file holds '%s'", path,
	      old ? old : "(null)", now);

	for (int i = 0; i < f->nfail; i++)
		if (f->fail_irq[i] == irq)
			return pv_fail(e, f->fail_err[i], "write '%s' to %s", val, path);
	if (f->calls < 64) {
		snprintf(f->path[f->calls], sizeof(f->path[0]), "%s", path + strlen(fr_root));
		snprintf(f->val[f->calls], sizeof(f->val[0]), "%s", val);
	}
	f->calls++;
	if (f->no_write)
		return 0;
	fp = fopen(path, "w");
	if (!fp)
		return pv_fail(e, errno, "open %s", path);
	fprintf(fp, "%s\n", val);
	fclose(fp);
	if (irq >= 0 && irq != f->stuck_irq && strstr(path, "smp_affinity_list")) {
		char rel[96];

		snprintf(rel, sizeof(rel), "/proc/irq/%d/effective_affinity_list", irq);
		fr_put(rel, "%d\n", atoi(val));
	}
	return 0;
}

static hwloc_bitmap_t set(const char *list)
{
	hwloc_bitmap_t b = hwloc_bitmap_alloc();

	pv_cpulist_parse(list, ',', PV_MAX_CPUS, b, NULL);
	return b;
}

static void host(void)
{
	char rel[96];

	fr_new();
	fr_fixture("tr7970x-64cpu-pve6.8.txt");
	for (int irq = 0; irq <= 112; irq++) {
		snprintf(rel, sizeof(rel), "/proc/irq/%d/smp_affinity_list", irq);
		if (irq >= 107 && irq <= 111) {
			fr_put(rel, "40-47\n");
			snprintf(rel, sizeof(rel), "/proc/irq/%d/effective_affinity_list", irq);
			fr_put(rel, "%d\n", irq - 107 + 40);
		} else if (irq >= 63 && irq <= 94) {
			fr_put(rel, "%d,%d\n", irq - 63, irq - 63 + 32);
		} else {
			fr_put(rel, "0-63\n");
		}
	}
	fr_put("/proc/irq/default_smp_affinity", "ffffffff,ffffffff\n");
	for (int irq = 107; irq <= 110; irq++) {
		snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/0000:01:00.0/msi_irqs/%d", irq);
		fr_put(rel, "msix\n");
	}
	fr_put("/sys/bus/pci/devices/0000:01:00.1/msi_irqs/111", "msi\n");
}

static const struct pv_irq_line *line(const struct pv_irq_report *r, int irq)
{
	for (int i = 0; i < r->nline; i++)
		if (r->line[i].irq == irq)
			return &r->line[i];
	return NULL;
}

static const char gpu[2][PV_BDF_LEN] = { "0000:01:00.0", "0000:01:00.1" };

static void test_devices(void)
{
	hwloc_bitmap_t cpus = set("32-39");
	struct pv_irq_report rep = { 0 }, again = { 0 };
	struct fake f = { .stuck_irq = 108 };
	struct pv_err e = { 0 };
	const struct pv_irq_line *l;
	char buf[64];

	host();
	CHECK(pv_irq_steer_devices(gpu, 2, cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_INT(rep.steered, 5);
	CHECK_INT(rep.failed, 0);
	CHECK_INT(f.calls, 5);
	CHECK_STR(f.path[0], "/proc/irq/107/smp_affinity_list");
	CHECK_STR(f.val[0], "32-39");
	CHECK_STR(fr_get("/proc/irq/111/smp_affinity_list", buf, sizeof(buf)), "32-39");
	l = line(&rep, 107);
	CHECK(l && l->status == PV_IRQ_STEERED && strcmp(l->old, "40-47") == 0 &&
		      strcmp(l->effective, "32") == 0 && !l->pending &&
		      strcmp(l->bdf, "0000:01:00.0") == 0,
	      "107 moved");
	l = line(&rep, 108);
	CHECK(l && l->status == PV_IRQ_STEERED && strcmp(l->effective, "41") == 0 && l->pending,
	      "108 pending");

	/* Running the phase again writes nothing. */
	CHECK(pv_irq_steer_devices(gpu, 2, cpus, fake_writer, &f, &again, &e) == 0, "%s", e.msg);
	CHECK_INT(again.unchanged, 5);
	CHECK_INT(again.steered, 0);
	CHECK_INT(f.calls, 5);

	{
		char *text = NULL;
		size_t len = 0;
		FILE *mf = open_memstream(&text, &len);

		pv_irq_report_print(mf, &rep);
		fclose(mf);
		CHECK(text && strstr(text, "irq 107 0000:01:00.0 vfio-msix[0](0000:01:00.0): 40-47 "
					   "-> 32-39 "
					   "(effective 32) steered\n"),
		      "report text:\n%s", text);
		CHECK(text && strstr(text, "5 steered, 0 unchanged"), "summary");
		free(text);
	}
	pv_irq_report_free(&rep);
	pv_irq_report_free(&again);
	hwloc_bitmap_free(cpus);
	fr_done();
}

static void test_refusals(void)
{
	hwloc_bitmap_t cpus = set("32-39");
	struct pv_irq_report rep = { 0 };
	struct fake f = {
		.fail_irq = { 107, 108, 109, 110, 111 },
		.fail_err = { EIO, EPERM, ENOENT, EBUSY, EINVAL },
		.nfail = 5,
		.stuck_irq = -1,
	};
	struct pv_err e = { 0 };
	const struct pv_irq_line *l;

	host();
	CHECK(pv_irq_steer_devices(gpu, 2, cpus, fake_writer, &f, &rep, &e) < 0,
	      "failure reported");
	CHECK(strstr(e.msg, "2 of 5 IRQ affinity writes failed") != NULL, "%s", e.msg);
	CHECK_INT(e.errnum, EBUSY);
	CHECK_INT(rep.skipped_managed, 2);
	CHECK_INT(rep.skipped_gone, 1);
	CHECK_INT(rep.failed, 2);
	CHECK_INT(rep.steered, 0);
	l = line(&rep, 107);
	CHECK(l && l->status == PV_IRQ_SKIP_MANAGED && l->errnum == EIO, "EIO skipped");
	l = line(&rep, 108);
	CHECK(l && l->status == PV_IRQ_SKIP_MANAGED && l->errnum == EPERM, "EPERM skipped");
	l = line(&rep, 111);
	CHECK(l && l->status == PV_IRQ_FAILED && l->errnum == EINVAL, "EINVAL on an ordinary IRQ");
	pv_irq_report_free(&rep);

	/* Known managed (debugfs says so): EINVAL is a refusal too. */
	fr_put("/sys/kernel/debug/irq/irqs/111", "dstate:\n IRQD_AFFINITY_MANAGED\n");
	f.nfail = 1;
	f.fail_irq[0] = 111;
	f.fail_err[0] = EINVAL;
	CHECK(pv_irq_steer_devices(gpu, 2, cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_INT(rep.skipped_managed, 1);
	CHECK_INT(rep.steered, 4);
	pv_irq_report_free(&rep);
	hwloc_bitmap_free(cpus);
	fr_done();
}

static void test_none_yet_and_dry_run(void)
{
	static const char dev[1][PV_BDF_LEN] = { "0000:09:00.0" };
	hwloc_bitmap_t cpus = set("32-39");
	struct pv_irq_report rep = { 0 };
	struct fake f = { .no_write = true, .stuck_irq = -1 };
	struct pv_err e = { 0 };
	char buf[64];

	host();
	CHECK(pv_irq_steer_devices(dev, 1, cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK(rep.nline == 1 && rep.line[0].status == PV_IRQ_NONE_YET, "no IRQs yet");
	CHECK(rep.steered + rep.failed + rep.unchanged == 0, "nothing counted");
	pv_irq_report_free(&rep);

	pv_opt.dry_run = true;
	CHECK(pv_irq_steer_devices(gpu, 2, cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	pv_opt.dry_run = false;
	CHECK_INT(f.calls, 5);
	CHECK_INT(rep.steered, 5);
	CHECK(line(&rep, 107) && line(&rep, 107)->effective[0] == '\0',
	      "no read-back in a dry run");
	CHECK_STR(fr_get("/proc/irq/107/smp_affinity_list", buf, sizeof(buf)), "40-47");
	pv_irq_report_free(&rep);
	hwloc_bitmap_free(cpus);
	fr_done();
}

/* The batch writer over fake_writer: every item comes with the fd the
 * plan read its old value from, open read-write. */
static void fake_batch(void *ctx, struct pv_attr_put *puts, int n)
{
	for (int i = 0; i < n; i++) {
		CHECK(puts[i].fd >= 0 && fcntl(puts[i].fd, F_GETFL) >= 0 &&
			      (fcntl(puts[i].fd, F_GETFL) & O_ACCMODE) == O_RDWR,
		      "%s: no fd open read-write from the plan", puts[i].path);
		puts[i].rc = fake_writer(ctx, puts[i].path, puts[i].old, puts[i].val, &puts[i].err);
	}
}

static void test_others(void)
{
	hwloc_bitmap_t vm = set("0-7,32-39"), hc = set("8-31,40-63");
	struct pv_irq_report rep = { 0 };
	struct fake f = { .fail_irq = { 63 }, .fail_err = { EPERM }, .nfail = 1, .stuck_irq = -1 };
	struct pv_err e = { 0 };
	char buf[64];

	host();
	CHECK(pv_irq_steer_others(vm, hc, fake_batch, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_STR(fr_get("/proc/irq/9/smp_affinity_list", buf, sizeof(buf)), "8-31,40-63");
	CHECK_STR(fr_get("/proc/irq/0/smp_affinity_list", buf, sizeof(buf)), "0-63");
	CHECK_STR(fr_get("/proc/irq/107/smp_affinity_list", buf, sizeof(buf)), "40-47");
	CHECK_STR(fr_get("/proc/irq/70/smp_affinity_list", buf, sizeof(buf)), "8-31,40-63");
	CHECK_STR(fr_get("/proc/irq/75/smp_affinity_list", buf, sizeof(buf)), "12,44");
	CHECK_STR(fr_get("/proc/irq/default_smp_affinity", buf, sizeof(buf)), "ffffffff,ffffffff");
	CHECK_INT(rep.skipped_managed, 1);
	CHECK_INT(rep.failed, 0);
	CHECK(rep.steered > 20, "steered %d", rep.steered);
	CHECK(line(&rep, 63) && line(&rep, 63)->status == PV_IRQ_SKIP_MANAGED, "managed nvme q1");
	pv_irq_report_free(&rep);

	/* Again: everything already off the VM's CPUs. */
	f.calls = 0;
	CHECK(pv_irq_steer_others(vm, hc, fake_batch, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_INT(rep.steered, 0);
	CHECK_INT(rep.skipped_managed, 1); /* the refused one still meets the VM */
	CHECK_INT(f.calls, 0);
	pv_irq_report_free(&rep);

	/* A writer failure that is no refusal is a failure. */
	f.fail_irq[0] = 9;
	fr_put("/proc/irq/9/smp_affinity_list", "0-63\n");
	f.fail_err[0] = EACCES;
	CHECK(pv_irq_steer_others(vm, hc, fake_batch, &f, &rep, &e) < 0 && e.errnum == EACCES,
	      "acpi IRQ write failure: %s", e.msg);
	CHECK_INT(rep.failed, 1);
	pv_irq_report_free(&rep);
	hwloc_bitmap_free(vm);
	hwloc_bitmap_free(hc);
	fr_done();
}

/* A brief report (post-start without -v): the same moves and counts, a
 * line only for the IRQ the kernel refused. */
static void test_others_brief(void)
{
	hwloc_bitmap_t vm = set("0-7,32-39"), hc = set("8-31,40-63");
	struct pv_irq_report rep = { .brief = true };
	struct fake f = { .fail_irq = { 63 }, .fail_err = { EPERM }, .nfail = 1, .stuck_irq = -1 };
	struct pv_err e = { 0 };
	char buf[64];

	host();
	CHECK(pv_irq_steer_others(vm, hc, fake_batch, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_STR(fr_get("/proc/irq/9/smp_affinity_list", buf, sizeof(buf)), "8-31,40-63");
	CHECK_STR(fr_get("/proc/irq/75/smp_affinity_list", buf, sizeof(buf)), "12,44");
	CHECK_INT(rep.skipped_managed, 1);
	CHECK_INT(rep.failed, 0);
	CHECK(rep.steered > 20, "steered %d", rep.steered);
	CHECK_INT(rep.nline, 1);
	CHECK(line(&rep, 63) && line(&rep, 63)->status == PV_IRQ_SKIP_MANAGED, "managed nvme q1");
	pv_irq_report_free(&rep);

	/* a failure still gets its line, and the error names it */
	rep = (struct pv_irq_report){ .brief = true };
	f.fail_irq[0] = 9;
	f.fail_err[0] = EACCES;
	fr_put("/proc/irq/9/smp_affinity_list", "0-63\n");
	CHECK(pv_irq_steer_others(vm, hc, fake_batch, &f, &rep, &e) < 0 && e.errnum == EACCES,
	      "acpi IRQ write failure: %s", e.msg);
	CHECK_INT(rep.failed, 1);
	CHECK(line(&rep, 9) && line(&rep, 9)->status == PV_IRQ_FAILED, "failed line kept");
	pv_irq_report_free(&rep);
	hwloc_bitmap_free(vm);
	hwloc_bitmap_free(hc);
}

/* pre-start: the INTx line (`irq`) of a function no driver holds yet, with
 * its value from before the VM as the old one; none when `irq` is 0 or one
 * of the function's MSI vectors. */
static void test_intx(void)
{
	hwloc_bitmap_t cpus = set("32-39");
	struct pv_irq_report rep = { 0 };
	struct fake f = { .stuck_irq = -1 };
	struct pv_err e = { 0 };
	const struct pv_irq_line *l;
	char buf[64];

	host();
	fr_put("/sys/bus/pci/devices/0000:41:00.0/irq", "11\n");
	fr_put("/proc/irq/11/smp_affinity_list", "0-63\n");
	CHECK(pv_irq_steer_intx("41:00.0", cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_INT(rep.steered, 1);
	CHECK_INT(f.calls, 1);
	CHECK_STR(f.path[0], "/proc/irq/11/smp_affinity_list");
	CHECK_STR(fr_get("/proc/irq/11/smp_affinity_list", buf, sizeof(buf)), "32-39");
	l = line(&rep, 11);
	CHECK(l && strcmp(l->old, "0-63") == 0 && strcmp(l->bdf, "0000:41:00.0") == 0 &&
		      strcmp(l->action, "INTx") == 0,
	      "the line before the VM is the old value");
	pv_irq_report_free(&rep);

	/* again: nothing to write */
	CHECK(pv_irq_steer_intx("0000:41:00.0", cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_INT(rep.unchanged, 1);
	CHECK_INT(f.calls, 1);
	pv_irq_report_free(&rep);

	/* with MSI on, `irq` is the first vector, not the line: nothing */
	fr_put("/sys/bus/pci/devices/0000:01:00.1/irq", "111\n");
	CHECK(pv_irq_steer_intx("0000:01:00.1", cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_INT(rep.nline, 0);
	/* no line routed, or no such attribute: nothing */
	fr_put("/sys/bus/pci/devices/0000:41:00.0/irq", "0\n");
	CHECK(pv_irq_steer_intx("0000:41:00.0", cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK(pv_irq_steer_intx("0000:42:00.0", cpus, fake_writer, &f, &rep, &e) == 0, "%s", e.msg);
	CHECK_INT(rep.nline, 0);
	CHECK_INT(f.calls, 1);
	pv_irq_report_free(&rep);
	hwloc_bitmap_free(cpus);
	fr_done();
}

int main(void)
{
	test_devices();
	test_refusals();
	test_none_yet_and_dry_run();
	test_others();
	test_others_brief();
	test_intx();
	return tap_done("test_irq_activate");
}
