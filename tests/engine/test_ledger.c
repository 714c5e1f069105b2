/* The ledger (/run/pvepin/ledger): save/load round trip through the file,
 * the text form parsed back byte for byte, corrupt input refused in one
 * line holding nothing, and what it tells the planner and the phases:
 * claims, conflicts, pending hugepages, the shared housekeeping set, shared
 * settings remembered from before the first VM. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"
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
	CHECK(text && !strncmp(text, "pvepin-ledger\t1\n", 16), "header: %.40s", text ? text : "(none)");
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
	pv_opt.root = "";
	CHECK(nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS) == 0, "rm %s", root);
	return tap_done("test_ledger");
}
