#include "conf/bdf.h"
#include "common/limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Exactly `digits` hex digits at *p, advancing it. Fixed widths keep every
 * accepted spelling close to what lspci and sysfs print. */
static int read_hex(const char **p, int digits, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < digits; i++) {
		int c = tolower((unsigned char)(*p)[i]);

		if (!isxdigit(c))
			return -1;
		v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	*p += digits;
	*out = v;
	return 0;
}

/* Length of the leading "xx:" run tells whether a domain was written:
 * "dddd:" has 4 hex digits before the first ':', "bb:" has 2. */
static int has_domain(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return n == 4 && s[4] == ':';
}

static int bdf_bad(struct pv_err *e, const char *s, bool allow_all, const char *why)
{
	return pv_fail(e, 0, "bad PCI address '%.40s': %s (expected dddd:bb:dd.f or bb:dd.f%s)",
		       s, why, allow_all ? ", or dddd:bb:dd for every function" : "");
}

int pv_bdf_parse(const char *s, bool allow_all, struct pv_bdf *out, struct pv_err *e)
{
	struct pv_bdf b = { 0 };
	const char *p = s;

	if (!s || !*s)
		return bdf_bad(e, "", allow_all, "empty");
	if (has_domain(p)) {
		if (read_hex(&p, 4, &b.domain) < 0 || *p++ != ':')
			return bdf_bad(e, s, allow_all, "bad domain");
	}
	if (read_hex(&p, 2, &b.bus) < 0 || *p++ != ':')
		return bdf_bad(e, s, allow_all, "bad bus");
	if (read_hex(&p, 2, &b.dev) < 0 || b.dev > 0x1f)
		return bdf_bad(e, s, allow_all, "bad device (00-1f)");
	if (*p == '\0') {
		if (!allow_all)
			return bdf_bad(e, s, allow_all, "function missing");
		b.all_fn = true;
		*out = b;
		return 0;
	}
	if (*p++ != '.' || *p < '0' || *p > '7' || p[1] != '\0')
		return bdf_bad(e, s, allow_all, "bad function (0-7)");
	b.fn = (unsigned)(*p - '0');
	*out = b;
	return 0;
}

void pv_bdf_format(const struct pv_bdf *b, char out[PV_BDF_LEN])
{
	if (b->all_fn)
		snprintf(out, PV_BDF_LEN, "%04x:%02x:%02x", b->domain & 0xffff,
			 b->bus & 0xff, b->dev & 0x1f);
	else
		snprintf(out, PV_BDF_LEN, "%04x:%02x:%02x.%x", b->domain & 0xffff,
			 b->bus & 0xff, b->dev & 0x1f, b->fn & 7);
}

int pv_vmid_parse(const char *s, int *vmid, struct pv_err *e)
{
	long v = 0;
	size_t n;

	if (!s || !*s)
		return pv_fail(e, 0, "empty vmid (expected a number " PV_VMID_RANGE ")");
	/* digits counted by hand: every phase parses its vmid first, and
	 * strspn is two more pages of libc for a program start to fault in */
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		;
	if (s[n] != '\0' || n > 9 || s[0] == '0')
		return pv_fail(e, 0, "bad vmid '%.32s' (expected a number " PV_VMID_RANGE ")", s);
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (v < PV_VMID_MIN)
		return pv_fail(e, 0, "bad vmid '%.32s' (expected a number " PV_VMID_RANGE ")", s);
	*vmid = (int)v;
	return 0;
}
