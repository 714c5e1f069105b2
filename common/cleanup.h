/* Scope-bound cleanup (GCC/clang cleanup attribute), as in crun and systemd. */
#pragma once
#include <dirent.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void pv_freep(void *p)
{
	free(*(void **)p);
}
static inline void pv_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void pv_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void pv_bitmap_freep(hwloc_bitmap_t *b)
{
	if (*b)
		hwloc_bitmap_free(*b);
}

static inline void pv_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_ _cleanup_(pv_freep)
#define _cleanup_close_ _cleanup_(pv_closep)
#define _cleanup_fclose_ _cleanup_(pv_fclosep)
#define _cleanup_bitmap_ _cleanup_(pv_bitmap_freep)
#define _cleanup_closedir_ _cleanup_(pv_closedirp)

/* Hand ownership out of a cleanup-managed variable. */
#define pv_steal(p)                      \
	({                               \
		__typeof__(p) _tmp = (p); \
		(p) = NULL;              \
		_tmp;                    \
	})
