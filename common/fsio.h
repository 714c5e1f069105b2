/* File access under --root: every /sys, /proc, /etc, /run path goes through
 * pv_path() so tests and dry runs can point pvepin at a captured host. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

#define PV_PATH_MAX 512

/* Build "<root><path>" from a printf format whose result must start with '/'.
 * Fails (ENAMETOOLONG) rather than truncating. */
int pv_path(char *buf, size_t n, struct pv_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Read a whole small file (sysfs attribute) at an already-rooted path;
 * trailing newlines are stripped. Returns its length or -1; a value that
 * does not fit in n - 1 bytes is an error (EOVERFLOW), never truncated. */
ssize_t pv_read_file(const char *path, char *buf, size_t n, struct pv_err *e);
/* pv_read_file for a kernel attribute (sysfs, or a one-record procfs file
 * like /proc/irq/N/smp_affinity_list), which one read() returns whole:
 * a short read ends it, saving the read that would return 0. Also right
 * for a regular file (the fake trees of tests). */
ssize_t pv_read_attr(const char *path, char *buf, size_t n, struct pv_err *e);
/* pv_read_attr on an fd open on path at its start (path is for messages):
 * a caller that opened it read-write writes its value back through it. */
ssize_t pv_read_attr_fd(int fd, const char *path, char *buf, size_t n, struct pv_err *e);

/* Read a file of any size into a malloc'd, NUL-terminated buffer. */
char *pv_slurp(const char *path, size_t *len, struct pv_err *e);

/* The same from an open fd (name is for messages); more than max bytes is
 * an error (EFBIG). */
char *pv_slurp_fd(int fd, const char *name, size_t max, size_t *len, struct pv_err *e);

/* Basename of a symlink's target ("vfio-pci" for .../driver). Returns 0,
 * or -1 with e->errnum == ENOENT when the link does not exist. */
int pv_readlink_base(const char *path, char *buf, size_t n, struct pv_err *e);

/* Refuse a directory that someone other than root could change: not a
 * directory (a symlink is not followed), not owned by uid 0, or group or
 * other writable. The message says what is wrong and the fix. */
int pv_check_root_dir(const char *path, struct pv_err *e);

/* Replace path with data, mode bits mode: written to an unnamed file in
 * the directory (O_TMPFILE; where the filesystem has none, "<path>.tmp"
 * created with O_EXCL | O_NOFOLLOW), named "<path>.tmp" once complete, then
 * renamed over path (a symlink at either name is replaced, never followed).
 * A write cut short by an error or a kill leaves the old file and nothing
 * else. For pvepin's own files under /run/pvepin (the ledger, the topology
 * copies), not for host attributes (engine/attr.h). */
int pv_save_file(const char *path, const char *data, size_t len, mode_t mode, struct pv_err *e);

/* 1 if the rooted path exists, 0 if not. */
int pv_exists(const char *path);

/* Parse a whole decimal string into a long in [min, max]. */
int pv_parse_long(const char *s, long min, long max, long *out);
