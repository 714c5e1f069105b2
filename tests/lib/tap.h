/* Minimal test harness: each unit test binary prints "ok"/"not ok" lines and
 * "N passed, N failed"; tests/run.sh sums them. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_pass, tap_fail, tap_skip;

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

/* A check this machine cannot make (one CPU, no proc connector): counted
 * and named, never a pass; NO_SKIP=1 makes it a failure. */
#define SKIP(...)                                                         \
	do {                                                              \
		const char *ns_ = getenv("NO_SKIP");                      \
		if (ns_ && !strcmp(ns_, "1")) {                           \
			tap_fail++;                                       \
			printf("not ok %s:%d: skipped (NO_SKIP=1): ", __FILE__, __LINE__); \
		} else {                                                  \
			tap_skip++;                                       \
			printf("ok # SKIP %s:%d: ", __FILE__, __LINE__);  \
		}                                                         \
		printf(__VA_ARGS__);                                      \
		printf("\n");                                             \
	} while (0)

static inline int tap_done(const char *name)
{
	if (tap_skip)
		printf("%s: %d passed, %d failed, %d skipped\n", name, tap_pass, tap_fail, tap_skip);
	else
		printf("%s: %d passed, %d failed\n", name, tap_pass, tap_fail);
	return tap_fail ? 1 : 0;
}
