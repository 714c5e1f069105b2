/* Plan time after topology load, per host, and peak RSS.
 * usage: bench_plan HOST.xml CONF [POLICY] [ITERATIONS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/opts.h"
#include "conf/policy.h"
#include "conf/vmconf.h"
#include "pinner/plan.h"
#include "pinner/topo.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static struct pv_policy pol;
	static struct pv_vmconf vc;
	static struct pv_plan plan;
	struct pv_claims claims = { 0 };
	struct pv_topo t;
	struct pv_err e = { 0 };
	struct rusage ru;
	int iters = argc > 4 ? atoi(argv[4]) : 200;
	double t0, t1, t2;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_plan HOST.xml CONF [POLICY|-] [ITERATIONS]\n");
		return 2;
	}
	t0 = now();
	if (pv_topo_load(&t, argv[1], &e) < 0 ||
	    pv_policy_load(100, argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL, false, &pol, &e) < 0 ||
	    pv_vmconf_load(100, argv[2], &vc, &e) < 0) {
		fprintf(stderr, "bench_plan: %s\n", e.msg);
		return 1;
	}
	t1 = now();
	for (int i = 0; i < iters; i++) {
		if (pv_plan_make(&t, &pol, &vc, &claims, &plan, &e) < 0) {
			fprintf(stderr, "bench_plan: %s\n", e.msg);
			return 1;
		}
		if (i + 1 < iters)
			pv_plan_free(&plan);
	}
	t2 = now();
	getrusage(RUSAGE_SELF, &ru);
	printf("%-28s %5d PUs %3d nodes %3d L3  load %7.2f ms  plan %8.3f ms  peak RSS %6ld KiB\n",
	       strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1], t.npu, t.nnode, t.nl3,
	       (t1 - t0) * 1e3, (t2 - t1) * 1e3 / iters, ru.ru_maxrss);
	pv_plan_free(&plan);
	pv_vmconf_free(&vc);
	pv_policy_free(&pol);
	pv_topo_free(&t);
	return 0;
}
