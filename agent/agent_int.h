/* The agent's parts, shared by hook/agent*.c and tests/unit/test_agent*.c.
 *   agent.c          command, start-up, event loop, pidfile and stat file
 *   events.c         pidfd, signalfd, the proc connector (netlink CN_PROC)
 *   poll.c           the plan's wants, rate limits, the check and fix passes
 *   watch_threads.c  QEMU's threads and their masks
 *   watch_irqs.c     the devices' IRQ vectors and their affinities
 *   watch_cgroups.c  the journaled cpusets */
#pragma once
#include <dirent.h>
#include <hwloc.h>
#include <linux/filter.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "conf/bdf.h"
#include "irqtune/irqtune.h"
#include "pinner/plan.h"
#include "agent/agent.h"
#include "engine/agent_ctl.h"
#include "engine/engine.h"
#include "engine/journal.h"

/* IRQ/cpuset/pin checks, which the kernel gives no event for: a reaction
 * within 1 s (this, the timer slack and a fix pass of a few ms) at little
 * over one wake-up a second, the only ones an idle agent has. */
#define PV_AGENT_TICK_MS 800
#define PV_AGENT_RETRY_MS 100       /* lock busy: try again this soon */
#define PV_AGENT_RESYNC_MS 30000    /* list QEMU's threads even with events (a lost one) */
#define PV_AGENT_YOUNG_MS 3000      /* task-poll mode: re-read new threads' names this long */
#define PV_AGENT_STAT_MS 2000       /* the stat file at most this often, at a tick */
#define PV_AGENT_MAX_VCPUS 1024
#define PV_AGENT_MAX_CG 16

/* What the plan asks the agent to keep: plain data, so the plan can be made
 * in a short-lived child and handed over through a pipe. */
struct pv_agent_cg_want {
	char cg[PV_JTARGET];     /* "system.slice", "qemu.slice/100.scope" */
	char cpus[PV_JVAL];      /* the plan's value */
	bool own;                /* the VM's own scope (not shared with other VMs) */
};

struct pv_agent_cfg {
	int vmid;
	int nvcpu;                          /* entries in vcpu_pu */
	int vcpu_pu[PV_AGENT_MAX_VCPUS];    /* PU of "CPU n/KVM", -1 = none */
	char other[PV_JVAL];                /* emulator/IO threads; "" = threads not pinned */
	char irq_cpus[PV_JVAL];             /* "" = device IRQs not steered */
	bool ban_irqs;                      /* new device IRQs banned in irqbalance too */
	int nbdf;
	char bdf[PV_MAX_DEVS][PV_BDF_LEN];
	int ncg;
	struct pv_agent_cg_want cg[PV_AGENT_MAX_CG];
	char iso_cg[PV_JTARGET];            /* the isolating partition ("" none) */
	char iso_host[PV_JVAL];             /* the host CPUs it leaves */
};

int pv_agent_cfg_from_plan(struct pv_agent_cfg *c, const struct pv_plan *p, struct pv_err *e);
/* The CPUs thread comm should be on: its vCPU's PU, else the emulator set.
 * Fills set; false when threads are not pinned. */
bool pv_agent_thread_want(const struct pv_agent_cfg *c, const hwloc_bitmap_t other,
			  const char *comm, hwloc_bitmap_t set);

/* Re-assert rate limit, per item: PV_AGENT_RL_FREE re-asserts, then a hold
 * of PV_AGENT_RL_FIRST_MS doubling up to PV_AGENT_RL_MAX_MS while the item
 * keeps being changed; quiet for twice the hold (at least the window) and
 * it starts afresh. Times in ms. */
#define PV_AGENT_RL_FREE 3
/* New device vectors: a guest bringing up its drivers enables them in
 * bursts, one pass after another (the bench's ten in five seconds), so
 * more passes are free before the same doubling hold; a guest that keeps
 * toggling MSI-X still costs the journal a bounded number of entries. */
#define PV_AGENT_RL_FREE_NEW_IRQS 16
#define PV_AGENT_RL_WINDOW_MS 60000
#define PV_AGENT_RL_FIRST_MS 10000
#define PV_AGENT_RL_MAX_MS 600000

struct pv_agent_rl {
	long long last;       /* last re-assert */
	int count;            /* re-asserts since the item was last quiet */
	int free;             /* re-asserts before a hold (0: PV_AGENT_RL_FREE) */
	long long backoff;    /* current hold, 0 none */
	long long hold_until;
};

bool pv_agent_rl_allow(const struct pv_agent_rl *rl, long long now);
/* Count a re-assert made at now; true when it put the item on hold. */
bool pv_agent_rl_note(struct pv_agent_rl *rl, long long now);

/* Proc connector. The filter keeps only what concerns tgid's threads (a
 * new thread, a thread renamed) and the kernel's listen ack, so the agent
 * does not wake for every fork on the host. */
#define PV_CN_FILTER_LEN 10
int pv_cn_filter(pid_t tgid, struct sock_filter *f, int max);

enum pv_cn_kind {
	PV_CN_IGNORE = 0, /* not for us, or malformed */
	PV_CN_THREAD,     /* tid is a new thread of tgid */
	PV_CN_COMM,       /* tid of tgid changed its name */
	PV_CN_ACK,        /* answer to the listen request; err */
};

struct pv_cn_event {
	enum pv_cn_kind kind;
	pid_t tid;
	int err;
};

/* One netlink datagram as the kernel sends it. */
void pv_cn_parse(const void *buf, size_t len, pid_t tgid, struct pv_cn_event *ev);
/* Subscribe (filter, bind, listen, wait up to wait_ms for the ack). */
int pv_cn_open(pid_t tgid, int wait_ms, int *fd, struct pv_err *e);
void pv_cn_close(int fd);
/* Everything waiting on fd: calls fn per event; *overrun when the kernel
 * dropped some (the caller lists the threads again). Returns -1 when the
 * socket fails for good. */
int pv_cn_drain(int fd, pid_t tgid, void (*fn)(void *ctx, const struct pv_cn_event *ev),
		void *ctx, bool *overrun, struct pv_err *e);

/* signalfd for SIGTERM, SIGINT, SIGHUP (blocked; dispositions reset). */
int pv_agent_signals(struct pv_err *e);

/* What every watched item has: its state between the cheap check and the
 * fix, what was said about it, its re-assert rate limit. */
struct agent_item {
	bool dirty;           /* check against the plan at the next fix */
	bool fresh;           /* new (or renamed): its next write is a first one, not a re-assert */
	bool refused;         /* the kernel refuses the value (io_uring worker, managed IRQ) */
	bool gone;            /* its file is gone for now (a vector the guest disabled) */
	bool logged, logged_hold, logged_err;
	struct pv_agent_rl rl;
};

struct agent_thread {
	struct agent_item it;
	pid_t tid;
	unsigned long long start;
	char comm[16];
	long long seen;       /* first seen, ms */
	bool adopted;         /* there at start, not placed yet: its first pin is no "new thread" */
	unsigned char *held;  /* the mask as pvepin last saw it right */
};

struct agent_irq {
	struct agent_item it;
	int irq;
	int fd;               /* /proc/irq/N/smp_affinity_list, -1 closed */
	char held[PV_IRQ_LIST_LEN];
};

struct agent_cg {
	struct agent_item it;
	char cg[PV_JTARGET];
	char cpus[PV_JVAL];   /* the plan's value */
	bool own;
	bool isolate;         /* the isolating partition's cpuset.cpus (PARTCPUS) */
	int fd;               /* cpuset.cpus, -1 closed */
	char held[PV_JVAL];
};

/* One tick's look at the devices' vectors, by readdir of their msi_irqs
 * only (no /proc/interrupts: cheap enough for every tick): now (sorted,
 * unique) and fresh, those in now the agent has no item for yet. A device
 * whose msi_irqs directory is absent (MSI off) contributes nothing. */
struct pv_irq_scan {
	int now[PV_IRQ_MAX_DEV_IRQS];
	int nnow;
	int fresh[PV_IRQ_MAX_DEV_IRQS];
	int nfresh;
};

struct pv_agent {
	int vmid;
	pid_t qemu;
	unsigned long long qemu_start;
	int pidfd;            /* -1: QEMU's end is polled */
	int cn;               /* proc connector; -1: /proc/<pid>/task is polled */
	int sigfd, epfd, lockfd;
	DIR *taskdir;         /* /proc/<pid>/task, kept open */
	struct pv_agent_cfg *cfg;
	hwloc_bitmap_t other; /* cfg->other parsed */
	hwloc_bitmap_t irqset;
	size_t masklen;       /* bytes of a CPU mask the kernel takes */
	unsigned char *mask;  /* scratch */
	struct agent_thread *th;
	int nth, capth;
	pid_t *listed;        /* the last listing of taskdir, kept for the next */
	int caplisted;
	struct agent_irq *irq;
	int nirq, capirq;
	struct pv_irq_scan *scan;
	DIR *msi[PV_MAX_DEVS]; /* the devices' msi_irqs directories, kept open; NULL absent */
	struct agent_cg cg[PV_AGENT_MAX_CG];
	int ncg;
	struct pv_agent_rl new_irqs; /* vectors new to the agent: at most this often */
	struct pv_engine en;  /* kept across fix passes: the journal is read once */
	bool pins, irqs;      /* threads / device IRQs are watched at all */
	bool need_fix;        /* something is dirty */
	long long retry_at;   /* the lock was busy: not before this */
	bool rescan;          /* list QEMU's threads again */
	bool stop;
	bool logged_fix_err;
	long long now, next_tick, next_resync, stat_at, started;
	bool stat_dirty;
	struct pv_agent_stats st;
	char last[256];
	char why[128];
	char ident[32];
	char mode[32];
	pid_t starter;        /* > 0: pre-start's guard (guard.c) */
	bool by_signal;       /* stopped by SIGTERM/SIGINT, not by QEMU's end */
	bool gave_back;       /* it gave the host back itself: leave no stat file */
};

/* guard.c: the paths that never see post-stop. */
#define PV_AGENT_GRACE_MS 10000 /* QEMU ended: post-stop has this long to come */
int pv_agent_guard(struct pv_agent *a);
void pv_agent_after_qemu(struct pv_agent *a);
/* memcheck.c */
void pv_agent_memcheck(struct pv_agent *a);

long long pv_agent_now(void);
void pv_agent_log(struct pv_agent *a, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A change the agent made: the stat file's "last", and a log line if log. */
void pv_agent_note(struct pv_agent *a, bool log, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* poll.c: the passes */
int pv_agent_watch_init(struct pv_agent *a, const struct pv_jlist *journal, struct pv_err *e);
void pv_agent_watch_free(struct pv_agent *a);
/* The cheap checks: compare what is read now with what was held. */
void pv_agent_check(struct pv_agent *a);
enum pv_agent_fixed {
	PV_FIX_DONE,    /* fixed what was dirty (or nothing was) */
	PV_FIX_BUSY,    /* the lock is busy: again soon */
	PV_FIX_FAILED,  /* the lock or the ledger failed (said once): again at the next tick */
};
/* Under the lock, through the engine: fix what is dirty. */
enum pv_agent_fixed pv_agent_fix(struct pv_agent *a);
/* Count a re-assert of an item, and say once that it keeps being changed. */
void pv_agent_held_off(struct pv_agent *a, struct agent_item *it, const char *what);
/* A watcher could not fix an item: counted, said once, rate-limited. */
void pv_agent_fix_failed(struct pv_agent *a, struct agent_item *it, const char *what,
			 const struct pv_err *err);
/* Read a kept-open attribute again from its start; -1 with errno. */
int pv_agent_reread(int fd, char *buf, size_t n);

/* watch_threads.c */
enum pv_agent_tev {
	PV_TEV_SEEN,    /* listed in /proc/<pid>/task: added if unknown */
	PV_TEV_NEW,     /* the proc connector says QEMU just started it */
	PV_TEV_RENAMED, /* its name may have changed: read it again */
};
void pv_agent_thread_event(struct pv_agent *a, pid_t tid, enum pv_agent_tev ev);
/* List QEMU's threads (new ones become dirty; young ones' names re-read). */
void pv_agent_threads_scan(struct pv_agent *a);
void pv_agent_threads_check(struct pv_agent *a);
void pv_agent_threads_fix(struct pv_agent *a);
void pv_agent_threads_free(struct pv_agent *a);

/* watch_irqs.c */
void pv_agent_irqs_scan(struct pv_agent *a);
void pv_agent_irqs_check(struct pv_agent *a);
void pv_agent_irqs_fix(struct pv_agent *a);
void pv_agent_irqs_free(struct pv_agent *a);

/* watch_cgroups.c */
void pv_agent_cgs_init(struct pv_agent *a, const struct pv_jlist *l);
void pv_agent_cgs_check(struct pv_agent *a);
/* true when one was written (its tasks' masks may have been reset) */
bool pv_agent_cgs_fix(struct pv_agent *a, struct pv_ledger *led);
void pv_agent_cgs_free(struct pv_agent *a);

/* The stat file: "key=value" lines. */
