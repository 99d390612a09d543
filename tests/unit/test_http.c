/*
 * tests/unit/test_http.c - the http module's pure parts: SigV4 against
 * AWS's published examples (the SigV4 test suite's get-vanilla and the S3
 * developer guide's GET object, list objects and PUT object examples),
 * canonical query strings, URI encoding, the XML reader (namespaces
 * dropped, DOCTYPE refused), JSON access, HTTP status mapping (and that
 * messages carry no secret), plus base64, MD5 and RS256 that the cloud
 * drivers build on, and the GCS service-account JWT (its signature checked
 * with the public key, its claims read back).
 */
#include "http/http.h"
#include "http/http_sigv4.h"
#include "backend/backend_gcs.h"
#include "arca/error.h"
#include "crypto/crypto.h"
#include "hash/hash.h"
#include "util/base64.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *sig_of(const arca_buf *auth)
{
	const char *p = strstr((const char *)auth->data, "Signature=");
	assert_non_null(p);
	return p + 10;
}

static void sign(arca_buf *auth, arca_buf *canon, const arca_sigv4_creds *c, const char *date,
		 const char *method, const char *uri, const char *query, const arca_kv *h, size_t nh,
		 const char *payload)
{
	arca_buf_clear(auth);
	if (canon)
		arca_buf_clear(canon);
	assert_int_equal(arca_sigv4_sign(auth, canon, c, date, method, uri, query, h, nh, payload), 0);
	assert_int_equal(arca_buf_cstr(auth), 0);
	if (canon)
		assert_int_equal(arca_buf_cstr(canon), 0);
}

/* aws-sig-v4-test-suite/get-vanilla */
static void test_sigv4_get_vanilla(void **state)
{
	arca_sigv4_creds c = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service" };
	arca_kv h[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", "20150830T123600Z" } };
	arca_buf auth = ARCA_BUF_INIT, canon = ARCA_BUF_INIT;
	(void)state;
	sign(&auth, &canon, &c, "20150830T123600Z", "GET", "/", "", h, 2, EMPTY_SHA);
	assert_string_equal((char *)canon.data, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
						"host;x-amz-date\n" EMPTY_SHA);
	assert_string_equal((char *)auth.data,
			    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
			    "SignedHeaders=host;x-amz-date, "
			    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	/* a different secret gives a different signature */
	c.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ";
	sign(&auth, NULL, &c, "20150830T123600Z", "GET", "/", "", h, 2, EMPTY_SHA);
	assert_string_not_equal(sig_of(&auth), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	arca_buf_free(&auth);
	arca_buf_free(&canon);
}

/* S3 developer guide, "Examples: Signature Calculations" (20130524) */
static void test_sigv4_s3_examples(void **state)
{
	arca_sigv4_creds c = { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3" };
	arca_kv get[] = { { "host", "examplebucket.s3.amazonaws.com" },
			  { "range", "bytes=0-9" },
			  { "x-amz-content-sha256", EMPTY_SHA },
			  { "x-amz-date", "20130524T000000Z" } };
	arca_kv list[] = { { "host", "examplebucket.s3.amazonaws.com" },
			   { "x-amz-content-sha256", EMPTY_SHA },
			   { "x-amz-date", "20130524T000000Z" } };
	const char *put_sha = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
	arca_kv put[] = { { "Host", "examplebucket.s3.amazonaws.com" },
			  { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
			  { "x-amz-date", "20130524T000000Z" },
			  { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
			  { "x-amz-content-sha256", put_sha } };
	arca_kv q[] = { { "prefix", "J" }, { "max-keys", "2" } };
	arca_buf auth = ARCA_BUF_INIT, query = ARCA_BUF_INIT, path = ARCA_BUF_INIT;
	arca_id body_sha;
	char hex[65];
	(void)state;

	sign(&auth, NULL, &c, "20130524T000000Z", "GET", "/test.txt", "", get, 4, EMPTY_SHA);
	assert_string_equal(sig_of(&auth), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	assert_non_null(strstr((char *)auth.data, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"));

	/* the query is sorted before signing */
	assert_int_equal(arca_sigv4_query(&query, q, 2), 0);
	assert_int_equal(arca_buf_cstr(&query), 0);
	assert_string_equal((char *)query.data, "max-keys=2&prefix=J");
	sign(&auth, NULL, &c, "20130524T000000Z", "GET", "/", (char *)query.data, list, 3, EMPTY_SHA);
	assert_string_equal(sig_of(&auth), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");

	/* PUT: the body's hash, a '$' encoded in the path */
	arca_sha256(&body_sha, "Welcome to Amazon S3.", 21);
	arca_id_hex(hex, &body_sha);
	assert_string_equal(hex, put_sha);
	assert_int_equal(arca_http_uri_encode(&path, "/test$file.text", 15, true), 0);
	assert_int_equal(arca_buf_cstr(&path), 0);
	assert_string_equal((char *)path.data, "/test%24file.text");
	sign(&auth, NULL, &c, "20130524T000000Z", "PUT", (char *)path.data, "", put, 5, put_sha);
	assert_string_equal(sig_of(&auth), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");

	arca_buf_free(&auth);
	arca_buf_free(&query);
	arca_buf_free(&path);
}

static void test_query_and_encoding(void **state)
{
	arca_kv q[] = { { "uploadId", "a/b+c==" }, { "partNumber", "2" }, { "uploads", "" },
			{ "prefix", "repo dir/data/" } };
	arca_buf b = ARCA_BUF_INIT;
	(void)state;
	assert_int_equal(arca_sigv4_query(&b, q, 4), 0);
	assert_int_equal(arca_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "partNumber=2&prefix=repo%20dir%2Fdata%2F&uploadId=a%2Fb%2Bc%3D%3D&uploads=");
	arca_buf_clear(&b);
	assert_int_equal(arca_http_uri_encode(&b, "a-b_c.d~e/é*", strlen("a-b_c.d~e/é*"), false), 0);
	assert_int_equal(arca_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "a-b_c.d~e%2F%C3%A9%2A");
	arca_buf_free(&b);
}

typedef struct seen {
	char keys[8][64];
	int n;
	char code[64];
} seen;

static int xml_cb(const char *path, const char *text, size_t len, void *payload)
{
	seen *s = payload;
	if (!strcmp(path, "ListBucketResult/Contents/Key") && s->n < 8)
		snprintf(s->keys[s->n++], 64, "%s", text);
	if (!strcmp(path, "Error/Code"))
		snprintf(s->code, sizeof(s->code), "%s", text);
	return 0;
}

static int stop_cb(const char *path, const char *text, size_t len, void *payload)
{
	return strcmp(path, "a/b") ? 0 : arca_error_set(ARCA_EXISTS, "stopped");
}

static void test_xml(void **state)
{
	const char *aws = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			  "<Contents><Key>repo/config</Key><Size>155</Size></Contents>"
			  "<Contents><Key>repo/a&amp;b</Key></Contents></ListBucketResult>";
	const char *other = "<ListBucketResult xmlns=\"http://example.com/other\"><Contents><Key>x</Key></Contents>"
			    "</ListBucketResult>";
	const char *err = "<Error><Code>SlowDown</Code><Message>m</Message></Error>";
	const char *doctype = "<!DOCTYPE x [<!ENTITY e \"boom\">]><Error><Code>&e;</Code></Error>";
	seen s;
	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_xml_parse(aws, strlen(aws), "t", xml_cb, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "repo/config");
	assert_string_equal(s.keys[1], "repo/a&b");
	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_xml_parse(other, strlen(other), "t", xml_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(arca_xml_parse(err, strlen(err), "t", xml_cb, &s), 0);
	assert_string_equal(s.code, "SlowDown");
	assert_int_equal(arca_xml_parse(doctype, strlen(doctype), "t", xml_cb, &s), ARCA_CORRUPT);
	assert_int_equal(arca_xml_parse("<a><b>", 6, "listing", xml_cb, &s), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "listing"));
	assert_int_equal(arca_xml_parse("<a><b/></a>", 11, "t", stop_cb, NULL), ARCA_EXISTS);
}

static void test_json(void **state)
{
	const char *doc = "{\"items\":[{\"name\":\"p/config\",\"size\":\"155\"},{\"name\":\"p/x\",\"size\":7}],"
			  "\"nextPageToken\":\"tok\"}";
	arca_jv *root = NULL;
	const arca_jv *items;
	int64_t v;
	(void)state;
	assert_int_equal(arca_jv_parse(&root, doc, strlen(doc), "t"), 0);
	items = arca_jv_get(root, "items");
	assert_int_equal(arca_jv_len(items), 2);
	assert_string_equal(arca_jv_str(arca_jv_get(arca_jv_at(items, 0), "name")), "p/config");
	assert_true(arca_jv_int(arca_jv_get(arca_jv_at(items, 0), "size"), &v));
	assert_int_equal(v, 155);
	assert_true(arca_jv_int(arca_jv_get(arca_jv_at(items, 1), "size"), &v));
	assert_int_equal(v, 7);
	assert_false(arca_jv_int(arca_jv_get(root, "nextPageToken"), &v));
	assert_null(arca_jv_get(root, "missing"));
	assert_null(arca_jv_str(items));
	assert_int_equal(arca_jv_len(root), 0);
	arca_jv_free(root);
	assert_int_equal(arca_jv_parse(&root, "{\"a\":", 5, "token response"), ARCA_CORRUPT);
	assert_null(root);
	assert_non_null(strstr(arca_error_message(), "token response"));
}

static void test_status_mapping(void **state)
{
	(void)state;
	assert_int_equal(arca_http_status_error(404, "GET", NULL, false), ARCA_NOTFOUND);
	assert_int_equal(arca_http_status_error(412, "PUT", NULL, false), ARCA_EXISTS);
	assert_int_equal(arca_http_status_error(503, "PUT", "SlowDown: reduce", false), ARCA_TRANSIENT);
	assert_non_null(strstr(arca_error_message(), "HTTP 503"));
	assert_non_null(strstr(arca_error_message(), "SlowDown"));
	assert_int_equal(arca_http_status_error(429, "GET", NULL, false), ARCA_TRANSIENT);
	assert_int_equal(arca_http_status_error(500, "GET", NULL, false), ARCA_TRANSIENT);
	assert_int_equal(arca_http_status_error(400, "GET", "RequestTimeout", true), ARCA_TRANSIENT);
	assert_int_equal(arca_http_status_error(400, "GET", NULL, false), ARCA_ERROR);
	/* authentication: an error (exit 1), not "wrong password" (12) */
	assert_int_equal(arca_http_status_error(403, "GET", "SignatureDoesNotMatch", false), ARCA_ERROR);
	assert_non_null(strstr(arca_error_message(), "403"));
	assert_non_null(strstr(arca_error_message(), "access denied"));
	assert_non_null(strstr(arca_error_hint_text(), "credentials"));
	assert_int_equal(arca_http_status_error(401, "GET", NULL, false), ARCA_ERROR);
}

static void test_base64_md5(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	uint8_t md5[ARCA_MD5_LEN];
	const uint8_t bin[] = { 0xfb, 0xff, 0xfe };
	(void)state;
	arca_md5(md5, "", 0);
	assert_int_equal(arca_base64_encode(&b, md5, sizeof(md5), false), 0);
	assert_int_equal(arca_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "1B2M2Y8AsgTpgAmY7PhCfg==");
	arca_buf_clear(&b);
	arca_md5(md5, "hello", 5);
	assert_int_equal(arca_base64_encode(&b, md5, sizeof(md5), false), 0);
	assert_int_equal(arca_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "XUFAKrxLKna5cZ2REBfFkg==");
	arca_buf_clear(&b);
	assert_int_equal(arca_base64_encode(&b, bin, 3, false), 0);
	assert_int_equal(arca_base64_encode(&b, bin, 2, true), 0);
	assert_int_equal(arca_base64_encode(&b, "f", 1, false), 0);
	assert_int_equal(arca_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "+//+-_8Zg==");
	arca_buf_clear(&b);
	assert_int_equal(arca_base64_decode(&b, "-_8", 3), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, bin, 2);
	assert_int_equal(arca_base64_decode(&b, "a*b=", 4), ARCA_INVAL);
	arca_buf_free(&b);
}

/* A throwaway 1024-bit key (tests only) and the signature `openssl dgst
 * -sha256 -sign` made of "arca-jwt-test" with it: RS256 is deterministic. */
static const char test_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAK476LPre1/T+fgw\n"
	"5NIaMsTRu/cYez8LjwWAvQQFRO/h1l+MZVpwRC2QtXCkH5C3pmcsQuJ6oHnIe9fJ\n"
	"zOfZvF5pCxZJFmLZfcuAvsjaBYwF1lAPwOwOTQ1H/G/T0eFEDnXN2l9jU20kMN4E\n"
	"sD62BPlLgKolL5qHYjBILhvbJaAPAgMBAAECgYBt5D1OFWz4MOONZZE87ucsejg6\n"
	"jgdV6T1otB0DRyuGvQMPuqZGV164+ndlty5tgVeD5Ue+PqeuiAOMQ6xoY01Jlzoz\n"
	"evX4EFpswbd9m2OLP4cNvKPzjMoZLhzwxwAOuQZ/AFvWlkt5LOeR3bxqO/FbQ0JU\n"
	"2FfBVPeRZdH5AHOlqQJBAOaD/CZDhAfOKccuuWfuI9q8V3J1NQWsv0c3YhFILpeI\n"
	"hE1nMpBFOvhkChxrSnEUh9itxaaGFhktDdysl+D3HDsCQQDBfw14QFSh2JMwNMs7\n"
	"wbZlPgVM2loGO0eg+Ja/9mXzaQ0sn+Wxjjb5iXCdTDgXAyOzQuqSifh9CodLQuVt\n"
	"G1I9AkBWHWp+VOynCdK7sW3cMK++UGwOu1CSjSVsEnmVYTTesUZTsEDIesR79Mt+\n"
	"MGq/8d6KCOj0u9TXlOg/z05x4X7vAkA3ccuPSIe3tJJAfvA5WEGGcyYbpnmjTXsx\n"
	"4el4agc+nzx6K/sqTIDuMfbF6+Aqn+ir5iHHCafdVJX999Y71FdVAkBaHQRF3ZX5\n"
	"VEGgfQAkcQDk+zZ9RpNuPOOZ8OocNnwkhrEhsskvHNt2JgNNNjnIa2xQpX88dqXM\n"
	"kuUBbJvSt9TX\n"
	"-----END PRIVATE KEY-----\n";
static const char test_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCuO+iz63tf0/n4MOTSGjLE0bv3\n"
	"GHs/C48FgL0EBUTv4dZfjGVacEQtkLVwpB+Qt6ZnLELieqB5yHvXyczn2bxeaQsW\n"
	"SRZi2X3LgL7I2gWMBdZQD8DsDk0NR/xv09HhRA51zdpfY1NtJDDeBLA+tgT5S4Cq\n"
	"JS+ah2IwSC4b2yWgDwIDAQAB\n"
	"-----END PUBLIC KEY-----\n";
static const char test_sig_hex[] =
	"6998cd59bc49cd787e380d3a06f9c10bb70e319b5ec0500283bf444febe9362171a17b70fe4f6db43c14d97d8a396cdc"
	"458f03d2697fa7a679a876945587d65083b621bbf1069805a442eee1385ef2f5d6648cdfe67bc6850c9ad8e11ba98182"
	"c0e6f964e4fe18f1d383eb9e294d51e12e4e94020bd3fd011e8cb099288a96f2";

static void test_rs256(void **state)
{
	arca_buf sig = ARCA_BUF_INIT;
	char hex[2 * 128 + 1];
	size_t i;
	(void)state;
	assert_int_equal(arca_rs256_sign(&sig, test_key, strlen(test_key), "arca-jwt-test", 13), 0);
	assert_int_equal(sig.len, 128);
	for (i = 0; i < sig.len; i++)
		snprintf(hex + 2 * i, 3, "%02x", sig.data[i]);
	assert_string_equal(hex, test_sig_hex);
	assert_int_equal(arca_rs256_verify(test_pub, strlen(test_pub), "arca-jwt-test", 13, sig.data, sig.len), 0);
	assert_int_equal(arca_rs256_verify(test_pub, strlen(test_pub), "arca-jwt-tesT", 13, sig.data, sig.len),
			 ARCA_CORRUPT);
	sig.data[5] ^= 1;
	assert_int_equal(arca_rs256_verify(test_pub, strlen(test_pub), "arca-jwt-test", 13, sig.data, sig.len),
			 ARCA_CORRUPT);
	assert_int_equal(arca_rs256_sign(&sig, "not a key", 9, "x", 1), ARCA_INVAL);
	assert_null(strstr(arca_error_message(), "not a key"));
	arca_buf_free(&sig);
}

static void b64url_part(arca_buf *out, const char *s, size_t n)
{
	arca_buf_clear(out);
	assert_int_equal(arca_base64_decode(out, s, n), 0);
	assert_int_equal(arca_buf_cstr(out), 0);
}

static void test_gcs_jwt(void **state)
{
	arca_buf jwt = ARCA_BUF_INIT, part = ARCA_BUF_INIT;
	const char *d1, *d2, *aud = "https://oauth2.example/token";
	arca_jv *claims = NULL;
	int64_t v;
	(void)state;
	assert_int_equal(arca_gcs_jwt(&jwt, "sa@proj.iam.gserviceaccount.com", test_key, strlen(test_key), aud,
				      ARCA_GCS_SCOPE, 1700000000),
			 0);
	assert_int_equal(arca_buf_cstr(&jwt), 0);
	/* three base64url parts, no padding, no '+' or '/' */
	d1 = strchr((char *)jwt.data, '.');
	assert_non_null(d1);
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	assert_null(strpbrk((char *)jwt.data, "=+/"));
	b64url_part(&part, (char *)jwt.data, (size_t)(d1 - (char *)jwt.data));
	assert_string_equal((char *)part.data, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	b64url_part(&part, d1 + 1, (size_t)(d2 - d1 - 1));
	assert_int_equal(arca_jv_parse(&claims, part.data, part.len, "claims"), 0);
	assert_string_equal(arca_jv_str(arca_jv_get(claims, "iss")), "sa@proj.iam.gserviceaccount.com");
	assert_string_equal(arca_jv_str(arca_jv_get(claims, "aud")), aud);
	assert_string_equal(arca_jv_str(arca_jv_get(claims, "scope")), ARCA_GCS_SCOPE);
	assert_true(arca_jv_int(arca_jv_get(claims, "iat"), &v));
	assert_int_equal(v, 1700000000);
	assert_true(arca_jv_int(arca_jv_get(claims, "exp"), &v));
	assert_int_equal(v, 1700003600);
	arca_jv_free(claims);
	/* the signature verifies with the public key over "header.claims" */
	b64url_part(&part, d2 + 1, strlen(d2 + 1));
	assert_int_equal(part.len, 128);
	assert_int_equal(arca_rs256_verify(test_pub, strlen(test_pub), jwt.data, (size_t)(d2 - (char *)jwt.data),
					   part.data, part.len),
			 0);
	/* and not over anything else */
	jwt.data[3] ^= 1;
	assert_int_equal(arca_rs256_verify(test_pub, strlen(test_pub), jwt.data, (size_t)(d2 - (char *)jwt.data),
					   part.data, part.len),
			 ARCA_CORRUPT);
	/* a bad key: an error, nothing appended */
	jwt.len = 0;
	assert_int_equal(arca_gcs_jwt(&jwt, "x", "junk", 4, aud, ARCA_GCS_SCOPE, 1), ARCA_INVAL);
	assert_int_equal(jwt.len, 0);
	arca_buf_free(&jwt);
	arca_buf_free(&part);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_get_vanilla),
		cmocka_unit_test(test_sigv4_s3_examples),
		cmocka_unit_test(test_query_and_encoding),
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_status_mapping),
		cmocka_unit_test(test_base64_md5),
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_gcs_jwt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
