#include "engine/sdbus_dl.h"

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

struct sym {
	const char *name;
	size_t off;
};

#define SYM(field, fn) { #fn, offsetof(struct pv_sdbus, field) }

static const struct sym syms[] = {
	SYM(open_system, sd_bus_open_system),
	SYM(flush_close_unref, sd_bus_flush_close_unref),
	SYM(message_unref, sd_bus_message_unref),
	SYM(error_free, sd_bus_error_free),
	SYM(error_is_set, sd_bus_error_is_set),
	SYM(path_encode, sd_bus_path_encode),
	SYM(get_property, sd_bus_get_property),
	SYM(message_read_array, sd_bus_message_read_array),
	SYM(message_new_method_call, sd_bus_message_new_method_call),
	SYM(message_append, sd_bus_message_append),
	SYM(message_open_container, sd_bus_message_open_container),
	SYM(message_close_container, sd_bus_message_close_container),
	SYM(message_append_array, sd_bus_message_append_array),
	SYM(call, sd_bus_call),
	SYM(call_method, sd_bus_call_method),
};

int pv_sdbus_open(struct pv_sdbus *sd, struct pv_err *e)
{
	memset(sd, 0, sizeof(*sd));
	/* NODELETE: libsystemd keeps thread-local and atexit state; it stays
	 * mapped after the last close, and a second open is a refcount. */
	sd->dl = dlopen(PV_SDBUS_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!sd->dl)
		return pv_fail(e, 0, "cannot load %s (%s): install libsystemd0", PV_SDBUS_SONAME,
			       dlerror());
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(sd->dl, syms[i].name);

		if (!p) {
			pv_fail(e, 0, "%s has no %s: libsystemd0 is too old for pvepin",
				PV_SDBUS_SONAME, syms[i].name);
			pv_sdbus_close(sd);
			return -1;
		}
		memcpy((char *)sd + syms[i].off, &p, sizeof(p));
	}
	return 0;
}

void pv_sdbus_close(struct pv_sdbus *sd)
{
	if (sd->dl)
		dlclose(sd->dl);
	sd->dl = NULL;
}

int pv_sdcall_begin(struct pv_sdcall *c, struct pv_err *e)
{
	int r;

	memset(c, 0, sizeof(*c)); /* be = SD_BUS_ERROR_NULL */
	if (pv_sdbus_open(&c->sd, e) < 0)
		return -1;
	if ((r = c->sd.open_system(&c->bus)) < 0)
		return pv_fail(e, -r, "connect to systemd");
	return 0;
}

void pv_sdcall_end(struct pv_sdcall *c)
{
	if (!c->sd.dl)
		return;
	if (c->m)
		c->sd.message_unref(c->m);
	if (c->reply)
		c->sd.message_unref(c->reply);
	c->sd.error_free(&c->be);
	if (c->bus)
		c->sd.flush_close_unref(c->bus);
	pv_sdbus_close(&c->sd);
}

int pv_sdcall_fail(struct pv_sdcall *c, struct pv_err *e, int r, bool with_error,
		   const char *what, const char *unit)
{
	if (with_error && c->sd.error_is_set(&c->be))
		return pv_fail(e, 0, "systemd %s of %s: %s", what, unit, c->be.message);
	return pv_fail(e, -r, "systemd %s of %s", what, unit);
}
