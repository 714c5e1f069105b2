/* One flock on /run/pvepin/lock serializes every phase and restore, so two
 * VMs starting at once see each other's ledger entries. */
#pragma once
#include "common/err.h"

/* Take the lock, waiting up to timeout_s seconds (saying so on stderr after
 * a second). Returns the lock fd (close it to release) or -1. */
int pv_lock_take(int timeout_s, struct pv_err *e);
void pv_lock_release(int fd);
