/* The policy ini parser (inih + pvepin's reader and value parsers). */
#include "conf/policy.h"
#include "fuzz_util.h"

static struct pv_policy pol;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct pv_err e = { 0 };
	int r = pv_policy_parse_string(text, "fuzz.ini", &pol, &e);

	if (r < 0) {
		FUZZ_ASSERT(strncmp(e.msg, "fuzz.ini:", 9) == 0);
	} else {
		FUZZ_ASSERT(pol.vcpus_n >= 0 && pol.vcpus_n <= PV_MAX_CPUS);
		FUZZ_ASSERT(!pol.vcpus_n || pol.mode == PV_MODE_MANUAL);
		FUZZ_ASSERT(pol.mode != PV_MODE_MANUAL || pol.vcpus_n > 0);
		FUZZ_ASSERT(pol.nvfio >= 0 && pol.nvfio <= PV_MAX_VFIO);
		FUZZ_ASSERT(!pol.vfio_auto || pol.nvfio == 0);
		FUZZ_ASSERT(pol.max_l3 >= 1 && pol.max_l3 <= 64);
		FUZZ_ASSERT(memchr(pol.governor, '\0', sizeof(pol.governor)));
		for (int i = 0; i < pol.vcpus_n; i++)
			FUZZ_ASSERT(pol.vcpus_list[i] >= 0 && pol.vcpus_list[i] < PV_MAX_CPUS);
	}
	pv_policy_free(&pol);
	free(text);
	return 0;
}
