/* fakekernel ROOT READYFILE: plays the kernel's part in a fake host tree
 * made by bench/mkhost.sh, so hookscripts can be run against it and judged
 * by the state they leave:
 *   - sys/bus/pci/drivers_probe and drivers/<drv>/{bind,unbind} become FIFOs;
 *     a BDF written to unbind removes the function's `driver` link, to bind
 *     or drivers_probe links it to driver_override (or, with none, back to
 *     the driver it had when this started); binding to vfio-pci makes
 *     dev/vfio/<group>, the last member leaving vfio-pci removes it.
 *   - driver_override written empty (or "\n") reads back "(null)".
 *   - nr_hugepages written moves free_hugepages by the same amount.
 * The kernel does these synchronously; this answers within microseconds,
 * after the write has returned. Exits on SIGTERM/SIGINT, putting regular
 * files back where the FIFOs were. Bench tooling: no project code. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXDEV 64
#define MAXDRV 32
#define MAXHP 64
#define P 4096

struct dev {
	char bdf[16];
	char native[64];
	int group;
	int wd;                 /* driver_override */
};
struct fifo {
	char path[P];
	char drv[64];           /* "" = drivers_probe */
	int bind;               /* 1 bind, 0 unbind */
	int fd;
};
struct hp {
	char dir[P];
	long nr;
	int wd;
};

static const char *root;
static struct dev devs[MAXDEV];
static int ndev;
static struct fifo fifos[2 * MAXDRV + 1];
static int nfifo;
static struct hp hps[MAXHP];
static int nhp;
static volatile sig_atomic_t stop;

/* snprintf that may cut: paths here are short, and a cut one just fails to open */
static void fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t n, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, n, f, ap);
	va_end(ap);
}

static void die(const char *what)
{
	fprintf(stderr, "fakekernel: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int readstr(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		buf[--r] = '\0';
	return 0;
}

static void writestr(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		fprintf(stderr, "fakekernel: write %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static struct dev *find_dev(const char *bdf)
{
	for (int i = 0; i < ndev; i++)
		if (!strcmp(devs[i].bdf, bdf))
			return &devs[i];
	return NULL;
}

static int bound_to(const struct dev *d, char *drv, size_t n)
{
	char path[P], target[P];
	ssize_t r;
	const char *b;

	fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver", root, d->bdf);
	r = readlink(path, target, sizeof(target) - 1);
	if (r < 0) {
		drv[0] = '\0';
		return 0;
	}
	target[r] = '\0';
	b = strrchr(target, '/');
	fmt(drv, n, "%s", b ? b + 1 : target);
	return 1;
}

static void group_node(const struct dev *d, int present)
{
	char path[P];

	fmt(path, sizeof(path), "%s/dev/vfio/%d", root, d->group);
	if (present) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0)
			close(fd);
		return;
	}
	for (int i = 0; i < ndev; i++) {
		char drv[64];

		if (devs[i].group == d->group && bound_to(&devs[i], drv, sizeof(drv)) &&
		    !strcmp(drv, "vfio-pci"))
			return;
	}
	unlink(path);
}

static void bind_dev(struct dev *d, const char *drv)
{
	char link[P], target[P], now[64];

	if (bound_to(d, now, sizeof(now)) || !*drv)
		return;
	fmt(link, sizeof(link), "%s/sys/bus/pci/devices/%s/driver", root, d->bdf);
	fmt(target, sizeof(target), "../../../../bus/pci/drivers/%s", drv);
	if (symlink(target, link) < 0)
		fprintf(stderr, "fakekernel: bind %s to %s: %s\n", d->bdf, drv, strerror(errno));
	if (!strcmp(drv, "vfio-pci"))
		group_node(d, 1);
}

static void probe_dev(struct dev *d)
{
	char path[P], ovr[64];

	fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver_override", root, d->bdf);
	if (readstr(path, ovr, sizeof(ovr)) < 0 || !*ovr || !strcmp(ovr, "(null)"))
		fmt(ovr, sizeof(ovr), "%s", d->native);
	bind_dev(d, ovr);
}

static void unbind_dev(struct dev *d, const char *drv)
{
	char link[P], now[64];

	if (!bound_to(d, now, sizeof(now)) || strcmp(now, drv))
		return;
	fmt(link, sizeof(link), "%s/sys/bus/pci/devices/%s/driver", root, d->bdf);
	unlink(link);
	if (!strcmp(drv, "vfio-pci"))
		group_node(d, 0);
}

/* Writes arrive whole (one write(2) each, shorter than PIPE_BUF) but may be
 * read back to back: take every 12-character BDF in the chunk. */
static void fifo_input(struct fifo *f)
{
	char buf[4096];
	ssize_t r = read(f->fd, buf, sizeof(buf) - 1);

	if (r <= 0)
		return;
	buf[r] = '\0';
	for (char *p = buf; *p;) {
		char bdf[16];
		struct dev *d;

		p += strspn(p, " \n\t");
		if (strlen(p) < 12)
			break;
		fmt(bdf, sizeof(bdf), "%.12s", p);
		p += 12;
		if (!(d = find_dev(bdf)))
			continue;
		if (!f->drv[0])
			probe_dev(d);
		else if (f->bind)
			bind_dev(d, f->drv);
		else
			unbind_dev(d, f->drv);
	}
}

static void make_fifo(const char *path, const char *drv, int bind)
{
	struct fifo *f = &fifos[nfifo++];

	fmt(f->path, sizeof(f->path), "%s", path);
	fmt(f->drv, sizeof(f->drv), "%s", drv);
	f->bind = bind;
	unlink(path);
	if (mkfifo(path, 0200) < 0)
		die(path);
	/* O_RDWR: never EOF when a writer closes, never a blocked open */
	f->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (f->fd < 0)
		die(path);
}

static void scan_devices(int ino)
{
	char path[P];
	DIR *d;
	struct dirent *de;

	fmt(path, sizeof(path), "%s/sys/bus/pci/devices", root);
	if (!(d = opendir(path)))
		die(path);
	while ((de = readdir(d)) && ndev < MAXDEV) {
		struct dev *v = &devs[ndev];
		char p2[P], target[P];
		ssize_t r;

		if (de->d_name[0] == '.' || strlen(de->d_name) != 12)
			continue;
		fmt(v->bdf, sizeof(v->bdf), "%s", de->d_name);
		bound_to(v, v->native, sizeof(v->native));
		fmt(p2, sizeof(p2), "%s/%s/iommu_group", path, de->d_name);
		r = readlink(p2, target, sizeof(target) - 1);
		target[r > 0 ? r : 0] = '\0';
		v->group = r > 0 ? atoi(strrchr(target, '/') + 1) : -1;
		fmt(p2, sizeof(p2), "%s/%s/driver_override", path, de->d_name);
		v->wd = inotify_add_watch(ino, p2, IN_CLOSE_WRITE);
		ndev++;
	}
	closedir(d);
}

static void scan_drivers(void)
{
	char path[P], f[P + 64];
	DIR *d;
	struct dirent *de;

	fmt(path, sizeof(path), "%s/sys/bus/pci/drivers", root);
	if (!(d = opendir(path)))
		die(path);
	while ((de = readdir(d)) && nfifo < 2 * MAXDRV) {
		if (de->d_name[0] == '.')
			continue;
		fmt(f, sizeof(f), "%s/%s/bind", path, de->d_name);
		make_fifo(f, de->d_name, 1);
		fmt(f, sizeof(f), "%s/%s/unbind", path, de->d_name);
		make_fifo(f, de->d_name, 0);
	}
	closedir(d);
	fmt(path, sizeof(path), "%s/sys/bus/pci/drivers_probe", root);
	make_fifo(path, "", 0);
}

static void scan_hugepages(int ino)
{
	char buf[64];

	for (int n = 0; n < 64 && nhp < MAXHP; n++) {
		static const char *const sz[] = { "1048576", "2048" };

		for (int s = 0; s < 2; s++) {
			struct hp *h = &hps[nhp];
			char p2[P + 32];

			fmt(h->dir, sizeof(h->dir),
				 "%s/sys/devices/system/node/node%d/hugepages/hugepages-%skB", root, n,
				 sz[s]);
			fmt(p2, sizeof(p2), "%s/nr_hugepages", h->dir);
			if (readstr(p2, buf, sizeof(buf)) < 0)
				continue;
			h->nr = atol(buf);
			h->wd = inotify_add_watch(ino, p2, IN_CLOSE_WRITE);
			nhp++;
		}
	}
}

static void inotify_input(int ino)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t r = read(ino, buf, sizeof(buf));

	for (char *p = buf; r > 0 && p < buf + r;) {
		struct inotify_event *ev = (struct inotify_event *)p;
		char path[P + 32], v[64];

		p += sizeof(*ev) + ev->len;
		for (int i = 0; i < ndev; i++) {
			if (devs[i].wd != ev->wd)
				continue;
			fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver_override", root,
				 devs[i].bdf);
			if (readstr(path, v, sizeof(v)) == 0 && !*v)
				writestr(path, "(null)\n");
		}
		for (int i = 0; i < nhp; i++) {
			char fr[P + 32];
			long nr, fv;

			if (hps[i].wd != ev->wd)
				continue;
			fmt(path, sizeof(path), "%s/nr_hugepages", hps[i].dir);
			fmt(fr, sizeof(fr), "%s/free_hugepages", hps[i].dir);
			if (readstr(path, v, sizeof(v)) < 0 || (nr = atol(v)) == hps[i].nr)
				continue;
			fv = readstr(fr, v, sizeof(v)) == 0 ? atol(v) : 0;
			fv += nr - hps[i].nr;
			fmt(v, sizeof(v), "%ld\n", fv < 0 ? 0 : fv);
			writestr(fr, v);
			hps[i].nr = nr;
		}
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[2 * MAXDRV + 2];
	struct sched_param sp = { .sched_priority = 10 };
	struct sigaction sa = { .sa_handler = on_signal };
	int ino, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: fakekernel ROOT READYFILE\n");
		return 2;
	}
	root = argv[1];
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* answer at once, as the kernel would: not queued behind the writer */
	sched_setscheduler(0, SCHED_FIFO, &sp);
	if ((ino = inotify_init1(IN_CLOEXEC)) < 0)
		die("inotify_init1");
	scan_devices(ino);
	scan_drivers();
	scan_hugepages(ino);
	pfd[0] = (struct pollfd){ .fd = ino, .events = POLLIN };
	for (int i = 0; i < nfifo; i++)
		pfd[i + 1] = (struct pollfd){ .fd = fifos[i].fd, .events = POLLIN };
	if ((fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die(argv[2]);
	close(fd);
	while (!stop) {
		if (poll(pfd, (nfds_t)nfifo + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		/* FIFOs first: a bind must land before the override write after it is judged */
		for (int i = 0; i < nfifo; i++)
			if (pfd[i + 1].revents & POLLIN)
				fifo_input(&fifos[i]);
		if (pfd[0].revents & POLLIN)
			inotify_input(ino);
	}
	for (int i = 0; i < nfifo; i++) {
		close(fifos[i].fd);
		unlink(fifos[i].path);
		fd = open(fifos[i].path, O_WRONLY | O_CREAT | O_CLOEXEC, 0200);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
