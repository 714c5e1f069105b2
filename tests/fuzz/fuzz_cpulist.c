/* The strict cpu-list parser: first byte picks separator and limit; what
 * parses must format and parse back to the same set. */
#include "conf/cpulist.h"
#include "fuzz_util.h"

static void ordered(const char *s, char sep, unsigned limit)
{
	static int out[256];
	struct pv_err e;
	int n = -1;

	if (pv_cpulist_parse_ordered(s, sep, limit, out, 256, &n, &e) < 0)
		return;
	FUZZ_ASSERT(n >= 1 && n <= 256);
	for (int i = 0; i < n; i++)
		FUZZ_ASSERT(out[i] >= 0 && (unsigned)out[i] < limit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned limits[] = { 1, 4, 64, 1024, PV_MAX_CPUS };
	hwloc_bitmap_t set, again;
	struct pv_err e;
	char *s, buf[65536];
	char sep;
	unsigned limit;

	if (size < 1)
		return 0;
	sep = data[0] & 1 ? ';' : ',';
	limit = limits[(data[0] >> 1) % 5];
	s = fuzz_str(data + 1, size - 1);
	set = hwloc_bitmap_alloc();
	again = hwloc_bitmap_alloc();
	if (pv_cpulist_parse(s, sep, limit, set, &e) == 0) {
		FUZZ_ASSERT(!hwloc_bitmap_iszero(set));
		FUZZ_ASSERT((unsigned)hwloc_bitmap_last(set) < limit);
		FUZZ_ASSERT(pv_cpulist_format(buf, sizeof(buf), set) == 0);
		FUZZ_ASSERT(pv_cpulist_parse(buf, ',', limit, again, &e) == 0);
		FUZZ_ASSERT(hwloc_bitmap_isequal(set, again));
	}
	ordered(s, sep, limit);
	hwloc_bitmap_free(set);
	hwloc_bitmap_free(again);
	free(s);
	return 0;
}
