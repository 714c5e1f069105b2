/* Test knobs and the hook's environment.
 *
 * pvepin runs as root for every VM start and stop, with whatever
 * environment PVE's daemons (or an admin's shell) hand it. A release build
 * reads no PVEPIN_* knob and replaces that environment with its own before
 * anything else runs. The test build ($(BUILD)/pvepin-test: this file
 * compiled with -DPVEPIN_TEST_BUILD, the binary `make check` and the VM
 * suite run) reads the knobs and keeps the environment, so the tests can
 * inject faults and point sd-bus or hwloc at fakes. */
#pragma once
#include <stdbool.h>

/* The knob's value if this is a test build and it is set to 1..2^30,
 * else 0 (PVEPIN_FAULT_AT, PVEPIN_KILL_AT, PVEPIN_KILL_UNDO_AT). */
long pv_test_knob(const char *name);

/* Whether a flag knob is set to something other than "" or "0"
 * (PVEPIN_AGENT_NOEVENTS); always false in a release build. */
bool pv_test_flag(const char *name);

/* Whether this is the test build. */
bool pv_test_build(void);

/* A release build: clear the environment and set PATH alone, so HWLOC_*,
 * D-Bus addresses (DBUS_SYSTEM_BUS_ADDRESS), SYSTEMD_*, locale and LD_*
 * variables change nothing pvepin does and nothing it starts (the agent)
 * inherits them. The test build: nothing. Returns 0 or -1 (errno). */
int pv_env_reset(void);
