#include "common/testknob.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsio.h"

#ifdef PVEPIN_TEST_BUILD
long pv_test_knob(const char *name)
{
	const char *s = getenv(name);
	long v;

	return s && pv_parse_long(s, 1, 1L << 30, &v) == 0 ? v : 0;
}

bool pv_test_flag(const char *name)
{
	const char *s = getenv(name);

	return s && *s && strcmp(s, "0");
}

bool pv_test_build(void)
{
	return true;
}

int pv_env_reset(void)
{
	return 0;
}
#else
long pv_test_knob(const char *name)
{
	return 0;
}

bool pv_test_flag(const char *name)
{
	return false;
}

bool pv_test_build(void)
{
	return false;
}

/* The dynamic loader has acted on LD_PRELOAD / LD_LIBRARY_PATH before main:
 * whoever can set those for a root process already runs code as root.
 * What is left to close is everything read later: hwloc's HWLOC_* (at
 * topology load), sd-bus's DBUS_SYSTEM_BUS_ADDRESS and SYSTEMD_* (at
 * connect), and what the agent, started by exec, would inherit. */
static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
static char *clean_env[] = { path_env, NULL };

/* environ pointed at a list of its own: clearenv() and setenv() would
 * start malloc for one string in every phase, pre-stop's (which is the
 * start of a program and nothing else) too. setenv copies it later. */
int pv_env_reset(void)
{
	environ = clean_env;
	return 0;
}
#endif
