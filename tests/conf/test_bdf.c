/* PCI address and vmid parsing: every accepted spelling, and rejections. */
#include <string.h>

#include "conf/bdf.h"
#include "tests/lib/tap.h"

static void accept(const char *s, bool allow_all, const char *want, bool all_fn)
{
	struct pv_err e = { 0 };
	struct pv_bdf b;
	char out[PV_BDF_LEN];
	int r = pv_bdf_parse(s, allow_all, &b, &e);

	CHECK(r == 0, "'%s' refused: %s", s, e.msg);
	if (r)
		return;
	pv_bdf_format(&b, out);
	CHECK_STR(out, want);
	CHECK(b.all_fn == all_fn, "'%s' all_fn %d", s, b.all_fn);
}

static void reject(const char *s, bool allow_all)
{
	struct pv_err e = { 0 };
	struct pv_bdf b;

	CHECK(pv_bdf_parse(s, allow_all, &b, &e) < 0, "'%s' accepted", s);
	CHECK(strstr(e.msg, "bad PCI address") != NULL, "'%s' message: %s", s, e.msg);
}

static void test_bdf(void)
{
	struct pv_bdf b;
	struct pv_err e = { 0 };

	accept("0000:81:00.0", false, "0000:81:00.0", false);
	accept("81:00.1", false, "0000:81:00.1", false);
	accept("0000:5D:1f.7", false, "0000:5d:1f.7", false);
	accept("abcd:ef:1a.3", false, "abcd:ef:1a.3", false);
	accept("FFFF:FF:1F.7", false, "ffff:ff:1f.7", false);
	accept("0000:81:00", true, "0000:81:00", true);
	accept("81:00", true, "0000:81:00", true);
	accept("81:00.0", true, "0000:81:00.0", false);

	CHECK(pv_bdf_parse("0001:02:03.4", false, &b, &e) == 0, "%s", e.msg);
	CHECK_INT(b.domain, 1);
	CHECK_INT(b.bus, 2);
	CHECK_INT(b.dev, 3);
	CHECK_INT(b.fn, 4);

	reject("", false);
	reject("0000:81:00", false); /* function needed */
	reject("81:00", false);
	reject("0000:81:20.0", false); /* device > 1f */
	reject("0000:81:00.8", false); /* function > 7 */
	reject("0000:81:00.", true);
	reject("0000:81:00.00", false);
	reject("00000:81:00.0", false);
	reject("000:81:00.0", false);
	reject("0000:8:00.0", false);
	reject("0000:811:00.0", false);
	reject("0000:81:0.0", false);
	reject("0000:81:00.0 ", false);
	reject(" 0000:81:00.0", false);
	reject("0000:81:00.0\n", false);
	reject("0000:g1:00.0", false);
	reject("../../../etc", true);
	reject("0000:81:00.0/../x", false);
	reject("0000-81-00.0", false);
	reject("0000:81:00:0", false);
	reject("0x00:81:00.0", false);
	reject("0000:81:00.0;0000:81:00.1", false);
	CHECK(pv_bdf_parse(NULL, true, &b, &e) < 0, "NULL accepted");
}

static void vmid_ok(const char *s, int want)
{
	struct pv_err e = { 0 };
	int v = 0;

	CHECK(pv_vmid_parse(s, &v, &e) == 0, "'%s' refused: %s", s, e.msg);
	CHECK_INT(v, want);
}

static void vmid_bad(const char *s)
{
	struct pv_err e = { 0 };
	int v = 12345;

	CHECK(pv_vmid_parse(s, &v, &e) < 0, "'%s' accepted", s);
	CHECK_INT(v, 12345);
	CHECK(strstr(e.msg, "vmid") != NULL, "message: %s", e.msg);
}

static void test_vmid(void)
{
	vmid_ok("100", 100);
	vmid_ok("101", 101);
	vmid_ok("999999999", 999999999);
	vmid_ok("123456", 123456);
	vmid_bad("");
	vmid_bad("99");
	vmid_bad("0");
	vmid_bad("0100");
	vmid_bad("+100");
	vmid_bad("-100");
	vmid_bad(" 100");
	vmid_bad("100 ");
	vmid_bad("100\n");
	vmid_bad("1000000000");
	vmid_bad("99999999999999999999");
	vmid_bad("1e3");
	vmid_bad("100abc");
	vmid_bad("../100");
	vmid_bad("0x100");
}

int main(void)
{
	test_bdf();
	test_vmid();
	return tap_done("test_bdf");
}
