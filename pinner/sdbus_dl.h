/* sd-bus, loaded when first needed. Only the systemd cpuset backend talks
 * to systemd, and only in pre-start and restore on a real host; linking
 * libsystemd would make every run (pre-stop, status, plan, the agent)
 * map it and its compression and crypto libraries first: 0.4 ms of a
 * 1.2 ms phase. The package still Depends on libsystemd0. */
#pragma once
#include <systemd/sd-bus.h>

#include "../common/err.h"

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
