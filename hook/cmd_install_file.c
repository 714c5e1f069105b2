/* pvepin install: the snippet file itself. This binary is read through
 * /proc/self/exe, written to a temporary file beside the hookscript path,
 * fsync'd and renamed over it; what is at that path now is classified
 * without following a link or opening anything but a regular file; and the
 * directory it goes into must be root's alone (PVE runs the file as root
 * for every VM that names it). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "common/testknob.h"
#include "hook/cmd_install_int.h"

/* Every pvepin binary carries this string. A file at the hookscript path
 * that is an ELF executable holding it was put there by some pvepin and may
 * be replaced or removed without --force; anything else is the admin's. */
static const char hook_marker[] = "pvepin-hookscript-v1:5f0c9d2e";

/* Read an open file whole; size is a hint (0 for /proc files). */
static char *read_fd(int fd, const char *path, size_t *len, struct pv_err *e)
{
	return pv_slurp_fd(fd, path, FILE_MAX, len, e);
}

/* This very binary, read through /proc/self/exe (not under --root: it is
 * the program being installed, not a file of the host tree). */
char *pv_inst_read_self(size_t *len, struct pv_err *e)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pv_fail(e, errno, "open /proc/self/exe");
		return NULL;
	}
	return read_fd(fd, "/proc/self/exe", len, e);
}

/* What is at the hookscript path now. Only a regular file is opened (a
 * device node or FIFO there is never touched), without following a
 * symlink, and it must still be the file lstat saw. */
int pv_inst_hook_kind(const char *path, const char *self, size_t selflen, enum hook_kind *k,
		     struct stat *st, struct pv_err *e)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat fst;
	size_t len;

	*k = HOOK_FOREIGN;
	if (lstat(path, st) < 0) {
		if (errno != ENOENT)
			return pv_fail(e, errno, "stat %s", path);
		*k = HOOK_ABSENT;
		return 0;
	}
	if (!S_ISREG(st->st_mode) || (size_t)st->st_size > FILE_MAX)
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return pv_fail(e, errno, "open %s", path);
	if (fstat(fd, &fst) < 0)
		return pv_fail(e, errno, "stat %s", path);
	if (fst.st_dev != st->st_dev || fst.st_ino != st->st_ino)
		return pv_fail(e, EAGAIN, "%s changed while being looked at", path);
	if (!(buf = read_fd(fd, path, &len, e)))
		return -1;
	if (len == selflen && !memcmp(buf, self, len))
		*k = HOOK_SAME;
	else if (len > 4 && !memcmp(buf, "\177ELF", 4) &&
		 memmem(buf, len, hook_marker, sizeof(hook_marker) - 1))
		*k = HOOK_OURS;
	return 0;
}

int pv_inst_fsync_dir(const char *dir, struct pv_err *e)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pv_fail(e, errno, "open %s", dir);
	if (fsync(fd) < 0)
		return pv_fail(e, errno, "fsync %s", dir);
	return 0;
}

static int write_all(int fd, const char *data, size_t len, const char *path, struct pv_err *e)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return pv_fail(e, errno, "write %s", path);
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Temporary file beside dest, 0755 root:root, fsync'd, renamed over dest,
 * directory fsync'd. The temporary file never outlives a failure. */
int pv_inst_write(const struct inst *in, const char *data, size_t len, struct pv_err *e)
{
	char tmp[PV_PATH_MAX + 16];
	int fd, r = -1;

	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", in->dirpath, PV_HOOK_NAME);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return pv_fail(e, errno, "create a temporary file in %s", in->dirpath);
	if (write_all(fd, data, len, tmp, e) < 0)
		goto out;
	if (fchmod(fd, 0755) < 0) {
		pv_fail(e, errno, "chmod %s", tmp);
		goto out;
	}
	/* root-owned whatever the directory's group; unprivileged only in tests under --root */
	if (geteuid() == 0 && fchown(fd, 0, 0) < 0) {
		pv_fail(e, errno, "chown %s", tmp);
		goto out;
	}
	if (fsync(fd) < 0) {
		pv_fail(e, errno, "fsync %s", tmp);
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		pv_fail(e, errno, "close %s", tmp);
		goto out;
	}
	r = rename(tmp, in->dest);
	if (r < 0) {
		pv_fail(e, errno, "rename %s to %s", tmp, in->dest);
		goto out;
	}
	return pv_inst_fsync_dir(in->dirpath, e);
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* Create the snippets directory (one level: its storage must exist). */
int pv_inst_ensure_dir(const struct inst *in, struct pv_err *e)
{
	struct stat st;

	if (stat(in->dirpath, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : pv_fail(e, ENOTDIR, "%s", in->dirpath);
	if (errno != ENOENT)
		return pv_fail(e, errno, "stat %s", in->dirpath);
	if (pv_opt.dry_run)
		return 0;
	if (mkdir(in->dirpath, 0755) < 0) {
		if (errno == ENOENT)
			return pv_fail(e, 0, "%s: its parent directory does not exist (is this a "
				       "Proxmox VE host? give --storage-dir)", in->dirpath);
		return pv_fail(e, errno, "mkdir %s", in->dirpath);
	}
	return 0;
}


/* statfs magic numbers (linux/magic.h, fs/smb/client/cifsglob.h) */
#define NFS_MAGIC 0x6969
#define SMB_MAGIC 0x517B
#define CIFS_MAGIC 0xFF534D42
#define SMB2_MAGIC 0xFE534D42

static const char *network_fs(const char *path)
{
	struct statfs fs;
	long fake = pv_test_knob("PVEPIN_TEST_FSTYPE"); /* test builds: a pretend NFS */

	if (statfs(path, &fs) < 0)
		return NULL;
	if (fake)
		fs.f_type = fake;
	switch ((unsigned long)fs.f_type & 0xffffffffUL) {
	case NFS_MAGIC:
		return "NFS";
	case SMB_MAGIC:
	case CIFS_MAGIC:
	case SMB2_MAGIC:
		return "CIFS/SMB";
	}
	return NULL;
}

static int check_one(const char *path, bool self, struct pv_err *e)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return pv_fail(e, errno, "stat %s", path);
	if (st.st_uid != 0)
		return pv_fail(e, 0, "refusing %s: %s is owned by uid %u, not root, and could replace "
			       "what PVE runs as root (fix: chown root:root %s)",
			       self ? "the snippets directory" : "a directory above the snippets directory",
			       path, (unsigned)st.st_uid, path);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (self || !(st.st_mode & S_ISVTX)))
		return pv_fail(e, 0, "refusing %s: %s is writable by group or others (mode %04o), "
			       "who could replace what PVE runs as root (fix: chmod go-w %s)",
			       self ? "the snippets directory" : "a directory above the snippets directory",
			       path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int pv_inst_check_dir(const struct inst *in, struct pv_err *e)
{
	char real[PATH_MAX], top[PATH_MAX] = "/", path[PV_PATH_MAX];
	const char *fs;
	bool self = true;

	/* the directory as it resolves (/var/lib/vz may be a link to another
	 * disk); with --dry-run it may not exist yet: start at what does */
	snprintf(path, sizeof(path), "%s", in->dirpath);
	while (!realpath(path, real)) {
		char *slash = strrchr(path, '/');

		if (errno != ENOENT || !slash || slash == path)
			return pv_fail(e, errno, "resolve %s", path);
		*slash = '\0';
		self = false;
	}
	if (pv_opt.root && pv_opt.root[0] && !realpath(pv_opt.root, top))
		return pv_fail(e, errno, "resolve %s", pv_opt.root);
	if (!pv_opt.root || !pv_opt.root[0])
		snprintf(top, sizeof(top), "/");
	if ((fs = network_fs(real)))
		fprintf(stderr, "pvepin install: warning: %s is on %s: whoever can write that share "
			"(other hosts, its server's admins) can replace what PVE runs as root here; "
			"a local snippets storage is safer\n", real, fs);
	for (;;) {
		char *slash;

		if (check_one(real, self, e) < 0)
			return -1;
		self = false;
		if (!strcmp(real, top) || !strcmp(real, "/"))
			return 0;
		slash = strrchr(real, '/');
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}
