/* Core-to-core latency: a real measurement on this machine's CPUs (shape,
 * diagonal excluded, symmetric, bounded time, one CPU), the saved JSON form
 * (round trip, strict parser), the grouping, and `check --latency` on
 * synthetic matrices where the topology and the "measurement" agree or
 * disagree in known ways. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/cpulist.h"
#include "check/latency.h"
#include "tests/lib/tap.h"

#define SEED "tests/fixtures/seed/tr7970x.xml"
#define EPYC2S "tests/fixtures/hosts/epyc7451-2s-8numa.xml"

static int allowed_count(void)
{
	cpu_set_t cs;

	if (sched_getaffinity(0, sizeof(cs), &cs) < 0)
		return -1;
	return CPU_COUNT(&cs);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_measure(void)
{
	struct pv_lat m;
	struct pv_err e = { 0 };
	int want = allowed_count(), bad_diag = 0, asym = 0, nonpos = 0;
	double t0 = now(), took;

	CHECK(pv_latency_measure(&m, NULL, 1.0, false, &e) == 0, "measure: %s", e.msg);
	took = now() - t0;
	CHECK_INT(m.n, want);
	for (int i = 0; i < m.n; i++)
		for (int j = 0; j < m.n; j++) {
			double v = pv_lat_at(&m, i, j);

			if (i == j) {
				bad_diag += v >= 0 || m.ns[(size_t)i * m.n + i] >= 0;
				continue;
			}
			nonpos += !(v > 0);
			asym += v != pv_lat_at(&m, j, i);
		}
	CHECK_INT(bad_diag, 0);
	CHECK(nonpos == 0 || m.unmeasured > 0, "%d pairs without a positive latency", nonpos);
	CHECK_INT(asym, 0);
	CHECK(took < 1.0 * 2 + 3, "1 s budget took %.1f s", took);
	if (m.n >= 2) {
		CHECK(m.samples >= 1 && m.min_samples >= 1, "samples %d/%d", m.min_samples, m.samples);
		CHECK(m.cpu[0] < m.cpu[1], "CPUs ascending");
		CHECK_INT(pv_lat_row(&m, m.cpu[1]), 1);
	}
	printf("# measured %d CPUs in %.2f s, first pair %.1f ns\n", m.n, took,
	       m.n >= 2 ? pv_lat_at(&m, 0, 1) : -1.0);
	pv_latency_free(&m);
}

static void test_one_cpu(void)
{
	hwloc_bitmap_t one = hwloc_bitmap_alloc();
	cpu_set_t cs;
	struct pv_lat m;
	struct pv_err e = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	sched_getaffinity(0, sizeof(cs), &cs);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &cs)) {
			hwloc_bitmap_set(one, (unsigned)c);
			break;
		}
	CHECK(pv_latency_measure(&m, one, 1.0, false, &e) == 0, "one CPU: %s", e.msg);
	CHECK_INT(m.n, 1);
	CHECK(pv_lat_at(&m, 0, 0) < 0, "a CPU to itself is not measured");
	f = open_memstream(&buf, &len);
	pv_latency_json(f, &m);
	fclose(f);
	CHECK(strstr(buf, "\"ns\":[[null]]") != NULL, "one-CPU JSON: %s", buf);
	pv_latency_free(&m);
	CHECK(pv_latency_parse(&m, buf, &e) == 0, "parse one-CPU JSON: %s", e.msg);
	CHECK_INT(m.n, 1);
	pv_latency_free(&m);
	free(buf);
	/* no CPU at all (a set we may not run on) is an empty matrix */
	hwloc_bitmap_only(one, PV_MAX_CPUS - 1);
	CHECK(pv_latency_measure(&m, one, 1.0, false, &e) == 0, "no CPU: %s", e.msg);
	CHECK_INT(m.n, 0);
	pv_latency_free(&m);
	hwloc_bitmap_free(one);
}

/* A matrix over every PU of t with round trips by relation. */
typedef double (*lat_fn)(const struct pv_topo *t, const struct pv_pu *a, const struct pv_pu *b);

static void synth(struct pv_lat *m, const struct pv_topo *t, lat_fn fn, const char *model)
{
	hwloc_bitmap_t all = hwloc_bitmap_alloc();
	unsigned c;
	int i = 0;

	for (int k = 0; k < t->npu; k++)
		hwloc_bitmap_set(all, t->pu[k].os);
	memset(m, 0, sizeof(*m));
	m->n = hwloc_bitmap_weight(all);
	m->cpu = calloc((size_t)m->n, sizeof(*m->cpu));
	m->ns = calloc((size_t)m->n * (size_t)m->n, sizeof(*m->ns));
	hwloc_bitmap_foreach_begin(c, all)
		m->cpu[i++] = c;
	hwloc_bitmap_foreach_end();
	for (int a = 0; a < m->n; a++)
		for (int b = 0; b < m->n; b++)
			m->ns[(size_t)a * m->n + b] = a == b ? -1 :
				fn(t, pv_topo_pu(t, m->cpu[a]), pv_topo_pu(t, m->cpu[b]));
	m->samples = m->min_samples = 5;
	m->rounds = 100;
	snprintf(m->model, sizeof(m->model), "%s", model ? model : t->cpu_model);
	hwloc_bitmap_free(all);
}

static double by_rel(enum pv_lat_rel r)
{
	static const double v[] = { [PV_REL_SMT] = 15, [PV_REL_L3] = 45, [PV_REL_NODE] = 110,
				    [PV_REL_FAR] = 180, [PV_REL_UNKNOWN] = 500 };

	return v[r];
}

static double agree(const struct pv_topo *t, const struct pv_pu *a, const struct pv_pu *b)
{
	return by_rel(pv_lat_rel_pu(a, b));
}

/* L3 #0 and #1 of the seed (nodes 0 and 3) are really one cache. */
static double merged(const struct pv_topo *t, const struct pv_pu *a, const struct pv_pu *b)
{
	if (a->core != b->core && a->l3 <= 1 && b->l3 <= 1)
		return by_rel(PV_REL_L3);
	return by_rel(pv_lat_rel_pu(a, b));
}

/* L3 #2 is really two caches: its first four cores vs the rest. */
static double split(const struct pv_topo *t, const struct pv_pu *a, const struct pv_pu *b)
{
	if (a->l3 == 2 && b->l3 == 2 && a->core != b->core &&
	    ((a->os % 32) < 20) != ((b->os % 32) < 20))
		return by_rel(PV_REL_FAR);
	return by_rel(pv_lat_rel_pu(a, b));
}

/* The EPYC 7451 tables call all 8 nodes equally far (20); the hardware
 * has two sockets of four nodes. */
static double sockets(const struct pv_topo *t, const struct pv_pu *a, const struct pv_pu *b)
{
	enum pv_lat_rel r = pv_lat_rel_pu(a, b);

	if (r == PV_REL_FAR && a->node / 4 != b->node / 4)
		return 300;
	return by_rel(r);
}

static int count(const struct pv_report *r, const char *id, enum pv_level lv)
{
	int n = 0;

	for (int i = 0; i < r->n; i++)
		n += !strcmp(r->item[i].id, id) && r->item[i].level == lv;
	return n;
}

static const char *msg_of(const struct pv_report *r, const char *id)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->item[i].id, id))
			return r->item[i].msg;
	return "";
}

static void test_check(const struct pv_topo *seed, const struct pv_topo *epyc)
{
	static struct pv_report r;
	struct pv_lat m;

	synth(&m, seed, agree, NULL);
	memset(&r, 0, sizeof(r));
	pv_latency_check_matrix(seed, &m, &r);
	CHECK_INT(r.nwarn + r.nerr, 0);
	CHECK_INT(count(&r, "latency-l3", PV_OK), 1);
	CHECK_INT(count(&r, "latency-smt", PV_OK), 1);
	pv_latency_free(&m);

	synth(&m, seed, merged, NULL);
	memset(&r, 0, sizeof(r));
	pv_latency_check_matrix(seed, &m, &r);
	CHECK_INT(count(&r, "latency-l3-merge", PV_WARN), 1);
	CHECK(strstr(msg_of(&r, "latency-l3-merge"), "L3 #0 and L3 #1") != NULL, "%s",
	      msg_of(&r, "latency-l3-merge"));
	CHECK_INT(count(&r, "latency-l3-split", PV_WARN), 0);
	pv_latency_free(&m);

	synth(&m, seed, split, NULL);
	memset(&r, 0, sizeof(r));
	pv_latency_check_matrix(seed, &m, &r);
	CHECK_INT(count(&r, "latency-l3-split", PV_WARN), 1);
	CHECK(strstr(msg_of(&r, "latency-l3-split"), "L3 #2 ") != NULL, "%s",
	      msg_of(&r, "latency-l3-split"));
	CHECK_INT(count(&r, "latency-l3-merge", PV_WARN), 0);
	pv_latency_free(&m);

	synth(&m, epyc, sockets, NULL);
	memset(&r, 0, sizeof(r));
	pv_latency_check_matrix(epyc, &m, &r);
	CHECK(count(&r, "latency-numa-flat", PV_WARN) >= 1, "flat SLIT vs two sockets not seen");
	CHECK_INT(count(&r, "latency-l3", PV_OK), 1);
	pv_latency_free(&m);

	synth(&m, epyc, agree, NULL);
	memset(&r, 0, sizeof(r));
	pv_latency_check_matrix(epyc, &m, &r);
	CHECK_INT(count(&r, "latency-numa", PV_OK), 1);
	CHECK_INT(r.nwarn, 0);
	pv_latency_free(&m);

	synth(&m, seed, agree, "Some Other CPU");
	memset(&r, 0, sizeof(r));
	pv_latency_check_matrix(seed, &m, &r);
	CHECK_INT(count(&r, "latency-host", PV_WARN), 1);
	pv_latency_free(&m);
}

static void test_check_file(const struct pv_topo *seed)
{
	static struct pv_report r;
	char path[256];
	int fd;
	FILE *f;
	struct pv_lat m;

	snprintf(path, sizeof(path), "%s/pvepin-latXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	CHECK(f != NULL, "scratch file %s", path);
	if (!f)
		return;
	synth(&m, seed, merged, NULL);
	pv_latency_json(f, &m);
	fclose(f);
	pv_latency_free(&m);
	pv_latency_check(seed, path, &r);
	CHECK_INT(count(&r, "latency-l3-merge", PV_WARN), 1);
	unlink(path);
	memset(&r, 0, sizeof(r));
	pv_latency_check(seed, path, &r);
	CHECK_INT(count(&r, "latency-file", PV_ERROR), 1);
	CHECK(strstr(msg_of(&r, "latency-file"), path) != NULL, "names the file: %s",
	      msg_of(&r, "latency-file"));
	memset(&r, 0, sizeof(r));
	CHECK(pv_latency_parse(&m, "{\"cpus\":[3]}", &(struct pv_err){ 0 }) == 0, "one-CPU file");
	pv_latency_check_matrix(seed, &m, &r);
	pv_latency_free(&m);
	CHECK_INT(count(&r, "latency", PV_WARN), 1);
}

static void test_json(const struct pv_topo *seed)
{
	static const char *const bad[] = {
		"", "{", "[]", "{\"cpus\":[1,0],\"ns\":[[null,1],[1,null]]}",
		"{\"ns\":[[null]],\"cpus\":[0]}", "{\"cpus\":[0,1],\"ns\":[[null,1]]}",
		"{\"cpus\":[0,1],\"ns\":[[null,1,2],[1,null]]}", "{\"cpus\":[0,1],\"ns\":[[null,-5],[1,null]]}",
		"{\"cpus\":[0,1],\"ns\":[[null,1],[1,null]]} x", "{\"cpus\":[0,1]}",
		"{\"cpus\":[0.5]}", "{\"cpus\":[0,1],\"ns\":[[null,nan],[1,null]]}",
		"{\"model\":\"a\\q\",\"cpus\":[0]}", "{\"cpus\":[99999]}",
		/* found by tests/fuzz/fuzz_latency.c: out of unsigned range */
		"{\"cpus\":[2,9333333333333]}", "{\"cpus\":[-1e14]}",
		"{\"rounds\":-1,\"cpus\":[0]}", "{\"samples\":1e12,\"cpus\":[0]}",
		"{\"unmeasured\":0.5,\"cpus\":[0]}",
	};
	struct pv_lat m, back;
	struct pv_err e = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int diff = 0;

	synth(&m, seed, agree, NULL);
	m.ns[1] = m.ns[(size_t)m.n] = -1; /* an unmeasured pair */
	m.unmeasured = 1;
	f = open_memstream(&buf, &len);
	pv_latency_json(f, &m);
	fclose(f);
	CHECK(pv_latency_parse(&back, buf, &e) == 0, "round trip: %s", e.msg);
	CHECK_INT(back.n, m.n);
	CHECK_STR(back.model, m.model);
	CHECK_INT(back.unmeasured, 1);
	for (int i = 0; back.n == m.n && i < m.n * m.n; i++)
		diff += (back.ns[i] < 0) != (m.ns[i] < 0) || (m.ns[i] >= 0 && back.ns[i] - m.ns[i] > 0.05);
	CHECK_INT(diff, 0);
	pv_latency_free(&back);
	pv_latency_free(&m);
	free(buf);
	CHECK(pv_latency_parse(&m, "{\"x\":{\"y\":[1,\"]\"]},\"cpus\":[0,2],\"ns\":[[7,1.5],[1.5,null]]}",
			       &e) == 0, "unknown keys skipped: %s", e.msg);
	CHECK(m.n == 2 && pv_lat_at(&m, 0, 0) < 0 && pv_lat_at(&m, 0, 1) == 1.5,
	      "diagonal forced unmeasured, values kept");
	pv_latency_free(&m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CHECK(pv_latency_parse(&m, bad[i], &e) < 0, "accepted: %s", bad[i]);
		CHECK(strstr(e.msg, "latency file") != NULL, "message for %s: %s", bad[i], e.msg);
	}
}

static void test_order_print(const struct pv_topo *seed)
{
	struct pv_lat m;
	int order[64];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	synth(&m, seed, agree, NULL);
	CHECK_INT(pv_lat_order(&m, seed, order), 64);
	/* L3 #0 is CPUs 0-7,32-39 (cores 0..7 with their siblings), then
	 * L3 #1 is 8-15,40-47 */
	CHECK(m.cpu[order[0]] == 0 && m.cpu[order[1]] == 32 && m.cpu[order[15]] == 39 &&
	      m.cpu[order[16]] == 8, "grouped by L3, core: %u %u %u %u", m.cpu[order[0]],
	      m.cpu[order[1]], m.cpu[order[15]], m.cpu[order[16]]);
	CHECK_INT(pv_lat_rel_pu(pv_topo_pu(seed, 0), pv_topo_pu(seed, 32)), PV_REL_SMT);
	CHECK_INT(pv_lat_rel_pu(pv_topo_pu(seed, 0), pv_topo_pu(seed, 7)), PV_REL_L3);
	CHECK_INT(pv_lat_rel_pu(pv_topo_pu(seed, 0), pv_topo_pu(seed, 8)), PV_REL_FAR);
	f = open_memstream(&buf, &len);
	pv_latency_print(f, &m, seed);
	fclose(f);
	CHECK(strstr(buf, "SMT siblings                32     15.0") != NULL, "%s", buf);
	CHECK(strstr(buf, "same L3 domain             448     45.0") != NULL, "%s", buf);
	CHECK(strstr(buf, "other NUMA node           1536    180.0") != NULL, "%s", buf);
	free(buf);
	pv_latency_free(&m);
}

int main(void)
{
	struct pv_topo seed, epyc;
	struct pv_err e = { 0 };

	test_measure();
	test_one_cpu();
	if (pv_topo_load(&seed, SEED, &e) < 0 || pv_topo_load(&epyc, EPYC2S, &e) < 0) {
		CHECK(0, "topology: %s", e.msg);
		return tap_done("test_latency");
	}
	test_json(&seed);
	test_order_print(&seed);
	test_check(&seed, &epyc);
	test_check_file(&seed);
	pv_topo_free(&seed);
	pv_topo_free(&epyc);
	return tap_done("test_latency");
}
