/* The saved latency measurement: written by `topo --latency --json`, read
 * back by `check --latency FILE` and `topo --svg --latency FILE`. The reader
 * is strict JSON for this one document shape; unknown keys are skipped. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/json.h"
#include "conf/cpulist.h"
#include "pinner/latency.h"

int pv_latency_json(FILE *f, const struct pv_lat *m)
{
	fputs("{\"model\":", f);
	pv_json_str(f, m->model);
	fprintf(f, ",\"rounds\":%d,\"samples\":%d,\"min_samples\":%d,\"seconds\":%.3f,"
		   "\"unmeasured\":%ld,\"cpus\":[",
		m->rounds, m->samples, m->min_samples, m->seconds, m->unmeasured);
	for (int i = 0; i < m->n; i++)
		fprintf(f, "%s%u", i ? "," : "", m->cpu[i]);
	fputs("],\n\"ns\":[", f);
	for (int i = 0; i < m->n; i++) {
		fputs(i ? ",\n[" : "[", f);
		for (int j = 0; j < m->n; j++) {
			double v = pv_lat_at(m, i, j);

			if (j)
				fputc(',', f);
			if (v < 0)
				fputs("null", f);
			else
				fprintf(f, "%.1f", v);
		}
		fputc(']', f);
	}
	fputs("]}\n", f);
	return ferror(f) ? -1 : 0;
}

struct jp {
	const char *s, *p;
	struct pv_err *e;
	struct pv_lat *m;
	unsigned *cpus;
	int ncpus;
	bool have_ns;
};

static int jfail(struct jp *j, const char *what)
{
	return pv_fail(j->e, 0, "latency file: %s at offset %ld", what, (long)(j->p - j->s));
}

static void ws(struct jp *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static int expect(struct jp *j, char c)
{
	ws(j);
	if (*j->p != c) {
		char what[32];

		snprintf(what, sizeof(what), "expected '%c'", c);
		return jfail(j, what);
	}
	j->p++;
	return 0;
}

/* Next is c (consumed) or not. */
static bool peek(struct jp *j, char c)
{
	ws(j);
	if (*j->p != c)
		return false;
	j->p++;
	return true;
}

static int jstring(struct jp *j, char *out, size_t n)
{
	size_t k = 0;

	if (expect(j, '"') < 0)
		return -1;
	for (; *j->p != '"'; j->p++) {
		char c = *j->p;

		if (!c || (unsigned char)c < 0x20)
			return jfail(j, "unterminated string");
		if (c == '\\') {
			c = *++j->p;
			if (c == 'u') {
				for (int h = 0; h < 4; h++)
					if (!strchr("0123456789abcdefABCDEF", *++j->p) || !*j->p)
						return jfail(j, "bad \\u escape");
				c = '?';
			} else if (!c || !strchr("\"\\/bfnrt", c)) {
				return jfail(j, "bad escape");
			}
		}
		if (k + 1 < n)
			out[k++] = c;
	}
	j->p++;
	if (n)
		out[k] = '\0';
	return 0;
}

static int jnumber(struct jp *j, double *v)
{
	char *end;

	ws(j);
	if (*j->p != '-' && (*j->p < '0' || *j->p > '9'))
		return jfail(j, "expected a number");
	errno = 0;
	*v = strtod(j->p, &end);
	if (errno || end == j->p || *v != *v || *v > 1e15 || *v < -1e15)
		return jfail(j, "bad number");
	j->p = end;
	return 0;
}

static bool literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	ws(j);
	if (strncmp(j->p, word, n))
		return false;
	j->p += n;
	return true;
}

static int jskip(struct jp *j, int depth)
{
	double v;

	if (depth > 32)
		return jfail(j, "nested too deep");
	ws(j);
	if (*j->p == '"')
		return jstring(j, NULL, 0);
	if (literal(j, "null") || literal(j, "true") || literal(j, "false"))
		return 0;
	if (*j->p != '[' && *j->p != '{')
		return jnumber(j, &v);
	if (peek(j, '[')) {
		if (peek(j, ']'))
			return 0;
		do {
			if (jskip(j, depth + 1) < 0)
				return -1;
		} while (peek(j, ','));
		return expect(j, ']');
	}
	j->p++;
	if (peek(j, '}'))
		return 0;
	do {
		if (jstring(j, NULL, 0) < 0 || expect(j, ':') < 0 || jskip(j, depth + 1) < 0)
			return -1;
	} while (peek(j, ','));
	return expect(j, '}');
}

static int add_cpu(struct jp *j, double v)
{
	unsigned c;

	/* range first: converting an out-of-range double is undefined */
	if (v < 0 || v >= PV_MAX_CPUS || (double)(c = (unsigned)v) != v)
		return jfail(j, "bad CPU number");
	if (j->ncpus && c <= j->cpus[j->ncpus - 1])
		return jfail(j, "CPUs not in ascending order");
	if (j->ncpus >= PV_LAT_MAX_CPUS)
		return jfail(j, "too many CPUs");
	if (!j->cpus && !(j->cpus = calloc(PV_LAT_MAX_CPUS, sizeof(*j->cpus))))
		return pv_fail(j->e, ENOMEM, "latency file");
	j->cpus[j->ncpus++] = c;
	return 0;
}

static int parse_cpus(struct jp *j)
{
	double v;

	if (j->ncpus || expect(j, '[') < 0)
		return j->ncpus ? jfail(j, "\"cpus\" twice") : -1;
	if (peek(j, ']'))
		return 0;
	do {
		if (jnumber(j, &v) < 0 || add_cpu(j, v) < 0)
			return -1;
	} while (peek(j, ','));
	return expect(j, ']');
}

static int parse_row(struct jp *j, int i)
{
	struct pv_lat *m = j->m;
	int k = 0;

	if (expect(j, '[') < 0)
		return -1;
	do {
		double v = -1;

		if (k >= m->n)
			return jfail(j, "row longer than \"cpus\"");
		if (!literal(j, "null")) {
			if (jnumber(j, &v) < 0)
				return -1;
			if (v < 0)
				return jfail(j, "negative latency");
		}
		m->ns[(size_t)i * (size_t)m->n + (size_t)k] = i == k ? -1 : v;
		k++;
	} while (peek(j, ','));
	if (k != m->n)
		return jfail(j, "row shorter than \"cpus\"");
	return expect(j, ']');
}

static int parse_ns(struct jp *j)
{
	struct pv_lat *m = j->m;
	int i = 0;

	if (j->have_ns)
		return jfail(j, "\"ns\" twice");
	if (!j->ncpus)
		return jfail(j, "\"ns\" before \"cpus\"");
	j->have_ns = true;
	m->n = j->ncpus;
	m->cpu = pv_steal(j->cpus);
	m->ns = malloc((size_t)m->n * (size_t)m->n * sizeof(*m->ns));
	if (!m->ns)
		return pv_fail(j->e, ENOMEM, "latency file");
	if (expect(j, '[') < 0)
		return -1;
	do {
		if (i >= m->n)
			return jfail(j, "more rows than CPUs");
		if (parse_row(j, i++) < 0)
			return -1;
	} while (peek(j, ','));
	if (i != m->n)
		return jfail(j, "fewer rows than CPUs");
	return expect(j, ']');
}

/* A count: rounds, samples, unmeasured pairs. */
static int parse_int_field(struct jp *j, long *out)
{
	double v;

	if (jnumber(j, &v) < 0)
		return -1;
	if (v < 0 || v > INT_MAX || (double)(long)v != v)
		return jfail(j, "bad count");
	*out = (long)v;
	return 0;
}

static int parse_field(struct jp *j, const char *key)
{
	struct pv_lat *m = j->m;
	long v;
	double d;

	if (!strcmp(key, "model"))
		return jstring(j, m->model, sizeof(m->model));
	if (!strcmp(key, "cpus"))
		return parse_cpus(j);
	if (!strcmp(key, "ns"))
		return parse_ns(j);
	if (!strcmp(key, "seconds"))
		return jnumber(j, &d) < 0 ? -1 : (m->seconds = d, 0);
	if (!strcmp(key, "rounds"))
		return parse_int_field(j, &v) < 0 ? -1 : (m->rounds = (int)v, 0);
	if (!strcmp(key, "samples"))
		return parse_int_field(j, &v) < 0 ? -1 : (m->samples = (int)v, 0);
	if (!strcmp(key, "min_samples"))
		return parse_int_field(j, &v) < 0 ? -1 : (m->min_samples = (int)v, 0);
	if (!strcmp(key, "unmeasured"))
		return parse_int_field(j, &m->unmeasured);
	return jskip(j, 1);
}

int pv_latency_parse(struct pv_lat *m, const char *text, struct pv_err *e)
{
	struct jp j = { .s = text, .p = text, .e = e, .m = m };
	char key[64];
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (expect(&j, '{') < 0)
		goto out;
	do {
		if (jstring(&j, key, sizeof(key)) < 0 || expect(&j, ':') < 0 ||
		    parse_field(&j, key) < 0)
			goto out;
	} while (peek(&j, ','));
	if (expect(&j, '}') < 0)
		goto out;
	ws(&j);
	if (*j.p) {
		jfail(&j, "trailing data");
		goto out;
	}
	if (!j.have_ns) {
		if (j.ncpus > 1) {
			pv_fail(e, 0, "latency file: no \"ns\" matrix");
			goto out;
		}
		/* one CPU or none: nothing was measured, and that is a valid file */
		m->n = j.ncpus;
		m->cpu = pv_steal(j.cpus);
		m->ns = calloc(1, sizeof(*m->ns));
		if (!m->ns) {
			pv_fail(e, ENOMEM, "latency file");
			goto out;
		}
		m->ns[0] = -1;
	}
	rc = 0;
out:
	free(j.cpus);
	if (rc < 0)
		pv_latency_free(m);
	return rc;
}

int pv_latency_load(struct pv_lat *m, const char *file, struct pv_err *e)
{
	_cleanup_free_ char *text = pv_slurp(file, NULL, e);

	memset(m, 0, sizeof(*m));
	if (!text)
		return -1;
	if (pv_latency_parse(m, text, e) < 0)
		return pv_wrap(e, "%s", file);
	return 0;
}
