/* cpufreq governors: /sys/devices/system/cpu/cpuN/cpufreq/scaling_governor. */
#pragma once
#include <stddef.h>

#include "common/err.h"

/* The governor attribute's host path (not rooted: the engine journals it). */
int pv_governor_attr(char *buf, size_t n, unsigned cpu, struct pv_err *e);
/* 1 if cpu has cpufreq and offers gov, 0 if it offers it not, -1 if the CPU
 * has no cpufreq at all (VMs, some servers): e says why. */
int pv_governor_available(unsigned cpu, const char *gov, struct pv_err *e);
