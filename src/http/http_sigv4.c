/*
 * http/http_sigv4.c - AWS Signature Version 4 (see http_sigv4.h).
 *
 *   canonical request = METHOD \n URI \n QUERY \n (name:value \n)* \n
 *                       signed;header;names \n payload-hash
 *   string to sign    = AWS4-HMAC-SHA256 \n date \n scope \n hex(sha256(cr))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, yyyymmdd),
 *                       region), service), "aws4_request")
 * Checked against AWS's published examples in tests/unit/test_http.c.
 */
#include "http/http_sigv4.h"
#include "http/http.h"
#include "arca/error.h"
#include "crypto/crypto.h"
#include "hash/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void arca_sigv4_date(char out[17], time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

typedef struct enc_kv {
	char *k, *v;
} enc_kv;

static int cmp_kv(const void *a, const void *b)
{
	const enc_kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static char *encode_dup(const char *s, bool keep_slash)
{
	arca_buf b = ARCA_BUF_INIT;
	if (arca_http_uri_encode(&b, s, strlen(s), keep_slash) || arca_buf_cstr(&b)) {
		arca_buf_free(&b);
		return NULL;
	}
	if (!b.data)
		return strdup("");
	return (char *)b.data;
}

int arca_sigv4_query(arca_buf *out, const arca_kv *params, size_t n)
{
	enc_kv *e = calloc(n ? n : 1, sizeof(*e));
	size_t i;
	int rc = 0;
	if (!e)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		e[i].k = encode_dup(params[i].name, false);
		e[i].v = encode_dup(params[i].value ? params[i].value : "", false);
		if (!e[i].k || !e[i].v) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
	}
	qsort(e, n, sizeof(*e), cmp_kv);
	for (i = 0; i < n && !rc; i++)
		rc = arca_buf_printf(out, "%s%s=%s", i ? "&" : "", e[i].k, e[i].v);
out:
	for (i = 0; i < n; i++) {
		free(e[i].k);
		free(e[i].v);
	}
	free(e);
	return rc;
}

typedef struct canon_hdr {
	char *name;  /* lowercase */
	char *value; /* trimmed, inner runs of spaces collapsed */
} canon_hdr;

static int cmp_hdr(const void *a, const void *b)
{
	return strcmp(((const canon_hdr *)a)->name, ((const canon_hdr *)b)->name);
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s), *p;
	if (d)
		for (p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return d;
}

static char *trim_dup(const char *s)
{
	size_t n = strlen(s), o = 0, i;
	char *d = malloc(n + 1);
	bool space = false;
	if (!d)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	for (i = 0; s[i]; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			space = true;
			continue;
		}
		if (space && o)
			d[o++] = ' ';
		space = false;
		d[o++] = s[i];
	}
	d[o] = '\0';
	return d;
}

static void hex_of(char *out, const arca_id *id) { arca_id_hex(out, id); }

int arca_sigv4_sign(arca_buf *auth, arca_buf *canonical, const arca_sigv4_creds *c,
		    const char *amz_date, const char *method, const char *uri, const char *query,
		    const arca_kv *headers, size_t nheaders, const char *payload_hash)
{
	arca_buf cr = ARCA_BUF_INIT, names = ARCA_BUF_INIT, sts = ARCA_BUF_INIT, k0 = ARCA_BUF_INIT;
	canon_hdr *h = calloc(nheaders ? nheaders : 1, sizeof(*h));
	char date[9], hex[65];
	arca_id key, sig;
	size_t i;
	int rc = 0;

	if (!h)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	if (strlen(amz_date) != 16) {
		rc = arca_error_set(ARCA_INVAL, "sigv4: bad date '%s'", amz_date);
		goto out;
	}
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	for (i = 0; i < nheaders; i++) {
		h[i].name = lower_dup(headers[i].name);
		h[i].value = trim_dup(headers[i].value);
		if (!h[i].name || !h[i].value) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
	}
	qsort(h, nheaders, sizeof(*h), cmp_hdr);
	if ((rc = arca_buf_printf(&cr, "%s\n%s\n%s\n", method, uri, query)))
		goto out;
	for (i = 0; i < nheaders; i++)
		if ((rc = arca_buf_printf(&cr, "%s:%s\n", h[i].name, h[i].value)) ||
		    (rc = arca_buf_printf(&names, "%s%s", i ? ";" : "", h[i].name)))
			goto out;
	if ((rc = arca_buf_cstr(&names)) ||
	    (rc = arca_buf_printf(&cr, "\n%s\n%s", names.data ? (char *)names.data : "", payload_hash)))
		goto out;
	if (canonical && (rc = arca_buf_put(canonical, cr.data, cr.len)))
		goto out;
	arca_sha256(&key, cr.data, cr.len);
	hex_of(hex, &key);
	if ((rc = arca_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
				  c->region, c->service, hex)))
		goto out;
	/* signing key: the secret stays in k0, wiped below */
	if ((rc = arca_buf_printf(&k0, "AWS4%s", c->secret_key)))
		goto out;
	arca_hmac_sha256(&key, k0.data, k0.len, date, strlen(date));
	arca_hmac_sha256(&key, key.b, sizeof(key.b), c->region, strlen(c->region));
	arca_hmac_sha256(&key, key.b, sizeof(key.b), c->service, strlen(c->service));
	arca_hmac_sha256(&key, key.b, sizeof(key.b), "aws4_request", 12);
	arca_hmac_sha256(&sig, key.b, sizeof(key.b), sts.data, sts.len);
	hex_of(hex, &sig);
	rc = arca_buf_printf(auth, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
			     c->access_key, date, c->region, c->service, (char *)names.data, hex);
out:
	if (k0.data)
		arca_wipe(k0.data, k0.cap);
	arca_wipe(&key, sizeof(key));
	for (i = 0; i < nheaders; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	arca_buf_free(&k0);
	arca_buf_free(&cr);
	arca_buf_free(&names);
	arca_buf_free(&sts);
	return rc;
}
