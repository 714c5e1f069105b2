/* A throwaway --root for the irqtune tests: /proc/interrupts from a fixture,
 * hand-made /sys/bus/pci/devices and /proc/irq entries. */
#pragma once
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"

static char fr_root[64];

static inline void fr_die(const char *what, const char *path)
{
	printf("not ok: test setup: %s %s: %s\n", what, path, strerror(errno));
	exit(2);
}

static inline void fr_mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			fr_die("mkdir", path);
		*p = '/';
	}
}

/* Write content to <root><rel>, creating directories. */
static inline void fr_put(const char *rel, const char *fmt, ...)
{
	char path[512];
	FILE *f;
	va_list ap;

	snprintf(path, sizeof(path), "%s%s", fr_root, rel);
	fr_mkdirs(path);
	f = fopen(path, "w");
	if (!f)
		fr_die("create", path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static inline void fr_dir(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s/", fr_root, rel);
	fr_mkdirs(path);
}

static inline void fr_rm(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", fr_root, rel);
	if (unlink(path) < 0)
		fr_die("unlink", path);
}

static inline void fr_symlink(const char *target, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", fr_root, rel);
	fr_mkdirs(path);
	if (symlink(target, path) < 0)
		fr_die("symlink", path);
}

/* Read <root><rel> (trailing newline stripped) into buf; "" if absent. */
static inline const char *fr_get(const char *rel, char *buf, size_t n)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", fr_root, rel);
	if (pv_read_file(path, buf, n, NULL) < 0)
		buf[0] = '\0';
	return buf;
}

static inline void fr_fixture(const char *name)
{
	char src[256];
	char *text;
	size_t len;

	snprintf(src, sizeof(src), "tests/fixtures/irq/%s", name);
	text = pv_slurp(src, &len, NULL);
	if (!text)
		fr_die("read", src);
	fr_put("/proc/interrupts", "%s", text);
	free(text);
}

static inline int fr_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void fr_done(void)
{
	if (fr_root[0])
		nftw(fr_root, fr_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	fr_root[0] = '\0';
	pv_opt.root = "";
}

/* A fresh empty root, made current. */
static inline void fr_new(void)
{
	fr_done();
	snprintf(fr_root, sizeof(fr_root), "/tmp/pvirq.XXXXXX");
	if (!mkdtemp(fr_root))
		fr_die("mkdtemp", fr_root);
	pv_opt.root = fr_root;
}
