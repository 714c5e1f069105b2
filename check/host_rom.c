/* romfile= of a hostpciN: QEMU loads it from /usr/share/kvm; it must be a
 * PCI option ROM (0x55AA, then a "PCIR" data structure naming the card). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "check/host_int.h"

/* Enough for the header vendor tools (nvflash, GPU-Z) put before the ROM. */
#define ROM_SCAN (256 * 1024)

struct rom {
	unsigned char *buf;
	size_t len;
	off_t size;
};

static int read_rom(const char *path, struct rom *rom, struct pv_err *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return pv_fail(e, errno, "open %s", path);
	if (fstat(fd, &st) < 0)
		return pv_fail(e, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return pv_fail(e, 0, "%s is not a regular file", path);
	rom->size = st.st_size;
	rom->buf = malloc(ROM_SCAN);
	if (!rom->buf)
		return pv_fail(e, ENOMEM, "read %s", path);
	rom->len = 0;
	while (rom->len < ROM_SCAN) {
		ssize_t r = read(fd, rom->buf + rom->len, ROM_SCAN - rom->len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return pv_fail(e, errno, "read %s", path);
		if (r == 0)
			break;
		rom->len += (size_t)r;
	}
	return 0;
}

static unsigned le16(const unsigned char *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

/* Offset of the PCI data structure of an image starting at off, or 0. */
static size_t pcir_at(const struct rom *rom, size_t off)
{
	size_t p;

	if (off + 0x1a > rom->len || rom->buf[off] != 0x55 || rom->buf[off + 1] != 0xaa)
		return 0;
	p = off + le16(rom->buf + off + 0x18);
	if (p == off || p + 8 > rom->len || memcmp(rom->buf + p, "PCIR", 4))
		return 0;
	return p;
}

static size_t find_image(const struct rom *rom)
{
	for (size_t off = 1; off + 0x1a <= rom->len; off++)
		if (pcir_at(rom, off))
			return off;
	return 0;
}

/* "vbios.rom" -> "vbios": the length of the name without ".rom". */
static int stem_len(const char *name)
{
	size_t n = strlen(name);

	if (n > 4 && !strcmp(name + n - 4, ".rom"))
		n -= 4;
	return (int)n;
}

static void check_rom(const struct hc *h, const struct hc_dev *d, struct pv_report *r)
{
	const struct pv_pcidev *dev = pv_topo_pci(h->t, d->bdf);
	struct rom rom = { 0 };
	char path[PV_PATH_MAX];
	struct pv_err e = { 0 };
	size_t p, skip;

	if (strchr(d->romfile, '/') || !strcmp(d->romfile, "..") || !strcmp(d->romfile, "."))
		return; /* the config parser refuses these already */
	if (pv_path(path, sizeof(path), &e, "/usr/share/kvm/%s", d->romfile) < 0 || read_rom(path, &rom, &e) < 0) {
		if (e.errnum == ENOENT)
			pv_report_add(r, PV_ERROR, "romfile", "VM %d hostpci%d: romfile=%s, but /usr/share/kvm/%s does "
				      "not exist: copy the ROM there (QEMU looks nowhere else) or drop romfile=",
				      d->vmid, d->slot, d->romfile, d->romfile);
		else
			pv_report_add(r, PV_ERROR, "romfile", "VM %d hostpci%d: romfile=%s cannot be read: %s: make "
				      "it a readable file", d->vmid, d->slot, d->romfile, e.msg);
		free(rom.buf);
		return;
	}
	p = pcir_at(&rom, 0);
	if (!p && (skip = find_image(&rom)))
		pv_report_add(r, PV_ERROR, "romfile",
			      "VM %d hostpci%d: /usr/share/kvm/%s has %zu bytes of header before the option ROM "
			      "(0x55AA at 0x%zx): strip them: `dd if=/usr/share/kvm/%s of=/usr/share/kvm/%.*s-stripped.rom "
			      "bs=%zu skip=1`, then romfile=%.*s-stripped.rom", d->vmid, d->slot, d->romfile, skip, skip,
			      d->romfile, stem_len(d->romfile), d->romfile, skip, stem_len(d->romfile), d->romfile);
	else if (!p)
		pv_report_add(r, PV_ERROR, "romfile",
			      "VM %d hostpci%d: /usr/share/kvm/%s is not a PCI option ROM (starts %02x %02x, not 55 aa, "
			      "or has no PCIR structure): dump the card's ROM again or take it from the vendor's "
			      "firmware, or drop romfile=", d->vmid, d->slot, d->romfile,
			      rom.len > 0 ? rom.buf[0] : 0, rom.len > 1 ? rom.buf[1] : 0);
	else if (dev && dev->vendor && (le16(rom.buf + p + 4) != dev->vendor || le16(rom.buf + p + 6) != dev->device))
		pv_report_add(r, PV_WARN, "romfile",
			      "VM %d hostpci%d: /usr/share/kvm/%s is a ROM for %04x:%04x but %s is %04x:%04x: use "
			      "this card's own ROM", d->vmid, d->slot, d->romfile, le16(rom.buf + p + 4),
			      le16(rom.buf + p + 6), d->bdf, dev->vendor, dev->device);
	else
		pv_report_add(r, PV_OK, "romfile", "VM %d hostpci%d: /usr/share/kvm/%s is a PCI option ROM for "
			      "%04x:%04x (%lld KiB)", d->vmid, d->slot, d->romfile, le16(rom.buf + p + 4),
			      le16(rom.buf + p + 6), (long long)rom.size / 1024);
	free(rom.buf);
}

void hc_check_romfiles(struct hc *h, struct pv_report *r)
{
	for (int i = 0; i < h->ndev; i++)
		if (h->dev[i].target && h->dev[i].romfile[0])
			check_rom(h, &h->dev[i], r);
}
