/* The agent seen from outside: post-start starts it detached, post-stop
 * stops it, `pvepin status` reads what it publishes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/json.h"
#include "common/opts.h"
#include "engine/threads.h"
#include "engine/agent_ctl.h"

/* ------------------------------------------------------------ stat file */

static const struct {
	const char *key;
	size_t off;
} stat_keys[] = {
#define K(f) { #f, offsetof(struct pv_agent_stats, f) }
	K(threads),  K(irqs),	   K(cgroups),	    K(new_threads), K(repins),
	K(new_irqs), K(irq_fixes), K(cpuset_fixes), K(refused),	    K(held_off),
	K(errors),   K(lock_busy), K(events),	    K(ticks),	    K(cpu_ms),
#undef K
};

#define NKEYS (sizeof(stat_keys) / sizeof(stat_keys[0]))

static long *stat_field(struct pv_agent_stats *st, size_t i)
{
	return (long *)((char *)st + stat_keys[i].off);
}

/* Free text on one line. */
static void one_line(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < n && src[i]; i++)
		dst[i] = (unsigned char)src[i] < ' ' ? ' ' : src[i];
	dst[i] = '\0';
}

int pv_agent_stat_format(char *buf, size_t n, const struct pv_agent_info *ai)
{
	struct pv_agent_stats st = ai->st;
	char last[sizeof(ai->last)], why[sizeof(ai->why)];
	size_t len;
	int w;

	one_line(last, sizeof(last), ai->last);
	one_line(why, sizeof(why), ai->why);
	w = snprintf(buf, n, "pid=%d\nqemu=%d\nstate=%s\nmode=%s\nstarted=%lld\nupdated=%lld\n",
		     (int)ai->pid, (int)ai->qemu, ai->state, ai->mode, ai->started, ai->updated);
	for (size_t i = 0; w >= 0 && (size_t)w < n && i < NKEYS; i++) {
		len = (size_t)w;
		w = (int)len + snprintf(buf + len, n - len, "%s=%ld\n", stat_keys[i].key,
					*stat_field(&st, i));
	}
	if (w >= 0 && (size_t)w < n) {
		len = (size_t)w;
		w = (int)len + snprintf(buf + len, n - len, "last=%s\nwhy=%s\n", last, why);
	}
	return w < 0 || (size_t)w >= n ? -1 : w;
}

static void parse_kv(struct pv_agent_info *ai, const char *k, const char *v)
{
	long n = 0;

	pv_parse_long(v, LONG_MIN, LONG_MAX, &n);
	if (!strcmp(k, "pid"))
		ai->pid = (pid_t)n;
	else if (!strcmp(k, "qemu"))
		ai->qemu = (pid_t)n;
	else if (!strcmp(k, "state"))
		snprintf(ai->state, sizeof(ai->state), "%s", v);
	else if (!strcmp(k, "mode"))
		snprintf(ai->mode, sizeof(ai->mode), "%s", v);
	else if (!strcmp(k, "started"))
		ai->started = n;
	else if (!strcmp(k, "updated"))
		ai->updated = n;
	else if (!strcmp(k, "last"))
		snprintf(ai->last, sizeof(ai->last), "%s", v);
	else if (!strcmp(k, "why"))
		snprintf(ai->why, sizeof(ai->why), "%s", v);
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(k, stat_keys[i].key))
			*stat_field(&ai->st, i) = n;
}

/* Unknown keys are skipped: an older status reading a newer agent's file. */
int pv_agent_stat_parse(const char *text, struct pv_agent_info *ai)
{
	char line[512];
	int nkeys = 0;

	while (*text) {
		size_t len = strcspn(text, "\n");
		char *eq;

		one_line(line, len + 1 < sizeof(line) ? len + 1 : sizeof(line), text);
		text += len + (text[len] == '\n');
		if (!(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		parse_kv(ai, line, eq + 1);
		nkeys++;
	}
	return nkeys ? 0 : -1;
}

/* ------------------------------------------------------------ processes */

static int pidfile_path(char *buf, size_t n, int vmid, const char *suffix, struct pv_err *e)
{
	return pv_path(buf, n, e, "/run/pvepin/%d.agent%s", vmid, suffix);
}

/* The process is `pvepin ... agent VMID`: a pid from a pidfile may be
 * anyone's by now. pids are the real ones, under --root too. */
static bool is_agent(pid_t pid, int vmid)
{
	char path[64], buf[4096], vm[16];
	int fd;
	ssize_t r;
	bool seen = false;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	snprintf(vm, sizeof(vm), "%d", vmid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return false;
	buf[r] = '\0';
	for (char *p = buf; p < buf + r; p += strlen(p) + 1) {
		if (seen)
			return !strcmp(p, vm);
		seen = !strcmp(p, "agent");
	}
	return false;
}

static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t r = pread(fd, buf, sizeof(buf) - 1, 0);
	long v;

	if (r <= 0)
		return 0;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return pv_parse_long(buf, 1, INT_MAX, &v) == 0 ? (pid_t)v : 0;
}

/* Signal pid only while it is the agent: through a pidfd where there is
 * one, so a recycled pid cannot get it. */
static void signal_agent(pid_t pid, int vmid, int sig)
{
#ifdef SYS_pidfd_send_signal
	struct pv_err e;
	int pfd = pv_pidfd_open(pid, &e);

	if (pfd >= 0) {
		if (is_agent(pid, vmid))
			syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
		close(pfd);
		return;
	}
#endif
	if (is_agent(pid, vmid))
		kill(pid, sig);
}

/* The agent holds the flock until its last moment. */
static bool wait_unlocked(int fd, int ms)
{
	const struct timespec step = { 0, 10 * 1000 * 1000 };

	for (int waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return true;
		if (waited >= ms)
			return false;
		nanosleep(&step, NULL);
	}
}

/* Remove path only if it still is the file fd has open (a new agent may
 * have made a new one meanwhile). */
static void unlink_same(int fd, const char *path)
{
	struct stat a, b;

	if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev)
		unlink(path);
}

static void remove_stat(int vmid)
{
	char path[PV_PATH_MAX];

	if (pidfile_path(path, sizeof(path), vmid, ".stat", NULL) == 0)
		unlink(path);
	if (pidfile_path(path, sizeof(path), vmid, ".stat.tmp", NULL) == 0)
		unlink(path);
}

int pv_agent_stop(int vmid, int wait_ms, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	pid_t pid = 0;
	int fd, rc = 1;

	if (pv_opt.dry_run || pidfile_path(path, sizeof(path), vmid, "", e) < 0)
		return pv_opt.dry_run ? 1 : -1;
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno != ENOENT)
			return pv_fail(e, errno, "open %s", path);
		remove_stat(vmid);
		return 1;
	}
	if (!wait_unlocked(fd, 0)) {
		/* an agent that has just started may not have written its pid yet */
		for (int i = 0; i < 20 && !(pid = read_pid(fd)); i++)
			usleep(5000);
		if (pid)
			signal_agent(pid, vmid, SIGTERM);
		if (!wait_unlocked(fd, wait_ms) && pid) {
			signal_agent(pid, vmid, SIGKILL);
			if (!wait_unlocked(fd, 1000)) {
				close(fd);
				return pv_fail(e, 0, "the agent of VM %d (pid %d) does not end", vmid,
					       (int)pid);
			}
		}
		rc = 0;
	}
	unlink_same(fd, path);
	close(fd);
	remove_stat(vmid);
	return rc;
}

/* An agent spawned a moment ago may not have taken its pidfile yet (its
 * exec, under load, takes longer than the phase that spawned it needs to
 * fail): without the pid there is nothing to signal, and the guard of a
 * start refused at once would guard on until the task that ran the hook
 * ends. Wait for the pid first; only a failed start pays for it. */
int pv_agent_stop_spawned(int vmid, int wait_ms, struct pv_err *e)
{
	const struct timespec step = { 0, 10 * 1000 * 1000 };
	char path[PV_PATH_MAX];

	if (pv_opt.dry_run || pidfile_path(path, sizeof(path), vmid, "", e) < 0)
		return pv_opt.dry_run ? 1 : -1;
	for (int waited = 0; waited < wait_ms; waited += 10) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		pid_t pid = fd >= 0 ? read_pid(fd) : 0;

		if (fd >= 0)
			close(fd);
		if (pid > 0)
			break;
		nanosleep(&step, NULL);
	}
	return pv_agent_stop(vmid, wait_ms, e);
}

/* An absolute form of a path option: the agent runs from "/". */
static const char *absolute(const char *p, char *buf, size_t n)
{
	char cwd[PATH_MAX];

	if (p[0] == '/' || realpath(p, buf))
		return p[0] == '/' ? p : buf;
	if (!getcwd(cwd, sizeof(cwd)) || snprintf(buf, n, "%s/%s", cwd, p) >= (int)n)
		return p;
	return buf;
}

static void close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0)
		return;
#endif
	for (int fd = lowfd; fd < 65536; fd++)
		close(fd);
}

/* In the forked child: a session of its own, then a grandchild that is
 * no session leader (it can never get a terminal) and that init adopts,
 * with nothing of PVE's open: PVE reads the hook's stdout and stderr until
 * every holder closes them. */
static _Noreturn void detach_exec(char *const argv[])
{
	sigset_t none;
	pid_t pid;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0 || (pid = fork()) < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if ((fd = open("/dev/null", O_RDWR)) < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 ||
	    dup2(fd, 2) < 0)
		_exit(1);
	close_from(3);
	if (chdir("/") < 0)
		_exit(1);
	/* fault injection is meant for the phase under test, not the agent */
	unsetenv("PVEPIN_FAULT_AT");
	unsetenv("PVEPIN_KILL_AT");
	unsetenv("PVEPIN_KILL_UNDO_AT");
	execv("/proc/self/exe", argv);
	_exit(127);
}

struct spawn_args {
	char *argv[24];
	int n;
	char vm[16];
	char paths[4][PATH_MAX];
};

static void add_path_opt(struct spawn_args *s, const char *opt, const char *val, int k)
{
	if (!val || !*val)
		return;
	s->argv[s->n++] = (char *)opt;
	s->argv[s->n++] = (char *)absolute(val, s->paths[k], sizeof(s->paths[k]));
}

static int spawn(int vmid, pid_t starter, struct pv_err *e)
{
	struct spawn_args s = { .n = 0 };
	char who[16];
	pid_t pid;
	int st;

	s.argv[s.n++] = "pvepin";
	add_path_opt(&s, "--root", pv_opt.root, 0);
	add_path_opt(&s, "--topology", pv_opt.topology, 1);
	add_path_opt(&s, "--conf", pv_opt.conf, 2);
	add_path_opt(&s, "--policy", pv_opt.policy, 3);
	for (int v = 0; v < pv_opt.verbose && v < 3; v++)
		s.argv[s.n++] = "-v";
	snprintf(s.vm, sizeof(s.vm), "%d", vmid);
	s.argv[s.n++] = "agent";
	s.argv[s.n++] = s.vm;
	if (starter > 0) {
		snprintf(who, sizeof(who), "%d", (int)starter);
		s.argv[s.n++] = who;
	}
	s.argv[s.n] = NULL;
	fflush(NULL);
	if ((pid = fork()) < 0)
		return pv_fail(e, errno, "fork the agent");
	if (pid == 0)
		detach_exec(s.argv);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return pv_fail(e, errno, "wait for the agent's launcher");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return pv_fail(e, 0, "could not detach the agent (setsid, fork or /dev/null failed)");
	return 0;
}

int pv_agent_spawn(int vmid, struct pv_err *e)
{
	pid_t qpid;
	int rc;

	if (pv_opt.dry_run)
		return 0;
	if ((rc = pv_qemu_pid(vmid, &qpid, e)) != 0)
		return rc < 0 ? -1 : 0;
	return spawn(vmid, 0, e);
}

/* A shell between PVE and the hook (a wrapper script) ends with the hook:
 * the start is the process above it. */
static pid_t starter_of(pid_t pid)
{
	static const char *const shells[] = { "sh", "bash", "dash", "busybox" };
	char path[64], comm[32], stat[512];
	const char *p;
	int ppid;

	for (int depth = 0; depth < 4 && pid > 1; depth++) {
		bool shell = false;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (pv_read_attr(path, comm, sizeof(comm), NULL) < 0)
			return pid;
		for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
			shell |= !strcmp(comm, shells[i]);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (!shell || pv_read_attr(path, stat, sizeof(stat), NULL) < 0 ||
		    !(p = strrchr(stat, ')')) || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid <= 1)
			return pid;
		pid = ppid;
	}
	return pid;
}

int pv_agent_spawn_guard(int vmid, struct pv_err *e)
{
	if (pv_opt.dry_run || (pv_opt.root && pv_opt.root[0]))
		return 1;
	return spawn(vmid, starter_of(getppid()), e);
}

/* ------------------------------------------------------------ status */

int pv_agent_info(int vmid, struct pv_agent_info *ai, struct pv_err *e)
{
	char path[PV_PATH_MAX], buf[4096];
	bool any = false;
	int fd;

	memset(ai, 0, sizeof(*ai));
	if (pidfile_path(path, sizeof(path), vmid, "", e) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		ai->pid = read_pid(fd);
		ai->running = ai->pid > 0 && is_agent(ai->pid, vmid);
		close(fd);
		any = true;
	}
	if (pidfile_path(path, sizeof(path), vmid, ".stat", e) < 0)
		return -1;
	if (pv_read_file(path, buf, sizeof(buf), NULL) >= 0 && pv_agent_stat_parse(buf, ai) == 0)
		any = true;
	if (!ai->running && !strcmp(ai->state, "running"))
		snprintf(ai->state, sizeof(ai->state), "gone");
	return any ? 0 : 1;
}

static void hms(long long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !localtime_r(&tt, &tm) || !strftime(buf, n, "%H:%M:%S", &tm))
		snprintf(buf, n, "?");
}

static void print_json(FILE *f, const struct pv_agent_info *ai)
{
	struct pv_agent_stats st = ai->st;

	fprintf(f, "{\"running\":%s,\"pid\":%d,\"qemu\":%d,\"state\":", ai->running ? "true" : "false",
		(int)ai->pid, (int)ai->qemu);
	pv_json_str(f, ai->state);
	fputs(",\"mode\":", f);
	pv_json_str(f, ai->mode);
	fprintf(f, ",\"started\":%lld,\"updated\":%lld", ai->started, ai->updated);
	for (size_t i = 0; i < NKEYS; i++)
		fprintf(f, ",\"%s\":%ld", stat_keys[i].key, *stat_field(&st, i));
	fputs(",\"last\":", f);
	pv_json_str(f, ai->last);
	fputs(",\"why\":", f);
	pv_json_str(f, ai->why);
	fputc('}', f);
}

void pv_agent_info_print(FILE *f, const struct pv_agent_info *ai, bool json)
{
	const struct pv_agent_stats *s = &ai->st;
	char since[16];

	if (json) {
		print_json(f, ai);
		return;
	}
	if (!ai->running) {
		fprintf(f, "  agent: not running%s%s%s\n", ai->why[0] ? " (" : "", ai->why,
			ai->why[0] ? ")" : "");
		return;
	}
	hms(ai->started, since, sizeof(since));
	fprintf(f, "  agent: running, pid %d, since %s, new threads %s; watching %ld threads, "
		"%ld device IRQs, %ld cpusets\n", (int)ai->pid, since,
		!strcmp(ai->mode, "proc-connector") ? "by events"
		: !strcmp(ai->mode, "task-poll")    ? "by listing"
						    : "not watched",
		s->threads, s->irqs, s->cgroups);
	fprintf(f, "  agent: pinned %ld new threads, re-pinned %ld; steered %ld new IRQs, put back "
		"%ld; put back %ld cpusets; %ld refused, %ld held off, %ld errors; %ld ms CPU\n",
		s->new_threads, s->repins, s->new_irqs, s->irq_fixes, s->cpuset_fixes, s->refused,
		s->held_off, s->errors, s->cpu_ms);
	if (ai->last[0])
		fprintf(f, "  agent: last change %s\n", ai->last);
}
