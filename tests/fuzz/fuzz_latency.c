/* The saved latency matrix (`topo --latency --json`), read back by
 * `check --latency FILE` and `topo --svg --latency FILE`: a file edited by
 * hand or cut short is refused in one line and holds nothing; an accepted
 * one is a square matrix over ascending CPUs that the lookups can walk. */
#include "pinner/latency.h"
#include "fuzz_util.h"

static void check_matrix(const struct pv_lat *m)
{
	FUZZ_ASSERT(m->n >= 0 && m->n <= PV_LAT_MAX_CPUS);
	FUZZ_ASSERT(m->ns != NULL && (m->n == 0 || m->cpu != NULL));
	FUZZ_ASSERT(memchr(m->model, '\0', sizeof(m->model)) != NULL);
	for (int i = 0; i < m->n; i++) {
		FUZZ_ASSERT(i == 0 || m->cpu[i] > m->cpu[i - 1]);
		FUZZ_ASSERT(pv_lat_row(m, m->cpu[i]) == i);
		FUZZ_ASSERT(pv_lat_at(m, i, i) < 0);
		for (int j = 0; j < m->n; j++) {
			double v = pv_lat_at(m, i, j);

			FUZZ_ASSERT(v == v && (i == j || v == -1 || v >= 0));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct pv_lat m;
	struct pv_err e = { 0 };

	if (pv_latency_parse(&m, text, &e) == 0) {
		check_matrix(&m);
		pv_latency_free(&m);
	} else {
		FUZZ_ASSERT(e.msg[0] && m.n == 0 && m.cpu == NULL && m.ns == NULL);
	}
	free(text);
	return 0;
}
