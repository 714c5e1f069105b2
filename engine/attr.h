/* The one raw writer of host attributes (sysfs, procfs, cgroup files).
 * Only engine/ calls it (make lint): everything else changes the host
 * through a journaled engine step. */
#pragma once
#include "common/err.h"

/* Write val to an already-rooted attribute path with one write(2), as sysfs
 * wants. Partial writes and every errno are errors. */
int pv_write_file(const char *path, const char *val, struct pv_err *e);
