#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pv_fail(struct pv_err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!e)
		return -1;
	e->errnum = errnum;
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		e->msg[0] = '\0';
	if (errnum) {
		size_t len = strlen(e->msg);
		snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", strerror(errnum));
	}
	return -1;
}

int pv_err_pass(struct pv_err *e, const struct pv_err *why)
{
	if (e && e != why)
		*e = *why;
	return -1;
}

int pv_wrap(struct pv_err *e, const char *fmt, ...)
{
	char prefix[256];
	size_t pl, ol, room;
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	pl = strlen(prefix);
	ol = strlen(e->msg);
	room = sizeof(e->msg) - 1 - (pl + 2);
	if (ol > room)
		ol = room;
	memmove(e->msg + pl + 2, e->msg, ol);
	memcpy(e->msg, prefix, pl);
	memcpy(e->msg + pl, ": ", 2);
	e->msg[pl + 2 + ol] = '\0';
	return -1;
}

void pv_err_print(const struct pv_err *e)
{
	fprintf(stderr, "pvepin: %s\n", e->msg[0] ? e->msg : "unknown error");
}
