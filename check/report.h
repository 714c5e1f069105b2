/* Findings of `check`: ok / warn / error items with a one-line fix,
 * printed for people or as JSON. Exit code: 0 clean, 1 warnings, 2 errors. */
#pragma once
#include <stdio.h>

enum pv_level { PV_OK = 0, PV_WARN, PV_ERROR };

#define PV_MAX_ITEMS 256

struct pv_item {
	enum pv_level level;
	char id[40];     /* stable name of the check, e.g. "numa-hostnodes" */
	char msg[400];   /* what is found and what to do */
};

struct pv_report {
	struct pv_item item[PV_MAX_ITEMS];
	int n, nwarn, nerr;
};

void pv_report_add(struct pv_report *r, enum pv_level lv, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void pv_report_print(FILE *f, const struct pv_report *r, int vmid);
void pv_report_json(FILE *f, const struct pv_report *r, int vmid);
int pv_report_exit(const struct pv_report *r);
