#include "engine/engine.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsio.h"
#include "engine/attr.h"
#include "common/opts.h"
#include "common/testknob.h"
#include "engine/steps.h"

static const struct pv_step_ops *const ops[PV_STEP__N] = {
	[PV_STEP_ATTR] = &pv_step_attr,         [PV_STEP_REBIND] = &pv_step_rebind,
	[PV_STEP_HUGEPAGES] = &pv_step_hugepages, [PV_STEP_AFFINITY] = &pv_step_affinity,
	[PV_STEP_CPUSET] = &pv_step_cpuset,     [PV_STEP_CGCTL] = &pv_step_cgctl,
	[PV_STEP_GOVERNOR] = &pv_step_governor, [PV_STEP_IRQ] = &pv_step_irq,
	[PV_STEP_IRQB] = &pv_step_irqb,         [PV_STEP_PARTITION] = &pv_step_partition,
	[PV_STEP_PARTCPUS] = &pv_step_partcpus,
};

const struct pv_step_ops *pv_step_ops_of(enum pv_step_kind k)
{
	return (unsigned)k < PV_STEP__N ? ops[k] : NULL;
}

static bool same(enum pv_step_kind k, const char *a, const char *b)
{
	return ops[k]->same ? ops[k]->same(a, b) : !strcmp(a, b);
}

enum pv_cas pv_step_cas(const struct pv_jrec *r, const char *cur, const char *also, char *note,
			size_t n)
{
	const char *ours = r->done ? r->got : r->nv;

	if (same(r->kind, cur, ours) || same(r->kind, cur, r->nv) ||
	    (also && same(r->kind, cur, also)))
		return PV_CAS_PUT;
	if (same(r->kind, cur, r->old)) {
		snprintf(note, n, "already '%.200s'", r->old);
		return PV_CAS_ALREADY;
	}
	snprintf(note, n, "changed by someone else since (now '%.100s', pvepin wrote '%.100s'): "
		 "left alone", cur, ours);
	return PV_CAS_OTHER;
}

int pv_engine_open(struct pv_engine *en, int vmid, enum pv_phase ph, struct pv_ledger *led,
		   struct pv_err *e)
{
	memset(en, 0, sizeof(*en));
	en->vmid = vmid;
	en->phase = ph;
	en->led = led;
	en->j.fd = -1;
	en->j.vmid = vmid;
	/* fault injection: test builds only (common/testknob.h) */
	en->fault_at = pv_test_knob("PVEPIN_FAULT_AT");
	en->kill_at = pv_test_knob("PVEPIN_KILL_AT");
	en->kill_undo_at = pv_test_knob("PVEPIN_KILL_UNDO_AT");
	en->first_seq = LONG_MAX;
	return 0;
}

/* The journal is opened at the first record: a phase with nothing to do
 * leaves no file behind. */
int pv_engine_journal(struct pv_engine *en, struct pv_err *e)
{
	if (en->j.fd >= 0)
		return 0;
	if (pv_journal_open(&en->j, en->vmid, e) < 0)
		return -1;
	if (en->first_seq == LONG_MAX)
		en->first_seq = en->j.next_seq;
	return 0;
}

int pv_engine_begin(struct pv_engine *en, struct pv_ledger *led, struct pv_err *e)
{
	en->led = led;
	en->reassert = true;
	return en->j.fd >= 0 ? pv_journal_reopen(&en->j, e) : 0;
}

void pv_engine_close(struct pv_engine *en)
{
	pv_journal_close(&en->j);
}

int pv_attr_get(const char *hostpath, char *buf, size_t n, struct pv_err *e)
{
	char path[PV_PATH_MAX];

	if (pv_path(path, sizeof(path), e, "%s", hostpath) < 0)
		return -1;
	return pv_read_attr(path, buf, n, e) < 0 ? -1 : 0;
}

int pv_attr_put(const char *hostpath, const char *val, struct pv_err *e)
{
	char path[PV_PATH_MAX], line[PV_JVAL + 2];

	if (pv_path(path, sizeof(path), e, "%s", hostpath) < 0)
		return -1;
	/* with a newline, as echo does: every attribute pvepin writes takes it */
	snprintf(line, sizeof(line), "%s\n", val);
	return pv_write_file(path, line, e);
}

int pv_attr_put_fd(const char *hostpath, int fd, const char *val, struct pv_err *e)
{
	char path[PV_PATH_MAX], line[PV_JVAL + 2];

	if (pv_path(path, sizeof(path), e, "%s", hostpath) < 0)
		return -1;
	snprintf(line, sizeof(line), "%s\n", val);
	return pv_write_fd(fd, path, line, pv_opt.root && pv_opt.root[0], e);
}

void pv_engine_attr_batch(void *ctx, struct pv_attr_put *puts, int n)
{
	const char *root = pv_opt.root ? pv_opt.root : "";
	size_t rl = strlen(root);

	/* the engine journals host paths: the root comes off, as in
	 * pv_engine_attr_writer; an item already failed is left out */
	for (int i = 0; i < n; i++) {
		memset(&puts[i].err, 0, sizeof(puts[i].err));
		puts[i].rc = 0;
		if (strncmp(puts[i].path, root, rl) || puts[i].path[rl] != '/')
			puts[i].rc = pv_fail(&puts[i].err, EINVAL, "internal: %s is not under --root",
					     puts[i].path);
	}
	pv_engine_write_attrs(ctx, puts, n, rl);
}

int pv_engine_save_ledger(struct pv_engine *en, struct pv_err *e)
{
	return en->led ? pv_ledger_save(en->led, e) : 0;
}

/* What a step would do, in the user's terms: a rebind's journal values
 * ("driver|override", "vfio-pci|keep") are the engine's own encoding. */
static void dry_run_line(const struct pv_jrec *r)
{
	const char *bar = strchr(r->old, '|');

	if (r->kind != PV_STEP_REBIND || !bar) {
		printf("would %s %s: '%s' -> '%s'\n", pv_step_name(r->kind), r->target, r->old, r->nv);
		return;
	}
	printf("would %s %s: driver %.*s%s -> vfio-pci%s\n", pv_step_name(r->kind), r->target,
	       bar == r->old ? 6 : (int)(bar - r->old), bar == r->old ? "(none)" : r->old,
	       bar[1] ? " (driver_override was set)" : "",
	       strstr(r->nv, "|keep") ? " (kept bound after the VM stops)" : "");
}

/* The S record, or for the agent (en->reassert) an R record on the live
 * entry of the same target: its old value stays the one from before
 * pvepin, so restore gives the host back as it was before the VM, and the
 * journal keeps one entry per target however often a value is put back. */
static int record(struct pv_engine *en, struct pv_jrec *r, struct pv_err *e)
{
	const struct pv_jent *x = en->reassert ? pv_jlist_live(&en->j.l, r->kind, r->target) : NULL;

	if (!x)
		return pv_journal_step(&en->j, en->phase, r->kind, r->target, r->old, r->nv, &r->seq,
				       e);
	snprintf(r->old, sizeof(r->old), "%s", x->old);
	r->seq = x->seq;
	return pv_journal_update(&en->j, r->seq, r->nv, e);
}

int pv_engine_step(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e)
{
	int rc;

	r->phase = en->phase;
	if (pv_opt.dry_run) {
		dry_run_line(r);
		return 0;
	}
	if (!ops[r->kind]->target_ok(r->target))
		return pv_fail(e, EINVAL, "internal: %s target '%.80s' is not of its shape",
			       pv_step_name(r->kind), r->target);
	if (pv_engine_journal(en, e) < 0 || record(en, r, e) < 0)
		return -1;
	if (++en->nsteps == en->fault_at)
		return pv_fail(e, 0, "fault injected at step %d (%s %s)", en->nsteps,
			       pv_step_name(r->kind), r->target);
	rc = ops[r->kind]->apply(en, r, arg, e);
	if (en->nsteps == en->kill_at)
		_exit(137);
	if (rc == 1) {
		fprintf(stderr, "pvepin: %s %s: %s\n", pv_step_name(r->kind), r->target, r->note);
		if (pv_journal_undone(&en->j, r->seq, r->note, e) < 0)
			return -1;
		return 1;
	}
	if (rc < 0) {
		/* a refused IRQ write changed nothing: mark it so restore skips it */
		if (r->kind == PV_STEP_IRQ && (e->errnum == EIO || e->errnum == EPERM)) {
			struct pv_err e2;

			if (pv_journal_undone(&en->j, r->seq, "refused by the kernel", &e2) < 0)
				pv_err_print(&e2);
		}
		return -1;
	}
	if (pv_opt.verbose)
		fprintf(stderr, "pvepin: %s %s: '%s' -> '%s'\n", pv_step_name(r->kind), r->target,
			r->old, r->got);
	en->ndone[r->kind]++;
	return pv_journal_done(&en->j, r->seq, r->got, e);
}

static void undo_one(struct pv_engine *en, const struct pv_jrec *r)
{
	char note[512] = "";
	struct pv_err e = { 0 };
	int rc;

	/* the journal is a file: its target is checked as apply checked it */
	if (!ops[r->kind]->target_ok(r->target)) {
		en->nfailed++;
		fprintf(stderr, "pvepin: journal step %ld: refusing to restore %s '%.100s': not a "
			"target of the shape pvepin writes (an edited journal?)\n", r->seq,
			pv_step_name(r->kind), r->target);
		return;
	}
	rc = ops[r->kind]->undo(en, r, note, sizeof(note), &e);

	if (++en->nundo == en->kill_undo_at)
		_exit(137);
	if (rc < 0) {
		en->nfailed++;
		fprintf(stderr, "pvepin: could not restore %s %s: %s\n", pv_step_name(r->kind),
			r->target, e.msg);
		return;
	}
	if (rc == 1) {
		en->nleft++;
		fprintf(stderr, "pvepin: %s %s: %s\n", pv_step_name(r->kind), r->target, note);
	} else if (pv_opt.verbose) {
		fprintf(stderr, "pvepin: %s %s: %s\n", pv_step_name(r->kind), r->target, note);
	}
	if (pv_engine_journal(en, &e) < 0 || pv_journal_undone(&en->j, r->seq, note, &e) < 0) {
		en->nfailed++;
		pv_err_print(&e);
	}
}

int pv_engine_sync(struct pv_engine *en, struct pv_err *e)
{
	return en->j.fd >= 0 ? pv_journal_flush(&en->j, e) : 0;
}

/* Is there a journal to work on? Opened (so undo marks can be written)
 * only when there is: restore of a VM with none leaves none behind. */
static int have_journal(struct pv_engine *en, struct pv_err *e)
{
	char path[PV_PATH_MAX];

	if (en->j.fd >= 0)
		return pv_engine_sync(en, e) < 0 ? -1 : 1;
	if (pv_journal_path(path, sizeof(path), en->vmid, e) < 0)
		return -1;
	if (!pv_exists(path))
		return 0;
	return pv_engine_journal(en, e) < 0 ? -1 : 1;
}

static int undo_from(struct pv_engine *en, long from_seq, struct pv_err *e)
{
	int rc = have_journal(en, e);

	if (rc <= 0)
		return rc;
	/* newest first; undo marks append to the list, never move entries */
	for (int i = en->j.l.n - 1; i >= 0; i--) {
		struct pv_jrec r;

		if (en->j.l.r[i].seq < from_seq || en->j.l.r[i].undone)
			continue;
		pv_jent_rec(&en->j.l.r[i], &r);
		undo_one(en, &r);
	}
	if (en->nfailed)
		return pv_fail(e, 0, "%d step%s could not be restored (see above); fix that and run "
			       "`pvepin restore %d` again (--force gives up on %s)", en->nfailed,
			       en->nfailed > 1 ? "s" : "", en->vmid, en->nfailed > 1 ? "them" : "it");
	return 0;
}

int pv_engine_undo_since(struct pv_engine *en, long seq, struct pv_err *e)
{
	if (pv_opt.dry_run)
		return 0;
	return undo_from(en, seq, e);
}

static int pv_engine_tidy(struct pv_engine *en, struct pv_err *e);

int pv_engine_rollback(struct pv_engine *en, struct pv_err *e)
{
	if (pv_opt.dry_run)
		return 0;
	if (undo_from(en, en->first_seq, e) < 0)
		return -1;
	return pv_engine_tidy(en, e);
}

/* The last VM out puts back shared settings whose owner left before it. */
static void sweep_shared(struct pv_engine *en)
{
	for (int i = en->led->nsh - 1; i >= 0; i--) {
		const struct pv_lshared *s = &en->led->sh[i];
		struct pv_jrec r = { .kind = s->kind, .done = true, .seq = 0 };
		char note[512] = "";
		struct pv_err e = { 0 };

		snprintf(r.target, sizeof(r.target), "%s", s->target);
		snprintf(r.old, sizeof(r.old), "%s", s->orig);
		snprintf(r.nv, sizeof(r.nv), "%s", s->written);
		snprintf(r.got, sizeof(r.got), "%s", s->written);
		if (ops[r.kind]->undo(en, &r, note, sizeof(note), &e) < 0) {
			fprintf(stderr, "pvepin: could not restore %s %s: %s\n", pv_step_name(r.kind),
				r.target, e.msg);
			continue;
		}
		pv_ledger_unshare(en->led, r.kind, r.target);
		if (*note && pv_opt.verbose)
			fprintf(stderr, "pvepin: %s %s: %s\n", pv_step_name(r.kind), r.target, note);
	}
}

/* --force: what could not be restored is given up on, the journal kept
 * aside for a look, so the VM can start again. */
static int set_aside(struct pv_engine *en, struct pv_err *e)
{
	char path[PV_PATH_MAX], aside[PV_PATH_MAX + 16];

	pv_journal_close(&en->j);
	if (pv_journal_path(path, sizeof(path), en->vmid, e) < 0)
		return -1;
	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	if (rename(path, aside) < 0 && errno != ENOENT)
		return pv_fail(e, errno, "rename %s to %s", path, aside);
	fprintf(stderr, "pvepin: --force: VM %d's journal moved to %s; what it could not restore is "
		"left as it is\n", en->vmid, aside);
	return 0;
}

/* Everything verifiable was undone; lines that failed their checksum are
 * reported, and without --force keep the journal (and the VM) waiting. */
static int restore_rest(struct pv_engine *en, int rc, struct pv_err *e)
{
	char lines[96];
	int bad = en->j.fd >= 0 ? en->j.l.nbad : 0;

	if (rc == 0 && !bad)
		return 0;
	if (bad && rc == 0) {
		pv_jlist_bad_text(&en->j.l, lines, sizeof(lines));
		pv_fail(e, 0, "journal %s: line%s %s failed their checksum: every other step was "
			"restored, what those recorded was not; check it by hand, then `pvepin restore "
			"--force %d`", en->j.path, bad > 1 ? "s" : "", lines, en->vmid);
	}
	if (!pv_opt.force)
		return -1;
	fprintf(stderr, "pvepin: --force: %s\n", e->msg);
	return set_aside(en, e);
}

int pv_engine_restore(struct pv_engine *en, struct pv_err *e)
{
	if (pv_opt.dry_run)
		return 0;
	if (restore_rest(en, undo_from(en, 0, e), e) < 0)
		return -1;
	if (en->led && pv_ledger_others(en->led, en->vmid) == 0 && en->led->nsh) {
		sweep_shared(en);
		if (pv_engine_save_ledger(en, e) < 0)
			return -1;
	}
	pv_journal_close(&en->j);
	return pv_journal_remove(en->vmid, e);
}

/* Remove the journal if every step in it has been undone. */
static int pv_engine_tidy(struct pv_engine *en, struct pv_err *e)
{
	int rc = have_journal(en, e);

	if (rc <= 0)
		return rc;
	if (en->j.l.nlive || en->j.l.nbad)
		return 0;
	pv_journal_close(&en->j);
	return pv_journal_remove(en->vmid, e);
}

int pv_engine_attr_writer(void *ctx, const char *path, const char *old, const char *val,
			  struct pv_err *e)
{
	const char *root = pv_opt.root ? pv_opt.root : "";
	size_t rl = strlen(root);

	if (strncmp(path, root, rl) || path[rl] != '/')
		return pv_fail(e, EINVAL, "internal: %s is not under --root", path);
	return pv_engine_write_attr_from(ctx, path + rl, old, val, e);
}
