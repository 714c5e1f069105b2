/* Measuring core-to-core round trips. The calling thread pings from PU a,
 * one helper thread pongs from PU b; both spin on the same cache line, so
 * each round trip is two cache-line transfers between a and b. Each pair
 * gets a slice of the time budget: a warm-up, then samples of ROUNDS round
 * trips until the slice is spent (at least MIN_SAMPLES, at most MAX_SAMPLES);
 * the median sample is kept, so a preemption during one sample does not
 * show. Past twice the budget the remaining pairs are left unmeasured. */
#include "check/latency.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "conf/cpulist.h"

#define ROUNDS 100
#define WARMUP 64
#define MAX_SAMPLES 15
/* a preempted sample is outvoted, unless time is up */
#define MIN_SAMPLES 3
/* ball values the pinger never sends (it sends odd numbers) */
#define BALL_STOP 0xfffffffeu
#define BALL_STOPPED 0xfffffffcu

struct pingpong {
	_Alignas(64) atomic_uint ball;    /* the cache line that bounces */
	_Alignas(64) atomic_int cmd_seq;  /* bumped for each command to the ponger */
	int cmd_cpu;                      /* its CPU for the next pair; -1: exit */
	atomic_int ack_seq;
	int ack_err;                      /* errno of pinning to cmd_cpu */
};

struct run {
	struct pv_lat *m;
	struct pingpong *pp;
	bool progress;
	long pairs, done;
	double budget_end, hard_end, next_progress;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static int pin_self(unsigned cpu)
{
	cpu_set_t *set = CPU_ALLOC(cpu + 1);
	size_t sz = CPU_ALLOC_SIZE(cpu + 1);
	int r;

	if (!set)
		return ENOMEM;
	CPU_ZERO_S(sz, set);
	CPU_SET_S(cpu, sz, set);
	r = pthread_setaffinity_np(pthread_self(), sz, set);
	CPU_FREE(set);
	return r;
}

/* Ponger: answer every odd ball with the next number until told to stop. */
static void serve(struct pingpong *pp)
{
	for (;;) {
		unsigned v = atomic_load_explicit(&pp->ball, memory_order_acquire);

		if (v == BALL_STOP) {
			atomic_store_explicit(&pp->ball, BALL_STOPPED, memory_order_release);
			return;
		}
		if (v & 1u)
			atomic_store_explicit(&pp->ball, v + 1, memory_order_release);
		else
			relax();
	}
}

static int wait_seq(atomic_int *seq, int seen)
{
	int v;

	for (unsigned spins = 0;; spins++) {
		v = atomic_load_explicit(seq, memory_order_acquire);
		if (v != seen)
			return v;
		/* between pairs the pinger may be moving: do not starve it on
		 * a shared CPU */
		if ((spins & 1023u) == 1023u)
			sched_yield();
		else
			relax();
	}
}

static void *ponger(void *arg)
{
	struct pingpong *pp = arg;
	int seen = 0;

	for (;;) {
		int seq = wait_seq(&pp->cmd_seq, seen);
		int cpu = pp->cmd_cpu;

		seen = seq;
		if (cpu < 0)
			return NULL;
		pp->ack_err = pin_self((unsigned)cpu);
		atomic_store_explicit(&pp->ack_seq, seq, memory_order_release);
		if (!pp->ack_err)
			serve(pp);
	}
}

/* Tell the ponger where to go next; returns its errno of pinning. */
static int command(struct pingpong *pp, int cpu)
{
	int seq = atomic_load_explicit(&pp->cmd_seq, memory_order_relaxed) + 1;

	atomic_store_explicit(&pp->ball, 0, memory_order_relaxed);
	pp->cmd_cpu = cpu;
	atomic_store_explicit(&pp->cmd_seq, seq, memory_order_release);
	if (cpu < 0)
		return 0;
	while (wait_seq(&pp->ack_seq, seq - 1) != seq)
		;
	return pp->ack_err;
}

static void bounce(struct pingpong *pp, unsigned *k, int rounds)
{
	for (int r = 0; r < rounds; r++, (*k)++) {
		unsigned ping = 2u * *k + 1u;

		atomic_store_explicit(&pp->ball, ping, memory_order_release);
		while (atomic_load_explicit(&pp->ball, memory_order_acquire) != ping + 1u)
			relax();
	}
}

static void stop_serving(struct pingpong *pp)
{
	atomic_store_explicit(&pp->ball, BALL_STOP, memory_order_release);
	while (atomic_load_explicit(&pp->ball, memory_order_acquire) != BALL_STOPPED)
		relax();
}

static double median(double *v, int n)
{
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && v[b - 1] > v[b]; b--) {
			double tmp = v[b];

			v[b] = v[b - 1];
			v[b - 1] = tmp;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One pair; returns the samples taken (0 when the ponger could not go to
 * cpu b) and the median round trip in *rt. */
static int measure_pair(struct run *r, unsigned b, double slice, double *rt)
{
	double s[MAX_SAMPLES], start;
	unsigned k = 0;
	int n = 0;

	if (command(r->pp, (int)b))
		return 0;
	bounce(r->pp, &k, WARMUP);
	start = now_ns();
	do {
		double t0 = now_ns();

		bounce(r->pp, &k, ROUNDS);
		s[n++] = (now_ns() - t0) / ROUNDS;
	} while (n < MAX_SAMPLES && (n < MIN_SAMPLES || now_ns() - start < slice) &&
		 now_ns() < r->hard_end);
	stop_serving(r->pp);
	*rt = median(s, n);
	return n;
}

static void show_progress(struct run *r, double now, bool last)
{
	if (!r->progress || (!last && now < r->next_progress))
		return;
	r->next_progress = now + 1e8;
	if (last)
		fprintf(stderr, "\r\033[K");
	else
		fprintf(stderr, "\rmeasuring core-to-core latency: %ld/%ld pairs (%ld%%) ", r->done,
			r->pairs, r->pairs ? r->done * 100 / r->pairs : 100);
}

static void record(struct pv_lat *m, int i, int j, double rt, int got)
{
	m->ns[(size_t)i * (size_t)m->n + (size_t)j] = rt;
	m->ns[(size_t)j * (size_t)m->n + (size_t)i] = rt;
	if (got > m->samples)
		m->samples = got;
	if (!m->min_samples || got < m->min_samples)
		m->min_samples = got;
}

static void measure_row(struct run *r, int i)
{
	struct pv_lat *m = r->m;

	if (pin_self(m->cpu[i])) {
		r->done += m->n - 1 - i;
		m->unmeasured += m->n - 1 - i;
		return;
	}
	for (int j = i + 1; j < m->n; j++, r->done++) {
		double t = now_ns(), slice, rt;
		int got;

		if (t > r->hard_end) {
			m->unmeasured++;
			continue;
		}
		slice = (r->budget_end - t) / (double)(r->pairs - r->done);
		got = measure_pair(r, m->cpu[j], slice > 0 ? slice : 0, &rt);
		if (got)
			record(m, i, j, rt, got);
		else
			m->unmeasured++;
		show_progress(r, now_ns(), false);
	}
}

static int allowed_cpus(hwloc_bitmap_t set, struct pv_err *e)
{
	size_t sz = CPU_ALLOC_SIZE(PV_MAX_CPUS);
	cpu_set_t *cs = CPU_ALLOC(PV_MAX_CPUS);

	if (!cs)
		return pv_fail(e, ENOMEM, "latency");
	if (sched_getaffinity(0, sz, cs) < 0) {
		CPU_FREE(cs);
		return pv_fail(e, errno, "sched_getaffinity");
	}
	for (unsigned c = 0; c < PV_MAX_CPUS; c++)
		if (CPU_ISSET_S(c, sz, cs))
			hwloc_bitmap_set(set, c);
	CPU_FREE(cs);
	return 0;
}

static int lat_alloc(struct pv_lat *m, hwloc_const_bitmap_t set, struct pv_err *e)
{
	int n = hwloc_bitmap_weight(set), i = 0;
	unsigned c;

	memset(m, 0, sizeof(*m));
	if (n < 0 || n > PV_LAT_MAX_CPUS)
		return pv_fail(e, E2BIG, "latency: %d CPUs, at most %d are measured", n,
			       PV_LAT_MAX_CPUS);
	m->cpu = calloc(n ? (size_t)n : 1, sizeof(*m->cpu));
	m->ns = malloc((n ? (size_t)n * (size_t)n : 1) * sizeof(*m->ns));
	if (!m->cpu || !m->ns)
		return pv_fail(e, ENOMEM, "latency matrix");
	hwloc_bitmap_foreach_begin(c, set)
		m->cpu[i++] = c;
	hwloc_bitmap_foreach_end();
	m->n = n;
	for (size_t k = 0; k < (size_t)n * (size_t)n; k++)
		m->ns[k] = -1;
	m->rounds = ROUNDS;
	return 0;
}

static int run_all(struct run *r, struct pv_err *e)
{
	_cleanup_free_ cpu_set_t *orig = CPU_ALLOC(PV_MAX_CPUS);
	size_t sz = CPU_ALLOC_SIZE(PV_MAX_CPUS);
	pthread_t th;
	int err;

	if (!orig)
		return pv_fail(e, ENOMEM, "latency");
	if ((err = pthread_getaffinity_np(pthread_self(), sz, orig)))
		return pv_fail(e, err, "pthread_getaffinity_np");
	if ((err = pthread_create(&th, NULL, ponger, r->pp)))
		return pv_fail(e, err, "latency: cannot start a thread");
	for (int i = 0; i < r->m->n - 1; i++)
		measure_row(r, i);
	command(r->pp, -1);
	pthread_join(th, NULL);
	show_progress(r, 0, true);
	if ((err = pthread_setaffinity_np(pthread_self(), sz, orig)))
		return pv_fail(e, err, "pthread_setaffinity_np (restoring)");
	return 0;
}

int pv_latency_measure(struct pv_lat *m, hwloc_const_bitmap_t cpus, double seconds,
		       bool progress, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	struct pingpong *pp = NULL;
	struct run r = { 0 };
	double t0 = now_ns();
	int rc;

	memset(m, 0, sizeof(*m));
	if (!set)
		return pv_fail(e, ENOMEM, "latency");
	if (allowed_cpus(set, e) < 0)
		return -1;
	if (cpus)
		hwloc_bitmap_and(set, set, cpus);
	if (lat_alloc(m, set, e) < 0)
		goto fail;
	if (m->n < 2)
		return 0;
	pp = aligned_alloc(64, sizeof(*pp));
	if (!pp) {
		pv_fail(e, ENOMEM, "latency");
		goto fail;
	}
	memset(pp, 0, sizeof(*pp));
	r = (struct run){ .m = m, .pp = pp, .progress = progress,
			  .pairs = (long)m->n * (m->n - 1) / 2 };
	r.budget_end = t0 + (seconds > 0 ? seconds : 0.1) * 1e9;
	/* past twice the budget, give up on the rest rather than run on */
	r.hard_end = t0 + 2 * (seconds > 0 ? seconds : 0.1) * 1e9 + 2e9;
	rc = run_all(&r, e);
	free(pp);
	m->seconds = (now_ns() - t0) / 1e9;
	if (rc < 0)
		goto fail;
	return 0;
fail:
	pv_latency_free(m);
	return -1;
}
