/* sd-bus, loaded when first needed. Only the systemd cpuset backend talks
 * to systemd, and only in pre-start and restore on a real host; linking
 * libsystemd would make every run (pre-stop, status, plan, the agent)
 * map it and its compression and crypto libraries first: 0.4 ms of a
 * 1.2 ms phase. The package still Depends on libsystemd0. */
#pragma once
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "common/err.h"

#define PV_SDBUS_SONAME "libsystemd.so.0"

struct pv_sdbus {
	void *dl;
	__typeof__(sd_bus_open_system) *open_system;
	__typeof__(sd_bus_flush_close_unref) *flush_close_unref;
	__typeof__(sd_bus_message_unref) *message_unref;
	__typeof__(sd_bus_error_free) *error_free;
	__typeof__(sd_bus_error_is_set) *error_is_set;
	__typeof__(sd_bus_path_encode) *path_encode;
	__typeof__(sd_bus_get_property) *get_property;
	__typeof__(sd_bus_message_read_array) *message_read_array;
	__typeof__(sd_bus_message_new_method_call) *message_new_method_call;
	__typeof__(sd_bus_message_append) *message_append;
	__typeof__(sd_bus_message_open_container) *message_open_container;
	__typeof__(sd_bus_message_close_container) *message_close_container;
	__typeof__(sd_bus_message_append_array) *message_append_array;
	__typeof__(sd_bus_call) *call;
	__typeof__(sd_bus_call_method) *call_method;
};

/* Load libsystemd and resolve every entry, or fail naming what is missing
 * and the package that has it. */
int pv_sdbus_open(struct pv_sdbus *sd, struct pv_err *e);
void pv_sdbus_close(struct pv_sdbus *sd);

/* One conversation with systemd on the system bus: the library, the bus,
 * the message in flight, its reply and error, let go of together by
 * pv_sdcall_end (a cleanup: zero-initialise, then _cleanup_(pv_sdcall_end)). */
struct pv_sdcall {
	struct pv_sdbus sd;
	sd_bus *bus;
	sd_bus_message *m, *reply;
	sd_bus_error be;
};

#define PV_SD_DEST "org.freedesktop.systemd1"
#define PV_SD_PATH "/org/freedesktop/systemd1"
#define PV_SD_MANAGER "org.freedesktop.systemd1.Manager"

int pv_sdcall_begin(struct pv_sdcall *c, struct pv_err *e);
void pv_sdcall_end(struct pv_sdcall *c);
/* e = "systemd <what> of <unit>: <systemd's message>" (with_error and
 * systemd answered with one), else "...: <strerror(-r)>". Returns -1. */
int pv_sdcall_fail(struct pv_sdcall *c, struct pv_err *e, int r, bool with_error,
		   const char *what, const char *unit);
