/* PCI resource mappings (pci.cfg). The input's first line is
 * "MAPPING NODE"; the rest is the file. */
#include "conf/pcimap.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size), *nl, *sp;
	const char *name = "gpu", *node = "pve1", *cfg = text;
	struct pv_bdf out[PV_MAX_FUNCS];
	struct pv_err e;
	int n = -1;

	nl = strchr(text, '\n');
	if (nl) {
		*nl = '\0';
		cfg = nl + 1;
		sp = strchr(text, ' ');
		if (sp) {
			*sp = '\0';
			name = text;
			node = sp + 1;
		}
	}
	if (pv_pcimap_parse_string(cfg, "pci.cfg", name, node, out, PV_MAX_FUNCS, &n, &e) == 0)
		FUZZ_ASSERT(n >= 1 && n <= PV_MAX_FUNCS);
	else
		FUZZ_ASSERT(n == 0 && e.msg[0]);
	free(text);
	return 0;
}
