/* Minimal test harness: each unit test binary prints "ok"/"not ok" lines and
 * "N passed, N failed"; tests/run.sh sums them. */
#pragma once
#include <stdio.h>
#include <string.h>

static int tap_pass, tap_fail;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (cond) {                                               \
			tap_pass++;                                       \
		} else {                                                  \
			tap_fail++;                                       \
			printf("not ok %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                              \
			printf("\n");                                     \
		}                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                   \
	CHECK(strcmp((a), (b)) == 0, "got '%s' want '%s'", (a), (b))

#define CHECK_INT(a, b)                                                   \
	CHECK((long)(a) == (long)(b), "got %ld want %ld", (long)(a), (long)(b))

static inline int tap_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, tap_pass, tap_fail);
	return tap_fail ? 1 : 0;
}
