/* Shared by the fuzz targets: libFuzzer's data is not NUL-terminated. */
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A property that must hold whatever the input: crash so libFuzzer keeps it. */
#define FUZZ_ASSERT(cond)                 \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)
