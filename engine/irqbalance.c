#include "engine/irqbalance.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/cpulist.h"
#include "irqtune/irqtune.h"
#include "irqtune/placement.h"
#include "irqtune/procinterrupts.h"

#define SETUP_MAX (64 * 1024)

/* Only root (pvepin itself runs as root: its euid, for tests run by a
 * user) may have made the socket, its directory or its listener. */
static bool trusted_uid(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* A socket file outlives a crashed daemon: its pid must still exist. */
static bool pid_alive(long pid)
{
	char path[PV_PATH_MAX];

	return pv_path(path, sizeof(path), NULL, "/proc/%ld", pid) == 0 && pv_exists(path);
}

/* "irqbalance<pid>.sock" -> pid, or -1. */
static long sock_name_pid(const char *name)
{
	const char *p = name + strlen("irqbalance");
	char num[16];
	size_t len;
	long pid;

	if (strncmp(name, "irqbalance", strlen("irqbalance")) != 0)
		return -1;
	len = strlen(p);
	if (len <= 5 || strcmp(p + len - 5, ".sock") != 0 || len - 5 >= sizeof(num))
		return -1;
	memcpy(num, p, len - 5);
	num[len - 5] = '\0';
	if (pv_parse_long(num, 1, 0x7fffffff, &pid) < 0)
		return -1;
	return pid;
}

static int use_socket_file(struct pv_irqb *ib, const char *dir, const char *name, long pid,
			   struct pv_err *e)
{
	struct stat st;
	int len = snprintf(ib->path, sizeof(ib->path), "%s/%s", dir, name);

	if (len < 0 || (size_t)len >= sizeof(ib->path))
		return pv_fail(e, ENAMETOOLONG,
			       "irqbalance socket %s/%s: longer than a unix socket address", dir,
			       name);
	/* not followed if a link; a socket someone else made is not irqbalance's */
	if (lstat(ib->path, &st) < 0 || !S_ISSOCK(st.st_mode) || !trusted_uid(st.st_uid)) {
		ib->path[0] = '\0';
		return 0;
	}
	ib->running = true;
	ib->pid = (pid_t)pid;
	return 1;
}

/* A directory another user could write holds names anyone could have
 * bound: not used (with a note, once per process). */
static bool safe_dir(const char *dir)
{
	static bool said;
	struct pv_err why = { 0 };
	struct stat st;

	if (lstat(dir, &st) < 0)
		return false;
	if (S_ISDIR(st.st_mode) && trusted_uid(st.st_uid) && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return true;
	if (!said)
		fprintf(stderr, "pvepin: not using irqbalance sockets in %s: %s\n", dir,
			pv_check_root_dir(dir, &why) < 0 ? why.msg : "not root's alone");
	said = true;
	return false;
}

static int find_socket_file(struct pv_irqb *ib, struct pv_err *e)
{
	char dir[PV_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (pv_path(dir, sizeof(dir), e, "/run/irqbalance") < 0)
		return -1;
	if (!safe_dir(dir))
		return 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : pv_fail(e, errno, "open %s", dir);
	while (r == 0 && (de = readdir(d))) {
		long pid = sock_name_pid(de->d_name);

		if (pid > 0 && pid_alive(pid))
			r = use_socket_file(ib, dir, de->d_name, pid, e);
	}
	closedir(d);
	return r;
}

/* The daemon's fallback address (sun_path all zero bytes) is listening:
 * /proc/net/unix shows an abstract name with '@' for every NUL, so "@"
 * and 107 more '@', with __SO_ACCEPTCON (0x10000) in Flags. Who listens
 * is asked at connect (peer_is_root). */
static int find_abstract(struct pv_irqb *ib, struct pv_err *e)
{
	_cleanup_free_ char *text = NULL;
	char path[PV_PATH_MAX], *save = NULL;

	if (pv_path(path, sizeof(path), e, "/proc/net/unix") < 0)
		return -1;
	if (!(text = pv_slurp(path, NULL, NULL)))
		return 0;
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		unsigned long flags;
		char name[PV_IRQB_SUN_PATH + 2];

		if (sscanf(ln, "%*s %*s %*s %lx %*s %*s %*s %109s", &flags, name) != 2 ||
		    !(flags & 0x10000) || strlen(name) != PV_IRQB_SUN_PATH ||
		    strspn(name, "@") != PV_IRQB_SUN_PATH)
			continue;
		ib->running = true;
		ib->abstract = true;
		return 0;
	}
	return 0;
}

static int irqb_connect(const struct pv_irqb *ib, int timeout_ms, pid_t *peer, struct pv_err *e);

pid_t pv_irqb_named_process(void)
{
	char dir[PV_PATH_MAX], path[PV_PATH_MAX], comm[32];
	struct dirent *de;
	pid_t found = 0;
	long pid;
	DIR *d;

	if (pv_path(dir, sizeof(dir), NULL, "/proc") < 0 || !(d = opendir(dir)))
		return 0;
	while (!found && (de = readdir(d)))
		if (pv_parse_long(de->d_name, 1, 0x7fffffff, &pid) == 0 &&
		    pv_path(path, sizeof(path), NULL, "/proc/%ld/comm", pid) == 0 &&
		    pv_read_file(path, comm, sizeof(comm), NULL) >= 0 && !strcmp(comm, "irqbalance"))
			found = (pid_t)pid;
	closedir(d);
	return found;
}

int pv_irqb_find(struct pv_irqb *ib, struct pv_err *e)
{
	int r;

	memset(ib, 0, sizeof(*ib));
	r = find_socket_file(ib, e);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (find_abstract(ib, e) < 0)
		return -1;
	/* the listener's pid, from its credentials: there is no file name */
	if (ib->running) {
		struct pv_err why = { 0 };
		_cleanup_close_ int fd = irqb_connect(ib, 1000, &ib->pid, &why);

		if (fd < 0 && why.errnum == EPERM) {
			fprintf(stderr, "pvepin: %s\n", why.msg);
			memset(ib, 0, sizeof(*ib));
		} else if (fd < 0) {
			*e = why;
			return -1;
		}
	}
	return 0;
}

/* irqbalance is whoever listens as root: any user can bind the abstract
 * address (or name a process "irqbalance") and would read the banned CPU
 * list pvepin sends or answer "setup" with anything. */
static int peer_is_root(int fd, const char *what, pid_t *pid, struct pv_err *e)
{
	struct ucred peer;
	socklen_t len = sizeof(peer);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
		return pv_fail(e, errno, "credentials of %s", what);
	if (!trusted_uid(peer.uid))
		return pv_fail(e, EPERM, "%s is served by pid %d of uid %u, not root: not irqbalance "
			       "(nothing sent; find who binds it)", what, (int)peer.pid,
			       (unsigned)peer.uid);
	if (pid)
		*pid = peer.pid;
	return 0;
}

static int irqb_connect(const struct pv_irqb *ib, int timeout_ms, pid_t *peer, struct pv_err *e)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *what = ib->abstract ? "irqbalance's abstract socket" : ib->path;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return pv_fail(e, errno, "socket for irqbalance");
	/* A unix connect() honours SO_SNDTIMEO while the listen backlog is full. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return pv_fail(e, errno, "set timeouts on irqbalance socket");
	if (!ib->abstract)
		memcpy(addr.sun_path, ib->path, strlen(ib->path));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EAGAIN)
			return pv_fail(e, ETIMEDOUT, "connect to %s (pid %d)", what, (int)ib->pid);
		return pv_fail(e, errno, "connect to %s (pid %d)", what, (int)ib->pid);
	}
	if (peer_is_root(fd, what, peer, e) < 0)
		return -1;
	{
		int ok = fd;

		fd = -1;
		return ok;
	}
}

static int irqb_send(int fd, const char *cmd, struct pv_err *e)
{
	struct ucred cred = { .pid = getpid(), .uid = geteuid(), .gid = getegid() };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)cmd, .iov_len = strlen(cmd) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t w;

	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(cred));
	memcpy(CMSG_DATA(c), &cred, sizeof(cred));
	do
		w = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return pv_fail(e, errno == EAGAIN ? ETIMEDOUT : errno, "send '%.40s' to irqbalance",
			       cmd);
	if ((size_t)w != iov.iov_len)
		return pv_fail(e, EIO, "short send of '%.40s' to irqbalance", cmd);
	return 0;
}

static int irqb_recv(int fd, const char *cmd, char *reply, size_t n, struct pv_err *e)
{
	size_t off = 0;

	while (off + 1 < n) {
		ssize_t r = recv(fd, reply + off, n - 1 - off, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return pv_fail(e, errno == EAGAIN ? ETIMEDOUT : errno,
				       "read irqbalance's answer to '%s'", cmd);
		if (r == 0)
			break;
		off += (size_t)r;
	}
	reply[off] = '\0';
	if (off + 1 >= n)
		return pv_fail(e, EMSGSIZE, "irqbalance's answer to '%s' is over %zu bytes", cmd,
			       n - 1);
	if (off == 0)
		return pv_fail(e, EACCES, "irqbalance closed the connection without answering '%s' "
			       "(it answers only root)", cmd);
	return 0;
}

/* One command. With reply, read the answer (NUL-terminated) until the
 * daemon closes; an empty answer is an error (refused: not root). */
static int pv_irqb_request(const struct pv_irqb *ib, const char *cmd, char *reply, size_t n,
		    int timeout_ms, struct pv_err *e)
{
	_cleanup_close_ int fd = -1;

	if (strlen(cmd) > PV_IRQB_CMD_MAX)
		return pv_fail(e, E2BIG, "irqbalance command over %d bytes", PV_IRQB_CMD_MAX);
	fd = irqb_connect(ib, timeout_ms, NULL, e);
	if (fd < 0 || irqb_send(fd, cmd, e) < 0)
		return -1;
	if (!reply)
		return 0;
	if (n == 0)
		return pv_fail(e, EINVAL, "irqbalance: no reply buffer");
	return irqb_recv(fd, cmd, reply, n, e);
}

static int parse_num(const char *tok, long min, long max, long *v)
{
	return tok ? pv_parse_long(tok, min, max, v) : -1;
}

/* LOAD and DIFF are u64 and CLASS an int: only their shape matters here. */
static bool is_int(const char *tok)
{
	if (tok && *tok == '-')
		tok++;
	if (!tok || !*tok)
		return false;
	return strspn(tok, "0123456789") == strlen(tok);
}

int pv_irqb_parse_setup(const char *reply, int *sleep_s, hwloc_bitmap_t banned, int *irqs,
			int max, int *nirq, struct pv_err *e)
{
	_cleanup_free_ char *copy = strdup(reply);
	char *save = NULL, *tok;
	long v;

	if (!copy)
		return pv_fail(e, ENOMEM, "irqbalance setup");
	*nirq = 0;
	tok = strtok_r(copy, " \n", &save);
	if (!tok || strcmp(tok, "SLEEP") != 0 ||
	    parse_num(strtok_r(NULL, " \n", &save), 0, 0x7fffffff, &v) < 0)
		goto bad;
	*sleep_s = (int)v;
	while ((tok = strtok_r(NULL, " \n", &save)) && strcmp(tok, "IRQ") == 0) {
		if (parse_num(strtok_r(NULL, " \n", &save), 0, PV_PI_IRQ_LIMIT - 1, &v) < 0)
			goto bad;
		for (int i = 0; i < 3; i++) {
			static const char *const key[] = { "LOAD", "DIFF", "CLASS" };

			tok = strtok_r(NULL, " \n", &save);
			if (!tok || strcmp(tok, key[i]) != 0)
				goto bad;
			if (!is_int(strtok_r(NULL, " \n", &save)))
				goto bad;
		}
		if (irqs && *nirq >= max)
			return pv_fail(e, E2BIG, "irqbalance bans more than %d IRQs", max);
		if (irqs)
			irqs[*nirq] = (int)v;
		(*nirq)++;
	}
	if (!tok || strcmp(tok, "BANNED") != 0 || !(tok = strtok_r(NULL, " \n", &save)))
		goto bad;
	if (banned && pv_irq_mask_parse(tok, banned) < 0)
		goto bad;
	if (strtok_r(NULL, " \n", &save))
		goto bad;
	return 0;
bad:
	return pv_fail(e, EPROTO, "unexpected answer from irqbalance: '%.80s'", reply);
}

static int get_setup(hwloc_bitmap_t banned, int *irqs, int max, int *nirq, bool *running,
		     int timeout_ms, struct pv_err *e)
{
	_cleanup_free_ char *reply = malloc(SETUP_MAX);
	struct pv_irqb ib;
	int sleep_s;

	*running = false;
	if (!reply)
		return pv_fail(e, ENOMEM, "irqbalance setup");
	if (pv_irqb_find(&ib, e) < 0)
		return -1;
	if (!ib.running)
		return 0;
	*running = true;
	if (pv_irqb_request(&ib, "setup", reply, SETUP_MAX, timeout_ms, e) < 0)
		return -1;
	return pv_irqb_parse_setup(reply, &sleep_s, banned, irqs, max, nirq, e);
}

int pv_irqb_get_banned(char *buf, size_t n, bool *running, int timeout_ms, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t banned = hwloc_bitmap_alloc();
	int nirq;

	if (!banned)
		return pv_fail(e, ENOMEM, "irqbalance");
	if (n)
		buf[0] = '\0';
	if (get_setup(banned, NULL, 0, &nirq, running, timeout_ms, e) < 0)
		return -1;
	if (pv_cpulist_format(buf, n, banned) < 0)
		return pv_fail(e, E2BIG, "irqbalance's banned CPU list does not fit %zu bytes", n);
	return 0;
}

int pv_irqb_get_banned_irqs(int *irqs, int max, int *n, bool *running, int timeout_ms,
			    struct pv_err *e)
{
	*n = 0;
	return get_setup(NULL, irqs, max, n, running, timeout_ms, e);
}

static int send_settings(const char *cmd, int timeout_ms, struct pv_err *e)
{
	struct pv_irqb ib;

	if (pv_irqb_find(&ib, e) < 0)
		return -1;
	if (!ib.running)
		return 0;
	return pv_irqb_request(&ib, cmd, NULL, 0, timeout_ms, e);
}

int pv_irqb_set_banned(const char *list, int timeout_ms, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char cmd[PV_IRQB_CMD_MAX + 1], canon[PV_IRQB_CMD_MAX];
	int len;

	if (!set)
		return pv_fail(e, ENOMEM, "irqbalance");
	/* An empty list would crash irqbalance <= 1.9.3 (strtok gives NULL,
	 * then strncmp on it); "nothing banned by us" is NULL anyway. */
	if (!list || !*list) {
		snprintf(cmd, sizeof(cmd), "settings cpus NULL");
		return send_settings(cmd, timeout_ms, e);
	}
	if (pv_cpulist_parse(list, ',', PV_MAX_CPUS, set, e) < 0)
		return pv_wrap(e, "irqbalance banned CPUs");
	if (pv_cpulist_format(canon, sizeof(canon), set) < 0)
		return pv_fail(e, E2BIG, "irqbalance banned CPU list too long");
	len = snprintf(cmd, sizeof(cmd), "settings cpus %s", canon);
	if (len < 0 || (size_t)len >= sizeof(cmd))
		return pv_fail(e, E2BIG, "irqbalance banned CPU list too long");
	return send_settings(cmd, timeout_ms, e);
}

int pv_irqb_set_banned_irqs(const int *irqs, int n, int timeout_ms, struct pv_err *e)
{
	char cmd[PV_IRQB_CMD_MAX + 1];
	size_t o = (size_t)snprintf(cmd, sizeof(cmd), "settings ban irqs");
	int sent = 0;

	for (int i = 0; i < n; i++) {
		int len;

		/* irqbalance's parser stops at a 0, and IRQ 0 is never ours. */
		if (irqs[i] <= 0 || irqs[i] >= PV_PI_IRQ_LIMIT)
			continue;
		len = snprintf(cmd + o, sizeof(cmd) - o, " %d", irqs[i]);
		if (len < 0 || (size_t)len >= sizeof(cmd) - o)
			return pv_fail(e, E2BIG, "too many IRQs for one irqbalance command");
		o += (size_t)len;
		sent++;
	}
	if (!sent)
		snprintf(cmd + o, sizeof(cmd) - o, " NONE");
	return send_settings(cmd, timeout_ms, e);
}

int pv_irqbalance_get_banned(char *buf, size_t n, bool *running, struct pv_err *e)
{
	return pv_irqb_get_banned(buf, n, running, PV_IRQB_TIMEOUT_MS, e);
}

int pv_irqbalance_set_banned(const char *cpulist_or_NULL, struct pv_err *e)
{
	return pv_irqb_set_banned(cpulist_or_NULL, PV_IRQB_TIMEOUT_MS, e);
}

int pv_irqbalance_get_banned_irqs(int *irqs, int max, int *n, bool *running, struct pv_err *e)
{
	return pv_irqb_get_banned_irqs(irqs, max, n, running, PV_IRQB_TIMEOUT_MS, e);
}

int pv_irqbalance_set_banned_irqs(const int *irqs, int n, struct pv_err *e)
{
	return pv_irqb_set_banned_irqs(irqs, n, PV_IRQB_TIMEOUT_MS, e);
}
