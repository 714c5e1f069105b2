/* PVE property strings ("0000:81:00.0,pcie=1,romfile=x.rom"): comma
 * separated key=value items, one bare item naming the default key. */
#pragma once
#include <stdbool.h>

#include "common/err.h"

#define PV_PROPS_MAX 32

struct pv_props {
	char *buf; /* owned copy the items point into */
	int n;
	struct {
		const char *key;
		const char *val;
	} it[PV_PROPS_MAX];
};

/* Split s. A bare item becomes default_key's value (an error when
 * default_key is NULL). Empty items are skipped, as PVE does; a key given
 * twice is an error, as in PVE. Call pv_props_free() even on error. */
int pv_props_split(const char *s, const char *default_key, struct pv_props *p,
		   struct pv_err *e);

/* The value of key, or NULL. */
const char *pv_props_get(const struct pv_props *p, const char *key);

void pv_props_free(struct pv_props *p);

/* PVE's booleans: 1|yes|true|on and 0|no|false|off, any case. */
int pv_parse_bool(const char *s, bool *out);
