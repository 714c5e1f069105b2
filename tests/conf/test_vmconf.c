/* PVE VM config parsing (conf/vmconf.c), -smp from args, and PCI resource
 * mappings (conf/pcimap.c). Run from the repository root. */
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "conf/pcimap.h"
#include "conf/vmconf.h"
#include "tests/lib/tap.h"

static char *set_str(hwloc_const_bitmap_t b)
{
	static char buf[4][256];
	static int i;
	char *s = buf[i++ % 4];

	if (!b)
		return strcpy(s, "(null)");
	if (pv_cpulist_format(s, 256, b) < 0)
		strcpy(s, "(overflow)");
	return s;
}

static char *bdf_str(const struct pv_bdf *b)
{
	static char buf[4][PV_BDF_LEN];
	static int i;
	char *s = buf[i++ % 4];

	pv_bdf_format(b, s);
	return s;
}

static int parse(const char *text, struct pv_vmconf *c, struct pv_err *e)
{
	memset(e, 0, sizeof(*e));
	return pv_vmconf_parse_string(text, "t.conf", 100, c, e);
}

static void test_seed100(void)
{
	struct pv_err e = { 0 };
	struct pv_vmconf c;
	struct pv_hostpci *h;

	pv_opt.root = "";
	if (pv_vmconf_load(100, "tests/fixtures/seed/100.conf", &c, &e) < 0) {
		CHECK(0, "seed 100.conf: %s", e.msg); /* and nothing to look at */
		return;
	}
	CHECK_INT(c.vmid, 100);
	CHECK_STR(c.name, "gaming");
	CHECK_INT(c.memory_mb, 49152);
	CHECK_INT(c.hugepages_kb, 1048576);
	CHECK_INT(c.cores, 16); /* [snap1]'s cores: 8 must not count */
	CHECK_INT(c.sockets, 1);
	CHECK_INT(c.vcpus, 0);
	CHECK(c.numa, "numa: 1");
	CHECK_STR(c.cpu, "host,hidden=1,flags=+pdpe1gb;+hv-tlbflush");
	CHECK(c.cpu_pdpe1gb, "pdpe1gb");
	CHECK_STR(set_str(c.affinity), "0-15");
	CHECK(c.hostpci[0].present && c.hostpci[1].present && c.hostpci[3].present, "hostpci 0 1 3");
	CHECK(!c.hostpci[2].present, "no hostpci2");
	for (int i = 4; i < PV_MAX_HOSTPCI; i++)
		CHECK(!c.hostpci[i].present, "hostpci%d", i);
	h = &c.hostpci[0];
	CHECK_INT(h->nbdf, 1);
	CHECK_STR(bdf_str(&h->bdf[0]), "0000:81:00.0");
	CHECK(!h->bdf[0].all_fn, "function given");
	CHECK(h->pcie && !h->xvga, "pcie=1");
	CHECK_STR(h->romfile, "409024576.rom");
	CHECK_STR(h->mapping, "");
	CHECK_STR(bdf_str(&c.hostpci[1].bdf[0]), "0000:81:00.1");
	CHECK_STR(c.hostpci[1].romfile, "");
	CHECK_STR(bdf_str(&c.hostpci[3].bdf[0]), "0000:4b:00.0");
	CHECK(c.gnuma[0].present && c.gnuma[1].present && !c.gnuma[2].present, "numa0/1");
	CHECK_STR(set_str(c.gnuma[0].cpus), "0-7");
	CHECK_STR(set_str(c.gnuma[0].hostnodes), "0");
	CHECK_STR(set_str(c.gnuma[1].cpus), "8-15");
	CHECK_STR(set_str(c.gnuma[1].hostnodes), "1");
	CHECK_INT(c.gnuma[1].memory_mb, 24576);
	CHECK_STR(c.gnuma[1].policy, "bind");
	CHECK(c.smp.present, "-smp");
	CHECK_INT(c.smp.cpus, 16);
	CHECK_INT(c.smp.cores, 16);
	CHECK_INT(c.smp.threads, 1);
	CHECK_INT(c.smp.sockets, 1);
	CHECK_INT(c.smp.maxcpus, 16);
	CHECK_INT(c.smp.dies, 0);
	CHECK_INT(pv_vmconf_nvcpus(&c), 16);
	pv_vmconf_free(&c);
}

static void test_seed101(void)
{
	struct pv_err e = { 0 };
	struct pv_vmconf c;
	struct pv_hostpci *h;

	if (pv_vmconf_load(101, "tests/fixtures/seed/101.conf", &c, &e) < 0) {
		CHECK(0, "seed 101.conf: %s", e.msg); /* and nothing to look at */
		return;
	}
	CHECK_STR(c.name, "workstation");
	CHECK_INT(c.memory_mb, 98304);
	CHECK_INT(c.cores, 64);
	h = &c.hostpci[0];
	CHECK_INT(h->nbdf, 1);
	CHECK(h->bdf[0].all_fn, "0000:81:00 means every function");
	CHECK_STR(bdf_str(&h->bdf[0]), "0000:81:00");
	h = &c.hostpci[1];
	CHECK_INT(h->nbdf, 2);
	CHECK_STR(bdf_str(&h->bdf[0]), "0000:5d:00.0");
	CHECK_STR(bdf_str(&h->bdf[1]), "0000:6f:00.0");
	CHECK(h->pcie, "pcie");
	CHECK_STR(set_str(c.affinity), "0-63");
	for (int i = 0; i < 4; i++) {
		CHECK(c.gnuma[i].present, "numa%d", i);
		CHECK_INT(hwloc_bitmap_first(c.gnuma[i].cpus), i * 16);
		CHECK_INT(hwloc_bitmap_last(c.gnuma[i].cpus), i * 16 + 15);
		CHECK_INT(hwloc_bitmap_first(c.gnuma[i].hostnodes), i);
	}
	CHECK_INT(c.smp.cpus, 64);
	CHECK_INT(c.smp.cores, 8);
	CHECK_INT(c.smp.threads, 2);
	CHECK_INT(c.smp.sockets, 4);
	CHECK_INT(pv_vmconf_nvcpus(&c), 64);
	pv_vmconf_free(&c);
}

static void test_forms(void)
{
	struct pv_err e;
	struct pv_vmconf c;

	CHECK(parse("hostpci0: 81:00.0\n"
		    "hostpci1: host=0000:5d:00.0;0000:6f:00.0,pcie=1,rombar=0,x-vga=on\n"
		    "hostpci15: mapping=gpu4090,pcie=0\n"
		    "hostpci2: 0000:4B:00,mdev=nvidia-1,unknown-future=7\n"
		    "memory: current=49152\n"
		    "hugepages: any\n"
		    "numa0: cpus=0-7;16-23,hostnodes=0-1,memory=1024,policy=interleave\n"
		    "numa7: cpus=5\n"
		    "numa: 0\n"
		    "affinity: 0,1,2\n"
		    "vcpus: 6\n"
		    "cores: 4\n"
		    "sockets: 2\n"
		    "cpu: host\n"
		    "description: ignored key\n"
		    "net0: virtio=00:11:22:33:44:55,bridge=vmbr0\n",
		    &c, &e) == 0, "%s", e.msg);
	CHECK_STR(bdf_str(&c.hostpci[0].bdf[0]), "0000:81:00.0");
	CHECK(!c.hostpci[0].pcie, "pcie default off");
	CHECK_INT(c.hostpci[1].nbdf, 2);
	CHECK(c.hostpci[1].xvga && c.hostpci[1].pcie, "x-vga=on pcie=1");
	CHECK(c.hostpci[15].present, "hostpci15");
	CHECK_STR(c.hostpci[15].mapping, "gpu4090");
	CHECK_INT(c.hostpci[15].nbdf, 0);
	CHECK(c.hostpci[2].bdf[0].all_fn, "all functions");
	CHECK_STR(bdf_str(&c.hostpci[2].bdf[0]), "0000:4b:00");
	CHECK_INT(c.memory_mb, 49152);
	CHECK_INT(c.hugepages_kb, -1);
	CHECK_STR(set_str(c.gnuma[0].cpus), "0-7,16-23");
	CHECK_STR(set_str(c.gnuma[0].hostnodes), "0-1");
	CHECK_INT(c.gnuma[0].memory_mb, 1024);
	CHECK_STR(c.gnuma[0].policy, "interleave");
	CHECK_STR(set_str(c.gnuma[7].cpus), "5");
	CHECK(c.gnuma[7].hostnodes == NULL, "no hostnodes");
	CHECK_INT(c.gnuma[7].memory_mb, 0);
	CHECK_STR(c.gnuma[7].policy, "");
	CHECK(!c.numa, "numa: 0");
	CHECK_STR(set_str(c.affinity), "0-2");
	CHECK(!c.cpu_pdpe1gb, "no pdpe1gb");
	CHECK(!c.smp.present, "no args");
	CHECK_INT(pv_vmconf_nvcpus(&c), 6); /* vcpus: wins over cores*sockets */
	pv_vmconf_free(&c);

	/* defaults, and cores*sockets */
	CHECK(parse("cores: 4\nsockets: 2\nhugepages: 2\n", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.memory_mb, 512);
	CHECK_INT(c.hugepages_kb, 2048);
	CHECK(c.affinity == NULL, "no affinity");
	CHECK_INT(pv_vmconf_nvcpus(&c), 8);
	pv_vmconf_free(&c);

	CHECK(parse("", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.cores, 1);
	CHECK_INT(c.sockets, 1);
	CHECK_INT(c.hugepages_kb, 0);
	CHECK_INT(pv_vmconf_nvcpus(&c), 1);
	CHECK_STR(c.cpu, "");
	pv_vmconf_free(&c);

	/* CRLF, trailing spaces, no final newline */
	CHECK(parse("memory:   2048  \r\ncores: 3\r\nname: win\r", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.memory_mb, 2048);
	CHECK_INT(c.cores, 3);
	CHECK_STR(c.name, "win");
	pv_vmconf_free(&c);
}

static void test_args(void)
{
	struct pv_err e;
	struct pv_vmconf c;

	CHECK(parse("args: -cpu host -smp \"cpus=8,sockets=2,cores=2,threads=2\" -m 1\n", &c, &e) == 0,
	      "%s", e.msg);
	CHECK(c.smp.present, "smp");
	CHECK_INT(c.smp.cpus, 8);
	CHECK_INT(c.smp.sockets, 2);
	CHECK_INT(c.smp.threads, 2);
	pv_vmconf_free(&c);

	CHECK(parse("args: -smp 12\ncores: 2\n", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.smp.cpus, 12);
	CHECK_INT(pv_vmconf_nvcpus(&c), 12);
	pv_vmconf_free(&c);

	CHECK(parse("args: -smp sockets=2,cores=4,threads=2,dies=1\n", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.smp.cpus, 0);
	CHECK_INT(c.smp.dies, 1);
	CHECK_INT(pv_vmconf_nvcpus(&c), 16);
	pv_vmconf_free(&c);

	CHECK(parse("args: -smp 4,maxcpus=8\n", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(pv_vmconf_nvcpus(&c), 4);
	pv_vmconf_free(&c);

	CHECK(parse("args: --smp=4 -device 'a b' -name \"x\\\"y\"\n", &c, &e) == 0, "%s", e.msg);
	CHECK(!c.smp.present, "--smp=4 is not a -smp word");
	pv_vmconf_free(&c);

	CHECK(parse("args: -smp '4,clusters=1'\n", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.smp.cpus, 4);
	pv_vmconf_free(&c);
}

/* A parse that must fail, naming the config line and the key. */
static void bad(const char *text, const char *where, const char *what)
{
	struct pv_err e;
	struct pv_vmconf c;

	CHECK(parse(text, &c, &e) < 0, "accepted: %s", text);
	CHECK(strstr(e.msg, where) != NULL, "'%s': message '%s' lacks '%s'", text, e.msg, where);
	CHECK(strstr(e.msg, what) != NULL, "'%s': message '%s' lacks '%s'", text, e.msg, what);
	pv_vmconf_free(&c);
}

static void test_bad(void)
{
	char big[400];

	bad("cores: 2\nhostpci0: 0000:81:00.9\n", "t.conf:2: hostpci0:", "bad PCI address");
	bad("hostpci16: 81:00.0\n", "t.conf:1: hostpci16:", "out of range");
	bad("hostpci01: 81:00.0\n", "hostpci01:", "out of range");
	bad("hostpci99999999999999999999: 81:00.0\n", "t.conf:1:", "out of range");
	bad("hostpci0: pcie=1\n", "hostpci0:", "Either 'host' or 'mapping' must be set");
	bad("hostpci0: host=81:00.0,mapping=gpu\n", "hostpci0:", "Cannot set both 'host' and 'mapping'");
	bad("hostpci0: host=;\n", "hostpci0:", "no device");
	bad("hostpci0: host=81:00.0;81:00.1;81:00.2;81:00.3;81:00.4;81:00.5;81:00.6;81:00.7;"
	    "82:00.0;82:00.1;82:00.2;82:00.3;82:00.4;82:00.5;82:00.6;82:00.7;83:00.0\n",
	    "hostpci0:", "more than 16");
	bad("hostpci0: 81:00.0,romfile=../../etc/shadow\n", "hostpci0:", "without '/' or '..'");
	bad("hostpci0: 81:00.0,romfile=/usr/share/kvm/x.rom\n", "hostpci0:", "without '/'");
	bad("hostpci0: 81:00.0,romfile=..rom\n", "hostpci0:", "'..'");
	bad("hostpci0: 81:00.0,romfile=\n", "hostpci0:", "romfile is empty");
	memset(big, 'a', sizeof(big));
	memcpy(big, "hostpci0: 81:00.0,romfile=", 26);
	strcpy(big + 26 + 256, "\n");
	bad(big, "hostpci0:", "longer than 255");
	bad("hostpci0: 81:00.0,pcie=maybe\n", "hostpci0:", "pcie=maybe is not a boolean");
	bad("hostpci0: 81:00.0,x-vga=2\n", "hostpci0:", "x-vga");
	bad("hostpci0: 81:00.0,pcie=1,pcie=0\n", "hostpci0:", "given twice");
	bad("hostpci0: 81:00.0,82:00.0\n", "hostpci0:", "given twice");
	bad("hostpci0: mapping=../x\n", "hostpci0:", "bad mapping name");
	bad("hostpci0: mapping=1gpu\n", "hostpci0:", "bad mapping name");
	bad("numa0: hostnodes=0\n", "t.conf:1: numa0:", "cpus= missing");
	bad("numa0: cpus=7-0\n", "numa0:", "bad range");
	bad("numa0: cpus=0-7,16-23\n", "numa0:", "not key=value");
	bad("numa0: cpus=0-7,hostnodes=x\n", "numa0:", "hostnodes");
	bad("numa0: cpus=0-7,memory=-5\n", "numa0:", "memory=-5");
	bad("numa0: cpus=0-7,policy=random\n", "numa0:", "allowed: bind");
	bad("numa8: cpus=0\n", "numa8:", "out of range (0..7)");
	bad("numa: 2\n", "numa:", "not a boolean");
	bad("affinity: 0-\n", "affinity:", "bad range");
	bad("affinity: 0;1\n", "affinity:", "unexpected");
	bad("affinity: 99999\n", "affinity:", "number below");
	bad("memory: 0\n", "memory:", "not a size");
	bad("memory: 12G\n", "memory:", "not a size");
	bad("memory: 99999999999999999999999\n", "memory:", "not a size");
	bad("memory: max=4096\n", "memory:", "current= missing");
	bad("hugepages: 1G\n", "hugepages:", "allowed: any, 2, 1024");
	bad("cores: 0\n", "cores:", "not a number");
	bad("cores: -1\n", "cores:", "not a number");
	bad("sockets: 4294967297\n", "sockets:", "not a number");
	bad("vcpus: 1.5\n", "vcpus:", "not a number");
	bad("args: -smp '4\n", "args:", "unterminated quote");
	bad("args: -smp 4 -smp 8\n", "args:", "given twice");
	bad("args: -m 1 -smp\n", "args:", "without a value");
	bad("args: -smp 4,cores=x\n", "args:", "cores=x");
	bad("args: -smp 4,cores=0\n", "args:", "cores=0");
	bad("args: -smp 4,sockets=2,bogus=1\n", "args:", "unknown option 'bogus'");
	bad("args: -smp ,\n", "args:", "empty");
	bad("name: x\nmemory: 2048\ncores: 4\n\n# c\nsockets: x\n", "t.conf:6: sockets:", "not a number");
}

static void test_sections_and_dups(void)
{
	struct pv_err e;
	struct pv_vmconf c;

	CHECK(parse("cores: 4\n# hostpci0: zz\n[PENDING]\ncores: junk\nhostpci0: zz\n", &c, &e) == 0,
	      "%s", e.msg);
	CHECK_INT(c.cores, 4);
	CHECK(!c.hostpci[0].present, "hostpci0 after [PENDING]");
	pv_vmconf_free(&c);
	CHECK(parse("[special:cloudinit]\ncores: 9\n", &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.cores, 1);
	pv_vmconf_free(&c);

	/* last one wins, as in PVE; the first's allocations are not leaked */
	CHECK(parse("numa0: cpus=0-3,hostnodes=0\nnuma0: cpus=4-7\naffinity: 1\naffinity: 2-3\n"
		    "hostpci0: 81:00.0,romfile=a.rom\nhostpci0: 82:00.0\nargs: -smp 4\nargs: -m 1\n",
		    &c, &e) == 0, "%s", e.msg);
	CHECK_STR(set_str(c.gnuma[0].cpus), "4-7");
	CHECK(c.gnuma[0].hostnodes == NULL, "hostnodes reset");
	CHECK_STR(set_str(c.affinity), "2-3");
	CHECK_STR(bdf_str(&c.hostpci[0].bdf[0]), "0000:82:00.0");
	CHECK_STR(c.hostpci[0].romfile, "");
	CHECK(!c.smp.present, "second args: has no -smp");
	pv_vmconf_free(&c);
}

static void test_pcimap_string(void)
{
	struct pv_err e = { 0 };
	struct pv_bdf b[PV_MAX_FUNCS];
	size_t len;
	char *cfg = pv_slurp("tests/fixtures/conf/pci.cfg", &len, &e);
	int n = -1;

	CHECK(cfg != NULL, "%s", e.msg);
	if (!cfg)
		return;
	CHECK(pv_pcimap_parse_string(cfg, "pci.cfg", "gpu4090", "pve1", b, PV_MAX_FUNCS, &n, &e) == 0,
	      "%s", e.msg);
	CHECK_INT(n, 2);
	CHECK_STR(bdf_str(&b[0]), "0000:81:00.0");
	CHECK_STR(bdf_str(&b[1]), "0000:81:00.1");
	CHECK(pv_pcimap_parse_string(cfg, "pci.cfg", "gpu4090", "pve2", b, PV_MAX_FUNCS, &n, &e) == 0,
	      "%s", e.msg);
	CHECK_INT(n, 1);
	CHECK_STR(bdf_str(&b[0]), "0000:01:00.0");
	CHECK(pv_pcimap_parse_string(cfg, "pci.cfg", "nic", "pve1", b, PV_MAX_FUNCS, &n, &e) == 0,
	      "%s", e.msg);
	CHECK_INT(n, 1);
	CHECK(b[0].all_fn, "path without function");

	CHECK(pv_pcimap_parse_string(cfg, "pci.cfg", "gpu", "pve1", b, PV_MAX_FUNCS, &n, &e) < 0,
	      "unknown mapping");
	CHECK(strstr(e.msg, "mapping not found for 'gpu' in pci.cfg") != NULL, "%s", e.msg);
	CHECK(pv_pcimap_parse_string(cfg, "pci.cfg", "gpu4090", "pve3", b, PV_MAX_FUNCS, &n, &e) < 0,
	      "unknown node");
	CHECK(strstr(e.msg, "mapping not found for 'gpu4090': no device for node 'pve3'") != NULL, "%s", e.msg);
	CHECK(pv_pcimap_parse_string(cfg, "pci.cfg", "nopath", "pve1", b, PV_MAX_FUNCS, &n, &e) < 0,
	      "no path");
	CHECK(strstr(e.msg, "pci.cfg:12: mapping 'nopath'") != NULL && strstr(e.msg, "no path="),
	      "%s", e.msg);
	free(cfg);

	CHECK(pv_pcimap_parse_string("g\n\tmap path=81:00.0\n", "c", "g", "n", b, 4, &n, &e) < 0,
	      "no node");
	CHECK(strstr(e.msg, "c:2: mapping 'g': a map line has no node=") != NULL, "%s", e.msg);
	CHECK(pv_pcimap_parse_string("g\n\tmap node=n,path=81:00.0;zz\n", "c", "g", "n", b, 4, &n, &e) < 0,
	      "bad path");
	CHECK(strstr(e.msg, "c:2: mapping 'g': map for node 'n': bad PCI address 'zz'") != NULL, "%s",
	      e.msg);
	CHECK(pv_pcimap_parse_string("g\n\tmap node=n,path=81:00.0\ng\n", "c", "g", "n", b, 4, &n, &e) < 0,
	      "duplicate entry");
	CHECK(strstr(e.msg, "c:3: mapping 'g' defined twice") != NULL, "%s", e.msg);
	CHECK(pv_pcimap_parse_string("g\n\tmap node=n,path=1:0;2:0;3:0\n", "c", "g", "n", b, 2, &n, &e) < 0,
	      "too many");
	CHECK(pv_pcimap_parse_string("", "c", "g", "n", b, 2, &n, &e) < 0, "empty");
	/* an entry named like a node, or a map line outside the entry, does not count */
	CHECK(pv_pcimap_parse_string("\tmap node=n,path=81:00.0\nh\n\tmap node=n,path=82:00.0\n",
				     "c", "g", "n", b, 2, &n, &e) < 0, "wrong entry");
	CHECK(pv_pcimap_parse_string("g \r\n\tdescription x\n\tmap  node=n,path=82:00.0  \r\n",
				     "c", "g", "n", b, 2, &n, &e) == 0, "%s", e.msg);
	CHECK_STR(bdf_str(&b[0]), "0000:82:00.0");
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[1024], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "create %s", path);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", path);
	close(fd);
}

static void copy_fixture(const char *dir, const char *rel, const char *from)
{
	struct pv_err e = { 0 };
	char *text = pv_slurp(from, NULL, &e);

	CHECK(text != NULL, "%s", e.msg);
	if (text)
		write_file(dir, rel, text);
	free(text);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void test_load_root(void)
{
	char dir[] = "/tmp/pvepin-vmconf-XXXXXX";
	struct pv_err e = { 0 };
	struct pv_vmconf c;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	pv_opt.root = dir;
	copy_fixture(dir, "etc/pve/qemu-server/200.conf", "tests/fixtures/conf/200.conf");
	write_file(dir, "etc/pve/qemu-server/201.conf", "hostpci0: mapping=ghost\n");
	write_file(dir, "etc/pve/qemu-server/202.conf", "hostpci0: 81:00.0\ncores: 2\n");

	/* no pci.cfg: a mapped VM cannot be resolved, a plain one loads */
	CHECK(pv_vmconf_load(200, NULL, &c, &e) < 0, "no pci.cfg");
	CHECK(strstr(e.msg, "hostpci0: mapping 'gpu4090'") && strstr(e.msg, "No such file"), "%s",
	      e.msg);
	pv_vmconf_free(&c);
	CHECK(pv_vmconf_load(202, NULL, &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.cores, 2);
	pv_vmconf_free(&c);

	copy_fixture(dir, "etc/pve/mapping/pci.cfg", "tests/fixtures/conf/pci.cfg");
	write_file(dir, "etc/hostname", "pve1.example.org\n");
	CHECK(pv_vmconf_load(200, NULL, &c, &e) == 0, "%s", e.msg);
	CHECK_INT(c.hostpci[0].nbdf, 2);
	CHECK_STR(bdf_str(&c.hostpci[0].bdf[1]), "0000:81:00.1");
	CHECK(c.hostpci[0].xvga, "x-vga");
	CHECK_STR(bdf_str(&c.hostpci[2].bdf[0]), "0000:4b:00");
	CHECK(!c.hostpci[1].present, "[PENDING] hostpci1 ignored");
	CHECK_INT(c.memory_mb, 16384);
	CHECK_INT(c.hugepages_kb, 2048);
	CHECK_INT(pv_vmconf_nvcpus(&c), 12);
	CHECK_STR(c.name, "mapped");
	pv_vmconf_free(&c);

	write_file(dir, "etc/hostname", "pve2\n");
	CHECK(pv_vmconf_load(200, NULL, &c, &e) == 0, "%s", e.msg);
	CHECK_STR(bdf_str(&c.hostpci[0].bdf[0]), "0000:01:00.0");
	CHECK_STR(bdf_str(&c.hostpci[2].bdf[0]), "0000:02:00.0");
	pv_vmconf_free(&c);

	write_file(dir, "etc/hostname", "pve9\n");
	CHECK(pv_vmconf_load(200, NULL, &c, &e) < 0, "node without map");
	/* both lines named: the VM config's hostpci0 and the mapping's entry */
	CHECK(strstr(e.msg, "200.conf:5: hostpci0: "), "%s", e.msg);
	CHECK(strstr(e.msg, "pci.cfg:1: PCI device mapping not found for 'gpu4090': no device for node 'pve9'"),
	      "%s", e.msg);
	pv_vmconf_free(&c);
	CHECK(pv_vmconf_load(201, NULL, &c, &e) < 0, "unknown mapping");
	CHECK(strstr(e.msg, "201.conf:1: hostpci0: PCI device mapping not found for 'ghost' in"), "%s", e.msg);
	pv_vmconf_free(&c);
	write_file(dir, "etc/hostname", "bad/name\n");
	CHECK(pv_vmconf_load(200, NULL, &c, &e) < 0, "bad hostname");
	CHECK(strstr(e.msg, "bad node name"), "%s", e.msg);
	pv_vmconf_free(&c);

	CHECK(pv_vmconf_load(203, NULL, &c, &e) < 0, "missing config");
	CHECK(strstr(e.msg, "203.conf") && strstr(e.msg, "No such file"), "%s", e.msg);
	CHECK(pv_vmconf_load(99, NULL, &c, &e) < 0, "bad vmid");
	CHECK(pv_vmconf_load(100, "/nonexistent/x.conf", &c, &e) < 0, "missing --conf");
	pv_opt.root = "";
	CHECK(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "rm %s", dir);
}

/* Issue 14: what qemu-server reads and pvepin used to skip. */
static void test_pve_semantics(void)
{
	struct pv_err e;
	struct pv_vmconf c;
	struct pv_mapalt alt[PV_MAX_MAPALT];
	int n;

	/* lines parse_vm_config cannot parse are refused, with PVE's words */
	bad("cores: 2\n  leading: space\n", "t.conf:2:", "unable to parse config");
	bad("root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n", "t.conf:2:", "vm 100 - unable to parse config");
	bad("cores:\n", "t.conf:1:", "unable to parse config");
	bad("Cores: 2\n", "t.conf:1:", "unable to parse config");
	/* but keys with '-' and blank lines are PVE's own */
	CHECK(parse("cores: 2\n\n   \nsome-key: 1\n", &c, &e) == 0, "%s", e.msg);
	pv_vmconf_free(&c);
	/* mdev, driver, template, kvm, hotplug */
	CHECK(parse("hostpci0: 81:00.0,mdev=nvidia-35\nhostpci1: 82:00.0,driver=keep\n"
		    "hostpci2: 83:00.0,driver=vfio\ntemplate: 1\nkvm: 0\nhotplug: disk,memory\n",
		    &c, &e) == 0, "%s", e.msg);
	CHECK_STR(c.hostpci[0].mdev, "nvidia-35");
	CHECK(!c.hostpci[0].keep && c.hostpci[1].keep && !c.hostpci[2].keep, "driver=keep");
	CHECK(c.template && !c.kvm && c.hotplug_memory, "template, kvm, hotplug");
	pv_vmconf_free(&c);
	CHECK(parse("cores: 1\n", &c, &e) == 0 && c.kvm && !c.template && !c.hotplug_memory,
	      "defaults: kvm on, not a template, no memory hotplug");
	pv_vmconf_free(&c);
	bad("hostpci0: 81:00.0,driver=nouveau\n", "hostpci0:", "allowed: vfio, keep");
	bad("hostpci0: host=81:00.0;81:00.1,mdev=x\n", "hostpci0:", "cannot use mediated device with multifunction device");
	bad("hostpci0: 81:00.0,mdev=../x\n", "hostpci0:", "not a mediated device type");
	bad("hotplug: memory,warp\n", "hotplug:", "unable to parse hotplug option");
	bad("kvm: maybe\n", "kvm:", "not a boolean");
	/* every map line of the node is an alternative, with id and group */
	CHECK(pv_pcimap_parse_alts("nic\n\tmap id=8086:1521,iommugroup=7,node=n,path=02:00.0\n"
				   "\tmap node=m,path=03:00.0\n\tmap id=8086:1521,node=n,path=04:00.0\n",
				   "c", "nic", "n", alt, PV_MAX_MAPALT, &n, &e) == 0, "%s", e.msg);
	CHECK_INT(n, 2);
	CHECK_STR(bdf_str(&alt[1].bdf[0]), "0000:04:00.0");
	CHECK(alt[0].vendor == 0x8086 && alt[0].device == 0x1521 && alt[0].iommugroup == 7 &&
	      alt[1].iommugroup == -1, "id and iommugroup read");
	CHECK(pv_pcimap_parse_alts("nic\n\tmap id=zz,node=n,path=02:00.0\n", "c", "nic", "n", alt,
				   PV_MAX_MAPALT, &n, &e) < 0 && strstr(e.msg, "vendor:device"), "bad id: %s", e.msg);
}

static void test_nul(const char *dir)
{
	static const char lit[] = "cores: 2\n\0hostpci0: 81:00.0\n";
	struct pv_err e = { 0 };
	struct pv_vmconf c;
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	f = fopen(path, "w");
	CHECK(f != NULL, "open %s", path);
	if (!f)
		return;
	fwrite(lit, 1, sizeof(lit) - 1, f);
	fclose(f);
	CHECK(pv_vmconf_load(100, path, &c, &e) < 0, "a NUL byte is refused");
	CHECK(strstr(e.msg, "NUL byte at offset 9") != NULL, "%s", e.msg);
	pv_vmconf_free(&c);
}

int main(void)
{
	test_seed100();
	test_seed101();
	test_forms();
	test_args();
	test_bad();
	test_sections_and_dups();
	test_pcimap_string();
	test_load_root();
	test_pve_semantics();
	test_nul("/tmp");
	return tap_done("test_vmconf");
}
