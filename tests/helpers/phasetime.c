/* phasetime OUT CMD [ARG...]: run CMD as PVE runs a hookscript (fork+exec,
 * stdin at EOF) and append "wall_us user_us sys_us exit" to OUT. The clock
 * starts before the spawn and stops when the process is reaped: what a
 * phase costs PVE, exec and dynamic loading included. Bench tooling.
 *
 * phasetime --now: print CLOCK_MONOTONIC in microseconds. The VM suite's
 * clock (tests/vm/lib.sh hook), which must not put a process between the
 * hookscript and its caller: pvepin's agent watches the process that ran
 * pre-start, and one that ends before QEMU appears means a start that
 * failed (tests/vm/cases/90-phasetime.sh). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	long long t0, t1;
	pid_t pid;
	int st, rc;
	FILE *out;

	if (argc == 2 && strcmp(argv[1], "--now") == 0)
		return printf("%lld\n", now_us()) < 0 || fflush(stdout) ? 1 : 0;
	if (argc < 3) {
		fprintf(stderr, "usage: phasetime OUT CMD [ARG...] | phasetime --now\n");
		return 2;
	}
	if (posix_spawn_file_actions_init(&fa) ||
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) {
		fprintf(stderr, "phasetime: cannot set up the spawn\n");
		return 127;
	}
	t0 = now_us();
	rc = posix_spawnp(&pid, argv[2], &fa, NULL, argv + 2, environ);
	if (rc) {
		fprintf(stderr, "phasetime: cannot run %s: %s\n", argv[2], strerror(rc));
		return 127;
	}
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("phasetime: wait4");
		return 127;
	}
	t1 = now_us();
	out = fopen(argv[1], "a");
	if (!out) {
		fprintf(stderr, "phasetime: %s: %s\n", argv[1], strerror(errno));
		return 127;
	}
	fprintf(out, "%lld %ld %ld %d\n", t1 - t0,
		ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
		ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec,
		WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return fclose(out) == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
