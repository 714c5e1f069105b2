/* The one raw writer of host attributes (sysfs, procfs, cgroup files).
 * Only engine/ calls it (make lint): everything else changes the host
 * through a journaled engine step. */
#pragma once
#include <stdbool.h>

#include "common/err.h"

/* Write val to an already-rooted attribute path with one write(2), as sysfs
 * wants. Partial writes and every errno are errors. */
int pv_write_file(const char *path, const char *val, struct pv_err *e);
/* The same on an fd already open read-write on path (the caller read the
 * old value from it): one write(2). trunc: path is a plain file of a test
 * tree, written from its start and cut there, as O_TRUNC would. */
int pv_write_fd(int fd, const char *path, const char *val, bool trunc, struct pv_err *e);
