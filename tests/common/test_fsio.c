/* common/fsio.c: values that do not fit the caller's buffer are an error,
 * never a silently shorter value; an exact fit (with or without its
 * newline) is not. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsio.h"
#include "tests/lib/tap.h"

static char dir[] = "/tmp/pvepin-fsio-XXXXXX";

static const char *put(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
	return path;
}

typedef ssize_t (*reader)(const char *, char *, size_t, struct pv_err *);

static void fits(reader rd, const char *what)
{
	char buf[16];
	struct pv_err e = { 0 };

	/* 15 characters and a newline: a full comm */
	CHECK_INT(rd(put("comm", "0123456789abcde\n"), buf, sizeof(buf), &e), 15);
	CHECK_STR(buf, "0123456789abcde");
	CHECK_INT(rd(put("crlf", "0123456789abcde\r\n\n"), buf, sizeof(buf), &e), 15);
	CHECK_INT(rd(put("short", "0-3\n"), buf, sizeof(buf), &e), 3);
	CHECK_STR(buf, "0-3");
	printf("# %s: exact fits read whole\n", what);
}

static void too_long(reader rd, const char *what)
{
	char buf[16], big[2100];
	struct pv_err e = { 0 };

	buf[0] = 'x';
	CHECK_INT(rd(put("long", "0-7,16-23,32-39,48\n"), buf, sizeof(buf), &e), -1);
	CHECK_INT(e.errnum, EOVERFLOW);
	CHECK(strstr(e.msg, "/long") && strstr(e.msg, "longer than 15 bytes"),
	      "names the file and the bound: %s", e.msg);
	/* one character over */
	memset(&e, 0, sizeof(e));
	CHECK_INT(rd(put("one", "0123456789abcdef"), buf, sizeof(buf), &e), -1);
	CHECK_INT(e.errnum, EOVERFLOW);
	/* the old 1024-byte bound of the attribute readers */
	memset(big, '7', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		char kb[1024];

		memset(&e, 0, sizeof(e));
		CHECK_INT(rd(put("big", big), kb, sizeof(kb), &e), -1);
		CHECK(strstr(e.msg, "longer than 1023 bytes") != NULL, "%s", e.msg);
	}
	printf("# %s: longer values are reported\n", what);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	fits(pv_read_file, "pv_read_file");
	fits(pv_read_attr, "pv_read_attr");
	too_long(pv_read_file, "pv_read_file");
	too_long(pv_read_attr, "pv_read_attr");
	{
		/* sysfs and procfs semantics, not a regular file: a real
		 * kernel attribute longer than the buffer */
		char buf[8];
		struct pv_err e = { 0 };

		CHECK_INT(pv_read_attr("/proc/self/status", buf, sizeof(buf), &e), -1);
		CHECK_INT(e.errnum, EOVERFLOW);
	}
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return tap_done("test_fsio");
}
