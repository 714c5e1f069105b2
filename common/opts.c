#include "common/opts.h"

struct pv_opts pv_opt = { .root = "" };
