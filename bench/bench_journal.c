/* Journal load time and memory for a journal of N entries (default
 * 100,000): every entry a journaled IRQ or thread step with its done mark,
 * written through the journal's own writer, then loaded as restore loads
 * it. Target: well under 100 ms for 100,000 entries.
 * usage: bench_journal [ENTRIES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/opts.h"
#include "engine/journal.h"

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident bytes: the list's large blocks are mapped by the journal
 * itself (engine/jlist.c), which malloc's figures do not see. */
static long resident(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * sysconf(_SC_PAGESIZE);
}

static int fill(int n, struct pv_err *e)
{
	struct pv_journal j;
	char target[64];

	if (pv_journal_open(&j, 100, e) < 0)
		return -1;
	j.volatile_fs = true; /* the figure is the load; no fsync per record to write it */
	for (int i = 0; i < n; i++) {
		long seq;

		if (i % 2)
			snprintf(target, sizeof(target), "/proc/irq/%d/smp_affinity_list", i);
		else
			snprintf(target, sizeof(target), "4242/%d@%d", 5000 + i, 1000000 + i);
		if (pv_journal_step(&j, PV_POST_START, i % 2 ? PV_STEP_IRQ : PV_STEP_AFFINITY, target,
				    "0-63", "8-15,40-47", &seq, e) < 0 ||
		    pv_journal_done(&j, seq, "8-15,40-47", e) < 0) {
			pv_journal_close(&j);
			return -1;
		}
	}
	pv_journal_close(&j);
	return 0;
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/pvepin-bench-journal-XXXXXX", path[PV_PATH_MAX];
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	struct pv_jlist l;
	struct pv_err e = { 0 };
	long r0, r1;
	struct stat st;
	long bytes;
	double t0, t1, c0, c1;

	if (n <= 0 || n > PV_JOURNAL_MAX_LIVE) {
		fprintf(stderr, "usage: bench_journal [ENTRIES]\n");
		return 2;
	}
	if (!(pv_opt.root = mkdtemp(tmpl)))
		return 2;
	if (fill(n, &e) < 0) {
		pv_err_print(&e);
		return 1;
	}
	pv_journal_path(path, sizeof(path), 100, NULL);
	r0 = resident();
	t0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	if (pv_journal_load(100, &l, &e) != 0) {
		pv_err_print(&e);
		return 1;
	}
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	t1 = now(CLOCK_MONOTONIC);
	r1 = resident();
	bytes = r1 - r0;
	/* CPU time too: on a loaded machine the wall clock says little */
	printf("journal of %d entries (%ld KiB file): load %.1f ms CPU (%.1f ms wall), %ld KiB held "
	       "resident (%ld bytes/entry)\n", l.n, stat(path, &st) == 0 ? (long)st.st_size / 1024 : -1L,
	       (c1 - c0) * 1e3, (t1 - t0) * 1e3, bytes / 1024, l.n ? bytes / l.n : 0);
	pv_jlist_free(&l);
	unlink(path);
	snprintf(path, sizeof(path), "%s/run/pvepin", tmpl);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/run", tmpl);
	rmdir(path);
	rmdir(tmpl);
	return 0;
}
