/* irqbalance cooperation against a fake daemon that speaks irqbalance's
 * socket protocol as irqbalance.c (sock_handle, init_socket) implements it:
 * one command per connection in one message with SCM_CREDENTIALS, uid 0
 * only, a 500-byte command buffer (1.9.2), "setup" answered with
 * "SLEEP n [IRQ n LOAD n DIFF n CLASS n ]...BANNED <bitmap_scnprintf mask>". */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/cpulist.h"
#include "engine/irqbalance.h"
#include "irqtune/irqtune.h"
#include "tests/lib/irq_fakeroot.h"
#include "tests/lib/tap.h"

#define FAKE_BITS 256 /* the daemon's cpumask_t width (NR_CPUS) */

struct fakeib {
	int lfd;
	pthread_t th;
	pthread_mutex_t mu;
	volatile int stop;
	struct sockaddr_un addr;
	/* daemon state */
	int sleep_s;
	int irqs[64];
	int nirq;
	char *ui;		       /* banned_cpumask_from_ui, NULL if unset */
	unsigned char dflt[FAKE_BITS]; /* isolcpus/nohz_full-derived banned CPUs */
	uid_t require_uid;
	int stall_ms;
	char log[32][512];
	int nlog;
};

/* irqbalance's cpulist_parse, as far as the tests need it. */
static void fake_cpulist(const char *s, unsigned char *bits)
{
	memset(bits, 0, FAKE_BITS);
	while (*s) {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s)
			return;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (long c = lo; c <= hi && c < FAKE_BITS; c++)
			bits[c] = 1;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',')
			return;
	}
}

/* irqbalance's bitmap_scnprintf: 32-bit chunks, high first, leading zero
 * chunks left out but the last always printed. */
static void fake_mask(const unsigned char *bits, char *out, size_t n)
{
	size_t o = 0;
	int first = 1;

	out[0] = '\0';
	for (int i = FAKE_BITS - 32; i >= 0; i -= 32) {
		unsigned v = 0;

		for (int b = 0; b < 32; b++)
			v |= bits[i + b] ? 1u << b : 0;
		if (v || !first || i == 0) {
			o += (size_t)snprintf(out + o, n - o, "%s%08x", first ? "" : ",", v);
			first = 0;
		}
	}
}

static void fake_setup(struct fakeib *f, int s)
{
	unsigned char bits[FAKE_BITS];
	char reply[4096], mask[128];
	size_t o;

	if (f->stall_ms) {
		struct timespec ts = { f->stall_ms / 1000, (f->stall_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (f->ui)
		fake_cpulist(f->ui, bits);
	else
		memcpy(bits, f->dflt, sizeof(bits));
	o = (size_t)snprintf(reply, sizeof(reply), "SLEEP %d ", f->sleep_s);
	for (int i = 0; i < f->nirq; i++)
		o += (size_t)snprintf(reply + o, sizeof(reply) - o, "IRQ %d LOAD 0 DIFF 0 CLASS 0 ",
				      f->irqs[i]);
	fake_mask(bits, mask, sizeof(mask));
	snprintf(reply + o, sizeof(reply) - o, "BANNED %s", mask);
	send(s, reply, strlen(reply), MSG_NOSIGNAL);
}

static void fake_settings(struct fakeib *f, const char *cmd)
{
	if (strncmp(cmd, "sleep ", 6) == 0) {
		int v = atoi(cmd + 6);

		if (v >= 1)
			f->sleep_s = v;
	} else if (strncmp(cmd, "ban irqs ", 9) == 0) {
		char *end;
		int irq;

		f->nirq = 0;
		if (strncmp(cmd + 9, "NONE", 4) == 0)
			return;
		irq = (int)strtoul(cmd + 9, &end, 10);
		do {
			if (f->nirq < 64)
				f->irqs[f->nirq++] = irq;
		} while ((irq = (int)strtoul(end, &end, 10)));
	} else if (strncmp(cmd, "cpus ", 5) == 0) {
		char *tok, *save = NULL;

		free(f->ui);
		f->ui = strdup(cmd + 5);
		tok = strtok_r(f->ui, " ", &save);
		if (!tok || strncmp(tok, "NULL", 4) == 0) {
			free(f->ui);
			f->ui = NULL;
		}
	}
}

static void fake_handle(struct fakeib *f, int s)
{
	char buff[500], ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { buff, sizeof(buff) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c;
	ssize_t r = recvmsg(s, &msg, 0);

	if (r < 0)
		return;
	/* barrier for the test: connections are served in order, so once
	 * this is answered every earlier command has been logged */
	if (r == 6 && !memcmp(buff, "__sync", 6)) {
		(void)!write(s, "ok", 2);
		return;
	}
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS ||
	    ((struct ucred *)CMSG_DATA(c))->uid != f->require_uid)
		return; /* "Permission denied for user to connect to socket." */
	pthread_mutex_lock(&f->mu);
	if (f->nlog < 32)
		snprintf(f->log[f->nlog++], sizeof(f->log[0]), "%.*s", (int)r, buff);
	buff[r < (ssize_t)sizeof(buff) ? r : (ssize_t)sizeof(buff) - 1] = '\0';
	if (strncmp(buff, "settings ", 9) == 0)
		fake_settings(f, buff + 9);
	if (strncmp(buff, "setup", 5) == 0)
		fake_setup(f, s);
	pthread_mutex_unlock(&f->mu);
}

static void *fake_loop(void *arg)
{
	struct fakeib *f = arg;

	for (;;) {
		int s = accept(f->lfd, NULL, NULL);

		if (s < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (f->stop) {
			close(s);
			break;
		}
		fake_handle(f, s);
		close(s);
	}
	return NULL;
}

/* Start the daemon on a socket file (path) or, with path NULL, the
 * abstract all-zero address. Returns -1 if the address is taken. */
static int fake_start(struct fakeib *f, const char *path)
{
	int one = 1;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->sleep_s = 10;
	f->require_uid = geteuid() == 0 ? 0 : geteuid();
	f->addr.sun_family = AF_UNIX;
	if (path)
		snprintf(f->addr.sun_path, sizeof(f->addr.sun_path), "%s", path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&f->addr, sizeof(f->addr)) < 0) {
		if (f->lfd >= 0)
			close(f->lfd);
		return -1;
	}
	setsockopt(f->lfd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	listen(f->lfd, 1);
	pthread_create(&f->th, NULL, fake_loop, f);
	return 0;
}

static void fake_stop(struct fakeib *f)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	f->stop = 1;
	if (s >= 0) {
		connect(s, (struct sockaddr *)&f->addr, sizeof(f->addr));
		close(s);
	}
	pthread_join(f->th, NULL);
	close(f->lfd);
	free(f->ui);
}

/* `settings` gets no reply, so the client returns before the fake has read
 * it: wait for the fake to serve everything sent so far. */
static void fake_sync(struct fakeib *f)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	char ok[4];

	if (s < 0)
		return;
	if (connect(s, (struct sockaddr *)&f->addr, sizeof(f->addr)) == 0 &&
	    write(s, "__sync", 6) == 6)
		(void)!read(s, ok, sizeof(ok));
	close(s);
}

static const char *last_cmd(struct fakeib *f)
{
	static char buf[512];

	fake_sync(f);
	pthread_mutex_lock(&f->mu);
	snprintf(buf, sizeof(buf), "%s", f->nlog ? f->log[f->nlog - 1] : "");
	pthread_mutex_unlock(&f->mu);
	return buf;
}

#define T 3000 /* ms */

static void test_parse(void)
{
	hwloc_bitmap_t b = hwloc_bitmap_alloc();
	struct pv_err e = { 0 };
	int irqs[4], n, sl;
	char list[64];
	static const char *const bad[] = {
		"",
		"SLEEP",
		"SLEEP x BANNED 0",
		"SLEEP 10",
		"SLEEP 10 BANNED",
		"SLEEP 10 IRQ 4 LOAD 1 BANNED 1",
		"SLEEP 10 BANNED zz",
		"SLEEP 10 BANNED 1 extra",
		"HELLO 10 BANNED 1",
		"SLEEP 10 IRQ x LOAD 0 DIFF 0 CLASS 0 BANNED 0",
	};

	CHECK(pv_irqb_parse_setup("SLEEP 10 BANNED 00000000", &sl, b, irqs, 4, &n, &e) == 0, "%s",
	      e.msg);
	CHECK(sl == 10 && n == 0 && hwloc_bitmap_iszero(b), "plain");
	CHECK(pv_irqb_parse_setup(
		      "SLEEP 3 IRQ 45 LOAD 0 DIFF 0 CLASS 5 IRQ 46 LOAD 18446744073709551615 "
		      "DIFF 3 CLASS 0 BANNED 00000001,0000000f",
		      &sl, b, irqs, 4, &n, &e) == 0,
	      "%s", e.msg);
	pv_cpulist_format(list, sizeof(list), b);
	CHECK(sl == 3 && n == 2 && irqs[0] == 45 && irqs[1] == 46, "irqs");
	CHECK_STR(list, "0-3,32");
	CHECK(pv_irqb_parse_setup(
		      "SLEEP 10 IRQ 1 LOAD 0 DIFF 0 CLASS 0 IRQ 2 LOAD 0 DIFF 0 CLASS 0 "
		      "BANNED 0",
		      &sl, NULL, irqs, 1, &n, &e) < 0 &&
		      e.errnum == E2BIG,
	      "too many IRQs");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(pv_irqb_parse_setup(bad[i], &sl, b, irqs, 4, &n, &e) < 0 &&
			      e.errnum == EPROTO,
		      "'%s' refused", bad[i]);
	hwloc_bitmap_free(b);
}

static void test_not_running(void)
{
	struct pv_err e = { 0 };
	char buf[64] = "junk";
	bool running = true;
	int irqs[4], n = 7;

	fr_new();
	CHECK(pv_irqbalance_get_banned(buf, sizeof(buf), &running, &e) == 0, "%s", e.msg);
	CHECK(!running && buf[0] == '\0', "not running");
	CHECK(pv_irqbalance_set_banned("8-15", &e) == 0, "%s", e.msg);
	CHECK(pv_irqbalance_get_banned_irqs(irqs, 4, &n, &running, &e) == 0 && !running && n == 0,
	      "no irqs");
	CHECK(pv_irqbalance_set_banned_irqs(irqs, 0, &e) == 0, "%s", e.msg);
	/* A leftover socket file of a dead daemon, and one of another program. */
	fr_put("/run/irqbalance/irqbalance999.sock", "");
	fr_put("/proc/1000/comm", "bash\n");
	fr_put("/run/irqbalance/irqbalance1000.sock", "");
	CHECK(pv_irqbalance_get_banned(buf, sizeof(buf), &running, &e) == 0 && !running, "stale");
	fr_done();
}

static void test_running(void)
{
	struct fakeib f;
	struct pv_irqb ib;
	struct pv_err e = { 0 };
	char path[160], buf[128];
	bool running = false;
	int irqs[16], n;

	fr_new();
	fr_put("/proc/4242/comm", "irqbalance\n");
	fr_put("/run/irqbalance/irqbalance7.sock", ""); /* stale, pid 7 has no comm */
	snprintf(path, sizeof(path), "%s/run/irqbalance/irqbalance4242.sock", fr_root);
	if (fake_start(&f, path) < 0) {
		CHECK(0, "fake irqbalance on %s", path);
		return;
	}
	fake_cpulist("2-3", f.dflt); /* as if booted with isolcpus=2-3 */
	f.irqs[f.nirq++] = 5;	     /* --banirq=5 */

	CHECK(pv_irqb_find(&ib, &e) == 0 && ib.running && !ib.abstract && ib.pid == 4242 &&
		      strcmp(ib.path, path) == 0,
	      "found %s", ib.path);
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) == 0, "%s", e.msg);
	CHECK(running, "running");
	CHECK_STR(buf, "2-3");
	CHECK_STR(last_cmd(&f), "setup");

	CHECK(pv_irqb_set_banned("40-47,8-15", T, &e) == 0, "%s", e.msg);
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "8-15,40-47");
	pthread_mutex_lock(&f.mu);
	CHECK(f.nlog >= 2, "log");
	CHECK_STR(f.log[f.nlog - 2], "settings cpus 8-15,40-47");
	pthread_mutex_unlock(&f.mu);

	/* A wide host: banned CPUs past the first 32-bit chunk. */
	CHECK(pv_irqb_set_banned("0-63,200", T, &e) == 0, "%s", e.msg);
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "0-63,200");

	CHECK(pv_irqb_set_banned(NULL, T, &e) == 0, "%s", e.msg);
	CHECK_STR(last_cmd(&f), "settings cpus NULL");
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "2-3");
	CHECK(pv_irqb_set_banned("", T, &e) == 0 && strcmp(last_cmd(&f), "settings cpus NULL") == 0,
	      "empty list -> NULL");

	n = f.nlog;
	CHECK(pv_irqb_set_banned("8-x", T, &e) < 0, "bad list refused");
	CHECK(pv_irqb_set_banned("0-3,", T, &e) < 0, "trailing comma refused");
	CHECK_INT(f.nlog, n);

	CHECK(pv_irqb_get_banned_irqs(irqs, 16, &n, &running, T, &e) == 0, "%s", e.msg);
	CHECK(running && n == 1 && irqs[0] == 5, "banirq 5: n=%d", n);
	irqs[1] = 107;
	irqs[2] = 0; /* never sent: it would end irqbalance's list */
	irqs[3] = 108;
	CHECK(pv_irqb_set_banned_irqs(irqs, 4, T, &e) == 0, "%s", e.msg);
	CHECK_STR(last_cmd(&f), "settings ban irqs 5 107 108");
	CHECK(pv_irqb_get_banned_irqs(irqs, 16, &n, &running, T, &e) == 0, "%s", e.msg);
	CHECK(n == 3 && irqs[0] == 5 && irqs[1] == 107 && irqs[2] == 108, "three banned: %d", n);
	CHECK(pv_irqb_set_banned_irqs(irqs, 0, T, &e) == 0, "%s", e.msg);
	CHECK_STR(last_cmd(&f), "settings ban irqs NONE");
	CHECK(pv_irqb_get_banned_irqs(irqs, 16, &n, &running, T, &e) == 0 && n == 0, "none");
	{
		int many[200];

		for (int i = 0; i < 200; i++)
			many[i] = 10000 + i;
		n = f.nlog;
		CHECK(pv_irqb_set_banned_irqs(many, 200, T, &e) < 0 && e.errnum == E2BIG,
		      "over irqbalance's 500-byte buffer");
		CHECK_INT(f.nlog, n);
	}

	/* The daemon answers root only. */
	f.require_uid = 4321;
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) < 0 && e.errnum == EACCES,
	      "refused: %s", e.msg);
	f.require_uid = geteuid() == 0 ? 0 : geteuid();

	/* irqbalance <= 1.9.3 answers only between its sleeps: time out. */
	{
		struct timespec a, b;
		long ms;

		f.stall_ms = 1500;
		clock_gettime(CLOCK_MONOTONIC, &a);
		CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, 300, &e) < 0 &&
			      e.errnum == ETIMEDOUT,
		      "timeout: %s", e.msg);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		CHECK(ms < 1200, "gave up after %ld ms", ms);
		f.stall_ms = 0;
	}
	fake_stop(&f);

	/* The socket file stays behind a stopped daemon whose pid lives on. */
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) < 0 && e.errnum == ECONNREFUSED,
	      "dead socket: %s", e.msg);
	fr_done();
}

/* /proc/net/unix with a listener on the all-zero abstract address. */
static void put_abstract_listener(void)
{
	char at[PV_IRQB_SUN_PATH + 1];

	memset(at, '@', PV_IRQB_SUN_PATH);
	at[PV_IRQB_SUN_PATH] = '\0';
	fr_put("/proc/net/unix",
	       "Num       RefCount Protocol Flags    Type St Inode Path\n"
	       "0000000000000000: 00000003 00000000 00000000 0001 03  1214\n"
	       "0000000000000000: 00000002 00000000 00010000 0001 01  5151 %s\n", at);
}

/* A listener that is not root: forked, binds (as root, so the socket file
 * is root's) then drops to uid 65534 before listen(), which is when the
 * kernel records the credentials a client sees. It reports on the pipe how
 * many bytes the first connection sent it. */
static pid_t evil_start(const char *path, int *report)
{
	int p[2], ready[2];
	pid_t pid;
	char c;

	if (pipe(p) < 0 || pipe(ready) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int l = socket(AF_UNIX, SOCK_STREAM, 0), s;
		char buf[512];
		ssize_t n;

		if (path)
			snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || setegid(65534) < 0 ||
		    seteuid(65534) < 0 || listen(l, 4) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		s = accept(l, NULL, NULL);
		n = s < 0 ? -1 : read(s, buf, sizeof(buf));
		(void)!write(p[1], &n, sizeof(n));
		_exit(0);
	}
	close(p[1]);
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		close(p[0]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return -1;
	}
	close(ready[0]);
	*report = p[0];
	return pid;
}

static void evil_stop(pid_t pid, int report)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(report);
}

/* Issue 15 item 11: irqbalance is who listens as root on a socket only
 * root could have made, not a process called irqbalance. */
static void test_impostors(void)
{
	struct fakeib f;
	struct pv_irqb ib;
	struct pv_err e = { 0 };
	char path[160], buf[64], dir[160], other[160];
	bool running = true;
	int report;
	ssize_t got = -2;
	pid_t evil;

	if (geteuid() != 0) {
		printf("not ok test_impostors: needs root (chown, seteuid)\n");
		tap_fail++;
		return;
	}
	/* a process named irqbalance with no socket is nothing to talk to */
	fr_new();
	fr_put("/proc/4244/comm", "irqbalance\n");
	fr_put("/proc/net/unix", "Num       RefCount Protocol Flags    Type St Inode Path\n");
	CHECK(pv_irqb_find(&ib, &e) == 0 && !ib.running, "a comm of irqbalance is not irqbalance");

	/* a socket file of another user, a link, a directory others can write */
	fr_dir("/proc/4242");
	snprintf(path, sizeof(path), "%s/run/irqbalance/irqbalance4242.sock", fr_root);
	fr_dir("/run/irqbalance");
	if (fake_start(&f, path) < 0) {
		CHECK(0, "fake irqbalance on %s", path);
		fr_done();
		return;
	}
	CHECK(pv_irqb_find(&ib, &e) == 0 && ib.running && ib.pid == 4242, "root's own: found");
	CHECK(chown(path, 65534, 65534) == 0, "chown");
	CHECK(pv_irqb_find(&ib, &e) == 0 && !ib.running, "a socket of uid 65534: not used");
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) == 0 && !running,
	      "nothing asked of it");
	CHECK(chown(path, 0, 0) == 0, "chown");
	snprintf(dir, sizeof(dir), "%s/run/irqbalance", fr_root);
	CHECK(chmod(dir, 0777) == 0, "chmod");
	CHECK(pv_irqb_find(&ib, &e) == 0 && !ib.running, "in a world-writable dir: not used");
	CHECK(chmod(dir, 0755) == 0, "chmod");
	fake_stop(&f);
	unlink(path);
	/* the real socket elsewhere, a link to it where irqbalance's would be */
	snprintf(other, sizeof(other), "%s/elsewhere.sock", fr_root);
	if (fake_start(&f, other) == 0) {
		fr_symlink(other, "/run/irqbalance/irqbalance1.sock");
		fr_dir("/proc/1");
		CHECK(pv_irqb_find(&ib, &e) == 0 && !ib.running, "a link to a socket: not followed");
		fake_stop(&f);
		fr_rm("/run/irqbalance/irqbalance1.sock");
	} else {
		CHECK(0, "fake irqbalance on %s", other);
	}

	/* a root-owned socket whose listener is not root: nothing is sent */
	evil = evil_start(path, &report);
	CHECK(evil > 0, "impostor started");
	if (evil > 0) {
		CHECK(pv_irqb_find(&ib, &e) == 0 && ib.running, "its file looks right");
		CHECK(pv_irqb_set_banned("0-3", T, &e) < 0 && e.errnum == EPERM, "refused: %s", e.msg);
		CHECK(strstr(e.msg, "uid 65534, not root: not irqbalance") != NULL, "%s", e.msg);
		CHECK(read(report, &got, sizeof(got)) == sizeof(got) && got == 0,
		      "the impostor got %zd bytes", got);
		evil_stop(evil, report);
	}
	unlink(path);

	/* the abstract address taken by a user: not irqbalance */
	put_abstract_listener();
	evil = evil_start(NULL, &report);
	if (evil < 0) {
		printf("# abstract irqbalance address in use here: impostor case skipped\n");
	} else {
		CHECK(pv_irqb_find(&ib, &e) == 0 && !ib.running, "an abstract listener of uid 65534");
		CHECK(read(report, &got, sizeof(got)) == sizeof(got) && got == 0,
		      "the impostor got %zd bytes", got);
		evil_stop(evil, report);
	}
	fr_done();
}

static void test_abstract(void)
{
	struct fakeib f;
	struct pv_irqb ib;
	struct pv_err e = { 0 };
	char buf[64];
	bool running;

	fr_new();
	put_abstract_listener();
	if (fake_start(&f, NULL) < 0) {
		printf("# abstract irqbalance address in use here: skipped\n");
		fr_done();
		return;
	}
	fake_cpulist("1", f.dflt);
	CHECK(pv_irqb_find(&ib, &e) == 0 && ib.running && ib.abstract && ib.pid == getpid(),
	      "abstract, pid %d from its credentials: %s", (int)ib.pid, e.msg);
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "1");
	CHECK(pv_irqb_set_banned("0", T, &e) == 0, "%s", e.msg);
	CHECK(pv_irqb_get_banned(buf, sizeof(buf), &running, T, &e) == 0, "%s", e.msg);
	CHECK_STR(buf, "0");
	fake_stop(&f);
	fr_done();
}

int main(void)
{
	test_parse();
	test_not_running();
	test_running();
	test_abstract();
	test_impostors();
	return tap_done("test_irqbalance");
}
