#include "conf/cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Read one unsigned decimal at *p, advancing it. */
static int read_num(const char **p, unsigned limit, unsigned *out)
{
	unsigned long v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v >= limit)
			return -1;
		s++;
	}
	*p = s;
	*out = (unsigned)v;
	return 0;
}

/* Walk the list, calling add(lo, hi) for each item. */
static int walk(const char *s, char sep, unsigned limit, struct pv_err *e,
		int (*add)(void *ctx, unsigned lo, unsigned hi), void *ctx)
{
	const char *p = s;

	if (!s || !*s)
		return pv_fail(e, 0, "empty cpu list");
	for (;;) {
		unsigned lo, hi;

		if (read_num(&p, limit, &lo) < 0)
			return pv_fail(e, 0, "bad cpu list '%.64s': expected a number below %u at '%.16s'",
				       s, limit, p);
		hi = lo;
		if (*p == '-') {
			p++;
			if (read_num(&p, limit, &hi) < 0 || hi < lo)
				return pv_fail(e, 0, "bad cpu list '%.64s': bad range near '%.16s'", s, p);
		}
		if (add(ctx, lo, hi) < 0)
			return pv_fail(e, 0, "bad cpu list '%.64s': %u appears twice or list too long", s, lo);
		if (*p == '\0')
			return 0;
		if (*p != sep)
			return pv_fail(e, 0, "bad cpu list '%.64s': unexpected '%c'", s, *p);
		p++;
	}
}

static int add_set(void *ctx, unsigned lo, unsigned hi)
{
	return hwloc_bitmap_set_range(ctx, lo, (int)hi);
}

int pv_cpulist_parse(const char *s, char sep, unsigned limit, hwloc_bitmap_t set,
		     struct pv_err *e)
{
	hwloc_bitmap_zero(set);
	return walk(s, sep, limit, e, add_set, set);
}

struct ordered {
	int *out;
	int max;
	int n;
	hwloc_bitmap_t seen;
};

static int add_ordered(void *ctx, unsigned lo, unsigned hi)
{
	struct ordered *o = ctx;

	for (unsigned c = lo; c <= hi; c++) {
		if (o->n >= o->max || hwloc_bitmap_isset(o->seen, c))
			return -1;
		hwloc_bitmap_set(o->seen, c);
		o->out[o->n++] = (int)c;
	}
	return 0;
}

int pv_cpulist_parse_ordered(const char *s, char sep, unsigned limit, int *out,
			     int max, int *n, struct pv_err *e)
{
	struct ordered o = { .out = out, .max = max };
	int r;

	o.seen = hwloc_bitmap_alloc();
	if (!o.seen)
		return pv_fail(e, ENOMEM, "cpu list");
	r = walk(s, sep, limit, e, add_ordered, &o);
	hwloc_bitmap_free(o.seen);
	*n = o.n;
	return r;
}

int pv_cpulist_format(char *buf, size_t n, hwloc_const_bitmap_t set)
{
	if (hwloc_bitmap_iszero(set)) {
		if (n)
			buf[0] = '\0';
		return 0;
	}
	return hwloc_bitmap_list_snprintf(buf, n, set) < (int)n ? 0 : -1;
}
