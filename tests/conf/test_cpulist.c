/* The strict cpu-list parser (conf/cpulist.c). */
#include <string.h>

#include "conf/cpulist.h"
#include "tests/lib/tap.h"

static void roundtrip(const char *s, char sep, const char *want)
{
	struct pv_err e = { 0 };
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char out[256];

	CHECK(pv_cpulist_parse(s, sep, PV_MAX_CPUS, set, &e) == 0, "'%s': %s", s, e.msg);
	CHECK(pv_cpulist_format(out, sizeof(out), set) == 0, "format '%s'", s);
	CHECK_STR(out, want);
	hwloc_bitmap_free(set);
}

static void reject(const char *s, char sep, unsigned limit)
{
	struct pv_err e = { 0 };
	hwloc_bitmap_t set = hwloc_bitmap_alloc();

	CHECK(pv_cpulist_parse(s, sep, limit, set, &e) < 0, "'%s' accepted", s);
	CHECK(e.msg[0] != '\0', "'%s': no message", s);
	hwloc_bitmap_free(set);
}

static void test_parse(void)
{
	roundtrip("0", ',', "0");
	roundtrip("0-7", ',', "0-7");
	roundtrip("0-7,16-23", ',', "0-7,16-23");
	roundtrip("3,1,2", ',', "1-3");
	roundtrip("0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", ',', "0-15");
	roundtrip("0-7;16-23", ';', "0-7,16-23");
	roundtrip("5-5", ',', "5");
	roundtrip("8191", ',', "8191");
	roundtrip("1,1", ',', "1"); /* a set: repeats are harmless */

	reject(NULL, ',', PV_MAX_CPUS);
	reject("", ',', PV_MAX_CPUS);
	reject(",", ',', PV_MAX_CPUS);
	reject("0,", ',', PV_MAX_CPUS);
	reject(",0", ',', PV_MAX_CPUS);
	reject("0,,1", ',', PV_MAX_CPUS);
	reject("7-0", ',', PV_MAX_CPUS);
	reject("0-", ',', PV_MAX_CPUS);
	reject("-3", ',', PV_MAX_CPUS);
	reject("0-3-5", ',', PV_MAX_CPUS);
	reject("8192", ',', PV_MAX_CPUS);
	reject("99999999999999999999", ',', PV_MAX_CPUS);
	reject("4", ',', 4);
	reject("0-7;16-23", ',', PV_MAX_CPUS);
	reject("0-7,16-23", ';', PV_MAX_CPUS);
	reject("a", ',', PV_MAX_CPUS);
	reject("0x1", ',', PV_MAX_CPUS);
	reject(" 0", ',', PV_MAX_CPUS);
	reject("0 ", ',', PV_MAX_CPUS);
	reject("+1", ',', PV_MAX_CPUS);
	reject("1.5", ',', PV_MAX_CPUS);
}

static void test_ordered(void)
{
	struct pv_err e = { 0 };
	int out[16], n = -1;

	CHECK(pv_cpulist_parse_ordered("0,32,1,33", ',', PV_MAX_CPUS, out, 16, &n, &e) == 0,
	      "%s", e.msg);
	CHECK_INT(n, 4);
	CHECK(out[0] == 0 && out[1] == 32 && out[2] == 1 && out[3] == 33, "order %d %d %d %d",
	      out[0], out[1], out[2], out[3]);
	CHECK(pv_cpulist_parse_ordered("8-11,0-1", ',', PV_MAX_CPUS, out, 16, &n, &e) == 0,
	      "%s", e.msg);
	CHECK_INT(n, 6);
	CHECK(out[0] == 8 && out[3] == 11 && out[4] == 0 && out[5] == 1, "range order");
	CHECK(pv_cpulist_parse_ordered("0,1,0", ',', PV_MAX_CPUS, out, 16, &n, &e) < 0,
	      "duplicate accepted");
	CHECK(pv_cpulist_parse_ordered("0-3,2", ',', PV_MAX_CPUS, out, 16, &n, &e) < 0,
	      "overlap accepted");
	CHECK(pv_cpulist_parse_ordered("0-16", ',', PV_MAX_CPUS, out, 16, &n, &e) < 0,
	      "too many accepted");
	CHECK(pv_cpulist_parse_ordered("3-1", ',', PV_MAX_CPUS, out, 16, &n, &e) < 0,
	      "reversed accepted");
	CHECK(pv_cpulist_parse_ordered("", ',', PV_MAX_CPUS, out, 16, &n, &e) < 0,
	      "empty accepted");
}

static void test_format(void)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char out[8];

	CHECK(pv_cpulist_format(out, sizeof(out), set) == 0, "empty");
	CHECK_STR(out, "");
	hwloc_bitmap_set_range(set, 0, 3);
	hwloc_bitmap_set(set, 100);
	hwloc_bitmap_set(set, 200);
	CHECK(pv_cpulist_format(out, sizeof(out), set) < 0, "truncation not reported");
	hwloc_bitmap_free(set);
}

int main(void)
{
	test_parse();
	test_ordered();
	test_format();
	return tap_done("test_cpulist");
}
