/* What pvepin asks of systemd, over real sd-bus (dlopened libsystemd): the
 * cpuset backend, and the agent's own scope (StartTransientUnit).
 * Always: every sd-bus entry resolves, and with no bus each operation
 * fails as "connect to systemd" (no crash, nothing written). Against the
 * fake systemd that tests/fixture/test_systemd.sh starts on a
 * private bus (it sets DBUS_SYSTEM_BUS_ADDRESS, PV_FAKE_ROOT = the --root
 * whose sys/fs/cgroup the fake manages, PV_FAKE_LOG = its call log):
 * AllowedCPUs round trips with the bytes on the wire checked, set waiting
 * for cpuset.cpus, StartUnit of new slices, and systemd's errors reaching
 * e->msg. Run alone, the fake-bus part is skipped with a "# skip" line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "engine/agent_ctl.h"
#include "engine/cpuset.h"
#include "engine/sdbus_dl.h"
#include "tests/lib/tap.h"

static const struct pv_cpuset_backend *sd = &pv_cpuset_systemd;

static void test_sdbus_open(void)
{
	struct pv_sdbus s, again;
	struct pv_err e = { 0 };
	void *const *fn;
	size_t nfn = 0;

	CHECK(pv_sdbus_open(&s, &e) == 0, "%s", e.msg);
	if (!s.dl)
		return;
	/* every member after dl is an entry point: one left out of
	 * sdbus_dl.c's table stays NULL */
	for (fn = (void *const *)&s.open_system; (const char *)fn < (const char *)(&s + 1); fn++) {
		CHECK(*fn != NULL, "entry %zu unresolved", nfn);
		nfn++;
	}
	CHECK(nfn >= 15, "%zu entries", nfn);
	CHECK_INT(pv_sdbus_open(&again, &e), 0);
	CHECK(again.open_system == s.open_system, "second open resolves elsewhere");
	pv_sdbus_close(&again);
	pv_sdbus_close(&s);
	CHECK(s.dl == NULL, "close leaves dl");
}

static void expect_fail(int r, const struct pv_err *e, const char *prefix, const char *what)
{
	CHECK_INT(r, -1);
	CHECK(!strncmp(e->msg, prefix, strlen(prefix)), "%s: '%s' does not start '%s'", what,
	      e->msg, prefix);
}

static void test_no_bus(void)
{
	struct pv_err e = { 0 };
	char buf[64] = "untouched";

	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent", 1);
	expect_fail(sd->get("qemu.slice", buf, sizeof(buf), &e), &e, "connect to systemd", "get");
	printf("# no bus: %s\n", e.msg);
	CHECK_STR(buf, "untouched");
	e = (struct pv_err){ 0 };
	expect_fail(sd->set("qemu.slice", "2-5,8", &e), &e, "connect to systemd", "set");
	e = (struct pv_err){ 0 };
	expect_fail(sd->set("qemu.slice", "", &e), &e, "connect to systemd", "set ''");
	e = (struct pv_err){ 0 };
	expect_fail(sd->create("pvepin.slice", &e), &e, "connect to systemd", "create");
	e = (struct pv_err){ 0 };
	expect_fail(pv_agent_scope(100, getpid(), &e), &e, "connect to systemd", "agent scope");
	/* refused before the bus is tried */
	expect_fail(sd->set("../x.slice", "1", &e), &e, "bad cgroup name", "set ../");
	expect_fail(sd->get("", buf, sizeof(buf), &e), &e, "bad cgroup name", "get ''");
	expect_fail(sd->set("qemu.slice", "3-x", &e), &e, "", "set bad list");
	CHECK(strstr(e.msg, "connect") == NULL, "bad list reached the bus: %s", e.msg);
}

/* --- against the fake systemd --- */

static const char *fake_log;

/* The last line of the fake's log that starts with prefix, or "". */
static void last_line(const char *prefix, char *out, size_t n)
{
	_cleanup_free_ char *log = pv_slurp(fake_log, NULL, NULL);
	char *save = NULL;

	snprintf(out, n, "%s", "");
	if (!log)
		return;
	for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, prefix, strlen(prefix)))
			snprintf(out, n, "%s", l);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cpus_of(const char *cg, char *buf, size_t n)
{
	if (pv_cgroup_cpus(cg, buf, n, NULL) < 0)
		snprintf(buf, n, "%s", "(unreadable)");
}

/* set, then: the bytes systemd got, cpuset.cpus at once, get's answer */
static void round_trip(const char *cg, const char *cpus, const char *hex, const char *want)
{
	const char *unit = strrchr(cg, '/') ? strrchr(cg, '/') + 1 : cg;
	struct pv_err e = { 0 };
	char line[512], wire[512], got[256];

	CHECK(sd->set(cg, cpus, &e) == 0, "set %s %s: %s", cg, cpus, e.msg);
	snprintf(line, sizeof(line), "SetUnitProperties %s ", unit);
	last_line(line, got, sizeof(got));
	snprintf(wire, sizeof(wire), "SetUnitProperties %s runtime=1 AllowedCPUs=%s", unit, hex);
	CHECK_STR(got, wire);
	/* set returned: the fake applied it (it does so only after replying) */
	cpus_of(cg, got, sizeof(got));
	CHECK(pv_cpus_equal(got, want), "%s cpuset.cpus '%s' after set '%s'", cg, got, cpus);
	CHECK(sd->get(cg, got, sizeof(got), &e) == 0, "get %s: %s", cg, e.msg);
	CHECK_STR(got, want);
}

static void test_get_preset(void)
{
	struct pv_err e = { 0 };
	char buf[256];

	/* set by the fixture: bytes as systemd would hold them */
	CHECK(sd->get("system.slice", buf, sizeof(buf), &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "0,7-9,63");
	CHECK(sd->get("init.scope", buf, sizeof(buf), &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "0-1"); /* trailing zero bytes */
	CHECK(sd->get("qemu.slice/100.scope", buf, sizeof(buf), &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "");
	CHECK(sd->get("system.slice/pve-cluster.service", buf, sizeof(buf), &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "1");
	last_line("Get ", buf, sizeof(buf));
	CHECK_STR(buf, "Get pve-cluster.service org.freedesktop.systemd1.Service.AllowedCPUs");
	/* a buffer too small for the list: an error, not a cut list */
	CHECK_INT(sd->get("system.slice", buf, 4, &e), -1);
}

static void test_set(void)
{
	double t0;
	char buf[64];
	struct pv_err e = { 0 };

	round_trip("qemu.slice", "2-5,8", "3c01", "2-5,8");
	round_trip("qemu.slice", "0,1,2,3", "0f", "0-3");
	round_trip("qemu.slice", "100", "000000000000000000000000" "10", "100");
	round_trip("qemu.slice", "", "", "");
	/* a scope below a slice: the unit is the last component, its path
	 * starts with a digit (escaped), its interface is Scope */
	round_trip("qemu.slice/100.scope", "1,3", "0a", "1,3");
	round_trip("system.slice", "0-1", "03", "0-1");
	round_trip("system.slice/pve-cluster.service", "0", "01", "0");

	/* set waits for systemd to apply (the fake takes --delay ms) */
	t0 = now();
	CHECK(sd->set("qemu.slice", "6", &e) == 0, "%s", e.msg);
	CHECK(now() - t0 >= 0.05, "set returned after %.3f s, before the fake applied", now() - t0);
	cpus_of("qemu.slice", buf, sizeof(buf));
	CHECK_STR(buf, "6");
}

static void test_create(void)
{
	struct pv_err e = { 0 };
	char buf[256];

	CHECK_INT(pv_cgroup_exists("pvtest.slice/pvtest-vm.slice"), 0);
	CHECK(sd->create("pvtest.slice/pvtest-vm.slice", &e) == 0, "%s", e.msg);
	CHECK_INT(pv_cgroup_exists("pvtest.slice/pvtest-vm.slice"), 1);
	last_line("StartUnit ", buf, sizeof(buf));
	CHECK_STR(buf, "StartUnit pvtest-vm.slice fail");
	round_trip("pvtest.slice/pvtest-vm.slice", "0-1", "03", "0-1");
	/* '_' and '@' escaped in the object path */
	CHECK(sd->create("pv_x@1.slice", &e) == 0, "%s", e.msg);
	CHECK_INT(pv_cgroup_exists("pv_x@1.slice"), 1);
	round_trip("pv_x@1.slice", "5", "20", "5");
	/* an existing unit: started again, its cgroup is there */
	CHECK(sd->create("qemu.slice", &e) == 0, "%s", e.msg);
}

static void test_errors(void)
{
	struct pv_err e = { 0 };
	char buf[64] = "untouched";
	double t0;

	CHECK_INT(sd->set("gone.slice", "2-5,8", &e), -1);
	CHECK(strstr(e.msg, "of gone.slice") && strstr(e.msg, "Unit gone.slice not loaded."),
	      "set error: %s", e.msg);
	printf("# unknown unit: %s\n", e.msg);
	CHECK_INT(sd->set("qemu.slice/gone.scope", "", &e), -1);
	CHECK(strstr(e.msg, "Unit gone.scope not loaded."), "set error: %s", e.msg);
	CHECK_INT(sd->get("gone.slice", buf, sizeof(buf), &e), -1);
	CHECK(strstr(e.msg, "AllowedCPUs of gone.slice") && strstr(e.msg, "Unknown object"),
	      "get error: %s", e.msg);
	CHECK_STR(buf, "untouched");
	CHECK_INT(sd->create("qemu.slice/nope.service", &e), -1);
	CHECK(strstr(e.msg, "StartUnit of nope.service") &&
	      strstr(e.msg, "Unit nope.service not found."), "create error: %s", e.msg);
	CHECK_INT(pv_cgroup_exists("qemu.slice/nope.service"), 0);

	/* systemd took it but cpuset.cpus never changed (as when the kernel
	 * refuses): set gives up after its 2 s, saying what it saw */
	t0 = now();
	CHECK_INT(sd->set("lazy.slice", "3", &e), -1);
	CHECK(strstr(e.msg, "took AllowedCPUs=3 for lazy.slice but cpuset.cpus still reads '0-1'"),
	      "lazy: %s", e.msg);
	CHECK(now() - t0 >= 1.5 && now() - t0 < 10, "lazy set gave up after %.2f s", now() - t0);
	CHECK(sd->get("lazy.slice", buf, sizeof(buf), &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "3");
}

/* The agent's scope: the call as systemd-run makes it, the process in the
 * new cgroup, and a second one under the same name refused, said whole. */
static void test_agent_scope(const char *root)
{
	struct pv_err e = { 0 };
	char line[512], want[512], path[512], procs[64] = "";
	pid_t pid = getpid();

	CHECK(pv_agent_scope(100, pid, &e) == 0, "%s", e.msg);
	last_line("StartTransientUnit ", line, sizeof(line));
	snprintf(want, sizeof(want), "StartTransientUnit pvepin-agent-100.scope fail "
		 "CPUQuotaPerSecUSec=500000 CollectMode=inactive-or-failed Description=pvepin "
		 "runtime agent of VM 100 MemoryMax=268435456 PIDs=%d Slice=system.slice "
		 "TasksMax=8", (int)pid);
	CHECK_STR(line, want);
	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/system.slice/pvepin-agent-100.scope/"
		 "cgroup.procs", root);
	/* the fake systemd creates the file, then writes it: wait for both */
	for (int i = 0; i < 100 && pv_read_file(path, procs, sizeof(procs), NULL) <= 0; i++)
		usleep(20 * 1000);
	CHECK((int)strtol(procs, NULL, 10) == (int)pid, "cgroup.procs '%s', want %d", procs,
	      (int)pid);
	e = (struct pv_err){ 0 };
	CHECK_INT(pv_agent_scope(100, pid, &e), -1);
	CHECK_STR(e.msg, "systemd StartTransientUnit of pvepin-agent-100.scope: Unit "
		  "pvepin-agent-100.scope already exists.");
	CHECK(pv_agent_scope(7, pid, &e) == 0, "%s", e.msg);
	last_line("StartTransientUnit ", line, sizeof(line));
	CHECK(strstr(line, "StartTransientUnit pvepin-agent-7.scope fail ") == line, "%s", line);
}

int main(void)
{
	const char *root = getenv("PV_FAKE_ROOT");
	const char *addr = getenv("DBUS_SYSTEM_BUS_ADDRESS");
	char tmp[] = "/tmp/pvepin-sdbus-XXXXXX";
	_cleanup_free_ char *bus = addr && root ? strdup(addr) : NULL;
	int skipped = 0; /* test groups not run */

	fake_log = getenv("PV_FAKE_LOG");
	if (!root) {
		/* nothing the backend could write lands on this machine */
		pv_opt.root = mkdtemp(tmp);
		CHECK(pv_opt.root != NULL, "mkdtemp");
	}
	test_sdbus_open();
	test_no_bus();
	if (!bus || !fake_log) {
		printf("# skip: the fake-systemd round trips (get/set/create/errors/agent scope) run from "
		       "tests/fixture/test_systemd.sh, which sets DBUS_SYSTEM_BUS_ADDRESS, "
		       "PV_FAKE_ROOT and PV_FAKE_LOG\n");
		skipped = 5;
	} else {
		pv_opt.root = root;
		setenv("DBUS_SYSTEM_BUS_ADDRESS", bus, 1);
		test_get_preset();
		test_set();
		test_create();
		test_errors();
		test_agent_scope(root);
		/* systemd's errors left the bus usable */
		round_trip("qemu.slice", "0-7,9", "ff02", "0-7,9");
	}
	if (!root && pv_opt.root)
		rmdir(pv_opt.root);
	if (!skipped)
		return tap_done("test_systemd");
	/* the skip shows in tests/run.sh's summary, which prints only this line */
	printf("test_systemd: %d passed, %d failed, %d skipped\n", tap_pass, tap_fail,
	       skipped);
	return tap_fail ? 1 : 0;
}
