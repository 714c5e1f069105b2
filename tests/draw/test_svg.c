/* `status --svg` (pv_svg_status): VMs from the ledger under a --root,
 * one of them "running" as this very process, whose threads named
 * "CPU n/KVM" and pinned to one PU each must come out as vCPU n on that PU;
 * and the plan drawn from a ledger entry. The pictures themselves are
 * checked by tests/fixture/test_svg.sh. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "draw/svg.h"
#include "tests/lib/tap.h"

#define SEED "tests/fixtures/seed/tr7970x.xml"

struct vthread {
	pthread_t th;
	int vcpu;
	unsigned cpu;
	int *fd;          /* read end: the thread waits for EOF */
	volatile int ready;
};

static void *vcpu_main(void *arg)
{
	struct vthread *v = arg;
	cpu_set_t cs;
	char name[16], c;

	CPU_ZERO(&cs);
	CPU_SET(v->cpu, &cs);
	pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
	snprintf(name, sizeof(name), "CPU %d/KVM", v->vcpu);
	pthread_setname_np(pthread_self(), name);
	v->ready = 1;
	while (read(*v->fd, &c, 1) > 0)
		;
	return NULL;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static char *render(int vmid)
{
	char out[] = "/tmp/pvepin-svgXXXXXX";
	struct pv_err e = { 0 };
	int fd = mkstemp(out);
	char *text;

	close(fd);
	CHECK(pv_svg_status(out, vmid, &e) == 0, "pv_svg_status: %s", e.msg);
	text = pv_slurp(out, NULL, &e);
	unlink(out);
	return text ? text : strdup("");
}

/* The <g class="pu" ...> opening tag of PU n. */
static const char *pu_tag(const char *svg, unsigned n, char *buf, size_t len)
{
	char key[32];
	const char *p, *end;

	snprintf(key, sizeof(key), "id=\"pu-%u\"", n);
	p = strstr(svg, key);
	end = p ? strchr(p, '>') : NULL;
	snprintf(buf, len, "%.*s", p && end ? (int)(end - p) : 0, p ? p : "");
	return buf;
}

static void test_status(const char *root, unsigned a, unsigned b)
{
	char tag[512];
	char *svg = render(-1);

	CHECK(strstr(svg, "class=\"legend-vm\" data-vm=\"200\"") != NULL, "VM 200 in the legend");
	CHECK(strstr(svg, "class=\"legend-vm\" data-vm=\"300\"") != NULL, "VM 300 in the legend");
	for (unsigned c = 16; c <= 23; c++)
		CHECK(strstr(pu_tag(svg, c, tag, sizeof(tag)), "data-vm=\"200\""), "PU %u: %s", c, tag);
	CHECK(strstr(pu_tag(svg, 24, tag, sizeof(tag)), "data-role=\"host\""), "PU 24: %s", tag);
	CHECK(strstr(pu_tag(svg, a, tag, sizeof(tag)), "data-vm=\"300\" data-vcpu=\"0\""),
	      "vCPU 0 on PU %u: %s", a, tag);
	CHECK(strstr(pu_tag(svg, b, tag, sizeof(tag)), "data-vm=\"300\" data-vcpu=\"1\""),
	      "vCPU 1 on PU %u: %s", b, tag);
	CHECK(strstr(pu_tag(svg, 32, tag, sizeof(tag)), "data-vm=\"300\"") &&
	      !strstr(tag, "data-vcpu"), "PU 32 is VM 300's, no vCPU on it: %s", tag);
	CHECK(strstr(svg, "data-bdf=\"0000:6f:00.0\" data-kind=\"usb\" data-vm=\"200\"") != NULL,
	      "VM 200's USB controller outlined");
	CHECK(strstr(svg, "class=\"hp-vm\" data-vm=\"200\"") != NULL, "VM 200's pages drawn");
	CHECK(strstr(svg, "pvepin status: 2 VMs placed by pvepin") != NULL, "caption");
	free(svg);

	svg = render(200);
	CHECK(strstr(svg, "data-vm=\"300\"") == NULL, "status --svg 200 draws VM 200 only");
	CHECK(strstr(svg, "data-vm=\"200\"") != NULL, "VM 200 drawn");
	free(svg);
	svg = render(999);
	CHECK(strstr(svg, "nothing applied for it") != NULL, "a VM not in the ledger");
	free(svg);
}

static void test_from_ledger(void)
{
	struct pv_lvm v = { .vmid = 7, .page_kb = 1048576, .npages = 1, .ndevs = 1 };
	struct pv_plan p;
	struct pv_err e = { 0 };

	snprintf(v.cpus, sizeof(v.cpus), "8-15,40-47");
	snprintf(v.devs[0], sizeof(v.devs[0]), "0000:81:00.0");
	v.pages[0] = (struct pv_plan_pages){ .node = 3, .count = 8 };
	CHECK(pv_svg_plan_from_ledger(&p, &v, &e) == 0, "%s", e.msg);
	CHECK_INT(hwloc_bitmap_weight(p.vm_cpus), 16);
	CHECK(hwloc_bitmap_iszero(p.host_cpus), "no host set when the VM does not isolate");
	CHECK(p.npages == 1 && p.pages[0].node == 3 && p.hp_kb == 1048576, "pages");
	CHECK_STR(p.dev[0].bdf, "0000:81:00.0");
	pv_plan_free(&p);
	snprintf(v.cpus, sizeof(v.cpus), "8-x");
	CHECK(pv_svg_plan_from_ledger(&p, &v, &e) < 0, "a bad CPU list in the ledger is an error");
}

static void cleanup(const char *root)
{
	static const char *const files[] = { "run/pvepin/ledger", "run/qemu-server/300.pid", "proc" };
	static const char *const dirs[] = { "run/pvepin", "run/qemu-server", "run", "" };
	char path[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, files[i]);
		unlink(path);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		if (rmdir(path) < 0)
			printf("# could not remove %s: %s\n", path, strerror(errno));
	}
}

int main(void)
{
	char root[] = "/tmp/pvepin-svgrootXXXXXX", path[512], pid[32];
	struct vthread vt[2];
	int pipefd[2];
	cpu_set_t cs;
	unsigned cpus[2], n = 0;

	test_from_ledger();
	sched_getaffinity(0, sizeof(cs), &cs);
	for (unsigned c = 0; c < 32 && n < 2; c++)
		if (CPU_ISSET(c, &cs))
			cpus[n++] = c;
	if (n < 2 || !mkdtemp(root) || pipe(pipefd) < 0) {
		printf("# status --svg with live threads needs 2 CPUs among 0-31\n");
		return tap_done("test_svg");
	}
	snprintf(path, sizeof(path), "%s/run", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/run/pvepin", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run/qemu-server", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/proc", root);
	CHECK(symlink("/proc", path) == 0, "symlink: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/run/pvepin/ledger", root);
	put(path, "pvepin-ledger\t1\n"
		  "vm\t200\trunning\t16-23,48-55\t24-31,56-63\n"
		  "page\t200\t1\t1048576\t16\n"
		  "dev\t200\t0000:6f:00.0\n"
		  "vm\t300\trunning\t0-1,32-33\t24-31,56-63\n");
	snprintf(path, sizeof(path), "%s/run/qemu-server/300.pid", root);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	put(path, pid);
	/* vCPU 0 on the second CPU, vCPU 1 on the first: not the identity */
	for (int i = 0; i < 2; i++) {
		vt[i] = (struct vthread){ .vcpu = i, .cpu = cpus[1 - i], .fd = &pipefd[0] };
		pthread_create(&vt[i].th, NULL, vcpu_main, &vt[i]);
	}
	while (!vt[0].ready || !vt[1].ready)
		usleep(1000);
	pv_opt.root = root;
	pv_opt.topology = SEED;
	test_status(root, cpus[1], cpus[0]);
	close(pipefd[1]);
	for (int i = 0; i < 2; i++)
		pthread_join(vt[i].th, NULL);
	cleanup(root);
	return tap_done("test_svg");
}
