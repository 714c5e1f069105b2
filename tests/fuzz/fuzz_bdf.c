/* PCI address and vmid parsing: accepted input formats back canonically,
 * and a vmid reads back as exactly the same digits. */
#include <stdio.h>
#include <strings.h>

#include "conf/bdf.h"
#include "fuzz_util.h"

static void bdf(const char *s, bool allow_all)
{
	struct pv_bdf b, again;
	struct pv_err e;
	char out[PV_BDF_LEN];

	if (pv_bdf_parse(s, allow_all, &b, &e) < 0)
		return;
	FUZZ_ASSERT(b.domain <= 0xffff && b.bus <= 0xff && b.dev <= 0x1f && b.fn <= 7);
	FUZZ_ASSERT(allow_all || !b.all_fn);
	pv_bdf_format(&b, out);
	FUZZ_ASSERT(strlen(out) == (b.all_fn ? 10u : 12u));
	FUZZ_ASSERT(strcasecmp(out, s) == 0 || strcasecmp(out + 5, s) == 0);
	FUZZ_ASSERT(pv_bdf_parse(out, allow_all, &again, &e) == 0);
	FUZZ_ASSERT(memcmp(&b, &again, sizeof(b)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct pv_err e;
	char back[16];
	int vmid;

	bdf(s, false);
	bdf(s, true);
	if (pv_vmid_parse(s, &vmid, &e) == 0) {
		FUZZ_ASSERT(vmid >= 100 && vmid <= 999999999);
		snprintf(back, sizeof(back), "%d", vmid);
		FUZZ_ASSERT(strcmp(back, s) == 0);
	}
	free(s);
	return 0;
}
