/* common/fsio.c: values that do not fit the caller's buffer are an error,
 * never a silently shorter value; an exact fit (with or without its
 * newline) is not. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* pv_save_file: a planted link at the tmp name or at the name itself is
 * replaced, the file it points to is never written. */
static void save(void)
{
	char path[300], tmp[310], victim[300], buf[64];
	struct pv_err e = { 0 };
	struct stat st;

	snprintf(path, sizeof(path), "%s/100.topology.xml", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s", put("victim", "precious\n"));
	CHECK(symlink(victim, tmp) == 0, "symlink");
	CHECK(symlink(victim, path) == 0, "symlink");
	CHECK_INT(pv_save_file(path, "<xml/>\n", 7, 0600, &e), 0);
	CHECK_INT(pv_read_file(victim, buf, sizeof(buf), NULL), 8);
	CHECK_STR(buf, "precious");
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
	      "a regular 0600 file replaced the link");
	CHECK_INT(pv_read_file(path, buf, sizeof(buf), NULL), 6);
	CHECK_STR(buf, "<xml/>");
	CHECK(lstat(tmp, &st) < 0 && errno == ENOENT, "no tmp left behind");
	CHECK_INT(pv_save_file("/nonexistent-dir/x", "a", 1, 0600, &e), -1);
	CHECK(strstr(e.msg, "/nonexistent-dir") != NULL, "%s", e.msg);
}

/* pv_check_root_dir: only a root-owned directory nobody else can write */
static void root_dir(void)
{
	char d[300], link[310];
	struct pv_err e = { 0 };

	snprintf(d, sizeof(d), "%s/run", dir);
	CHECK(mkdir(d, 0700) == 0, "mkdir");
	if (geteuid() != 0) {
		printf("not ok root_dir: needs root (chown)\n");
		tap_fail++;
		return;
	}
	CHECK(chown(d, 0, 0) == 0, "chown");
	CHECK_INT(pv_check_root_dir(d, &e), 0);
	CHECK(chmod(d, 0777) == 0, "chmod");
	CHECK_INT(pv_check_root_dir(d, &e), -1);
	CHECK(strstr(e.msg, "writable by group or others (mode 0777)") && strstr(e.msg, "chmod go-w"),
	      "%s", e.msg);
	CHECK(chmod(d, 0720) == 0, "chmod");
	CHECK_INT(pv_check_root_dir(d, &e), -1);
	CHECK(chmod(d, 0755) == 0 && chown(d, 65534, 0) == 0, "chown");
	CHECK_INT(pv_check_root_dir(d, &e), -1);
	CHECK(strstr(e.msg, "owned by uid 65534, not root") != NULL, "%s", e.msg);
	CHECK(chown(d, 0, 0) == 0, "chown");
	snprintf(link, sizeof(link), "%s/runlink", dir);
	CHECK(symlink(d, link) == 0, "symlink");
	CHECK_INT(pv_check_root_dir(link, &e), -1);
	CHECK(strstr(e.msg, "symbolic link") != NULL, "%s", e.msg);
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
	save();
	root_dir();
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
