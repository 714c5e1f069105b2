/* PCI addresses. Every BDF is parsed and re-formatted canonically before it
 * is used to build a path, so "../" or overlong input never reaches sysfs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define PV_BDF_LEN 13 /* "dddd:bb:dd.f" + NUL */

struct pv_bdf {
	unsigned domain; /* 0..0xffff */
	unsigned bus;    /* 0..0xff */
	unsigned dev;    /* 0..0x1f */
	unsigned fn;     /* 0..7; ignored when all_fn */
	bool all_fn;     /* written without ".f": every function of the slot */
};

/* Accepts "dddd:bb:dd.f", "bb:dd.f", and (allow_all) "dddd:bb:dd" / "bb:dd".
 * Hex digits either case. */
int pv_bdf_parse(const char *s, bool allow_all, struct pv_bdf *out, struct pv_err *e);

/* "0000:81:00.0" (lowercase, with domain). For all_fn the ".f" is left off. */
void pv_bdf_format(const struct pv_bdf *b, char out[PV_BDF_LEN]);

/* A vmid as PVE allows: 100..999999999. */
int pv_vmid_parse(const char *s, int *vmid, struct pv_err *e);
