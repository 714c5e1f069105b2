/* phasetime OUT CMD [ARG...]: run CMD as PVE runs a hookscript (fork+exec,
 * stdin at EOF) and append "wall_us user_us sys_us exit" to OUT. The clock
 * starts before the spawn and stops when the process is reaped: what a
 * phase costs PVE, exec and dynamic loading included. Bench tooling. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
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

	if (argc < 3) {
		fprintf(stderr, "usage: phasetime OUT CMD [ARG...]\n");
		return 2;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	t0 = now_us();
	rc = posix_spawnp(&pid, argv[2], &fa, NULL, argv + 2, environ);
	if (rc) {
		fprintf(stderr, "phasetime: cannot run %s\n", argv[2]);
		return 127;
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		return 127;
	t1 = now_us();
	out = fopen(argv[1], "a");
	if (!out)
		return 127;
	fprintf(out, "%lld %ld %ld %d\n", t1 - t0,
		ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
		ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec,
		WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return fclose(out) == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
