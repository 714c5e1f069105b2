#include "irqtune/classify.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"

int pv_irq_bdf_canon(const char *s, char out[PV_BDF_LEN], struct pv_err *e)
{
	struct pv_bdf b;

	if (pv_bdf_parse(s, false, &b, e) < 0)
		return -1;
	pv_bdf_format(&b, out);
	return 0;
}

/* A quiet canonicalizer for text found in /proc (not user input). */
static bool bdf_from(const char *s, size_t len, char out[PV_BDF_LEN])
{
	char tmp[PV_BDF_LEN];
	struct pv_bdf b;

	if (len != PV_BDF_LEN - 1)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (pv_bdf_parse(tmp, false, &b, NULL) < 0)
		return false;
	pv_bdf_format(&b, out);
	return true;
}

/* vfio_pci_intrs.c: "vfio-intx(%s)" and "vfio-msi%s[%d](%s)". */
bool pv_irq_vfio_action_bdf(const char *a, char out[PV_BDF_LEN])
{
	const char *open, *close;

	if (strncmp(a, "vfio-", 5) != 0)
		return false;
	a += 5;
	if (strncmp(a, "intx(", 5) == 0) {
		open = a + 4;
	} else if (strncmp(a, "msi", 3) == 0) {
		a += 3;
		if (*a == 'x')
			a++;
		if (*a++ != '[' || !isdigit((unsigned char)*a))
			return false;
		while (isdigit((unsigned char)*a))
			a++;
		if (*a != ']' || a[1] != '(')
			return false;
		open = a + 1;
	} else {
		return false;
	}
	close = strchr(open, ')');
	if (!close || close[1] != '\0')
		return false;
	return bdf_from(open + 1, (size_t)(close - open - 1), out);
}

/* Kernels >= 6.2 name per-device MSI domains "[IR-]PCI-MSI[X]-<bdf>". */
static bool chip_bdf(const char *chip, char out[PV_BDF_LEN])
{
	const char *dash = strrchr(chip, '-');

	if (!dash || !strstr(chip, "PCI-MSI"))
		return false;
	return bdf_from(dash + 1, strlen(dash + 1), out);
}

/* 6.1 and older: one global PCI-MSI domain whose hwirq is
 * pci_msi_domain_calc_hwirq(): index | dev_id << 11 | domain << 27. */
static bool hwirq_bdf(const struct pv_pi_line *l, char out[PV_BDF_LEN])
{
	static const char *const chips[] = { "PCI-MSI", "IR-PCI-MSI", "ITS-MSI" };
	struct pv_bdf b = { 0 };
	unsigned long long h;
	bool known = false;

	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
		known |= strcmp(l->chip, chips[i]) == 0;
	if (!known || l->hwirq < 0 || ((unsigned long long)l->hwirq >> 27) > 0xffff)
		return false;
	h = (unsigned long long)l->hwirq;
	b.domain = (unsigned)(h >> 27);
	b.bus = (unsigned)(h >> 19) & 0xff;
	b.dev = (unsigned)(h >> 14) & 0x1f;
	b.fn = (unsigned)(h >> 11) & 7;
	pv_bdf_format(&b, out);
	return true;
}

bool pv_irq_line_names_bdf(const struct pv_pi_line *l, const char *bdf)
{
	char got[PV_BDF_LEN], name[96];
	const char *cur = l->actions;

	if ((chip_bdf(l->chip, got) || hwirq_bdf(l, got)) && strcmp(got, bdf) == 0)
		return true;
	while (pv_pi_next_action(&cur, name, sizeof(name)))
		if (pv_irq_vfio_action_bdf(name, got) && strcmp(got, bdf) == 0)
			return true;
	return false;
}

bool pv_irq_line_is_vfio(const struct pv_pi_line *l)
{
	const char *cur = l->actions;
	char name[96];

	while (pv_pi_next_action(&cur, name, sizeof(name)))
		if (strncmp(name, "vfio-", 5) == 0)
			return true;
	return false;
}

bool pv_irq_line_percpu(const struct pv_pi_line *l)
{
	if (strstr(l->chip, "percpu") || strcmp(l->chip, "RISC-V") == 0)
		return true;
	/* GIC PPIs: 16-31, and GICv3.1's extended PPIs 1056-1119. */
	if (strncmp(l->chip, "GIC", 3) == 0)
		return (l->hwirq >= 16 && l->hwirq < 32) || (l->hwirq >= 1056 && l->hwirq < 1120);
	return false;
}

bool pv_irq_is_system(int irq)
{
	return irq == 0 || irq == 2;
}

int pv_irq_is_managed(int irq)
{
	char path[PV_PATH_MAX], buf[4096];

	if (pv_path(path, sizeof(path), NULL, "/sys/kernel/debug/irq/irqs/%d", irq) < 0)
		return -1;
	if (pv_read_file(path, buf, sizeof(buf), NULL) < 0)
		return -1;
	return strstr(buf, "AFFINITY_MANAGED") ? 1 : 0;
}

bool pv_irq_refusal_is_skip(int errnum, bool known_unsteerable)
{
	if (errnum == EIO || errnum == EPERM)
		return true;
	return errnum == EINVAL && known_unsteerable;
}

static int add_irq(int *irqs, int max, int *n, int irq, const char *bdf, struct pv_err *e)
{
	for (int i = 0; i < *n; i++)
		if (irqs[i] == irq)
			return 0;
	if (*n >= max)
		return pv_fail(e, E2BIG, "%s: more than %d IRQs", bdf, max);
	irqs[(*n)++] = irq;
	return 0;
}

/* Append the numeric entries of <bdf>/msi_irqs (absent directory: none). */
static int pv_irq_msi_irqs(const char *bdf, int *irqs, int max, int *n, struct pv_err *e)
{
	char canon[PV_BDF_LEN], path[PV_PATH_MAX];
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (pv_irq_bdf_canon(bdf, canon, e) < 0 ||
	    pv_path(path, sizeof(path), e, "/sys/bus/pci/devices/%s/msi_irqs", canon) < 0)
		return -1;
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return pv_fail(e, errno, "open %s", path);
	}
	errno = 0;
	while (r == 0 && (de = readdir(d))) {
		long v;

		if (pv_parse_long(de->d_name, 0, PV_PI_IRQ_LIMIT - 1, &v) == 0)
			r = add_irq(irqs, max, n, (int)v, canon, e);
		errno = 0;
	}
	if (r == 0 && errno)
		r = pv_fail(e, errno, "read %s", path);
	closedir(d);
	return r;
}

/* The action names the function or begins with its driver's name
 * ("snd_hda_intel:card0", "xhci_hcd"): someone serves this INTx line. */
static bool intx_in_use(const struct pv_pi_line *l, const char *bdf, const char *driver)
{
	const char *cur = l->actions;
	char name[96];
	size_t dl = strlen(driver);

	if (pv_irq_line_names_bdf(l, bdf))
		return true;
	while (pv_pi_next_action(&cur, name, sizeof(name))) {
		if (strstr(name, bdf))
			return true;
		if (dl && strncmp(name, driver, dl) == 0 && !isalnum((unsigned char)name[dl]) &&
		    name[dl] != '_')
			return true;
	}
	return false;
}

/* A function's `irq` attribute: 1 with *v set, 0 when it has none. */
static int read_irq_attr(const char *bdf, long *v, struct pv_err *e)
{
	char path[PV_PATH_MAX], buf[32];
	struct pv_err re = { 0 };

	if (pv_path(path, sizeof(path), e, "/sys/bus/pci/devices/%s/irq", bdf) < 0)
		return -1;
	if (pv_read_file(path, buf, sizeof(buf), &re) < 0) {
		if (re.errnum == ENOENT)
			return 0;
		if (e)
			*e = re;
		return -1;
	}
	if (pv_parse_long(buf, 0, PV_PI_IRQ_LIMIT - 1, v) < 0)
		return pv_fail(e, EINVAL, "%s: unexpected '%s'", path, buf);
	return 1;
}

/* The `irq` attribute holds the INTx line (or, with MSI on, its first vector).
 * It counts only when /proc/interrupts shows the function using it. */
static int add_intx(const struct pv_procint *pi, const char *bdf, bool msi_on, int *irqs, int max,
		    int *n, struct pv_err *e)
{
	char path[PV_PATH_MAX], driver[64] = "";
	const struct pv_pi_line *l;
	long v;
	int rc = read_irq_attr(bdf, &v, e);

	if (rc <= 0)
		return rc;
	l = pv_procint_find(pi, (int)v);
	if (v == 0 || !l)
		return 0;
	if (!msi_on) {
		if (pv_path(path, sizeof(path), e, "/sys/bus/pci/devices/%s/driver", bdf) < 0)
			return -1;
		if (pv_readlink_base(path, driver, sizeof(driver), NULL) < 0)
			driver[0] = '\0';
	}
	if (!intx_in_use(l, bdf, driver))
		return 0;
	return add_irq(irqs, max, n, (int)v, bdf, e);
}

/* The INTx line the function holds now, before any driver of a VM has it:
 * the `irq` attribute, unless that is 0 (no line routed) or one of the
 * function's MSI vectors (with MSI on it holds the first one). 1 with *irq
 * set, 0 when there is none. */
int pv_irq_intx_line(const char *bdf, int *irq, struct pv_err *e)
{
	_cleanup_free_ int *msi = malloc(PV_IRQ_MAX_DEV_IRQS * sizeof(int));
	char canon[PV_BDF_LEN];
	int nmsi = 0, rc;
	long v;

	if (!msi)
		return pv_fail(e, ENOMEM, "IRQs of %s", bdf);
	if (pv_irq_bdf_canon(bdf, canon, e) < 0)
		return -1;
	rc = read_irq_attr(canon, &v, e);
	if (rc <= 0)
		return rc;
	if (v == 0 || pv_irq_msi_irqs(canon, msi, PV_IRQ_MAX_DEV_IRQS, &nmsi, e) < 0)
		return v == 0 ? 0 : -1;
	for (int i = 0; i < nmsi; i++)
		if (msi[i] == v)
			return 0;
	*irq = (int)v;
	return 1;
}

static void pv_irq_sort_unique(int *v, int *n);

int pv_irq_device_irqs_pi(const struct pv_procint *pi, const char *bdf, int *irqs, int max,
			  int *n, struct pv_err *e)
{
	char canon[PV_BDF_LEN];
	int nmsi;

	*n = 0;
	if (pv_irq_bdf_canon(bdf, canon, e) < 0)
		return -1;
	if (pv_irq_msi_irqs(canon, irqs, max, n, e) < 0)
		return -1;
	nmsi = *n;
	for (int i = 0; i < pi->nline; i++) {
		const struct pv_pi_line *l = &pi->line[i];

		if (l->irq >= 0 && pv_irq_line_names_bdf(l, canon) &&
		    add_irq(irqs, max, n, l->irq, canon, e) < 0)
			return -1;
	}
	if (add_intx(pi, canon, nmsi > 0, irqs, max, n, e) < 0)
		return -1;
	pv_irq_sort_unique(irqs, n);
	return 0;
}

/* Sort ascending and drop duplicates. */
static void pv_irq_sort_unique(int *v, int *n)
{
	int k = 0;

	if (*n <= 0)
		return;
	qsort(v, (size_t)*n, sizeof(*v), pv_cmp_int);
	for (int i = 1; i < *n; i++)
		if (v[i] != v[k])
			v[++k] = v[i];
	*n = k + 1;
}

