#include "engine/hugepages.h"

#include <errno.h>
#include <stdio.h>

#include "common/fsio.h"
#include "engine/attr.h"

/* Rooted path of one pool file ("nr_hugepages", "free_hugepages"). */
static int pv_hp_path(char *buf, size_t n, int node, long size_kb, const char *file, struct pv_err *e)
{
	if (node < 0 || size_kb <= 0)
		return pv_fail(e, EINVAL, "bad hugepage pool node%d/%ldkB", node, size_kb);
	return pv_path(buf, n, e, "/sys/devices/system/node/node%d/hugepages/hugepages-%ldkB/%s",
		       node, size_kb, file);
}

static int read_long(int node, long size_kb, const char *file, long *out, struct pv_err *e)
{
	char path[PV_PATH_MAX], buf[32];

	if (pv_hp_path(path, sizeof(path), node, size_kb, file, e) < 0 ||
	    pv_read_attr(path, buf, sizeof(buf), e) < 0)
		return -1;
	if (pv_parse_long(buf, 0, 1L << 40, out) < 0)
		return pv_fail(e, 0, "%s: not a count: '%s'", path, buf);
	return 0;
}

int pv_hp_read(int node, long size_kb, struct pv_hp_count *c, struct pv_err *e)
{
	if (read_long(node, size_kb, "nr_hugepages", &c->nr, e) < 0 ||
	    read_long(node, size_kb, "free_hugepages", &c->free, e) < 0)
		return -1;
	return 0;
}

int pv_hp_set(int node, long size_kb, long nr, long *got, struct pv_err *e)
{
	char path[PV_PATH_MAX], val[32];

	snprintf(val, sizeof(val), "%ld\n", nr);
	if (pv_hp_path(path, sizeof(path), node, size_kb, "nr_hugepages", e) < 0 ||
	    pv_write_file(path, val, e) < 0)
		return -1;
	return read_long(node, size_kb, "nr_hugepages", got, e);
}

int pv_hp_compact(int node, struct pv_err *e)
{
	char path[PV_PATH_MAX];

	if (pv_path(path, sizeof(path), e, "/sys/devices/system/node/node%d/compact", node) < 0)
		return -1;
	return pv_write_file(path, "1\n", e);
}

const char *pv_hp_size_name(long size_kb, char *buf, size_t n)
{
	if (size_kb % (1024 * 1024) == 0)
		snprintf(buf, n, "%ldG", size_kb / (1024 * 1024));
	else if (size_kb % 1024 == 0)
		snprintf(buf, n, "%ldM", size_kb / 1024);
	else
		snprintf(buf, n, "%ldkB", size_kb);
	return buf;
}
