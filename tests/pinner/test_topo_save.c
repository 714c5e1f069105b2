/* pinner/topo.c pv_topo_export: the topology pre-start keeps for
 * post-start is written without following a link planted at its name or
 * at its tmp name, and reads back as the same host. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsio.h"
#include "pinner/topo.h"
#include "tests/lib/tap.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

int main(void)
{
	char dir[] = "/tmp/pvepin-topo-XXXXXX", path[300], tmp[310], victim[300], buf[64];
	struct pv_topo t = { 0 }, back = { 0 };
	struct pv_err e = { 0 };
	struct stat st;
	int fd;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/100.topology.xml", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0 && write(fd, "precious\n", 9) == 9 && close(fd) == 0, "victim");
	CHECK(symlink(victim, tmp) == 0 && symlink(victim, path) == 0, "symlinks");

	CHECK(pv_topo_load(&t, "tests/fixtures/hosts/desktop-4c8t-1l3.xml", &e) == 0, "%s", e.msg);
	CHECK(pv_topo_export(&t, path, &e) == 0, "%s", e.msg);
	CHECK(pv_read_file(victim, buf, sizeof(buf), NULL) == 8 && !strcmp(buf, "precious"),
	      "the link's target was written: '%s'", buf);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
	      "saved as a regular 0600 file");
	CHECK(lstat(tmp, &st) < 0 && errno == ENOENT, "tmp left behind");
	CHECK(pv_topo_load(&back, path, &e) == 0, "read back: %s", e.msg);
	CHECK_INT(hwloc_get_nbobjs_by_type(back.h, HWLOC_OBJ_PU), hwloc_get_nbobjs_by_type(t.h, HWLOC_OBJ_PU));
	CHECK_INT(hwloc_get_nbobjs_by_type(back.h, HWLOC_OBJ_PU), 8);
	pv_topo_free(&back);
	pv_topo_free(&t);
	CHECK(nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS) == 0, "rm %s", dir);
	return tap_done("test_topo_save");
}
