/* Errors as an out-parameter (crun style): a function that fails fills
 * struct pv_err and returns -1; the caller adds context or prints it. */
#pragma once
#include <errno.h>

struct pv_err {
	int errnum;     /* errno of the failing syscall, 0 if none */
	char msg[768];  /* one line, no trailing newline */
};

/* Record an error. With errnum != 0 ": strerror(errnum)" is appended.
 * Always returns -1 so callers can `return pv_fail(...)`. */
int pv_fail(struct pv_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Pass an error recorded elsewhere on as it is (its message already ends
 * in its errno's text). Always returns -1. */
int pv_err_pass(struct pv_err *e, const struct pv_err *why);

/* Prefix the recorded message with context: "ctx: previous message". */
int pv_wrap(struct pv_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "pvepin: <msg>" to stderr. */
void pv_err_print(const struct pv_err *e);
