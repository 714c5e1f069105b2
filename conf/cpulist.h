/* Linux cpu-list strings ("0-7,16-23"), validated strictly before hwloc
 * turns them into bitmaps: hwloc's own list parser accepts junk silently. */
#pragma once
#include <hwloc.h>
#include <stddef.h>

#include "common/err.h"

#define PV_MAX_CPUS 8192 /* highest CPU or node number + 1 that pvepin accepts */

/* Parse "0-3,8,10-11" (sep is ',' or, for PVE numaN cpus, ';') into set.
 * Rejects empty items, reversed ranges, numbers >= limit, stray characters. */
int pv_cpulist_parse(const char *s, char sep, unsigned limit, hwloc_bitmap_t set,
		     struct pv_err *e);

/* Same, keeping the written order ("0,32,1,33" stays in that order): fills
 * out[0..*n). Duplicates are an error. */
int pv_cpulist_parse_ordered(const char *s, char sep, unsigned limit, int *out,
			     int max, int *n, struct pv_err *e);

/* Format a bitmap as a Linux cpu-list ("" for an empty set). */
int pv_cpulist_format(char *buf, size_t n, hwloc_const_bitmap_t set);
