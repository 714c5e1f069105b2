/* The PVE VM config parser, with property strings and args' -smp. */
#include "conf/cpulist.h"
#include "conf/vmconf.h"
#include "fuzz_util.h"

/* Everything the parser accepted must be canonical again when formatted. */
static void check_bdfs(const struct pv_vmconf *c)
{
	for (int i = 0; i < PV_MAX_HOSTPCI; i++) {
		const struct pv_hostpci *h = &c->hostpci[i];

		FUZZ_ASSERT(h->nbdf >= 0 && h->nbdf <= PV_MAX_FUNCS);
		FUZZ_ASSERT(!h->present || h->nbdf > 0 || h->mapping[0]);
		FUZZ_ASSERT(!strchr(h->romfile, '/') && !strstr(h->romfile, ".."));
		for (int j = 0; j < h->nbdf; j++) {
			char s[PV_BDF_LEN];
			struct pv_bdf b;

			pv_bdf_format(&h->bdf[j], s);
			FUZZ_ASSERT(pv_bdf_parse(s, true, &b, NULL) == 0);
			FUZZ_ASSERT(memcmp(&b, &h->bdf[j], sizeof(b)) == 0 || h->bdf[j].all_fn);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct pv_err e = { 0 };
	struct pv_vmconf c;

	if (pv_vmconf_parse_string(text, "fuzz.conf", 100, &c, &e) == 0) {
		int n = pv_vmconf_nvcpus(&c);

		FUZZ_ASSERT(n >= 1 && n <= PV_MAX_CPUS);
		FUZZ_ASSERT(c.memory_mb >= 16);
		check_bdfs(&c);
		for (int i = 0; i < PV_MAX_GNUMA; i++)
			FUZZ_ASSERT(!c.gnuma[i].present || c.gnuma[i].cpus);
	} else {
		FUZZ_ASSERT(strncmp(e.msg, "fuzz.conf:", 10) == 0);
	}
	pv_vmconf_free(&c);
	free(text);
	return 0;
}
