/* The one raw writer of host attributes; engine/attr.h says why it is here. */
#include "engine/attr.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"

/* The value as an error names it: one line, without the newline echo adds */
static int vlen(const char *val)
{
	return (int)strcspn(val, "\n");
}

int pv_write_file(const char *path, const char *val, struct pv_err *e)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(val);
	ssize_t w;

	/* O_TRUNC: sysfs ignores it, and a plain file under --root (test trees,
	 * captured hosts) then holds exactly the value, as an attribute would */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return pv_fail(e, errno, "open %s", path);
	do
		w = write(fd, val, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return pv_fail(e, errno, "write '%.*s' to %s", vlen(val), val, path);
	if ((size_t)w != len)
		return pv_fail(e, EIO, "short write of '%.*s' to %s", vlen(val), val, path);
	return 0;
}

int pv_write_fd(int fd, const char *path, const char *val, bool trunc, struct pv_err *e)
{
	size_t len = strlen(val);
	ssize_t w;

	do
		w = trunc ? pwrite(fd, val, len, 0) : write(fd, val, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return pv_fail(e, errno, "write '%.*s' to %s", vlen(val), val, path);
	if ((size_t)w != len)
		return pv_fail(e, EIO, "short write of '%.*s' to %s", vlen(val), val, path);
	if (trunc && ftruncate(fd, (off_t)len) < 0)
		return pv_fail(e, errno, "truncate %s", path);
	return 0;
}
