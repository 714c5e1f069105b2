/* The pure planner, pv_plan_make, on every host fixture: properties that
 * must hold whatever the placement (distinct PUs that exist, gaming one vCPU
 * per core of the fastest kind, workstation whole cores as sibling pairs,
 * the GPU's L3 first, emulator/IRQ CPUs off the vCPUs, the host off the VM,
 * hugepages on the vCPUs' nodes, other VMs' CPUs avoided) and the plans it
 * must refuse. Exact placements are tests/pinner/test_plan.sh's. */
#include <stdlib.h>
#include <string.h>

#include "conf/cpulist.h"
#include "pinner/plan.h"
#include "tests/lib/tap.h"

#define HOSTS "tests/fixtures/hosts/"
#define SEED "tests/fixtures/seed/tr7970x.xml"

static const char *const host_files[] = {
	SEED,
	HOSTS "desktop-4c8t-1l3.xml",
	HOSTS "i7-1370p-hybrid.xml",
	HOSTS "i7-1370p-hybrid-sysfs.xml",
	HOSTS "ryzenai9-hx370-asym-l3.xml",
	HOSTS "r9-7950x3d-vcache.xml",
	HOSTS "epyc7451-2s-8numa.xml",
	HOSTS "epyc7763-2s-nosmt.xml",
	HOSTS "xeon-4s-4numa-pci.xml",
	HOSTS "synthetic-384pu-8numa.xml",
	HOSTS "dgx2-16gpu.xml",
};

struct vm {
	const char *policy; /* ini text */
	int vcpus;
	long memory_mb;
	const char *gpu;    /* hostpci0, NULL none */
	const struct pv_claims *claims;
};

static struct pv_policy pol; /* large: off the stack */
static struct pv_vmconf vc;
/* cases that only some fixtures can make: counted, so losing them fails */
static int gpu_cases, multinode_pages, kind_hosts;

static int make(const struct pv_topo *t, const struct vm *v, struct pv_plan *p, struct pv_err *e)
{
	char conf[512];
	int rc;

	/* hugepages come from the VM config, as qemu-server takes them (a
	 * policy alone reserves none): a policy asking for them gets the
	 * config lines PVE needs for them */
	bool hp = strstr(v->policy, "hugepages = 2M") != NULL;

	snprintf(conf, sizeof(conf), "cores: %d\nsockets: 1\nmemory: %ld\n%s%s%s%s", v->vcpus,
		 v->memory_mb, v->gpu ? "hostpci0: " : "", v->gpu ? v->gpu : "", v->gpu ? "\n" : "",
		 hp ? "numa: 1\nhugepages: 2\n" : "");
	memset(p, 0, sizeof(*p));
	memset(e, 0, sizeof(*e));
	if (pv_policy_parse_string(v->policy, "test.ini", &pol, e) < 0) {
		CHECK(0, "policy '%s': %s", v->policy, e->msg);
		pv_policy_free(&pol);
		return -2;
	}
	if (pv_vmconf_parse_string(conf, "test.conf", 100, &vc, e) < 0) {
		CHECK(0, "conf '%s': %s", conf, e->msg);
		pv_policy_free(&pol);
		pv_vmconf_free(&vc);
		return -2;
	}
	rc = pv_plan_make(t, &pol, &vc, v->claims, p, e);
	pv_policy_free(&pol);
	pv_vmconf_free(&vc);
	return rc;
}

static bool has_warning(const struct pv_plan *p, const char *what)
{
	for (int i = 0; i < p->nwarn; i++)
		if (strstr(p->warn[i], what))
			return true;
	return false;
}

static int max_smt(const struct pv_topo *t)
{
	int m = 1;

	for (int i = 0; i < t->ncore; i++)
		if (t->core[i].npu > m)
			m = t->core[i].npu;
	return m;
}

/* Cores of the most performant kind in the fullest L3 of that kind: a
 * gaming VM of this many vCPUs fits in one L3 whatever the policy. */
static int best_l3_cores(const struct pv_topo *t)
{
	int best = 0;

	for (int l = 0; l < t->nl3; l++) {
		int n = 0;

		for (int c = 0; c < t->ncore; c++)
			n += t->core[c].l3 == l && t->core[c].kind == 0;
		if (n > best)
			best = n;
	}
	return best;
}

/* A vCPU count up to cap that leaves the host a core of the n there are
 * and half the machine: a host reserve never refuses it. */
static int room(const struct pv_topo *t, int n, int cap)
{
	if (n > cap)
		n = cap;
	if (n > t->ncore / 2)
		n = t->ncore / 2;
	return n > 1 ? n - 1 : 1;
}

/* What every plan must be, whatever the mode. */
static void check_common(const char *name, const struct pv_topo *t, const struct pv_plan *p,
			 int want)
{
	hwloc_bitmap_t seen = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
	int dup = 0, bad = 0;

	CHECK(p->nvcpu == want, "%s: %d vCPUs placed, want %d", name, p->nvcpu, want);
	for (int i = 0; i < p->nvcpu; i++) {
		const struct pv_plan_vcpu *v = &p->vcpus[i];
		const struct pv_pu *pu = pv_topo_pu(t, v->pu);

		dup += hwloc_bitmap_isset(seen, v->pu);
		hwloc_bitmap_set(seen, v->pu);
		bad += !pu || pu->core != v->core || pu->node != v->node || pu->l3 != v->l3 ||
		       v->vcpu != i;
		if (v->node >= 0)
			hwloc_bitmap_set(nodes, (unsigned)v->node);
	}
	CHECK(dup == 0, "%s: %d vCPUs share a PU", name, dup);
	CHECK(bad == 0, "%s: %d vCPUs disagree with the topology about their PU", name, bad);
	CHECK(hwloc_bitmap_isequal(seen, p->vcpu_cpus), "%s: vcpu_cpus is not the vCPUs' PUs", name);
	CHECK(hwloc_bitmap_isincluded(p->vcpu_cpus, p->vm_cpus), "%s: vCPU outside vm_cpus", name);
	CHECK(hwloc_bitmap_isincluded(p->vm_cpus, hwloc_topology_get_topology_cpuset(t->h)),
	      "%s: vm_cpus outside the host", name);
	if (!has_warning(p, "no free core")) {
		CHECK(!hwloc_bitmap_intersects(p->emulator, p->vcpu_cpus),
		      "%s: emulator threads on a vCPU's PU", name);
		CHECK(!hwloc_bitmap_iszero(p->emulator), "%s: emulator has no CPU", name);
	}
	CHECK(!p->irq_cpus || !hwloc_bitmap_intersects(p->irq_cpus, p->vcpu_cpus),
	      "%s: device IRQs on a vCPU's PU", name);
	if (!has_warning(p, "takes every CPU"))
		CHECK(!hwloc_bitmap_intersects(p->host_cpus, p->vm_cpus) &&
		      !hwloc_bitmap_iszero(p->host_cpus), "%s: host CPUs overlap the VM or are none",
		      name);
	/* memory follows the vCPUs */
	CHECK(hwloc_bitmap_isincluded(p->mem_nodes, nodes) || hwloc_bitmap_iszero(nodes),
	      "%s: memory bound off the vCPUs' nodes", name);
	hwloc_bitmap_free(seen);
	hwloc_bitmap_free(nodes);
}

static int distinct_cores(const struct pv_plan *p)
{
	int n = 0;

	for (int i = 0; i < p->nvcpu; i++) {
		bool dup = false;

		for (int k = 0; k < i; k++)
			dup |= p->vcpus[k].core == p->vcpus[i].core;
		n += !dup;
	}
	return n;
}

static void test_gaming(const char *file, const struct pv_topo *t)
{
	struct vm v = { .policy = "[vm]\nmode = gaming\n", .memory_mb = 4096 };
	struct pv_plan p;
	struct pv_err e;
	char name[160];
	int slow = 0;

	v.vcpus = room(t, best_l3_cores(t), 8);
	snprintf(name, sizeof(name), "%s gaming %d", file, v.vcpus);
	CHECK(make(t, &v, &p, &e) == 0, "%s: %s", name, e.msg);
	if (p.vcpus) {
		check_common(name, t, &p, v.vcpus);
		/* SMT off: one vCPU per core; the fastest kind only */
		CHECK(distinct_cores(&p) == p.nvcpu, "%s: %d cores for %d vCPUs", name,
		      distinct_cores(&p), p.nvcpu);
		for (int i = 0; i < p.nvcpu; i++)
			slow += pv_topo_pu(t, p.vcpus[i].pu)->kind != 0;
		CHECK(slow == 0, "%s: %d vCPUs on a slower core kind", name, slow);
		CHECK(p.mode == PV_MODE_GAMING, "%s: mode %d", name, p.mode);
	}
	pv_plan_free(&p);
}

static void test_workstation(const char *file, const struct pv_topo *t)
{
	struct vm v = { .policy = "[vm]\nmode = workstation\n", .memory_mb = 4096 };
	int smt = max_smt(t), pairs = 0;
	struct pv_plan p;
	struct pv_err e;
	char name[160];

	v.vcpus = 2 * room(t, best_l3_cores(t), 4);
	snprintf(name, sizeof(name), "%s workstation %d", file, v.vcpus);
	CHECK(make(t, &v, &p, &e) == 0, "%s: %s", name, e.msg);
	if (p.vcpus) {
		check_common(name, t, &p, v.vcpus);
		if (smt == 2) {
			/* whole cores, in sibling pairs: guest threads=2 matches */
			for (int i = 0; i + 1 < p.nvcpu; i += 2)
				pairs += p.vcpus[i].core == p.vcpus[i + 1].core;
			CHECK(pairs == p.nvcpu / 2, "%s: %d of %d pairs on one core", name, pairs,
			      p.nvcpu / 2);
			CHECK(strstr(p.smp, "threads=2") != NULL, "%s: smp %s", name, p.smp);
		} else {
			CHECK(distinct_cores(&p) == p.nvcpu, "%s: no SMT, %d cores for %d vCPUs", name,
			      distinct_cores(&p), p.nvcpu);
		}
	}
	pv_plan_free(&p);
}

/* The GPU's L3 first: the first vCPU is local to it, and as many vCPUs as
 * its local cores hold are there. */
static void test_gpu_first(const char *file, const struct pv_topo *t)
{
	for (int g = 0; g < t->npci; g++) {
		const struct pv_pcidev *gpu = &t->pci[g];
		struct vm v = { .policy = "[vm]\nmode = gaming\n", .memory_mb = 4096, .gpu = gpu->bdf };
		int local_cores = 0, in = 0;
		struct pv_plan p;
		struct pv_err e;
		char name[200];

		if (gpu->kind != PV_PCI_GPU || gpu->node < 0 || !gpu->locality ||
		    hwloc_bitmap_isequal(gpu->locality, hwloc_topology_get_topology_cpuset(t->h)))
			continue;
		for (int c = 0; c < t->ncore; c++)
			local_cores += t->core[c].kind == 0 &&
				       hwloc_bitmap_isset(gpu->locality, t->core[c].pu[0]);
		v.vcpus = room(t, local_cores, 4);
		if (!v.vcpus)
			continue;
		snprintf(name, sizeof(name), "%s gaming with GPU %s (node %d)", file, gpu->bdf,
			 gpu->node);
		CHECK(make(t, &v, &p, &e) == 0, "%s: %s", name, e.msg);
		if (p.vcpus) {
			check_common(name, t, &p, v.vcpus);
			for (int i = 0; i < p.nvcpu; i++)
				in += hwloc_bitmap_isset(gpu->locality, p.vcpus[i].pu);
			CHECK(in == p.nvcpu, "%s: %d of %d vCPUs local to the GPU", name, in, p.nvcpu);
			CHECK_STR(p.gpu, gpu->bdf);
			gpu_cases++;
		}
		pv_plan_free(&p);
	}
}

static void test_hugepages(const char *file, const struct pv_topo *t)
{
	struct vm v = { .policy = "[vm]\nmode = workstation\nmax_l3 = 64\n[memory]\nhugepages = 2M\n",
			.memory_mb = 6144 };
	struct pv_plan p;
	struct pv_err e;
	char name[160];
	long sum = 0;
	int off = 0, rc;

	/* more vCPUs than one node has PUs: memory spans the vCPUs' nodes */
	v.vcpus = t->nnode > 1 ? (int)hwloc_bitmap_weight(t->node[0].cpuset) + 2 : 4;
	if (v.vcpus > t->npu - 2)
		v.vcpus = t->npu - 2;
	snprintf(name, sizeof(name), "%s 2M hugepages, %d vCPUs", file, v.vcpus);
	rc = make(t, &v, &p, &e);
	/* a whole node for the VM: a host reserve may refuse it, saying so */
	if (rc < 0 && strstr(e.msg, "host")) {
		printf("# %s: refused: %s\n", name, e.msg);
		pv_plan_free(&p);
		return;
	}
	CHECK(rc == 0, "%s: %s", name, e.msg);
	if (!p.vcpus) {
		pv_plan_free(&p);
		return;
	}
	CHECK_INT(p.hp_kb, 2048);
	for (int i = 0; i < p.npages; i++) {
		bool used = false;

		sum += p.pages[i].count;
		for (int k = 0; k < p.nvcpu; k++)
			used |= p.vcpus[k].node == p.pages[i].node;
		off += !used;
		CHECK(i == 0 || p.pages[i].node > p.pages[i - 1].node, "%s: pages not by node", name);
	}
	CHECK(sum * p.hp_kb == v.memory_mb * 1024, "%s: %ld pages of %ld kB for %ld MiB", name, sum,
	      p.hp_kb, v.memory_mb);
	CHECK(off == 0, "%s: %d nodes get pages but no vCPU", name, off);
	multinode_pages += p.npages > 1;
	pv_plan_free(&p);
}

/* Other VMs' exclusive CPUs are never handed out again. */
static void test_claims(const char *file, const struct pv_topo *t)
{
	struct pv_claims c = { .cpus = hwloc_bitmap_alloc() };
	struct vm v = { .policy = "[vm]\nmode = workstation\n", .memory_mb = 2048, .claims = &c };
	struct pv_plan p;
	struct pv_err e;
	char name[160];

	/* the whole first L3: where an unclaimed plan would start */
	hwloc_bitmap_copy(c.cpus, t->l3[0].cpuset);
	v.vcpus = 2;
	snprintf(name, sizeof(name), "%s with L3 #0 claimed", file);
	if (t->nl3 > 1 && t->npu - hwloc_bitmap_weight(t->l3[0].cpuset) >= 8) {
		CHECK(make(t, &v, &p, &e) == 0, "%s: %s", name, e.msg);
		CHECK(p.vcpus && !hwloc_bitmap_intersects(p.vm_cpus, c.cpus),
		      "%s: plan takes a claimed CPU", name);
		CHECK(!hwloc_bitmap_intersects(p.host_cpus, c.cpus), "%s: host CPUs on a claimed CPU",
		      name);
		pv_plan_free(&p);
	}
	/* every CPU claimed: nothing to give */
	hwloc_bitmap_copy(c.cpus, hwloc_topology_get_topology_cpuset(t->h));
	snprintf(name, sizeof(name), "%s with every CPU claimed", file);
	CHECK(make(t, &v, &p, &e) < 0, "%s: accepted", name);
	CHECK(strstr(e.msg, "other VMs hold") != NULL, "%s: says why: %s", name, e.msg);
	pv_plan_free(&p);
	hwloc_bitmap_free(c.cpus);
}

/* Hybrid hosts: a gaming VM gets the fastest core kind only; one vCPU
 * more than that kind has cores is refused, never made up with slower
 * cores. */
static void test_kinds(const char *file, const struct pv_topo *t)
{
	struct vm v = { .policy = "[vm]\nmode = gaming\nmax_l3 = 64\n", .memory_mb = 2048 };
	struct pv_plan p;
	struct pv_err e;
	int fast = 0;

	if (t->nkinds < 2)
		return;
	kind_hosts++;
	for (int c = 0; c < t->ncore; c++)
		fast += t->core[c].kind == 0;
	v.vcpus = fast + 1;
	CHECK(make(t, &v, &p, &e) < 0, "%s: %d gaming vCPUs on %d fast cores accepted", file,
	      v.vcpus, fast);
	CHECK(strstr(e.msg, "fastest kind") != NULL, "%s: says why: %s", file, e.msg);
	pv_plan_free(&p);
}

/* Plans that must be refused, with a reason. */
static void test_refusals(const char *file, const struct pv_topo *t)
{
	struct vm v = { .policy = "[vm]\nmode = workstation\n", .memory_mb = 2048 };
	struct pv_plan p;
	struct pv_err e;
	char pol_text[128];

	v.vcpus = t->npu + 1;
	CHECK(make(t, &v, &p, &e) < 0 && strstr(e.msg, "vCPUs"), "%s: %d vCPUs on %d PUs: %s",
	      file, v.vcpus, t->npu, p.nvcpu ? "accepted" : e.msg);
	pv_plan_free(&p);

	v.vcpus = 2;
	snprintf(pol_text, sizeof(pol_text), "[vm]\nmode = manual\nvcpus = 0,%d\n", PV_MAX_CPUS - 1);
	v.policy = pol_text;
	CHECK(make(t, &v, &p, &e) < 0 && strstr(e.msg, "does not exist"),
	      "%s: manual CPU %d that is not there: %s", file, PV_MAX_CPUS - 1, e.msg);
	pv_plan_free(&p);

	v.policy = "[vm]\nmode = manual\nvcpus = 0-1\n";
	v.vcpus = 4;
	CHECK(make(t, &v, &p, &e) < 0 && strstr(e.msg, "vCPUs"),
	      "%s: manual list shorter than the VM: %s", file, e.msg);
	pv_plan_free(&p);
	v.vcpus = 2;

	v.policy = "[vm]\nmode = workstation\n[memory]\nhugepages = 2M\n";
	v.memory_mb = 2047;
	/* Memory.pm hugepages_topology: PVE's own words */
	CHECK(make(t, &v, &p, &e) < 0 && strstr(e.msg, "cannot use for hugepages"),
	      "%s: memory not a multiple of the page: %s", file, e.msg);
	pv_plan_free(&p);

	v.memory_mb = 2048;
	v.gpu = "0000:ee:1f"; /* every function of a slot the XML does not list */
	/* an XML topology lists only some functions (a live host refuses a
	 * missing one: tests/pinner/test_plan.sh): kept, with no locality */
	CHECK(make(t, &v, &p, &e) == 0 && p.ndev == 1 && p.dev[0].node < 0,
	      "%s: a function the XML does not list: %s", file, e.msg);
	pv_plan_free(&p);
}

/* A device another running VM holds: refused, naming that VM. */
static void test_device_claim(const struct pv_topo *t)
{
	struct pv_claims c = { .ndevs = 1, .devs_vmid = { 105 } };
	struct vm v = { .policy = "[vm]\nmode = gaming\n", .vcpus = 4, .memory_mb = 2048,
			.gpu = "0000:81:00.0", .claims = &c };
	struct pv_plan p;
	struct pv_err e;

	snprintf(c.devs[0], sizeof(c.devs[0]), "0000:81:00.0");
	CHECK(make(t, &v, &p, &e) < 0 && strstr(e.msg, "0000:81:00.0") && strstr(e.msg, "105"),
	      "device held by VM 105: %s", p.nvcpu ? "accepted" : e.msg);
	pv_plan_free(&p);
	c.ndevs = 0;
	CHECK(make(t, &v, &p, &e) == 0, "the same device unclaimed: %s", e.msg);
	pv_plan_free(&p);
}

/* Equally near L3 domains are ranked by their free cores: with another VM
 * on most of the second L3, a gaming VM that fits the GPU's L3 and a free
 * one is placed there, not refused for max_l3 (issue 14). */
static void test_roomier_l3(const struct pv_topo *t)
{
	struct pv_claims c = { .cpus = hwloc_bitmap_alloc() };
	struct vm v = { .policy = "[vm]\nmode = gaming\nmax_l3 = 2\n", .vcpus = 12, .memory_mb = 2048,
			.gpu = "0000:81:00.0", .claims = &c };
	struct pv_plan p;
	struct pv_err e;
	int taken = 0, second = -1;

	/* the L3 an empty host would take second: after the GPU's */
	CHECK(make(t, &v, &p, &e) == 0, "12 vCPUs on an empty host: %s", e.msg);
	for (int i = 0; i < p.nvcpu && second < 0; i++)
		if (p.vcpus[i].l3 != p.vcpus[0].l3)
			second = p.vcpus[i].l3;
	pv_plan_free(&p);
	CHECK(second >= 0, "12 vCPUs take two L3 domains");
	for (int ci = 0; ci < t->ncore && taken < 6 && second >= 0; ci++) {
		if (t->core[ci].l3 != second)
			continue;
		for (int k = 0; k < t->core[ci].npu; k++)
			hwloc_bitmap_set(c.cpus, t->core[ci].pu[k]);
		taken++;
	}
	CHECK(make(t, &v, &p, &e) == 0, "6 cores of L3 #%d held by another VM: %s", second, e.msg);
	for (int i = 0; i < p.nvcpu; i++)
		CHECK(p.vcpus[i].l3 != second, "vCPU %d on the crowded L3 #%d", i, second);
	pv_plan_free(&p);
	hwloc_bitmap_free(c.cpus);
}

int main(void)
{
	struct pv_topo t;
	struct pv_err e;

	for (size_t i = 0; i < sizeof(host_files) / sizeof(host_files[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (pv_topo_load(&t, host_files[i], &e) < 0) {
			CHECK(0, "load %s: %s", host_files[i], e.msg);
			continue;
		}
		test_gaming(host_files[i], &t);
		test_workstation(host_files[i], &t);
		test_gpu_first(host_files[i], &t);
		test_hugepages(host_files[i], &t);
		test_claims(host_files[i], &t);
		test_refusals(host_files[i], &t);
		test_kinds(host_files[i], &t);
		if (!strcmp(host_files[i], SEED)) {
			test_device_claim(&t);
			test_roomier_l3(&t);
		}
		pv_topo_free(&t);
	}
	CHECK(gpu_cases >= 2, "only %d hosts had a GPU with locality to plan around", gpu_cases);
	/* one guest NUMA node binds to one host node (Memory.pm), so a VM
	 * with numa: 1 and no numaN lines takes its pages from one node */
	CHECK(kind_hosts >= 3, "only %d hosts with two core kinds", kind_hosts);
	printf("# %d GPU-local plans, %d multi-node hugepage plans\n", gpu_cases, multinode_pages);
	return tap_done("test_planner");
}
