/* The ledger (/run/pvepin/ledger): save/load round trip through the file,
 * the text form parsed back byte for byte, corrupt input refused in one
 * line holding nothing, and what it tells the planner and the phases:
 * claims, conflicts, pending hugepages, the shared housekeeping set, shared
 * settings remembered from before the first VM. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "engine/claims.h"
#include "engine/journal.h"
#include "engine/ledger.h"
#include "tests/lib/tap.h"

static char root[256];

static struct pv_lvm vm(int vmid, const char *state, const char *cpus, const char *host)
{
	struct pv_lvm v = { .vmid = vmid };

	snprintf(v.state, sizeof(v.state), "%s", state);
	snprintf(v.cpus, sizeof(v.cpus), "%s", cpus);
	snprintf(v.host, sizeof(v.host), "%s", host);
	return v;
}

static char *ledger_text(void)
{
	char path[PV_PATH_MAX];

	snprintf(path, sizeof(path), "%s/run/pvepin/ledger", root);
	return pv_slurp(path, NULL, NULL);
}

/* Two VMs, one with pages and devices, two shared settings; a value with a
 * tab, a newline and a backslash in it. */
static void fill(struct pv_ledger *l)
{
	struct pv_lvm a = vm(100, "running", "2-7,34-39", "0-1,32-33");
	struct pv_lvm b = vm(101, "starting", "8-11", "");
	struct pv_err e = { 0 };

	memset(l, 0, sizeof(*l));
	a.page_kb = 1048576;
	a.pages[a.npages++] = (struct pv_plan_pages){ .node = 0, .count = 8 };
	a.pages[a.npages++] = (struct pv_plan_pages){ .node = 3, .count = 4 };
	snprintf(a.devs[a.ndevs++], PV_BDF_LEN, "0000:81:00.0");
	snprintf(a.devs[a.ndevs++], PV_BDF_LEN, "0000:81:00.1");
	CHECK_INT(pv_ledger_put(l, &a, &e), 0);
	CHECK_INT(pv_ledger_put(l, &b, &e), 0);
	CHECK_INT(pv_ledger_share(l, PV_STEP_CPUSET, "cgroupfs:system.slice", "", "0-1,32-33", &e), 0);
	CHECK_INT(pv_ledger_share(l, PV_STEP_CGCTL, "/sys/fs/cgroup/cgroup.subtree_control",
				  "cpu\tmemory\n", "a\\b", &e), 0);
}

static void same(const struct pv_ledger *a, const struct pv_ledger *b)
{
	CHECK_INT(b->nvm, a->nvm);
	CHECK_INT(b->nsh, a->nsh);
	for (int i = 0; i < a->nvm && i < b->nvm; i++) {
		const struct pv_lvm *x = &a->vm[i], *y = pv_ledger_vm(b, x->vmid);

		CHECK(y != NULL, "VM %d lost", x->vmid);
		if (!y)
			continue;
		CHECK_STR(y->state, x->state);
		CHECK_STR(y->cpus, x->cpus);
		CHECK_STR(y->host, x->host);
		CHECK_INT(y->npages, x->npages);
		CHECK_INT(y->ndevs, x->ndevs);
		if (x->npages)
			CHECK_INT(y->page_kb, x->page_kb);
		for (int k = 0; k < x->npages && k < y->npages; k++)
			CHECK(y->pages[k].node == x->pages[k].node && y->pages[k].count == x->pages[k].count,
			      "VM %d page %d: node %d count %ld", x->vmid, k, y->pages[k].node,
			      y->pages[k].count);
		for (int k = 0; k < x->ndevs && k < y->ndevs; k++)
			CHECK_STR(y->devs[k], x->devs[k]);
	}
	for (int i = 0; i < a->nsh; i++) {
		const struct pv_lshared *x = &a->sh[i], *y = pv_ledger_shared(b, x->kind, x->target);

		CHECK(y != NULL, "shared %s lost", x->target);
		if (!y)
			continue;
		CHECK_STR(y->orig, x->orig);
		CHECK_STR(y->written, x->written);
	}
}

static void test_roundtrip(void)
{
	struct pv_ledger l, back, again;
	struct pv_err e = { 0 };
	char *text, *text2;

	CHECK_INT(pv_ledger_load(&l, &e), 0); /* absent: empty */
	CHECK(l.nvm == 0 && l.nsh == 0 && !l.vm && !l.sh, "absent ledger not empty");
	fill(&l);
	CHECK(pv_ledger_save(&l, &e) == 0, "save: %s", e.msg);
	CHECK(pv_ledger_load(&back, &e) == 0, "load: %s", e.msg);
	same(&l, &back);
	text = ledger_text();
	CHECK(text && !strncmp(text, "pvepin-ledger\t2\t", 16), "header: %.40s", text ? text : "(none)");
	/* 6 VM records (one vm, two page, two dev lines; one vm line) and 2 shared */
	CHECK(text && strstr(text, "\nend\t8\t") && text[strlen(text) - 1] == '\n',
	      "end record counting 8: %s", text ? text : "(none)");
	CHECK(text && strstr(text, "cpu\\tmemory\\n") && strstr(text, "a\\\\b"),
	      "tab, newline, backslash escaped: %s", text ? text : "(none)");
	/* the text parses to the same ledger, which saves to the same text */
	CHECK(text && pv_ledger_parse(text, &again, &e) == 0, "parse: %s", e.msg);
	same(&l, &again);
	CHECK(pv_ledger_save(&again, &e) == 0, "save again: %s", e.msg);
	text2 = ledger_text();
	CHECK(text && text2 && !strcmp(text, text2), "second save differs:\n%s\n---\n%s", text,
	      text2 ? text2 : "(none)");
	free(text);
	free(text2);
	pv_ledger_free(&again);
	pv_ledger_free(&back);

	/* the last VM out with nothing shared: the file goes */
	pv_ledger_drop(&l, 100);
	pv_ledger_drop(&l, 101);
	pv_ledger_drop(&l, 555); /* not there: nothing happens */
	pv_ledger_unshare(&l, PV_STEP_CPUSET, "cgroupfs:system.slice");
	pv_ledger_unshare(&l, PV_STEP_CGCTL, "/sys/fs/cgroup/cgroup.subtree_control");
	CHECK(l.nvm == 0 && l.nsh == 0, "dropped: %d VMs, %d shared", l.nvm, l.nsh);
	{
		/* what a save killed before its rename leaves goes too */
		char tmp[512];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s/run/pvepin/ledger.tmp", root);
		f = fopen(tmp, "w");
		CHECK(f != NULL, "plant %s", tmp);
		if (f)
			fclose(f);
		CHECK(pv_ledger_save(&l, &e) == 0, "save empty: %s", e.msg);
		CHECK(access(tmp, F_OK) < 0 && errno == ENOENT, "ledger.tmp left behind");
	}
	text = ledger_text();
	CHECK(text == NULL, "empty ledger left a file: %s", text);
	free(text);
	pv_ledger_free(&l);
}

static void test_corrupt(void)
{
	static const char *const bad[] = {
		"",
		"pvepin-ledger\t2\n",
		"pvepin-journal\t1\n",
		"pvepin-ledger\t1\textra\n",
		"pvepin-ledger\t1\n\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\n",
		"pvepin-ledger\t1\nvm\t0\trunning\t0-3\t\n",
		"pvepin-ledger\t1\nvm\t1000000000\trunning\t0-3\t\n",
		"pvepin-ledger\t1\nvm\tx100\trunning\t0-3\t\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\nvm\t100\trunning\t4-7\t\n",
		"pvepin-ledger\t1\nvm\t100\tthis-state-is-too-long\t0-3\t\n",
		"pvepin-ledger\t1\ndev\t100\t0000:01:00.0\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\ndev\t100\t0000:01:00.0:toolong\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\npage\t100\t0\t0\t8\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\npage\t100\t-1\t2048\t8\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\npage\t100\t0\t2048\t-8\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\npage\t100\t0\t2048\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\\q\n",
		"pvepin-ledger\t1\nshared\tNOPE\tx\t\t\n",
		"pvepin-ledger\t1\nshared\tCPUSET\tx\t\t\nshared\tCPUSET\tx\t\t\n",
		"pvepin-ledger\t1\nshared\tCPUSET\tx\t\n",
		"pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\t\t\t\n",
		"pvepin-ledger\t1\nbogus\n",
	};
	struct pv_ledger l;
	struct pv_err e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CHECK(pv_ledger_parse(bad[i], &l, &e) < 0, "accepted #%zu: %s", i, bad[i]);
		CHECK(!strncmp(e.msg, "ledger:", 7), "#%zu: message '%s'", i, e.msg);
		/* refused: holds nothing, so a caller that does not free leaks nothing */
		CHECK(!l.vm && !l.sh && !l.nvm && !l.nsh, "#%zu: refused parse holds %d VMs %d shared", i,
		      l.nvm, l.nsh);
		pv_ledger_free(&l);
	}
	/* the line is named */
	pv_ledger_parse("pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\nbogus\n", &l, &e);
	CHECK(strstr(e.msg, "ledger:3:") != NULL, "line 3 named: %s", e.msg);
	/* no final newline is fine; a value of every field's maximum is kept */
	CHECK(pv_ledger_parse("pvepin-ledger\t1\nvm\t999999999\tstarting\t0\t", &l, &e) == 0, "%s", e.msg);
	CHECK(l.nvm == 1 && l.vm[0].vmid == 999999999, "VM 999999999");
	pv_ledger_free(&l);
}

/* A corrupt file on disk: load refuses it naming the file, holds nothing. */
static void test_load_corrupt(void)
{
	char path[PV_PATH_MAX];
	struct pv_ledger l;
	struct pv_err e = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/run/pvepin/ledger", root);
	f = fopen(path, "w");
	CHECK(f != NULL, "create %s: %s", path, strerror(errno));
	if (!f)
		return;
	fputs("pvepin-ledger\t1\nvm\t100\trunning\t0-3\t\nvm\t100\n", f);
	fclose(f);
	CHECK(pv_ledger_load(&l, &e) < 0, "corrupt ledger loaded");
	CHECK(strstr(e.msg, path) && strstr(e.msg, "ledger:3:"), "names file and line: %s", e.msg);
	CHECK(!l.vm && !l.nvm, "refused load holds %d VMs", l.nvm);
	unlink(path);
}

static void test_share(void)
{
	struct pv_ledger l = { 0 };
	struct pv_err e = { 0 };
	struct pv_lshared *s;
	char big[PV_JVAL + 8];

	CHECK_INT(pv_ledger_share(&l, PV_STEP_PARTITION, "qemu.slice", "member", "root", &e), 0);
	/* a second VM: what it writes is remembered, the original is not */
	CHECK_INT(pv_ledger_share(&l, PV_STEP_PARTITION, "qemu.slice", "root", "isolated", &e), 0);
	s = pv_ledger_shared(&l, PV_STEP_PARTITION, "qemu.slice");
	CHECK(s && !strcmp(s->orig, "member") && !strcmp(s->written, "isolated"), "orig %s written %s",
	      s ? s->orig : "-", s ? s->written : "-");
	CHECK(pv_ledger_shared(&l, PV_STEP_CPUSET, "qemu.slice") == NULL, "kind is part of the key");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(pv_ledger_share(&l, PV_STEP_CPUSET, "t", big, "", &e) < 0 && e.errnum == E2BIG,
	      "too long accepted: %s", e.msg);
	CHECK_INT(l.nsh, 1);
	pv_ledger_free(&l);
}

static void test_claims(void)
{
	struct pv_ledger l;
	struct pv_claims c;
	struct pv_plan p = { .vmid = 102 };
	struct pv_err e = { 0 };
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char list[64];
	bool any;

	fill(&l);
	CHECK_INT(pv_ledger_others(&l, 100), 1);
	CHECK_INT(pv_ledger_others(&l, 102), 2);

	/* what VM 102 may not have: both others' CPUs and 100's devices */
	CHECK(pv_ledger_claims(&l, 102, &c, &e) == 0, "%s", e.msg);
	pv_cpulist_format(list, sizeof(list), c.cpus);
	CHECK_STR(list, "2-11,34-39");
	CHECK(c.ndevs == 2 && !strcmp(c.devs[1], "0000:81:00.1") && c.devs_vmid[1] == 100,
	      "devices claimed: %d", c.ndevs);
	hwloc_bitmap_free(c.cpus);
	/* its own entry is no claim against itself */
	CHECK(pv_ledger_claims(&l, 100, &c, &e) == 0, "%s", e.msg);
	pv_cpulist_format(list, sizeof(list), c.cpus);
	CHECK_STR(list, "8-11");
	CHECK_INT(c.ndevs, 0);
	hwloc_bitmap_free(c.cpus);

	/* conflicts name both VMs */
	p.vm_cpus = hwloc_bitmap_alloc();
	hwloc_bitmap_set_range(p.vm_cpus, 12, 15);
	CHECK(pv_ledger_conflicts(&l, &p, &e) == 0, "free CPUs: %s", e.msg);
	hwloc_bitmap_set(p.vm_cpus, 9);
	CHECK(pv_ledger_conflicts(&l, &p, &e) < 0 && strstr(e.msg, "VM 102") && strstr(e.msg, "VM 101") &&
	      strstr(e.msg, "CPUs 9"), "CPU 9 of VM 101: %s", e.msg);
	hwloc_bitmap_clr(p.vm_cpus, 9);
	snprintf(p.dev[p.ndev++].bdf, PV_BDF_LEN, "0000:81:00.1");
	CHECK(pv_ledger_conflicts(&l, &p, &e) < 0 && strstr(e.msg, "0000:81:00.1") &&
	      strstr(e.msg, "VM 100"), "device of VM 100: %s", e.msg);
	hwloc_bitmap_free(p.vm_cpus);

	/* pages spoken for: only VMs still starting, only that size and node */
	l.vm[1].page_kb = 2048;
	l.vm[1].pages[l.vm[1].npages++] = (struct pv_plan_pages){ .node = 1, .count = 512 };
	CHECK_INT(pv_ledger_pending_pages(&l, 102, 1, 2048), 512);
	CHECK_INT(pv_ledger_pending_pages(&l, 101, 1, 2048), 0);
	CHECK_INT(pv_ledger_pending_pages(&l, 102, 0, 2048), 0);
	CHECK_INT(pv_ledger_pending_pages(&l, 102, 1, 1048576), 0);
	CHECK_INT(pv_ledger_pending_pages(&l, 102, 0, 1048576), 0); /* 100 is running */

	/* housekeeping: the isolating VMs' host sets, minus every VM's CPUs */
	CHECK(pv_ledger_host_set(&l, 0, set, &any, &e) == 0 && any, "%s", e.msg);
	pv_cpulist_format(list, sizeof(list), set);
	CHECK_STR(list, "0-1,32-33");
	snprintf(l.vm[1].host, sizeof(l.vm[1].host), "0,8,40");
	CHECK(pv_ledger_host_set(&l, 0, set, &any, &e) == 0 && any, "%s", e.msg);
	pv_cpulist_format(list, sizeof(list), set);
	CHECK_STR(list, "0"); /* 8 is 101's own, 40 not 100's */
	CHECK(pv_ledger_host_set(&l, 100, set, &any, &e) == 0 && any, "%s", e.msg);
	pv_cpulist_format(list, sizeof(list), set);
	CHECK_STR(list, "0,40");
	l.vm[1].host[0] = '\0';
	CHECK(pv_ledger_host_set(&l, 100, set, &any, &e) == 0 && !any, "no isolating VM");

	/* a CPU list the ledger cannot have written: refused, not guessed */
	snprintf(l.vm[1].cpus, sizeof(l.vm[1].cpus), "8-x");
	CHECK(pv_ledger_claims(&l, 102, &c, &e) < 0 && strstr(e.msg, "VM 101"), "bad list: %s", e.msg);
	/* and holds nothing: pv_claims_load's callers free only on success */
	CHECK(c.cpus == NULL, "a failed pv_ledger_claims keeps its CPU set");
	hwloc_bitmap_free(c.cpus);
	pv_ledger_free(&l);
	hwloc_bitmap_free(set);
}

static void test_from_plan(void)
{
	struct pv_plan p = { .vmid = 103, .hp_kb = 2048, .npages = 2, .ndev = 1 };
	struct pv_lvm v;
	struct pv_err e = { 0 };

	p.vm_cpus = hwloc_bitmap_alloc();
	p.host_cpus = hwloc_bitmap_alloc();
	hwloc_bitmap_set_range(p.vm_cpus, 4, 7);
	hwloc_bitmap_set_range(p.host_cpus, 0, 1);
	p.pages[0] = (struct pv_plan_pages){ .node = 0, .count = 100 };
	p.pages[1] = (struct pv_plan_pages){ .node = 2, .count = 28 };
	snprintf(p.dev[0].bdf, PV_BDF_LEN, "0000:41:00.0");
	CHECK_INT(pv_ledger_from_plan(&v, &p, true, &e), 0);
	CHECK(v.vmid == 103 && !strcmp(v.state, "starting"), "vmid %d state %s", v.vmid, v.state);
	CHECK_STR(v.cpus, "4-7");
	CHECK_STR(v.host, "0-1");
	CHECK(v.page_kb == 2048 && v.npages == 2 && v.pages[1].node == 2 && v.pages[1].count == 28,
	      "pages");
	CHECK(v.ndevs == 1 && !strcmp(v.devs[0], "0000:41:00.0"), "devices");
	/* a VM that does not isolate asks for no host set */
	CHECK_INT(pv_ledger_from_plan(&v, &p, false, &e), 0);
	CHECK_STR(v.host, "");
	hwloc_bitmap_free(p.vm_cpus);
	hwloc_bitmap_free(p.host_cpus);
}

/* ---- a corrupt ledger rebuilt from the journals ---- */

/* root/REL holding text (parents made) */
static void put_file(const char *rel, const char *text, size_t len)
{
	char path[PV_PATH_MAX], dir[PV_PATH_MAX], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = dir + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	CHECK(f != NULL, "create %s: %s", path, strerror(errno));
	if (!f)
		return;
	CHECK(fwrite(text, 1, len, f) == len, "write %s", path);
	fclose(f);
}

static void jstep(struct pv_journal *j, enum pv_phase ph, enum pv_step_kind k, const char *target,
		  const char *old, const char *nv, bool undo)
{
	struct pv_err e = { 0 };
	long seq;

	CHECK(pv_journal_step(j, ph, k, target, old, nv, &seq, &e) == 0, "step %s: %s", target, e.msg);
	CHECK(pv_journal_done(j, seq, nv, &e) == 0, "done %s: %s", target, e.msg);
	if (undo)
		CHECK(pv_journal_undone(j, seq, "restored", &e) == 0, "undone %s: %s", target, e.msg);
}

/* VM 102 started first and is gone (no pid file, no agent): its journal
 * still holds its changes. VM 101 started second and runs (its pid file
 * names a process of the tree's /proc): what it holds is in its journal,
 * one rebind already undone. VM 103 runs with every step undone. */
static void journals(void)
{
	struct pv_journal j;
	struct pv_err e = { 0 };

	put_file("/sys/devices/system/cpu/online", "0-7\n", 4);
	CHECK(pv_journal_open(&j, 102, &e) == 0, "journal 102: %s", e.msg);
	jstep(&j, PV_PRE_START, PV_STEP_PARTITION, "cgroupfs:qemu.slice", "member", "root", false);
	jstep(&j, PV_PRE_START, PV_STEP_PARTCPUS, "cgroupfs:qemu.slice", "", "4-7", false);
	jstep(&j, PV_PRE_START, PV_STEP_HUGEPAGES, "node1/1048576kB", "0", "4", false);
	jstep(&j, PV_PRE_START, PV_STEP_REBIND, "0000:05:00.0", "nvme|", "vfio-pci", false);
	pv_journal_close(&j);

	CHECK(pv_journal_open(&j, 101, &e) == 0, "journal 101: %s", e.msg);
	jstep(&j, PV_PRE_START, PV_STEP_CGCTL, "/", "off", "on", false);
	jstep(&j, PV_PRE_START, PV_STEP_PARTCPUS, "cgroupfs:qemu.slice", "4-7", "2-7", false);
	jstep(&j, PV_PRE_START, PV_STEP_HUGEPAGES, "node0/1048576kB", "1", "3", false);
	jstep(&j, PV_PRE_START, PV_STEP_REBIND, "0000:02:00.0", "e1000e|", "vfio-pci", false);
	jstep(&j, PV_PRE_START, PV_STEP_REBIND, "0000:03:00.0", "e1000e|", "vfio-pci", true);
	jstep(&j, PV_PRE_START, PV_STEP_GOVERNOR,
	      "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "schedutil", "performance", false);
	jstep(&j, PV_POST_START, PV_STEP_CPUSET, "cgroupfs:qemu.slice/101.scope", "", "2-3", false);
	jstep(&j, PV_POST_START, PV_STEP_AFFINITY, "4242/4243@1000", "0-7", "3", false);
	jstep(&j, PV_POST_START, PV_STEP_IRQ, "/proc/irq/30/smp_affinity_list", "0-7", "6-7", false);
	pv_journal_close(&j);
	put_file("/run/qemu-server/101.pid", "4242\n", 5);
	put_file("/proc/4242/stat", "4242 (kvm) S\n", 13);

	CHECK(pv_journal_open(&j, 103, &e) == 0, "journal 103: %s", e.msg);
	jstep(&j, PV_PRE_START, PV_STEP_REBIND, "0000:06:00.0", "e1000e|", "vfio-pci", true);
	pv_journal_close(&j);
	put_file("/run/qemu-server/103.pid", "4343\n", 5);
	put_file("/proc/4343/stat", "4343 (kvm) S\n", 13);
}

/* Exactly what the live VMs' journals say, and the shared settings with
 * the host's values from before the first VM (102's). */
static void expected(struct pv_ledger *l)
{
	struct pv_lvm v = vm(101, "running", "2-3", "0-1");
	struct pv_err e = { 0 };

	memset(l, 0, sizeof(*l));
	v.page_kb = 1048576;
	v.pages[v.npages++] = (struct pv_plan_pages){ .node = 0, .count = 2 };
	snprintf(v.devs[v.ndevs++], PV_BDF_LEN, "0000:02:00.0");
	CHECK_INT(pv_ledger_put(l, &v, &e), 0);
	CHECK_INT(pv_ledger_share(l, PV_STEP_PARTITION, "cgroupfs:qemu.slice", "member", "root", &e), 0);
	CHECK_INT(pv_ledger_share(l, PV_STEP_PARTCPUS, "cgroupfs:qemu.slice", "", "2-7", &e), 0);
	CHECK_INT(pv_ledger_share(l, PV_STEP_CGCTL, "/", "off", "on", &e), 0);
}

static char *slurp_rel(const char *rel)
{
	char path[PV_PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	return pv_slurp(path, NULL, NULL);
}

/* Run f with stderr going to a file; its text back. */
static char *stderr_of(int (*f)(struct pv_ledger *, bool, struct pv_err *), struct pv_ledger *l,
		       bool keep, struct pv_err *e, int *rc)
{
	char path[PV_PATH_MAX];
	int saved = dup(2), fd;

	snprintf(path, sizeof(path), "%s/stderr", root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fflush(stderr);
	dup2(fd, 2);
	*rc = f(l, keep, e);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	return slurp_rel("/stderr");
}

static void test_rebuild_one(const char *what, const char *bad, size_t len, const char *aside)
{
	struct pv_ledger want, got, back;
	struct pv_err e = { 0 };
	char rel[64], *said, *kept;
	int rc;

	expected(&want);
	put_file("/run/pvepin/ledger", bad, len);
	CHECK(pv_ledger_load(&got, &e) < 0 && e.errnum == EBADMSG, "%s: load: %d %s", what,
	      e.errnum, e.msg);

	/* without the lock (plan, status): used, not kept */
	said = stderr_of(pv_ledger_load_repair, &got, false, &e, &rc);
	CHECK(rc == 0, "%s: repair in memory: %s", what, e.msg);
	if (rc == 0)
		same(&want, &got);
	pv_ledger_free(&got);
	kept = slurp_rel("/run/pvepin/ledger");
	CHECK(kept && !memcmp(kept, bad, len), "%s: the file was touched without the lock", what);
	CHECK(said && strstr(said, "using a ledger rebuilt"), "%s: said: %s", what, said ? said : "");
	free(kept);
	free(said);

	/* a phase (the lock held): set aside, rebuilt, saved, one line */
	said = stderr_of(pv_ledger_load_repair, &got, true, &e, &rc);
	CHECK(rc == 0, "%s: repair: %s", what, e.msg);
	if (rc == 0)
		same(&want, &got);
	CHECK(!pv_ledger_vm(&got, 102) && !pv_ledger_vm(&got, 103), "%s: stale VM 102 or VM 103 "
	      "with nothing live rebuilt", what);
	pv_ledger_free(&got);
	snprintf(rel, sizeof(rel), "/run/pvepin/%s", aside);
	kept = slurp_rel(rel);
	CHECK(kept && !memcmp(kept, bad, len), "%s: corrupt file not kept as %s", what, aside);
	free(kept);
	CHECK(said != NULL, "%s: nothing said", what);
	if (!said)
		said = strdup("");
	CHECK(*said && strchr(said, '\n') == said + strlen(said) - 1, "%s: not one line: %s", what,
	      said);
	CHECK(strstr(said, aside) && strstr(said, "VM 101 (CPUs 2-3, 1 device, 2 pages)") &&
	      strstr(said, "3 shared settings") && strstr(said, "left out") &&
	      strstr(said, "VM 102") && !strstr(said, "VM 103"), "%s: said: %s", what, said);
	free(said);
	CHECK(pv_ledger_load(&back, &e) == 0, "%s: rebuilt ledger does not load: %s", what, e.msg);
	same(&want, &back);
	pv_ledger_free(&back);
	pv_ledger_free(&want);
}

static void test_rebuild(void)
{
	struct pv_ledger old;
	struct pv_err e = { 0 };
	char *good, *nl, *sum;
	size_t len;

	journals();
	/* the corrupt files start from a good ledger of other claims */
	fill(&old);
	CHECK(pv_ledger_save(&old, &e) == 0, "save: %s", e.msg);
	pv_ledger_free(&old);
	good = ledger_text();
	CHECK(good != NULL, "no ledger saved");
	if (!good)
		return;
	len = strlen(good);
	test_rebuild_one("truncated mid-line", good, len / 2, "ledger.corrupt");
	nl = strstr(good, "\nend\t");
	CHECK(nl != NULL, "no end record");
	if (nl)
		test_rebuild_one("truncated at a line", good, (size_t)(nl - good) + 1,
				 "ledger.corrupt.1");
	test_rebuild_one("garbage", "\x7f" "ELF\x02\x01\x01\0\0garbage\n\xff\xfe", 19,
			 "ledger.corrupt.2");
	/* a value changed, its checksum not: "2-7,34-39" -> "2-8,34-39" */
	sum = strstr(good, "2-7,34-39");
	CHECK(sum != NULL, "no cpus in %s", good);
	if (sum) {
		sum[2] = '8';
		test_rebuild_one("bad checksum", good, len, "ledger.corrupt.3");
	}
	free(good);

	/* a ledger that cannot be read (not a corrupt one) is still an error */
	{
		char path[PV_PATH_MAX];
		struct pv_ledger l;

		snprintf(path, sizeof(path), "%s/run/pvepin/ledger", root);
		unlink(path);
		CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
		CHECK(pv_ledger_load_repair(&l, true, &e) < 0 && e.errnum != EBADMSG,
		      "a directory for a ledger was rebuilt over: %s", e.msg);
		rmdir(path);
	}
}

/* The known leak: pv_claims_load on a ledger whose CPU list does not
 * parse returned with its CPU set still allocated. */
static void test_claims_load_fails_clean(void)
{
	static const char bad[] = "pvepin-ledger\t1\nvm\t101\trunning\t8-x\t\n";
	struct pv_claims c;
	struct pv_err e = { 0 };

	put_file("/run/pvepin/ledger", bad, sizeof(bad) - 1);
	CHECK(pv_claims_load(&c, 102, &e) < 0 && strstr(e.msg, "VM 101"), "bad list: %s", e.msg);
	CHECK(c.cpus == NULL && c.ndevs == 0, "a failed pv_claims_load holds its claims");
	pv_claims_free(&c);
	put_file("/run/pvepin/ledger", "", 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/pvepin-ledger-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		CHECK(0, "mkdtemp %s: %s", root, strerror(errno));
		return tap_done("test_ledger");
	}
	pv_opt.root = root;
	test_roundtrip();
	test_corrupt();
	test_load_corrupt();
	test_share();
	test_claims();
	test_from_plan();
	test_claims_load_fails_clean();
	test_rebuild();
	pv_opt.root = "";
	CHECK(nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS) == 0, "rm %s", root);
	return tap_done("test_ledger");
}
