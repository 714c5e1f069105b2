/* Shared by the host-readiness checks: the facts read once (struct hc)
 * and the topic files that turn them into report items. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "conf/vmconf.h"
#include "pinner/topo.h"
#include "check/report.h"

#define HC_MAX_VMS 1024
#define HC_MAX_DEVS 256
#define HC_MAX_MODLINES 512
#define HC_MODNAME 64
#define HC_FILE 128

/* One passthrough PCI function named by a VM config. */
struct hc_dev {
	char bdf[PV_BDF_LEN];
	int vmid;
	int slot;            /* N of hostpciN */
	bool target;         /* one of the devices being checked */
	bool first;          /* first function of its hostpciN (romfile goes here) */
	char romfile[256];
};

struct hc_vm {
	int vmid;
	long memory_mb;
	int hugepages_kb;
	bool target;
};

enum hc_mod_kind { HC_BLACKLIST, HC_INSTALL_FALSE, HC_OPTIONS };

/* A modprobe.d line that matters here (or its kernel command line twin:
 * file "/proc/cmdline", line 0). */
struct hc_modline {
	enum hc_mod_kind kind;
	char module[HC_MODNAME];  /* '-' folded to '_', as modprobe does */
	char args[512];
	char file[HC_FILE];       /* as on the host, without --root */
	int line;
};

struct hc_alias {
	const char *pattern;      /* "pci:v000010DEd*sv*sd*bc03sc*i*" */
	const char *module;
};

enum hc_cpu { HC_CPU_UNKNOWN, HC_CPU_AMD, HC_CPU_INTEL };
enum hc_mod_state { HC_MOD_UNKNOWN = -1, HC_MOD_MISSING, HC_MOD_MODULE, HC_MOD_BUILTIN };

struct hc {
	const struct pv_topo *t;
	bool one_vm;             /* `check VMID` */
	char osrelease[65];      /* "" if unknown */
	char cmdline[4096];
	bool have_cmdline;
	enum hc_cpu cpu;
	char kwhere[160];        /* where the kernel command line is set, and how to apply */
	struct hc_vm vm[HC_MAX_VMS];
	int nvm;
	struct hc_dev dev[HC_MAX_DEVS];
	int ndev;
	struct hc_modline ml[HC_MAX_MODLINES];
	int nml;
	char *dep, *builtin;     /* modules.dep / modules.builtin text, NULL if absent */
	char *alias_text;
	struct hc_alias *alias;  /* pci: aliases of modules.alias */
	int nalias;
	char (*modalias)[96];    /* per t->pci[i], "" if unknown */
};

/* check_host.c */
bool hc_cmdline_has(const struct hc *h, const char *token);
/* Value of key=value on the kernel command line ('-' and '_' alike in the
 * key, as the kernel's parameter parser); NULL if absent. */
const char *hc_cmdline_value(const struct hc *h, const char *key, char *buf, size_t n);
const struct hc_dev *hc_passthrough(const struct hc *h, const char *bdf);
/* Does a VM config (a checked one, with targets_only) ask for 1 GiB pages? */
bool hc_vm_wants_1g(const struct hc *h, bool targets_only);
/* Append to out (size n) at *len, which stays at most n - 1: a list that
 * does not fit ends cut, never past the buffer. */
void hc_appendf(char *out, size_t n, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Read a small file at a rooted printf path (trailing newline dropped);
 * its length, or -1 if it cannot be read. */
int hc_readf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool hc_existsf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* check_modconf.c: modprobe.d and the kernel's module index */
void hc_load_modconf(struct hc *h);
void hc_free_modconf(struct hc *h);
bool hc_valid_modname(const char *s);
void hc_modname_fold(char *s);
enum hc_mod_state hc_mod_state(const struct hc *h, const char *name);
bool hc_mod_loaded(const char *name);
/* Does module (folded name) have a PCI alias matching modalias? */
bool hc_mod_drives(const struct hc *h, const char *module, const char *modalias);
/* "/etc/modprobe.d/vfio.conf:2", or "the kernel command line". */
const char *hc_modline_where(const struct hc_modline *m, char *buf, size_t n);
/* Does a module other than `module`, and not blacklisted, drive modalias? */
bool hc_other_driver(const struct hc *h, const char *module, const char *modalias);
/* The last options line setting module's param; value copied to val. */
const struct hc_modline *hc_mod_option(const struct hc *h, const char *module, const char *param,
				       char *val, size_t n);

/* topic files */
void hc_check_iommu(struct hc *h, struct pv_report *r);
void hc_check_bootvga(struct hc *h, struct pv_report *r);
void hc_check_modules(struct hc *h, struct pv_report *r);
void hc_check_devices(struct hc *h, struct pv_report *r);
void hc_check_romfiles(struct hc *h, struct pv_report *r);
void hc_check_memory(struct hc *h, struct pv_report *r);
void hc_check_cpu(struct hc *h, struct pv_report *r);
