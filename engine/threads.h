/* QEMU's threads: /run/qemu-server/<vmid>.pid, /proc/<pid>/task/<tid>/comm
 * ("CPU n/KVM" are vCPUs), and their CPU masks. A thread is named by its tid
 * and start time together, so a recycled tid is never taken for ours. */
#pragma once
#include <hwloc.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"

struct pv_thread {
	pid_t tid;
	unsigned long long start; /* /proc/.../stat field 22, clock ticks since boot */
	char comm[32];
	int vcpu;                 /* n of "CPU n/KVM", -1 for other threads */
};

/* The QEMU pid of vmid. Returns 0, 1 when there is no pid file or the
 * process is gone, -1 on error (unreadable or malformed pid file). */
int pv_qemu_pid(int vmid, pid_t *pid, struct pv_err *e);
/* Is pid this VM's QEMU? Its command line names it as qemu-server's
 * config_to_command always does ("-id <vmid>", "-pidfile .../<vmid>.pid"):
 * a pidfile left over, or written by another, is not taken for it. */
bool pv_qemu_is_vm(pid_t pid, int vmid);
/* Every thread of pid, one readdir of /proc/<pid>/task. *out is malloc'd. */
int pv_threads_list(pid_t pid, struct pv_thread **out, int *n, struct pv_err *e);
int pv_thread_start(pid_t pid, pid_t tid, unsigned long long *start, struct pv_err *e);
/* The thread (pid, tid) started at start still runs. Under --root the real
 * /proc must agree too: affinity syscalls act on real threads. */
bool pv_thread_live(pid_t pid, pid_t tid, unsigned long long start);
int pv_thread_get_cpus(pid_t tid, hwloc_bitmap_t set, struct pv_err *e);
int pv_thread_set_cpus(pid_t tid, hwloc_const_bitmap_t set, struct pv_err *e);
/* 3 for "CPU 3/KVM" or "CPU 3/TCG", -1 for anything else. */
int pv_vcpu_of_comm(const char *comm);

/* A pidfd for pid (readable when it exits); ENOSYS where the kernel has none. */
int pv_pidfd_open(pid_t pid, struct pv_err *e);
