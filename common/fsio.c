#include "common/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/opts.h"

int pv_path(char *buf, size_t n, struct pv_err *e, const char *fmt, ...)
{
	char rel[PV_PATH_MAX];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(rel))
		return pv_fail(e, ENAMETOOLONG, "path too long");
	if (rel[0] != '/')
		return pv_fail(e, EINVAL, "internal: relative path '%s'", rel);
	len = snprintf(buf, n, "%s%s", pv_opt.root ? pv_opt.root : "", rel);
	if (len < 0 || (size_t)len >= n)
		return pv_fail(e, ENAMETOOLONG, "path too long: %s", rel);
	return 0;
}

/* After a full buffer: 0 if only line ends follow (a 15-character comm
 * and its newline fill a 16-byte buffer exactly), 1 if more text does, -1
 * if the read fails. Truncating silently would hand callers a different
 * value (a cpulist cut mid-range still parses). */
static int more_than_newlines(int fd)
{
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : 0;
		if (c != '\n' && c != '\r')
			return 1;
	}
}

/* What fd (open on path, at its start) holds, as read_text describes. */
static ssize_t read_text_fd(int fd, const char *path, char *buf, size_t n, bool attr,
			    struct pv_err *e)
{
	size_t off = 0;
	int more;

	if (n == 0)
		return pv_fail(e, EINVAL, "read %s: no buffer", path);
	while (off < n - 1) {
		ssize_t r = read(fd, buf + off, n - 1 - off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return pv_fail(e, errno, "read %s", path);
		}
		if (r == 0)
			break;
		off += (size_t)r;
		/* an attribute comes whole in one read: a short one is all of it */
		if (attr && off < n - 1)
			break;
	}
	if (off == n - 1 && (more = more_than_newlines(fd)) != 0)
		return more < 0 ? pv_fail(e, errno, "read %s", path)
				: pv_fail(e, EOVERFLOW, "read %s: value longer than %zu bytes",
					  path, n - 1);
	while (off > 0 && (buf[off - 1] == '\n' || buf[off - 1] == '\r'))
		off--;
	buf[off] = '\0';
	return (ssize_t)off;
}

static ssize_t read_text(const char *path, char *buf, size_t n, bool attr, struct pv_err *e)
{
	_cleanup_close_ int fd = -1;

	if (n == 0)
		return pv_fail(e, EINVAL, "read %s: no buffer", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pv_fail(e, errno, "open %s", path);
	return read_text_fd(fd, path, buf, n, attr, e);
}

ssize_t pv_read_file(const char *path, char *buf, size_t n, struct pv_err *e)
{
	return read_text(path, buf, n, false, e);
}

ssize_t pv_read_attr(const char *path, char *buf, size_t n, struct pv_err *e)
{
	return read_text(path, buf, n, true, e);
}

ssize_t pv_read_attr_fd(int fd, const char *path, char *buf, size_t n, struct pv_err *e)
{
	return read_text_fd(fd, path, buf, n, true, e);
}

char *pv_slurp_fd(int fd, const char *name, size_t max, size_t *len, struct pv_err *e)
{
	_cleanup_free_ char *buf = NULL;
	size_t cap = 4096, off = 0;

	buf = malloc(cap);
	if (!buf) {
		pv_fail(e, ENOMEM, "read %s", name);
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (off + 1 >= cap) {
			char *nb;

			if (cap > max) {
				pv_fail(e, EFBIG, "read %s", name);
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				pv_fail(e, ENOMEM, "read %s", name);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + off, cap - 1 - off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			pv_fail(e, errno, "read %s", name);
			return NULL;
		}
		if (r == 0)
			break;
		off += (size_t)r;
		if (off > max) {
			pv_fail(e, EFBIG, "read %s", name);
			return NULL;
		}
	}
	buf[off] = '\0';
	if (len)
		*len = off;
	return pv_steal(buf);
}

char *pv_slurp(const char *path, size_t *len, struct pv_err *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pv_fail(e, errno, "open %s", path);
		return NULL;
	}
	return pv_slurp_fd(fd, path, (size_t)64 << 20, len, e);
}

int pv_readlink_base(const char *path, char *buf, size_t n, struct pv_err *e)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t r;

	r = readlink(path, target, sizeof(target) - 1);
	if (r < 0)
		return pv_fail(e, errno, "readlink %s", path);
	target[r] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= n)
		return pv_fail(e, ENAMETOOLONG, "readlink %s", path);
	strcpy(buf, base);
	return 0;
}

int pv_check_root_dir(const char *path, struct pv_err *e)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return pv_fail(e, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return pv_fail(e, 0, "refusing %s: not a directory%s (fix: remove it)", path,
			       S_ISLNK(st.st_mode) ? " but a symbolic link" : "");
	if (st.st_uid != 0)
		return pv_fail(e, 0, "refusing %s: owned by uid %u, not root (fix: chown root:root %s)",
			       path, (unsigned)st.st_uid, path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return pv_fail(e, 0, "refusing %s: writable by group or others (mode %04o) "
			       "(fix: chmod go-w %s)", path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* An unnamed file in dfd (O_TMPFILE): a write cut short by an error or a
 * kill leaves nothing behind, where a named one left "<name>.tmp" that
 * nothing would remove. -1 with errno when the filesystem has no unnamed
 * files (the caller then names one). */
static int open_unnamed(int dfd, mode_t mode)
{
#ifdef O_TMPFILE
	return openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
#else
	(void)dfd;
	(void)mode;
	errno = EOPNOTSUPP;
	return -1;
#endif
}

/* Give the unnamed fd the name tmp in dfd: through /proc/self/fd, which
 * needs no capability, else AT_EMPTY_PATH (CAP_DAC_READ_SEARCH, root's)
 * where /proc is not mounted. */
static int name_unnamed(int fd, int dfd, const char *tmp)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	return linkat(fd, "", dfd, tmp, AT_EMPTY_PATH);
}

int pv_save_file(const char *path, const char *data, size_t len, mode_t mode, struct pv_err *e)
{
	char dir[PV_PATH_MAX], tmp[NAME_MAX + 1];
	_cleanup_close_ int dfd = -1;
	_cleanup_close_ int fd = -1;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	bool named = false;

	if (!*base || strlen(path) >= sizeof(dir) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", base) >= (int)sizeof(tmp))
		return pv_fail(e, ENAMETOOLONG, "save %s", path);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return pv_fail(e, errno, "open %s", dir);
	/* a stale tmp (a crash) or a planted link: the name is removed, never followed */
	if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
		return pv_fail(e, errno, "remove %s%s", dir, tmp);
	fd = open_unnamed(dfd, mode);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		named = true;
	}
	if (fd < 0)
		return pv_fail(e, errno, "create %s%s", dir, tmp);
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0 ||
	    (!named && name_unnamed(fd, dfd, tmp) < 0)) {
		int err = errno;

		if (named)
			unlinkat(dfd, tmp, 0);
		return pv_fail(e, err, "write %s%s", dir, tmp);
	}
	if (close(fd) < 0) {
		int err = errno;

		fd = -1;
		unlinkat(dfd, tmp, 0);
		return pv_fail(e, err, "write %s%s", dir, tmp);
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, base) < 0) {
		int err = errno;

		unlinkat(dfd, tmp, 0);
		return pv_fail(e, err, "rename %s%s to %s", dir, tmp, path);
	}
	return 0;
}

int pv_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int pv_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == '+' || (*s == '-' && min >= 0))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
