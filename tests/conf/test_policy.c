/* The policy ini (conf/policy.c): every key and value, the errors with
 * file:line, and the search path with its ownership checks. */
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/opts.h"
#include "conf/policy.h"
#include "tests/lib/tap.h"

static struct pv_policy pol; /* large: keep it off the stack */

static char *set_str(hwloc_const_bitmap_t b)
{
	static char buf[256];

	if (!b)
		return strcpy(buf, "(auto)");
	if (pv_cpulist_format(buf, sizeof(buf), b) < 0)
		strcpy(buf, "(overflow)");
	return buf;
}

static int parse(const char *text, struct pv_err *e)
{
	memset(e, 0, sizeof(*e));
	return pv_policy_parse_string(text, "t.ini", &pol, e);
}

static void test_defaults(void)
{
	struct pv_err e;

	CHECK(parse("", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.mode, PV_MODE_AUTO);
	CHECK_INT(pol.vcpus_count, 0);
	CHECK_INT(pol.vcpus_n, 0);
	CHECK_INT(pol.prefer, PV_PREFER_CACHE);
	CHECK_INT(pol.max_l3, 2);
	CHECK_INT(pol.smt, PV_AUTO);
	CHECK_INT(pol.hugepages, PV_HP_AUTO);
	CHECK(pol.nodes == NULL, "nodes auto");
	CHECK(pol.vfio_auto && pol.nvfio == 0, "vfio auto");
	CHECK(pol.restore_driver, "restore_driver");
	CHECK(pol.irq_steer, "steer");
	CHECK(pol.irq_cpus == NULL, "irq cpus auto");
	CHECK_INT(pol.irqbalance, PV_IRQB_BAN);
	CHECK(pol.isolate, "isolate");
	CHECK_STR(pol.governor, "performance");
	CHECK_STR(pol.source, "");
	CHECK_STR(pv_mode_name(PV_MODE_WORKSTATION), "workstation");
	pv_policy_free(&pol);

	/* doc/DESIGN.md "Policy file": its example is valid and means the defaults */
	CHECK(parse("[vm]\nmode = gaming            ; gaming | workstation | manual\n"
		    "vcpus = auto             ; auto | count | cpu list (manual)\n"
		    "prefer = cache           ; cache | frequency  (asymmetric L3 parts)\n"
		    "max_l3 = 2\nsmt = auto               ; off | on | auto\n[memory]\n"
		    "hugepages = auto         ; auto (as the VM config's hugepages:) | 1G | 2M | off\n"
		    "nodes = auto             ; auto | node list\n[devices]\n"
		    "vfio = auto              ; auto = every hostpciN of the VM config; or BDF list\n"
		    "restore_driver = yes\n[irq]\nsteer = yes\ncpus = auto\nirqbalance = ban\n[host]\n"
		    "isolate = yes            ; move host tasks off the VM's CPUs while it runs\n"
		    "governor = performance\n", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.mode, PV_MODE_GAMING);
	CHECK_INT(pol.max_l3, 2);
	pv_policy_free(&pol);
}

static void test_values(void)
{
	struct pv_err e;

	CHECK(parse("[vm]\nmode = workstation\nvcpus = 24\nprefer = Frequency\nmax_l3 = 64\nsmt = on\n"
		    "[memory]\nhugepages = 2m\nnodes = 0-1,3\n"
		    "[devices]\nvfio = 0000:81:00.0 81:00.1,4b:00 ,  5D:00.0\nrestore_driver = false\n"
		    "[irq]\nsteer = 0\ncpus = 32-39,96\nirqbalance = ignore\n"
		    "[host]\nisolate = no\ngovernor = powersave\n", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.mode, PV_MODE_WORKSTATION);
	CHECK_INT(pol.vcpus_count, 24);
	CHECK_INT(pol.vcpus_n, 0);
	CHECK_INT(pol.prefer, PV_PREFER_FREQUENCY);
	CHECK_INT(pol.max_l3, 64);
	CHECK_INT(pol.smt, PV_ON);
	CHECK_INT(pol.hugepages, PV_HP_2M);
	CHECK_STR(set_str(pol.nodes), "0-1,3");
	CHECK(!pol.vfio_auto, "vfio list");
	CHECK_INT(pol.nvfio, 4);
	CHECK(pol.vfio[0].bus == 0x81 && pol.vfio[0].fn == 0 && !pol.vfio[0].all_fn, "vfio0");
	CHECK(pol.vfio[1].bus == 0x81 && pol.vfio[1].fn == 1, "vfio1");
	CHECK(pol.vfio[2].bus == 0x4b && pol.vfio[2].all_fn, "vfio2 all functions");
	CHECK(pol.vfio[3].bus == 0x5d, "vfio3");
	CHECK(!pol.restore_driver, "restore_driver false");
	CHECK(!pol.irq_steer, "steer 0");
	CHECK_STR(set_str(pol.irq_cpus), "32-39,96");
	CHECK_INT(pol.irqbalance, PV_IRQB_IGNORE);
	CHECK(!pol.isolate, "isolate no");
	CHECK_STR(pol.governor, "powersave");
	pv_policy_free(&pol);

	/* '#' and ';' comments after a space, keep, 1G, true/1 */
	CHECK(parse("# top\n; top\n[vm]   ; section comment\nsmt=off #c\nmax_l3 = 3\t;c\n"
		    "[memory]\nhugepages = 1g # x\n[host]\ngovernor = keep\nisolate = TRUE\n"
		    "[irq]\nsteer = 1\n\n\n", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.smt, PV_OFF);
	CHECK_INT(pol.max_l3, 3);
	CHECK_INT(pol.hugepages, PV_HP_1G);
	CHECK_STR(pol.governor, "");
	CHECK(pol.isolate && pol.irq_steer, "bools");
	pv_policy_free(&pol);

	CHECK(parse("[memory]\nhugepages = off\n[host]\ngovernor = schedutil\n", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.hugepages, PV_HP_OFF);
	CHECK_STR(pol.governor, "schedutil");
	pv_policy_free(&pol);
}

static void test_vcpus_list(void)
{
	struct pv_err e;

	CHECK(parse("[vm]\nvcpus = 0,32,1,33,8-9\n", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.mode, PV_MODE_MANUAL); /* a list implies manual */
	CHECK_INT(pol.vcpus_n, 6);
	CHECK_INT(pol.vcpus_count, 6);
	CHECK(pol.vcpus_list[0] == 0 && pol.vcpus_list[1] == 32 && pol.vcpus_list[2] == 1 &&
	      pol.vcpus_list[3] == 33 && pol.vcpus_list[4] == 8 && pol.vcpus_list[5] == 9,
	      "written order kept");
	pv_policy_free(&pol);

	CHECK(parse("[vm]\nmode = manual\nvcpus = 4-7\n", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.mode, PV_MODE_MANUAL);
	CHECK_INT(pol.vcpus_n, 4);
	pv_policy_free(&pol);
	/* order in the file does not matter */
	CHECK(parse("[vm]\nvcpus = 4-7\nmode = MANUAL\n", &e) == 0, "%s", e.msg);
	pv_policy_free(&pol);
	CHECK(parse("[vm]\nvcpus = 8\nmode = auto\n", &e) == 0, "%s", e.msg);
	CHECK_INT(pol.vcpus_count, 8);
	CHECK_INT(pol.vcpus_n, 0);
	pv_policy_free(&pol);
}

static void test_files(void)
{
	struct pv_err e = { 0 };

	CHECK(pv_policy_load(100, "tests/fixtures/conf/gaming.ini", false, &pol, &e) == 0, "%s", e.msg);
	CHECK_STR(pol.source, "tests/fixtures/conf/gaming.ini");
	CHECK_INT(pol.mode, PV_MODE_GAMING);
	CHECK_INT(pol.max_l3, 1);
	CHECK_INT(pol.smt, PV_OFF);
	CHECK_INT(pol.hugepages, PV_HP_1G);
	CHECK_STR(set_str(pol.nodes), "0");
	CHECK_INT(pol.nvfio, 2);
	CHECK_STR(set_str(pol.irq_cpus), "32-39");
	CHECK_STR(pol.governor, "");
	pv_policy_free(&pol);

	CHECK(pv_policy_load(100, "tests/fixtures/conf/manual.ini", false, &pol, &e) == 0, "%s", e.msg);
	CHECK_INT(pol.mode, PV_MODE_MANUAL);
	CHECK_INT(pol.vcpus_n, 8);
	CHECK_INT(pol.vcpus_list[7], 35);
	CHECK_INT(pol.hugepages, PV_HP_2M);
	CHECK(pol.nodes == NULL, "nodes auto");
	CHECK(pol.nvfio == 2 && pol.vfio[0].all_fn, "vfio");
	CHECK(!pol.restore_driver && !pol.irq_steer && !pol.isolate, "bools off");
	CHECK_STR(pol.governor, "schedutil");
	pv_policy_free(&pol);

	CHECK(pv_policy_load(100, "tests/fixtures/conf/bad-key.ini", false, &pol, &e) < 0, "bad key");
	CHECK(strstr(e.msg, "tests/fixtures/conf/bad-key.ini:3: unknown key 'cores' in [vm] (allowed: mode, vcpus, prefer, max_l3, smt)"),
	      "%s", e.msg);
	pv_policy_free(&pol);
}

/* Must fail with "t.ini:LINE: ..." containing what. */
static void bad(const char *text, int line, const char *what)
{
	struct pv_err e;
	char where[32];

	snprintf(where, sizeof(where), "t.ini:%d: ", line);
	CHECK(parse(text, &e) < 0, "accepted: %s", text);
	CHECK(strncmp(e.msg, where, strlen(where)) == 0, "'%s': message '%s' does not start with '%s'",
	      text, e.msg, where);
	CHECK(strstr(e.msg, what) != NULL, "'%s': message '%s' lacks '%s'", text, e.msg, what);
	pv_policy_free(&pol);
}

static void test_bad(void)
{
	char big[512];

	bad("[vm]\nmode = fast\n", 2, "mode = 'fast'");
	bad("[vm]\nmode = fast\n", 2, "(allowed: gaming, workstation, manual, auto)");
	bad("[vm]\nmode =\n", 2, "mode = ''");
	bad("[vm]\nmode = gaming extra\n", 2, "allowed");
	bad("[vm]\nvcpus = 0\n", 2, "a count must be 1..8192");
	bad("[vm]\nvcpus = 99999999999999999999\n", 2, "vcpus");
	bad("[vm]\nvcpus = 7-0\n", 2, "bad range");
	bad("[vm]\nvcpus = 0,1,0\n", 2, "twice");
	bad("[vm]\nvcpus = 0-3,x\n", 2, "vcpus");
	bad("[vm]\nvcpus = 8193\n", 2, "1..8192");
	bad("[vm]\nvcpus = 0-7\nmode = gaming\n", 3, "conflicts with the cpu list");
	bad("[vm]\nmode = manual\n", 2, "mode = manual needs a cpu list in [vm] vcpus");
	bad("[vm]\nmode = manual\nvcpus = 8\n", 2, "needs a cpu list");
	bad("[vm]\nmax_l3 = 0\n", 2, "allowed: 1..64");
	bad("[vm]\nmax_l3 = 65\n", 2, "1..64");
	bad("[vm]\nmax_l3 = 2x\n", 2, "max_l3");
	bad("[vm]\nsmt = maybe\n", 2, "allowed: off, on, auto");
	bad("[vm]\nsmt = off#c\n", 2, "smt = 'off#c'");
	bad("[vm]\nsmt = off;c\n", 2, "smt = 'off;c'");
	bad("[vm]\nsmt = # nothing\n", 2, "smt = ''");
	bad("[devices]\nvfio = 81:00.0;81:00.1\n", 2, "bad PCI address '81:00.0;81:00.1'");
	bad("\xef\xbb\xbf[vmx]\n", 1, "unknown section [vmx]");
	bad("[vm]\nprefer = size\n", 2, "allowed: cache, frequency");
	bad("[memory]\nhugepages = 4k\n", 2, "allowed: auto, 1G, 2M, off");
	bad("[memory]\nnodes = 0-\n", 2, "nodes");
	bad("[memory]\nnodes = 1024\n", 2, "nodes");
	bad("[devices]\nvfio = 0000:81:00.0,zz\n", 2, "bad PCI address 'zz'");
	bad("[devices]\nvfio = ../../x\n", 2, "bad PCI address");
	bad("[devices]\nvfio = 81:00.0 0000:81:00.0\n", 2, "listed twice");
	bad("[devices]\nvfio = ,\n", 2, "no device listed");
	bad("[devices]\nvfio = auto 81:00.0\n", 2, "bad PCI address 'auto'");
	bad("[devices]\nrestore_driver = maybe\n", 2, "allowed: yes, no, true, false, 1, 0");
	bad("[irq]\nsteer = on\n", 2, "steer");
	bad("[irq]\ncpus = 5-3\n", 2, "bad range");
	bad("[irq]\nirqbalance = stop\n", 2, "allowed: ban, ignore");
	bad("[host]\nisolate = 2\n", 2, "isolate");
	bad("[host]\ngovernor = turbo\n", 2, "allowed: performance, powersave");
	bad("[vm]\nmode = gaming\nmode = workstation\n", 3, "mode given twice in [vm]");
	bad("[vm]\nmode = gaming\n  workstation\n", 3, "given twice");
	bad("[vm]\n[irq]\ncpus = 1\n[vm]\nsmt = on\n[irq]\ncpus = 2\n", 7, "cpus given twice");
	bad("[vm]\ncores = 8\n", 2, "unknown key 'cores' in [vm] (allowed: mode, vcpus, prefer, max_l3, smt)");
	bad("[irq]\nmode = gaming\n", 2, "unknown key 'mode' in [irq] (allowed: steer, cpus, irqbalance)");
	bad("[VM]\nmode = gaming\n", 1, "unknown section [VM] (allowed: vm, memory, devices, irq, host)");
	bad("[vm]\nsmt = on\n[cpu]\n", 3, "unknown section [cpu]");
	bad("mode = gaming\n", 1, "outside any section");
	bad("[vm\nmode = gaming\n", 1, "syntax error");
	bad("[vm]\nmode gaming\n", 2, "syntax error");
	bad("[vm]\nsmt = on\n\nwhat\n[vm]\n", 4, "syntax error");
	/* the first error is reported, whichever kind */
	bad("[vm]\nsmt = x\nnope\n", 2, "smt");
	bad("[vm]\nnope\nsmt = x\n", 2, "syntax error");

	memset(big, '0', sizeof(big));
	memcpy(big, "[vm]\nvcpus = 1", 14);
	strcpy(big + 300, "\n");
	bad(big, 2, "line longer than 198 characters");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0, "create %s", path);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", path);
	CHECK(fchmod(fd, mode) == 0, "chmod %s", path);
	close(fd);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void mkdirs(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	mkdir(path, 0755);
}

static void test_load(void)
{
	char dir[] = "/tmp/pvepin-policy-XXXXXX", cl[256], loc[256];
	struct pv_err e = { 0 };
	bool root = geteuid() == 0;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	pv_opt.root = dir;
	mkdirs(dir, "etc/pve/pvepin");
	mkdirs(dir, "etc/pvepin");
	snprintf(cl, sizeof(cl), "%s/etc/pve/pvepin/100.ini", dir);
	snprintf(loc, sizeof(loc), "%s/etc/pvepin/100.ini", dir);

	/* no file anywhere: the defaults */
	CHECK(pv_policy_load(100, NULL, true, &pol, &e) == 0, "%s", e.msg);
	CHECK_STR(pol.source, "");
	CHECK_INT(pol.max_l3, 2);
	pv_policy_free(&pol);

	/* the node-local file, then the cluster one before it */
	write_file(loc, "[vm]\nmax_l3 = 3\n", 0644);
	CHECK(pv_policy_load(100, NULL, false, &pol, &e) == 0, "%s", e.msg);
	CHECK_STR(pol.source, loc);
	CHECK_INT(pol.max_l3, 3);
	pv_policy_free(&pol);
	write_file(cl, "[vm]\nmax_l3 = 4\n[memory]\nnodes = 1\n", 0640);
	CHECK(pv_policy_load(100, NULL, false, &pol, &e) == 0, "%s", e.msg);
	CHECK_STR(pol.source, cl);
	CHECK_INT(pol.max_l3, 4);
	CHECK_STR(set_str(pol.nodes), "1");
	pv_policy_free(&pol);
	if (root) {
		CHECK(pv_policy_load(100, NULL, true, &pol, &e) == 0, "root-owned 0640: %s", e.msg);
		pv_policy_free(&pol);
	}

	/* unsafe files are refused, with the fix in the message */
	CHECK(chmod(cl, 0664) == 0, "chmod");
	CHECK(pv_policy_load(100, NULL, true, &pol, &e) < 0, "group-writable accepted");
	CHECK(strstr(e.msg, root ? "chmod go-w" : "chown root:root"), "%s", e.msg);
	pv_policy_free(&pol);
	CHECK(chmod(cl, 0646) == 0, "chmod");
	CHECK(pv_policy_load(100, NULL, true, &pol, &e) < 0, "world-writable accepted");
	pv_policy_free(&pol);
	CHECK(pv_policy_load(100, NULL, false, &pol, &e) == 0, "check_owner=false: %s", e.msg);
	pv_policy_free(&pol);
	CHECK(chmod(cl, 0644) == 0, "chmod");
	if (root) {
		CHECK(chown(cl, 1000, 1000) == 0, "chown");
		CHECK(pv_policy_load(100, NULL, true, &pol, &e) < 0, "user-owned accepted");
		CHECK(strstr(e.msg, "owned by uid 1000, not root (fix: chown root:root"), "%s", e.msg);
		pv_policy_free(&pol);
	}

	/* a bad file is an error naming it, never a fallback to the next */
	write_file(cl, "[vm]\nmax_l3 = 4\nbogus = 1\n", 0644);
	CHECK(pv_policy_load(100, NULL, false, &pol, &e) < 0, "bad file accepted");
	CHECK(strstr(e.msg, "pve/pvepin/100.ini:3: unknown key 'bogus'"), "%s", e.msg);
	pv_policy_free(&pol);
	CHECK(pv_policy_load(100, cl, false, &pol, &e) < 0, "explicit bad file accepted");
	pv_policy_free(&pol);

	/* --policy: given explicitly, it must exist; search files are not used */
	CHECK(pv_policy_load(100, "/nonexistent/p.ini", false, &pol, &e) < 0, "missing --policy");
	CHECK(strstr(e.msg, "/nonexistent/p.ini") && strstr(e.msg, "No such file"), "%s", e.msg);
	pv_policy_free(&pol);
	CHECK(pv_policy_load(100, loc, false, &pol, &e) == 0, "%s", e.msg);
	CHECK_INT(pol.max_l3, 3);
	pv_policy_free(&pol);
	CHECK(pv_policy_load(100, dir, false, &pol, &e) < 0, "directory accepted");
	pv_policy_free(&pol);
	CHECK(pv_policy_load(7, NULL, false, &pol, &e) < 0, "bad vmid accepted");
	pv_policy_free(&pol);

	/* a symlink is not followed, a FIFO is not waited on (pre-start holds
	 * the global lock while it reads the policy): both refused, owner
	 * check or not */
	CHECK(unlink(cl) == 0 && symlink(loc, cl) == 0, "symlink");
	for (int own = 0; own < 2; own++) {
		CHECK(pv_policy_load(100, NULL, own, &pol, &e) < 0, "symlinked policy accepted");
		CHECK(strstr(e.msg, "refusing policy") && strstr(e.msg, "symbolic link"), "%s", e.msg);
		pv_policy_free(&pol);
	}
	CHECK(pv_policy_load(100, cl, false, &pol, &e) < 0, "symlinked --policy accepted");
	pv_policy_free(&pol);
	CHECK(unlink(cl) == 0 && mkfifo(cl, 0600) == 0, "mkfifo");
	for (int own = 0; own < 2; own++) {
		CHECK(pv_policy_load(100, NULL, own, &pol, &e) < 0, "FIFO policy accepted");
		CHECK(strstr(e.msg, "not a regular file"), "%s", e.msg);
		pv_policy_free(&pol);
	}

	pv_opt.root = "";
	CHECK(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "rm %s", dir);
}

int main(void)
{
	test_defaults();
	test_values();
	test_vcpus_list();
	test_files();
	test_bad();
	test_load();
	return tap_done("test_policy");
}
