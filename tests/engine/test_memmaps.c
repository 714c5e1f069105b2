/* numa_maps as the kernel prints it for a qemu-server VM (lines taken from
 * the systemd test bed, tests/vm2): guest RAM is told by its backend's
 * name, summed per guest and host node, and checked against the plan. */
#include <string.h>

#include "engine/memmaps.h"
#include "tests/lib/tap.h"

static const char maps[] =
	"55d0c8a00000 default file=/usr/bin/qemu-system-x86_64 mapped=1200 N0=700 N1=500 kernelpagesize_kB=4\n"
	"55d0c9e00000 default heap anon=3000 dirty=3000 N0=1000 N1=2000 kernelpagesize_kB=4\n"
	"7f2a40000000 bind:1 file=/run/hugepages/kvm/1048576kB/qemu_back_mem.ram-node0.9152ri\\040(deleted) huge dirty=1 N1=1 kernelpagesize_kB=1048576\n"
	"7f2b00000000 bind:0 file=/run/hugepages/kvm/2048kB/qemu_back_mem.ram-node1.77 huge dirty=256 N0=200 N1=56 kernelpagesize_kB=2048\n"
	"7ffd1000 default stack anon=5 dirty=5 N1=5 kernelpagesize_kB=4\n";

static const struct pv_memuse *find(const struct pv_memmap *m, int g, int h)
{
	for (int i = 0; i < m->n; i++)
		if (m->u[i].gnode == g && m->u[i].hnode == h)
			return &m->u[i];
	return NULL;
}

int main(void)
{
	struct pv_memmap m;
	const struct pv_memuse *u;
	char why[256] = "";
	int one[] = { 1 }, both[] = { 0, 1 };

	CHECK_INT(pv_memmap_parse(maps, &m, NULL), 0);
	u = find(&m, 0, 1);
	CHECK(u && u->kb == 1048576 && u->page_kb == 1048576, "guest node 0: one 1G page on node 1");
	CHECK(!find(&m, 0, 0), "guest node 0 has nothing on node 0");
	u = find(&m, 1, 0);
	CHECK(u && u->kb == 200 * 2048, "guest node 1: 200 2M pages on node 0");
	u = find(&m, -1, 1);
	CHECK(u && u->kb == (2000 + 5) * 4, "anonymous on node 1: heap and stack, not the binary");
	CHECK(!pv_memmap_where_planned(&m, one, 1, why, sizeof(why)), "guest node 1 is off node 1");
	CHECK(strstr(why, "guest node 1") && strstr(why, "host node 0"), "why: %s", why);
	CHECK(pv_memmap_where_planned(&m, both, 2, why, sizeof(why)), "all on nodes 0,1");
	CHECK_INT(pv_memmap_parse("", &m, NULL), 0);
	CHECK_INT(m.n, 0);
	CHECK(pv_memmap_parse("garbage N=x N-1=3 kernelpagesize_kB=\n\n", &m, NULL) == 0 && m.n == 0,
	      "malformed lines count nothing");
	return tap_done("test_memmaps");
}
