/* libFuzzer: /proc/interrupts parser and the line classifiers built on it.
 * Seed corpus: tests/fixtures/irq/ (e.g. build-fuzz/fuzz_procinterrupts
 * -max_total_time=300 tests/fixtures/irq). Beyond "no crash, no sanitizer
 * report" it checks the parser's promises: every string is inside the
 * table, counts fit the header, action iteration ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irqtune/classify.h"
#include "irqtune/procinterrupts.h"

static void check_line(const struct pv_procint *pi, const struct pv_pi_line *l)
{
	char name[64], bdf[PV_BDF_LEN];
	const char *cur = l->actions;
	int n = 0;

	if (l->ncount < 0 || l->ncount > pi->ncpu)
		abort();
	if ((l->irq < 0) == (l->label[0] == '\0'))
		abort();
	if (l->irq >= PV_PI_IRQ_LIMIT)
		abort();
	(void)(strlen(l->chip) + strlen(l->handler) + strlen(l->level) + strlen(l->actions));
	while (pv_pi_next_action(&cur, name, sizeof(name)))
		if (++n > 100000)
			abort();
	if (l->irq < 0)
		return;
	if (pv_procint_find(pi, l->irq) == NULL)
		abort();
	(void)pv_irq_line_names_bdf(l, "0000:01:00.0");
	(void)pv_irq_line_is_vfio(l);
	(void)pv_irq_line_percpu(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_procint pi;
	struct pv_err e;

	if (pv_procint_parse((const char *)data, size, &pi, &e) < 0)
		return 0;
	if (pi.ncpu < 1 || pi.nline < 0 || pi.nbad < 0)
		abort();
	for (int i = 1; i < pi.ncpu; i++)
		if (pi.cpu[i] <= pi.cpu[i - 1])
			abort();
	for (int i = 0; i < pi.nline; i++)
		check_line(&pi, &pi.line[i]);
	pv_procint_free(&pi);
	return 0;
}
