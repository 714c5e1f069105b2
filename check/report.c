#include "check/report.h"

#include <stdarg.h>

#include "common/json.h"

void pv_report_add(struct pv_report *r, enum pv_level lv, const char *id, const char *fmt, ...)
{
	struct pv_item *it;
	va_list ap;

	if (lv == PV_WARN)
		r->nwarn++;
	else if (lv == PV_ERROR)
		r->nerr++;
	if (r->n >= PV_MAX_ITEMS)
		return;
	it = &r->item[r->n++];
	it->level = lv;
	snprintf(it->id, sizeof(it->id), "%s", id);
	va_start(ap, fmt);
	vsnprintf(it->msg, sizeof(it->msg), fmt, ap);
	va_end(ap);
}

static const char *level_name(enum pv_level lv)
{
	return lv == PV_ERROR ? "error" : lv == PV_WARN ? "warn" : "ok";
}

void pv_report_print(FILE *f, const struct pv_report *r, int vmid)
{
	for (int i = 0; i < r->n; i++)
		fprintf(f, "%-5s %-18s %s\n", level_name(r->item[i].level), r->item[i].id,
			r->item[i].msg);
	if (vmid > 0)
		fprintf(f, "VM %d: ", vmid);
	fprintf(f, "%d error(s), %d warning(s)\n", r->nerr, r->nwarn);
}

void pv_report_json(FILE *f, const struct pv_report *r, int vmid)
{
	fputs("{", f);
	if (vmid > 0)
		fprintf(f, "\"vmid\":%d,", vmid);
	fputs("\"items\":[", f);
	for (int i = 0; i < r->n; i++) {
		fprintf(f, "%s{\"level\":\"%s\",\"check\":", i ? "," : "", level_name(r->item[i].level));
		pv_json_str(f, r->item[i].id);
		fputs(",\"message\":", f);
		pv_json_str(f, r->item[i].msg);
		fputc('}', f);
	}
	fprintf(f, "],\"errors\":%d,\"warnings\":%d}\n", r->nerr, r->nwarn);
}

int pv_report_exit(const struct pv_report *r)
{
	return r->nerr ? 2 : r->nwarn ? 1 : 0;
}
