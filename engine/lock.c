#include "engine/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/fsio.h"
#include "engine/journal.h"

int pv_lock_take(int timeout_s, struct pv_err *e)
{
	struct timespec step = { 0, 50 * 1000 * 1000 };
	char path[PV_PATH_MAX];
	int fd, waited_ms = 0;

	if (pv_rundir(e) < 0 || pv_path(path, sizeof(path), e, "/run/pvepin/lock") < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return pv_fail(e, errno, "open %s", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			pv_fail(e, errno, "lock %s", path);
			close(fd);
			return -1;
		}
		if (waited_ms == 1000)
			fprintf(stderr, "pvepin: waiting for %s (another pvepin phase runs)\n", path);
		if (waited_ms >= timeout_s * 1000) {
			close(fd);
			return pv_fail(e, 0, "gave up after %d s waiting for %s: another pvepin is stuck? "
				       "see `ps ax | grep pvepin`", timeout_s, path);
		}
		nanosleep(&step, NULL);
		waited_ms += 50;
	}
	return fd;
}

void pv_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
