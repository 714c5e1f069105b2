#include "engine/memmaps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"

#define MAPS_MAX (16L << 20)

static void add(struct pv_memmap *m, int gnode, int hnode, long page_kb, long kb)
{
	for (int i = 0; i < m->n; i++) {
		struct pv_memuse *u = &m->u[i];

		if (u->gnode == gnode && u->hnode == hnode && u->page_kb == page_kb) {
			u->kb += kb;
			return;
		}
	}
	if (m->n == PV_MEMUSE_MAX)
		return; /* more distinct (node, node, size) than any host has */
	m->u[m->n++] = (struct pv_memuse){ gnode, hnode, page_kb, kb };
}

/* "ram-node3" anywhere in a file= path: guest node 3. */
static int gnode_of(const char *file)
{
	const char *p = strstr(file, "ram-node");
	char *end;
	long n;

	if (!p)
		return -1;
	errno = 0;
	n = strtol(p + 8, &end, 10);
	return errno || end == p + 8 || n < 0 || n > 4096 ? -1 : (int)n;
}

/* One line: "<addr> <policy> [file=...] [huge] [anon=N] ... N<n>=<pages> ... kernelpagesize_kB=K" */
static void parse_line(char *line, struct pv_memmap *m)
{
	long page_kb = 4, pages[64];
	int gnode = -1, nodes[64], nn = 0;
	bool named = false, anon = false;
	char *save = NULL;

	for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		int node;
		long v;

		if (!strncmp(t, "file=", 5)) {
			gnode = gnode_of(t + 5);
			named = gnode >= 0;
		} else if (!strncmp(t, "anon=", 5)) {
			anon = true;
		} else if (!strncmp(t, "kernelpagesize_kB=", 18)) {
			page_kb = strtol(t + 18, NULL, 10);
		} else if (t[0] == 'N' && sscanf(t, "N%d=%ld", &node, &v) == 2 && nn < 64 && node >= 0) {
			nodes[nn] = node;
			pages[nn++] = v;
		}
	}
	if (!named && !anon)
		return; /* a file mapping that is not guest RAM: binaries, libraries */
	for (int i = 0; i < nn; i++)
		add(m, named ? gnode : -1, nodes[i], page_kb, pages[i] * page_kb);
}

int pv_memmap_parse(const char *text, struct pv_memmap *m, struct pv_err *e)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;

	memset(m, 0, sizeof(*m));
	if (!copy)
		return pv_fail(e, ENOMEM, "numa_maps");
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		parse_line(l, m);
	return 0;
}

int pv_memmap_read(pid_t pid, struct pv_memmap *m, struct pv_err *e)
{
	_cleanup_free_ char *buf = NULL;
	char path[PV_PATH_MAX];
	size_t cap = 1 << 16;
	ssize_t got;

	if (pv_path(path, sizeof(path), e, "/proc/%d/numa_maps", (int)pid) < 0)
		return -1;
	/* a big QEMU has thousands of mappings: grow until it all fits */
	for (;;) {
		char *nb = realloc(buf, cap);

		if (!nb)
			return pv_fail(e, ENOMEM, "%s", path);
		buf = nb;
		if ((got = pv_read_file(path, buf, cap, e)) < 0)
			return -1;
		if ((size_t)got + 16 < cap || cap >= MAPS_MAX)
			break;
		cap *= 2;
	}
	return pv_memmap_parse(buf, m, e);
}

bool pv_memmap_where_planned(const struct pv_memmap *m, const int *nodes, int n, char *why,
			     size_t whyn)
{
	for (int i = 0; i < m->n; i++) {
		const struct pv_memuse *u = &m->u[i];
		bool ok = false;

		if (u->gnode < 0 || !u->kb)
			continue;
		for (int k = 0; k < n; k++)
			ok |= nodes[k] == u->hnode;
		if (!ok) {
			snprintf(why, whyn, "guest node %d has %ld MiB on host node %d, planned on "
				 "node%s %d%s", u->gnode, u->kb >> 10, u->hnode, n > 1 ? "s" : "",
				 n ? nodes[0] : -1, n > 1 ? ",..." : "");
			return false;
		}
	}
	return true;
}
