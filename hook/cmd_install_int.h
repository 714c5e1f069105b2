/* Shared by hook/cmd_install.c (the commands, storage.cfg, the VMs that
 * name the hookscript) and hook/cmd_install_file.c (the snippet file). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fsio.h"
#include "hook/cmd_install.h"

#define DIR_MAX 256
#define STORAGE_MAX 64
#define CONTENT_MAX 256
#define MAX_REFS 1024
#define FILE_MAX ((size_t)64 << 20)

enum hook_kind { HOOK_ABSENT, HOOK_SAME, HOOK_OURS, HOOK_FOREIGN };

struct inst {
	char dir[DIR_MAX];          /* the snippets directory, host path */
	char dirpath[PV_PATH_MAX];  /* the same under --root */
	char dest[PV_PATH_MAX];     /* dirpath/pvepin */
	char storage[STORAGE_MAX];  /* PVE storage id, "" if not known */
	bool from_cfg;              /* storage found in storage.cfg */
	bool snippets;              /* ... and it has the snippets content type */
	char content[CONTENT_MAX];  /* its content list, for the pvesm hint */
	bool force;
};

/* This binary, read whole through /proc/self/exe. */
char *pv_inst_read_self(size_t *len, struct pv_err *e);

/* What is at the hookscript path now (st: its lstat). */
int pv_inst_hook_kind(const char *path, const char *self, size_t selflen, enum hook_kind *k,
		      struct stat *st, struct pv_err *e);

/* Create the snippets directory (one level: its storage must exist). */
int pv_inst_ensure_dir(const struct inst *in, struct pv_err *e);

/* Refuse a snippets directory that someone other than root could change,
 * or any directory above it (up to / or --root): not root-owned, or group
 * or other writable (a parent with the sticky bit, like /tmp, excepted:
 * its entries of root's stay root's). Warns when it is on NFS or CIFS. */
int pv_inst_check_dir(const struct inst *in, struct pv_err *e);

/* Write data to dest atomically (tmp, fsync, rename, fsync the dir). */
int pv_inst_write(const struct inst *in, const char *data, size_t len, struct pv_err *e);

int pv_inst_fsync_dir(const char *dir, struct pv_err *e);
