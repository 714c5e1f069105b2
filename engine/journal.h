/* The write-ahead journal: /run/pvepin/<vmid>.journal. Every host change is
 * written (fsync'd unless on tmpfs) before it is made, marked done after,
 * and marked undone when restore has dealt with it, so a crash at any point
 * leaves a file `pvepin restore` can finish.
 *
 * One record per line, fields separated by tabs, each field escaped (see
 * pv_escape) and the line closed by an FNV-1a checksum of what precedes it:
 *   H  1     <vmid>                                   header
 *   S  <seq> <phase> <kind> <target> <old> <new>      step about to run
 *   D  <seq> <got>                                    step done, read back
 *   U  <seq> <note>                                   step undone (or left alone)
 * A last line without its newline or checksum is a torn write: ignored. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/fsio.h"
#include "pinner/plan.h"

enum pv_step_kind {
	PV_STEP_ATTR = 0, /* a sysfs/procfs/cgroup attribute, compare-and-swap restore */
	PV_STEP_REBIND,   /* a PCI function moved to vfio-pci and back */
	PV_STEP_HUGEPAGES,/* pages added to a node's pool; restore gives back what is still free */
	PV_STEP_AFFINITY, /* a thread's CPU mask */
	PV_STEP_CPUSET,   /* a cgroup's cpuset.cpus, through systemd or cgroupfs */
	PV_STEP_CGCTL,    /* +cpuset in a cgroup's cgroup.subtree_control */
	PV_STEP_GOVERNOR, /* cpufreq scaling_governor (an ATTR) */
	PV_STEP_IRQ,      /* /proc/irq/N/smp_affinity_list (an ATTR; managed IRQs skipped) */
	PV_STEP_IRQB,     /* irqbalance's banned CPUs or IRQs (its socket) */
	PV_STEP_PARTITION,/* a cgroup's cpuset.cpus.partition ("member" -> "root"), shared by VMs */
	PV_STEP_PARTCPUS, /* that partition's cpuset.cpus: a CPUSET whose value is every CPU
			   * but the host's (restore recomputes it so, while other VMs run) */
	PV_STEP__N
};

#define PV_JTARGET 256
#define PV_JVAL 1024

/* A step as the engine works on it: fixed buffers the step code fills. */
struct pv_jrec {
	long seq;
	enum pv_phase phase;
	enum pv_step_kind kind;
	char target[PV_JTARGET];
	char old[PV_JVAL];
	char nv[PV_JVAL];   /* the new value asked for */
	bool done;          /* a D record follows: the change completed */
	char got[PV_JVAL];  /* what the host read back after the change */
	bool undone;        /* a U record follows: restore finished with it */
	char note[256];
};

/* A step as the journal holds it: the strings are in the list's arena
 * (an entry with the old, new or done value of the one before shares its
 * copy), so an entry costs its own bytes and this struct, never the
 * buffers of a pv_jrec. Never NULL. */
struct pv_jent {
	long seq;
	enum pv_phase phase;
	enum pv_step_kind kind;
	bool done, undone;
	const char *target, *old, *nv, *got, *note;
};

struct pv_jarena;

#define PV_JBAD_LINES 4

struct pv_jlist {
	int vmid;
	struct pv_jent *r;  /* in seq order */
	int n, cap;
	size_t rmapped;     /* r's length when mapped on its own (engine/jlist.c), else 0 */
	long max_seq;
	bool torn;          /* a torn last line was dropped */
	size_t torn_at;     /* where it starts in the text */
	int nlive;          /* entries not undone */
	int nrec;           /* records (lines) read or appended, the header not counted */
	int nbad;           /* tolerant load: lines skipped (bad checksum, bad record) */
	int bad_line[PV_JBAD_LINES]; /* the first of them */
	struct pv_jarena *arena;
	int *idx;           /* (kind, target) -> newest entry of it; -1 empty */
	int idxcap;
	bool idx_lazy;      /* a parsed list's index is built at its first lookup
			     * (pv_jlist_live): restore never asks for it */
};

/* Bounds: a guest that keeps enabling new MSI-X vectors must not grow the
 * journal past what restore reads quickly. At PV_JOURNAL_MAX_LIVE live
 * entries no new target is journaled (so none is changed): the step fails
 * with a line saying so, and everything recorded stays restorable. */
#define PV_JOURNAL_MAX_LIVE 100000
#define PV_JOURNAL_MAX_BYTES (32L << 20)

struct pv_journal {
	int fd;
	int vmid;
	long next_seq;
	bool volatile_fs;   /* on tmpfs: fsync skipped */
	size_t npend;       /* done marks not yet written (pv_journal_done) */
	long size;          /* bytes in the file, held-back marks included */
	int max_live;       /* PV_JOURNAL_MAX_LIVE (tests lower it) */
	dev_t dev;          /* the file j->l was read from: pv_journal_open */
	ino_t ino;          /* reuses j->l while it is still the same */
	struct pv_jlist l;  /* what the file holds, kept as records are added */
	char pend[8192];
	char path[PV_PATH_MAX];
};

const char *pv_step_name(enum pv_step_kind k);
int pv_step_parse(const char *s, enum pv_step_kind *k);
int pv_phase_parse(const char *s, enum pv_phase *ph);

/* Escape into out (always NUL-terminated): backslash, tab, newline, CR and
 * other control bytes become \\ \t \n \r \xHH. Fails if out is too small. */
int pv_escape(char *out, size_t n, const char *in);
/* Inverse of pv_escape; rejects malformed escapes and raw control bytes. */
int pv_unescape(char *out, size_t n, const char *in);

/* Open (creating /run/pvepin 0700 and the journal) for appending, with
 * its records in j->l. Lines that fail their checksum are skipped
 * (j->l.nbad): restore does what it can verify. */
int pv_journal_open(struct pv_journal *j, int vmid, struct pv_err *e);
/* Writes the done marks held back, then closes and frees j->l. */
void pv_journal_close(struct pv_journal *j);
/* j open before (and not closed): kept as it is when the file is still the
 * one j wrote last (same inode, same size), read again otherwise. The
 * agent keeps its journal between passes and so never reads it again. */
int pv_journal_reopen(struct pv_journal *j, struct pv_err *e);
/* Write-ahead: append an S record after the done marks held back, written
 * (and fsync'd unless on tmpfs) before this returns; *seq gets its number. */
int pv_journal_step(struct pv_journal *j, enum pv_phase ph, enum pv_step_kind k,
		    const char *target, const char *old, const char *nv, long *seq,
		    struct pv_err *e);
/* The same, held back with the done marks: a batch of steps goes out in
 * one write at pv_journal_flush, which must come before the first of them
 * is made (the engine's batch writer does). */
int pv_journal_step_held(struct pv_journal *j, enum pv_phase ph, enum pv_step_kind k,
			 const char *target, const char *old, const char *nv, long *seq,
			 struct pv_err *e);
/* A D record, held back until the next record or a flush: it rides with
 * the next S record's write, halving a phase's writes. Losing it to a
 * crash is the window every step already has (change made, mark not yet
 * written): restore then compares with the value asked for. */
int pv_journal_done(struct pv_journal *j, long seq, const char *got, struct pv_err *e);
/* Write the held-back done marks: before anyone reads the journal. */
int pv_journal_flush(struct pv_journal *j, struct pv_err *e);
int pv_journal_undone(struct pv_journal *j, long seq, const char *note, struct pv_err *e);
/* A re-assert of the live step seq (an R record): its new value is nv
 * again, its old value stays the one from before pvepin; a D follows as
 * for a step. The list keeps one entry per target. */
int pv_journal_update(struct pv_journal *j, long seq, const char *nv, struct pv_err *e);
/* Rewrite the file with only the live entries (atomic rename): undone
 * steps and superseded marks go. Done by pv_journal_step/update when the
 * file holds far more records than live entries. */
int pv_journal_compact(struct pv_journal *j, struct pv_err *e);

/* Parse journal text in linear time. name is used in "name:line: ..."
 * errors; a torn last line is dropped with l->torn set; any other bad line
 * is an error, and leaves l empty. */
int pv_journal_parse(const char *text, const char *name, struct pv_jlist *l, struct pv_err *e);
/* The same on a buffer it takes over (freed when it returns), and
 * tolerant: a bad line other than the header is skipped and counted in
 * l->nbad (restore applies what it can verify, reports the rest). */
int pv_journal_parse_tolerant(char *text, const char *name, struct pv_jlist *l,
			      struct pv_err *e);
/* The tolerant parse of what fd holds, read a chunk at a time (the text
 * is not kept: the entries' strings are copied); *len gets the bytes read,
 * more than max is an error (EFBIG). 1 (l empty) when fd holds nothing. */
int pv_journal_read_fd(int fd, const char *name, size_t max, struct pv_jlist *l, size_t *len,
		       struct pv_err *e);
/* Load the journal of vmid, tolerantly. Returns 1 if there is none (l
 * empty), 0 if read. */
int pv_journal_load(int vmid, struct pv_jlist *l, struct pv_err *e);
void pv_jlist_free(struct pv_jlist *l);
/* The entry of seq, or NULL (binary search: entries are in seq order). */
struct pv_jent *pv_jlist_find(const struct pv_jlist *l, long seq);
/* The newest entry of (kind, target) that is not undone, or NULL. */
struct pv_jent *pv_jlist_live(const struct pv_jlist *l, enum pv_step_kind k, const char *target);
/* An entry as a working record (strings copied, cut to the buffers). */
void pv_jent_rec(const struct pv_jent *x, struct pv_jrec *r);
/* Bad lines as "7, 9" for a message. */
void pv_jlist_bad_text(const struct pv_jlist *l, char *buf, size_t n);
int pv_journal_path(char *buf, size_t n, int vmid, struct pv_err *e);
int pv_journal_remove(int vmid, struct pv_err *e);
/* mkdir -p <root>/run/pvepin with mode 0700. */
int pv_rundir(struct pv_err *e);

/* The journal's own list upkeep (engine/jlist.c, engine/journal.c). */
uint32_t pv_fnv1a(const char *s, size_t len);
/* s copied into l's arena ("" costs nothing); NULL when out of memory. */
const char *pv_jlist_str(struct pv_jlist *l, const char *s);
int pv_jlist_add(struct pv_jlist *l, long seq, enum pv_phase ph, enum pv_step_kind k,
		 const char *target, const char *old, const char *nv);
/* type 'D' (got), 'U' (note) or 'R' (nv) on the entry of seq. */
int pv_jlist_mark(struct pv_jlist *l, char type, long seq, const char *val);
int pv_jlist_reindex(struct pv_jlist *l);
