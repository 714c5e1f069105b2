#include "engine/governor.h"

#include <stdio.h>
#include <string.h>

#include "common/fsio.h"

int pv_governor_attr(char *buf, size_t n, unsigned cpu, struct pv_err *e)
{
	int len = snprintf(buf, n, "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", cpu);

	if (len < 0 || (size_t)len >= n)
		return pv_fail(e, 0, "path too long");
	return 0;
}

int pv_governor_available(unsigned cpu, const char *gov, struct pv_err *e)
{
	char path[PV_PATH_MAX], buf[512];

	if (pv_path(path, sizeof(path), e,
		    "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_available_governors", cpu) < 0)
		return -1;
	if (pv_read_attr(path, buf, sizeof(buf), e) < 0)
		return -1;
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (!strcmp(t, gov))
			return 1;
	return 0;
}
