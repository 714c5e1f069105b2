/* The journal's text form: escaping, write/parse round trip, done/undone
 * marks, torn last lines, and corruption elsewhere. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "engine/journal.h"
#include "tests/lib/tap.h"

static void test_escape(void)
{
	char out[64], back[64];
	const char *in = "a\tb\nc\\d\re\x01" "f\x7f";

	CHECK_INT(pv_escape(out, sizeof(out), in), 0);
	CHECK_STR(out, "a\\tb\\nc\\\\d\\re\\x01f\\x7f");
	CHECK(strchr(out, '\n') == NULL && strchr(out, '\t') == NULL, "raw control left: %s", out);
	CHECK_INT(pv_unescape(back, sizeof(back), out), 0);
	CHECK_STR(back, in);
	CHECK_INT(pv_escape(out, 4, "abcd"), -1);
	CHECK_INT(pv_unescape(back, sizeof(back), "bad\\q"), -1);
	CHECK_INT(pv_unescape(back, sizeof(back), "nul\\x00"), -1);
	CHECK_INT(pv_unescape(back, sizeof(back), "raw\ttab"), -1);
	CHECK_INT(pv_unescape(back, sizeof(back), "trail\\"), -1);
}

static char *slurp_journal(int vmid)
{
	char path[PV_PATH_MAX];

	pv_journal_path(path, sizeof(path), vmid, NULL);
	return pv_slurp(path, NULL, NULL);
}

static void test_roundtrip(void)
{
	struct pv_journal j;
	struct pv_jlist l;
	struct pv_err e = { 0 };
	long s1, s2, s3;
	char *text;

	CHECK_INT(pv_journal_open(&j, 100, &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_PRE_START, PV_STEP_ATTR, "/sys/a", "old\nline", "new\tval",
				  &s1, &e), 0);
	CHECK_INT(pv_journal_done(&j, s1, "new\tval", &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_PRE_START, PV_STEP_CPUSET, "cgroupfs:system.slice", "",
				  "2-3", &s2, &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_POST_START, PV_STEP_AFFINITY, "1/2@3", "0-7", "0", &s3, &e),
		  0);
	CHECK_INT(pv_journal_undone(&j, s3, "thread is gone", &e), 0);
	pv_journal_close(&j);
	CHECK_INT(s1, 1);
	CHECK_INT(s3, 3);
	text = slurp_journal(100);
	CHECK(text && !strstr(text, "old\nline"), "newline not escaped");
	free(text);

	CHECK_INT(pv_journal_load(100, &l, &e), 0);
	CHECK_INT(l.n, 3);
	CHECK_INT(l.vmid, 100);
	CHECK(!l.torn, "not torn");
	CHECK_STR(l.r[0].old, "old\nline");
	CHECK_STR(l.r[0].nv, "new\tval");
	CHECK(l.r[0].done && !l.r[0].undone, "step 1 done");
	CHECK_STR(l.r[0].got, "new\tval");
	CHECK(!l.r[1].done && !l.r[1].undone, "step 2 half-happened");
	CHECK_INT(l.r[1].kind, PV_STEP_CPUSET);
	CHECK_STR(l.r[1].old, "");
	CHECK_INT(l.r[2].phase, PV_POST_START);
	CHECK(l.r[2].undone, "step 3 undone");
	CHECK_STR(l.r[2].note, "thread is gone");
	pv_jlist_free(&l);

	/* reopening continues the numbering */
	CHECK_INT(pv_journal_open(&j, 100, &e), 0);
	CHECK_INT(j.next_seq, 4);
	pv_journal_close(&j);
	/* another VM's journal under this name is refused */
	CHECK_INT(pv_journal_open(&j, 101, &e), 0);
	pv_journal_close(&j);
	CHECK_INT(pv_journal_remove(101, &e), 0);
}

/* A done mark is held back until the next record, a flush or the close,
 * and never overtakes the step it marks. */
static void test_held_back(void)
{
	struct pv_journal j;
	struct pv_jlist l;
	struct pv_err e = { 0 };
	long s1, s2;
	char *text;

	CHECK_INT(pv_journal_open(&j, 102, &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_PRE_START, PV_STEP_ATTR, "/sys/a", "0", "1", &s1, &e), 0);
	CHECK_INT(pv_journal_done(&j, s1, "1", &e), 0);
	text = slurp_journal(102);
	CHECK(text && strstr(text, "S\t1\t") && !strstr(text, "D\t1\t"), "D held back: %s", text);
	free(text);
	CHECK_INT(pv_journal_step(&j, PV_PRE_START, PV_STEP_ATTR, "/sys/b", "0", "1", &s2, &e), 0);
	text = slurp_journal(102);
	CHECK(text && strstr(text, "D\t1\t") && strstr(text, "S\t2\t") &&
		      strstr(text, "D\t1\t") < strstr(text, "S\t2\t"),
	      "D written before the next step: %s", text);
	free(text);
	CHECK_INT(pv_journal_done(&j, s2, "1", &e), 0);
	CHECK_INT(pv_journal_flush(&j, &e), 0);
	CHECK_INT(pv_journal_load(102, &l, &e), 0);
	CHECK(l.n == 2 && l.r[0].done && l.r[1].done, "both done after a flush");
	pv_jlist_free(&l);
	/* many marks in a row: more than the buffer holds, none lost */
	for (int i = 0, bad = 0; i < 300 && !bad; i++) {
		long s;

		bad = pv_journal_step(&j, PV_POST_START, PV_STEP_IRQ, "/proc/irq/9/smp_affinity_list",
				      "0-63", "8-31", &s, &e) < 0 ||
		      pv_journal_done(&j, s, "8-31", &e) < 0;
		if (bad)
			CHECK(0, "record %d refused: %s", i, e.msg);
	}
	pv_journal_close(&j);
	CHECK_INT(pv_journal_load(102, &l, &e), 0);
	CHECK_INT(l.n, 302);
	for (int i = 0; i < l.n; i++)
		if (!l.r[i].done) {
			CHECK(0, "step %ld lost its done mark", l.r[i].seq);
			break;
		}
	pv_jlist_free(&l);
	CHECK_INT(pv_journal_remove(102, &e), 0);
}

static void append_raw(int vmid, const char *s)
{
	char path[PV_PATH_MAX];
	FILE *f;

	pv_journal_path(path, sizeof(path), vmid, NULL);
	f = fopen(path, "a");
	fputs(s, f);
	fclose(f);
}

static void test_torn(void)
{
	struct pv_journal j;
	struct pv_jlist l;
	struct pv_err e = { 0 };
	long s;
	char *text;

	/* a record cut short by a crash: no newline, no checksum */
	append_raw(100, "S\t4\tpre-start\tATTR\t/sys/b\tx\t");
	CHECK_INT(pv_journal_load(100, &l, &e), 0);
	CHECK(l.torn, "torn flagged");
	CHECK_INT(l.n, 3);
	pv_jlist_free(&l);
	/* reopening cuts the torn tail so the next record starts clean */
	CHECK_INT(pv_journal_open(&j, 100, &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_PRE_START, PV_STEP_IRQ, "/proc/irq/5/smp_affinity_list",
				  "0-7", "2", &s, &e), 0);
	pv_journal_close(&j);
	CHECK_INT(s, 4);
	CHECK_INT(pv_journal_load(100, &l, &e), 0);
	CHECK(!l.torn && l.n == 4, "clean after reopen: torn %d n %d", l.torn, l.n);
	CHECK_STR(l.r[3].target, "/proc/irq/5/smp_affinity_list");
	pv_jlist_free(&l);
	text = slurp_journal(100);
	CHECK(text && !strstr(text, "/sys/b"), "torn record gone");
	free(text);

	/* a full last line with a bad checksum is torn too */
	append_raw(100, "D\t4\t2\tdeadbeef\n");
	CHECK_INT(pv_journal_load(100, &l, &e), 0);
	CHECK(l.torn && !l.r[3].done, "bad checksum on last line ignored");
	pv_jlist_free(&l);
	/* in the middle it is corruption: the strict parser refuses it, a load
	 * (restore) skips that line, names it, and keeps every other entry */
	append_raw(100, "U\t4\tx\t00000000\n");
	text = slurp_journal(100);
	CHECK_INT(pv_journal_parse(text, "j", &l, &e), -1);
	CHECK(strstr(e.msg, "j:8: corrupt") != NULL, "names the line: %s", e.msg);
	free(text);
	CHECK_INT(pv_journal_load(100, &l, &e), 0);
	CHECK_INT(l.n, 4);
	CHECK_INT(l.nbad, 1);
	CHECK_INT(l.bad_line[0], 8);
	CHECK(!l.r[3].undone, "the corrupt U mark is not taken");
	pv_jlist_free(&l);
	CHECK_INT(pv_journal_remove(100, &e), 0);
	CHECK_INT(pv_journal_load(100, &l, &e), 1);
}

static void test_parse_errors(void)
{
	struct pv_jlist l;
	struct pv_err e = { 0 };

	CHECK_INT(pv_journal_parse("", "j", &l, &e), -1);
	pv_jlist_free(&l);
	/* only a torn header: nothing was recorded */
	CHECK_INT(pv_journal_parse("H\t1\t10", "j", &l, &e), 0);
	CHECK_INT(l.vmid, 0);
	pv_jlist_free(&l);
	/* a D for a step that does not exist */
	CHECK_INT(pv_journal_parse("H\t1\t100\t1ccc4413\n", "j", &l, &e), 0);
	CHECK_INT(l.vmid, 100);
	pv_jlist_free(&l);
	CHECK_INT(pv_journal_parse("H\t1\t100\t1ccc4413\nD\t9\tx\t00000000\nS", "j", &l, &e), -1);
	CHECK(strstr(e.msg, "j:2:") != NULL, "line 2 named: %s", e.msg);
	pv_jlist_free(&l);
}

/* A re-assert updates the live entry (an R record): one entry per target,
 * its old value the first one; the list's index finds it. */
static void test_update(void)
{
	struct pv_journal j;
	struct pv_jlist l;
	struct pv_err e = { 0 };
	long s1, s2;

	CHECK_INT(pv_journal_open(&j, 103, &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_POST_START, PV_STEP_IRQ, "/proc/irq/7/smp_affinity_list",
				  "0-7", "2", &s1, &e), 0);
	CHECK_INT(pv_journal_done(&j, s1, "2", &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_POST_START, PV_STEP_IRQ, "/proc/irq/8/smp_affinity_list",
				  "0-7", "2", &s2, &e), 0);
	CHECK(pv_jlist_live(&j.l, PV_STEP_IRQ, "/proc/irq/7/smp_affinity_list") ==
		      pv_jlist_find(&j.l, s1), "index finds irq 7");
	CHECK(pv_jlist_live(&j.l, PV_STEP_ATTR, "/proc/irq/7/smp_affinity_list") == NULL,
	      "the kind is part of the key");
	for (int i = 0; i < 100; i++) {
		CHECK_INT(pv_journal_update(&j, s1, i % 2 ? "3" : "2", &e), 0);
		CHECK_INT(pv_journal_done(&j, s1, i % 2 ? "3" : "2", &e), 0);
	}
	CHECK_INT(pv_journal_undone(&j, s2, "gone", &e), 0);
	CHECK_INT(pv_journal_update(&j, s2, "1", &e), -1); /* undone: nothing to re-assert */
	pv_journal_close(&j);
	CHECK_INT(pv_journal_load(103, &l, &e), 0);
	CHECK_INT(l.n, 2);
	CHECK_INT(l.nlive, 1);
	CHECK_STR(l.r[0].old, "0-7");
	CHECK_STR(l.r[0].nv, "3");
	CHECK(l.r[0].done, "done after its last re-assert");
	pv_jlist_free(&l);
	CHECK_INT(pv_journal_remove(103, &e), 0);
}

/* Compaction: a file that is mostly superseded records is rewritten with
 * the live entries only, numbering kept; and the bound on live entries. */
static void test_compact(void)
{
	struct pv_journal j;
	struct pv_jlist l;
	struct pv_err e = { 0 };
	long s1, s = 0;
	char *text;
	size_t before;

	CHECK_INT(pv_journal_open(&j, 104, &e), 0);
	CHECK_INT(pv_journal_step(&j, PV_POST_START, PV_STEP_IRQ, "/proc/irq/9/smp_affinity_list",
				  "0-7", "2", &s1, &e), 0);
	for (int i = 0; i < 1200; i++)
		if (pv_journal_update(&j, s1, "2", &e) < 0 || pv_journal_done(&j, s1, "2", &e) < 0) {
			CHECK(0, "update %d: %s", i, e.msg);
			break;
		}
	CHECK(j.l.nrec < 2 * 1 + 1024 + 4, "compacted along the way: %d records", j.l.nrec);
	CHECK_INT(pv_journal_step(&j, PV_POST_START, PV_STEP_IRQ, "/proc/irq/10/smp_affinity_list",
				  "0-7", "2", &s, &e), 0);
	CHECK_INT(s, s1 + 1); /* re-asserts take no number; compaction keeps them */
	pv_journal_close(&j);
	text = slurp_journal(104);
	before = text ? strlen(text) : 0;
	CHECK(before < 100000, "the file stays small: %zu bytes", before);
	free(text);
	CHECK_INT(pv_journal_load(104, &l, &e), 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.r[0].old, "0-7");
	CHECK(l.r[0].done, "done mark kept");
	pv_jlist_free(&l);

	/* at the bound no new target is journaled; re-asserts still are */
	CHECK_INT(pv_journal_open(&j, 104, &e), 0);
	j.max_live = 50;
	for (int i = 0; i < 100; i++) {
		char t[64];
		long q;

		snprintf(t, sizeof(t), "/sys/devices/x/%d", i);
		if (pv_journal_step(&j, PV_POST_START, PV_STEP_ATTR, t, "a", "b", &q, &e) < 0)
			break;
	}
	CHECK_INT(j.l.nlive, 50);
	CHECK(strstr(e.msg, "the most it takes") && e.errnum == ENOSPC, "says why: %s", e.msg);
	CHECK_INT(pv_journal_update(&j, s1, "3", &e), 0);
	pv_journal_close(&j);
	CHECK_INT(pv_journal_load(104, &l, &e), 0);
	CHECK_INT(l.nlive, 50);
	pv_jlist_free(&l);
	CHECK_INT(pv_journal_remove(104, &e), 0);
}

/* A load reads the file a chunk (256 KiB) at a time: a journal of
 * several chunks, with a corrupt line, a line longer than a chunk and a
 * torn tail, loads as the in-memory parse of the same text does, and a
 * reopen cuts the torn tail at its real offset. */
static void test_chunks(void)
{
	struct pv_journal j;
	struct pv_jlist l, m;
	struct pv_err e = { 0 };
	char t[64], *text, *big;
	long s;
	int n = 6000;

	CHECK_INT(pv_journal_open(&j, 105, &e), 0);
	for (int i = 0, bad = 0; i < n; i++) {
		snprintf(t, sizeof(t), "/proc/irq/%d/smp_affinity_list", i);
		if ((pv_journal_step(&j, PV_POST_START, PV_STEP_IRQ, t, i % 7 ? "0-63" : "a\tb",
				     "8-15", &s, &e) < 0 || pv_journal_done(&j, s, "8-15", &e) < 0) &&
		    !bad++)
			CHECK(0, "write step %d: %s", i, e.msg);
		if (i == n / 2) {
			/* a corrupt line, then one longer than a chunk */
			pv_journal_flush(&j, &e);
			append_raw(105, "D\t1\tx\t00000000\n");
			big = malloc(300 * 1024 + 2);
			memset(big, 'y', 300 * 1024);
			strcpy(big + 300 * 1024, "\n");
			append_raw(105, big);
			free(big);
		}
	}
	pv_journal_close(&j);
	append_raw(105, "S\t99999\tpost-start\tIRQ\t/proc/irq/1/smp_aff");
	CHECK_INT(pv_journal_load(105, &l, &e), 0);
	text = slurp_journal(105);
	CHECK_INT(pv_journal_parse_tolerant(text, "j", &m, &e), 0);
	CHECK_INT(l.n, n);
	CHECK_INT(m.n, n);
	CHECK_INT(l.nbad, 2);
	CHECK_INT(m.nbad, 2);
	CHECK_INT(l.bad_line[0], m.bad_line[0]);
	CHECK_INT(l.bad_line[1], m.bad_line[1]);
	CHECK(l.torn && m.torn && l.torn_at == m.torn_at, "torn at %zu and %zu", l.torn_at,
	      m.torn_at);
	for (int i = 0; i < n && i < l.n && i < m.n; i++)
		if (l.r[i].seq != m.r[i].seq || strcmp(l.r[i].old, m.r[i].old) ||
		    strcmp(l.r[i].got, m.r[i].got) || strcmp(l.r[i].target, m.r[i].target) ||
		    l.r[i].done != m.r[i].done) {
			CHECK(0, "entry %d differs", i);
			break;
		}
	CHECK_STR(l.r[7].old, "a\tb");
	CHECK(pv_jlist_live(&l, PV_STEP_IRQ, "/proc/irq/5/smp_affinity_list") == &l.r[5],
	      "index built at the first lookup");
	pv_jlist_free(&l);
	pv_jlist_free(&m);
	/* the reopen cuts the torn tail where it starts: the rest stays */
	CHECK_INT(pv_journal_open(&j, 105, &e), 0);
	CHECK_INT(j.l.n, n);
	pv_journal_close(&j);
	CHECK_INT(pv_journal_load(105, &l, &e), 0);
	CHECK(!l.torn && l.n == n, "clean after reopen: torn %d n %d", l.torn, l.n);
	pv_jlist_free(&l);
	CHECK_INT(pv_journal_remove(105, &e), 0);
}

/* A journal whose entries pass 2 MiB: the entry array and a large
 * load's arena are mapped on their own (engine/jlist.c), the array grown
 * by mremap as the agent adds steps after a load, and what is read back
 * matches the in-memory parse of the same text, entry for entry. */
static int add_steps(struct pv_journal *j, int from, int to, struct pv_err *e)
{
	char t[64];
	long s;

	for (int i = from; i < to; i++) {
		snprintf(t, sizeof(t), "/proc/irq/%d/smp_affinity_list", i);
		if (pv_journal_step(j, PV_POST_START, PV_STEP_IRQ, t, "0-63", i % 3 ? "8-15" : "9",
				    &s, e) < 0 || pv_journal_done(j, s, i % 3 ? "8-15" : "9", e) < 0)
			return -1;
	}
	return 0;
}

static void test_large(void)
{
	struct pv_journal j;
	struct pv_jlist l, m;
	struct pv_err e = { 0 };
	int n = 34000;
	char *text;

	CHECK_INT(pv_journal_open(&j, 106, &e), 0);
	j.volatile_fs = true; /* no fsync per record: what is tested is the list */
	CHECK_INT(add_steps(&j, 0, n, &e), 0);
	CHECK(j.l.rmapped > 0, "the entries are mapped: %zu bytes", j.l.rmapped);
	pv_journal_close(&j);
	/* read back (its arena mapped at once), then grown past what it read */
	CHECK_INT(pv_journal_open(&j, 106, &e), 0);
	j.volatile_fs = true;
	CHECK_INT(j.l.n, n);
	CHECK_INT(add_steps(&j, n, 2 * n, &e), 0);
	CHECK(j.l.rmapped >= 2 * n * sizeof(struct pv_jent), "grown: %zu bytes", j.l.rmapped);
	pv_journal_close(&j);
	CHECK_INT(pv_journal_load(106, &l, &e), 0);
	text = slurp_journal(106);
	CHECK_INT(pv_journal_parse_tolerant(text, "j", &m, &e), 0);
	CHECK_INT(l.n, 2 * n);
	CHECK_INT(m.n, 2 * n);
	for (int i = 0; i < l.n && i < m.n; i++)
		if (l.r[i].seq != m.r[i].seq || strcmp(l.r[i].target, m.r[i].target) ||
		    strcmp(l.r[i].old, m.r[i].old) || strcmp(l.r[i].nv, m.r[i].nv) ||
		    strcmp(l.r[i].got, m.r[i].got) || !l.r[i].done) {
			CHECK(0, "entry %d differs", i);
			break;
		}
	if (l.n == 2 * n) {
		CHECK_STR(l.r[2 * n - 1].target, "/proc/irq/67999/smp_affinity_list");
		CHECK_STR(l.r[2 * n - 1].got, "8-15");
		CHECK_STR(l.r[n].nv, "8-15");
	}
	CHECK(pv_jlist_live(&l, PV_STEP_IRQ, "/proc/irq/40000/smp_affinity_list") == &l.r[40000],
	      "found by target");
	pv_jlist_free(&l);
	pv_jlist_free(&m);
	CHECK_INT(pv_journal_remove(106, &e), 0);
}

int main(void)
{
	char tmpl[64] = "/tmp/pvepin-journal-XXXXXX", dir[96];

	pv_opt.root = mkdtemp(tmpl);
	test_escape();
	test_roundtrip();
	test_held_back();
	test_torn();
	test_parse_errors();
	test_update();
	test_compact();
	test_chunks();
	test_large();
	snprintf(dir, sizeof(dir), "%s/run/pvepin", tmpl);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "%s/run", tmpl);
	rmdir(dir);
	rmdir(tmpl);
	return tap_done("test_journal");
}
