/* LD_PRELOAD shim for bench/run_peers.sh, loaded into every tool alike.
 *
 * Sleeps: a real kernel binds a driver before the write to drivers_probe
 * returns; bench/fakekernel answers a few microseconds after it. A tool that
 * checks (pvepin polls the driver link, sleeping 10 ms between looks) would
 * pay the fake's lateness as whole sleeps, a tool that never checks nothing.
 * So nanosleep() sleeps at most 50 us here: the price of checking stays, the
 * artefact goes. The guide's scripts do not sleep.
 *
 * CPU masks: the seed job pins vCPUs to CPUs 0-15 and QEMU's other threads
 * to 32-47, and this machine may have two.
 * sched_setaffinity() passes the mask on cut to the CPUs that exist (CPU 0
 * when none does) and remembers what was asked, per thread;
 * sched_getaffinity() answers that for a thread this process set. One real
 * syscall per call either way, so the counts strace sees are the tools'
 * own. PV_BENCH_NCPU (default 2) says how many CPUs exist. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 256
#define MAXB 128

static struct {
	pid_t tid;
	size_t size;
	unsigned char mask[MAXB];
} asked[SLOTS];

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	struct timespec t = *req;

	if (t.tv_sec > 0 || t.tv_nsec > 50000) {
		t.tv_sec = 0;
		t.tv_nsec = 50000;
	}
	return (int)syscall(SYS_nanosleep, &t, rem);
}

static int ncpu(void)
{
	const char *s = getenv("PV_BENCH_NCPU");
	int n = s ? atoi(s) : 2;

	return n > 0 && n < MAXB * 8 ? n : 2;
}

int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *mask)
{
	unsigned char cut[MAXB];
	size_t sz = size < MAXB ? size : MAXB;
	int n = ncpu(), any = 0, slot = -1;

	memset(cut, 0, sizeof(cut));
	for (int c = 0; c < n && (size_t)c < sz * 8; c++)
		if (CPU_ISSET_S(c, size, mask)) {
			cut[c / 8] |= (unsigned char)(1u << (c % 8));
			any = 1;
		}
	if (!any)
		cut[0] = 1;
	for (int i = 0; i < SLOTS; i++)
		if (asked[i].tid == pid || (slot < 0 && asked[i].tid == 0))
			slot = i;
	if (slot >= 0) {
		asked[slot].tid = pid;
		asked[slot].size = sz;
		memcpy(asked[slot].mask, mask, sz);
	}
	return (int)syscall(SYS_sched_setaffinity, pid, sz, cut);
}

int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *mask)
{
	long r = syscall(SYS_sched_getaffinity, pid, size, mask);

	if (r < 0)
		return -1;
	if ((size_t)r < size)
		memset((char *)mask + r, 0, size - (size_t)r);
	for (int i = 0; i < SLOTS; i++)
		if (pid != 0 && asked[i].tid == pid) {
			memset(mask, 0, size);
			memcpy(mask, asked[i].mask, asked[i].size < size ? asked[i].size : size);
			break;
		}
	return 0;
}
