#include "conf/propstr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int add_item(struct pv_props *p, char *item, const char *default_key,
		    struct pv_err *e)
{
	char *eq = strchr(item, '=');
	const char *key = default_key;
	const char *val = item;

	if (eq) {
		*eq = '\0';
		key = item;
		val = eq + 1;
		if (!*key)
			return pv_fail(e, 0, "'=%.32s' has no key", val);
	} else if (!default_key) {
		return pv_fail(e, 0, "'%.32s' is not key=value", item);
	}
	if (pv_props_get(p, key))
		return pv_fail(e, 0, "'%.32s' given twice", key);
	if (p->n >= PV_PROPS_MAX)
		return pv_fail(e, 0, "more than %d items", PV_PROPS_MAX);
	p->it[p->n].key = key;
	p->it[p->n].val = val;
	p->n++;
	return 0;
}

int pv_props_split(const char *s, const char *default_key, struct pv_props *p,
		   struct pv_err *e)
{
	char *item, *save = NULL;

	memset(p, 0, sizeof(*p));
	p->buf = strdup(s);
	if (!p->buf)
		return pv_fail(e, ENOMEM, "property string");
	for (item = strtok_r(p->buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (add_item(p, item, default_key, e) < 0)
			return -1;
	}
	return 0;
}

const char *pv_props_get(const struct pv_props *p, const char *key)
{
	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->it[i].key, key) == 0)
			return p->it[i].val;
	}
	return NULL;
}

void pv_props_free(struct pv_props *p)
{
	free(p->buf);
	p->buf = NULL;
	p->n = 0;
}

int pv_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}
