/* Refusals for the host's networks: the NIC behind the IPv4 or IPv6
 * default route, behind the route to any corosync ring address
 * (/etc/pve/corosync.conf), and behind the route to network storage
 * (storage.cfg's servers, portals and monitors; NFS, CIFS and Ceph
 * mounts). Routes from /proc/net/route and /proc/net/ipv6_route, own
 * IPv6 addresses from /proc/net/if_inet6; names through /etc/hosts only
 * (no resolver: it could block on the network the check is about). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "vmctx/safety_int.h"

#define CUTS "passing it through cuts the host off it (--force overrides)"

struct addr {
	int family;
	unsigned char b[16];
};

static char *slurp_proc(const char *rel)
{
	char path[PV_PATH_MAX];

	if (pv_path(path, sizeof(path), NULL, "%s", rel) < 0)
		return NULL;
	return pv_slurp(path, NULL, NULL);
}

static bool parse_ip(const char *s, struct addr *a)
{
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		a->family = AF_INET6;
		return true;
	}
	return false;
}

/* A host name through /etc/hosts (the first address listed for it). */
static bool from_hosts(const char *name, struct addr *a)
{
	_cleanup_free_ char *text = slurp_proc("/etc/hosts");
	char *save = NULL;

	for (char *ln = text ? strtok_r(text, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
		char *f = NULL, *fs, *ip = strtok_r(ln, " \t", &fs);

		if (!ip || ip[0] == '#')
			continue;
		while ((f = strtok_r(NULL, " \t", &fs)) && f[0] != '#')
			if (!strcasecmp(f, name))
				return parse_ip(ip, a);
	}
	return false;
}

/* "10.0.0.5", "10.0.0.5:6789", "[fd00::5]:6789", "fd00::5", "node2" */
static bool target_addr(const char *t, struct addr *a)
{
	char host[256];
	const char *c;

	if (t[0] == '[') {
		snprintf(host, sizeof(host), "%.*s", (int)strcspn(t + 1, "]"), t + 1);
	} else if ((c = strchr(t, ':')) && !strchr(c + 1, ':')) {
		snprintf(host, sizeof(host), "%.*s", (int)(c - t), t);
	} else {
		snprintf(host, sizeof(host), "%s", t);
	}
	return parse_ip(host, a) || from_hosts(host, a);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool hex16(const char *s, unsigned char *b)
{
	for (int i = 0; i < 16; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool prefix_match(const unsigned char *a, const unsigned char *net, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, (size_t)full))
		return false;
	return !rest || ((a[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The interface of the longest matching IPv4 route; bits -1 if none. */
static void route4(const struct addr *a, char *ifname, int *bits)
{
	_cleanup_free_ char *text = slurp_proc("/proc/net/route");
	char *save = NULL;
	unsigned ip;

	memcpy(&ip, a->b, 4);
	for (char *ln = text ? strtok_r(text, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
		char dev[32];
		unsigned dest, flags, mask;

		/* the kernel prints the __be32 values as host-order hex: the
		 * same bytes as inet_pton's, read back the same way */
		if (sscanf(ln, "%31s %x %*x %x %*s %*s %*s %x", dev, &dest, &flags, &mask) != 4 ||
		    !(flags & 1) || !strcmp(dev, "lo") || (ip & mask) != dest ||
		    __builtin_popcount(mask) <= *bits)
			continue;
		*bits = __builtin_popcount(mask);
		snprintf(ifname, 32, "%s", dev);
	}
}

/* IPv6: an own address names its interface (if_inet6); else the longest
 * matching route not on lo and not a reject route. */
static void route6(const struct addr *a, char *ifname, int *bits)
{
	_cleanup_free_ char *own = slurp_proc("/proc/net/if_inet6");
	_cleanup_free_ char *text = NULL;
	char *save = NULL;

	for (char *ln = own ? strtok_r(own, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
		char hex[33], dev[32];
		unsigned char b[16];

		if (sscanf(ln, "%32s %*x %*x %*x %*x %31s", hex, dev) == 2 && hex16(hex, b) &&
		    !memcmp(b, a->b, 16) && strcmp(dev, "lo")) {
			*bits = 128;
			snprintf(ifname, 32, "%s", dev);
			return;
		}
	}
	text = slurp_proc("/proc/net/ipv6_route");
	save = NULL;
	for (char *ln = text ? strtok_r(text, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
		char hex[33], dev[32];
		unsigned char net[16];
		unsigned plen, flags;

		if (sscanf(ln, "%32s %x %*s %*s %*s %*s %*s %*s %x %31s", hex, &plen, &flags, dev) != 4 ||
		    !hex16(hex, net) || plen > 128 || (flags & 0x200) || !strcmp(dev, "lo") ||
		    (int)plen <= *bits || !prefix_match(a->b, net, (int)plen))
			continue;
		*bits = (int)plen;
		snprintf(ifname, 32, "%s", dev);
	}
}

static void refuse_route(struct pv_plan *p, const struct addr *a, const char *what)
{
	char ifname[32] = "";
	int bits = -1;
	const char *bdf;

	if (a->family == AF_INET)
		route4(a, ifname, &bits);
	else
		route6(a, ifname, &bits);
	if (bits >= 0 && (bdf = pv_safety_netdev(p, ifname)))
		pv_safety_refuse(p, bdf, "carries %s (%s): " CUTS, what, ifname);
}

/* Each target of a list ("10.0.0.1 10.0.0.2", "a,b;c") */
static void refuse_targets(struct pv_plan *p, const char *list, const char *what)
{
	char copy[1024], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, " ,;", &save); t; t = strtok_r(NULL, " ,;", &save)) {
		struct addr a;
		char full[400];

		if (!target_addr(t, &a))
			continue;
		snprintf(full, sizeof(full), "%s %.64s", what, t);
		refuse_route(p, &a, full);
	}
}

static void default_routes(struct pv_plan *p)
{
	struct addr a4 = { .family = AF_INET }, a6 = { .family = AF_INET6 };

	/* 0.0.0.0 and :: match a default route only (and on-link ::/0) */
	refuse_route(p, &a4, "the IPv4 default route");
	refuse_route(p, &a6, "the IPv6 default route");
}

/* ringN_addr (corosync 3, PVE) and bindnetaddr (corosync 2) of every node:
 * the NIC that reaches them is the cluster network. */
static void corosync(struct pv_plan *p)
{
	_cleanup_free_ char *text = slurp_proc("/etc/pve/corosync.conf");
	char *save = NULL;

	for (char *ln = text ? strtok_r(text, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
		char key[64], val[256];

		if (sscanf(ln, " %63[^: ] : %255s", key, val) != 2)
			continue;
		if ((!strncmp(key, "ring", 4) && strstr(key, "_addr")) || !strcmp(key, "bindnetaddr"))
			refuse_targets(p, val, "corosync's ring address");
	}
}

static void storage_entry(void *arg, const char *type, const char *id, const char *key,
			  const char *val)
{
	static const char *const keys[] = { "server", "server2", "portal", "monhost", "target" };
	char what[200];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i])) {
			if (!strcmp(key, "target") && strcmp(type, "iscsi"))
				return;
			snprintf(what, sizeof(what), "storage '%.64s' (%s %s)", id, type, key);
			refuse_targets(arg, val, what);
			return;
		}
}

/* NFS "server:/path", CIFS "//server/share", Ceph "mon1,mon2:/" mounts */
static void net_mounts(struct pv_plan *p)
{
	_cleanup_free_ char *text = slurp_proc("/proc/self/mountinfo");
	char *save = NULL;

	for (char *ln = text ? strtok_r(text, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
		const char *dash = strstr(ln, " - ");
		char fstype[64], src[512], mnt[256], host[512], what[400];

		if (!dash || sscanf(dash + 3, "%63s %511s", fstype, src) != 2 ||
		    sscanf(ln, "%*s %*s %*s %*s %255s", mnt) != 1)
			continue;
		if (!strncmp(fstype, "nfs", 3) && src[0] != '[')
			snprintf(host, sizeof(host), "%.*s", (int)strcspn(src, ":"), src);
		else if (!strncmp(fstype, "nfs", 3))
			snprintf(host, sizeof(host), "%.*s", (int)strcspn(src, "]") + 1, src);
		else if (!strcmp(fstype, "cifs") || !strcmp(fstype, "smb3"))
			snprintf(host, sizeof(host), "%.*s", (int)strcspn(src + 2, "/"), src + 2);
		else if (!strcmp(fstype, "ceph"))
			snprintf(host, sizeof(host), "%.*s", (int)(strrchr(src, ':') ? strrchr(src, ':') - src : 0), src);
		else
			continue;
		snprintf(what, sizeof(what), "the %s mount %.128s from", fstype, mnt);
		refuse_targets(p, host, what);
	}
}

void pv_safety_nets(struct pv_plan *p)
{
	default_routes(p);
	corosync(p);
	pv_safety_storage(storage_entry, p);
	net_mounts(p);
}
