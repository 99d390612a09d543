/*
 * http/http_xml.c - a tiny element reader over expat for S3 responses
 * (listings, errors, multipart upload ids).
 *
 * The parser runs in namespace mode and reports local names only: AWS
 * answers in the 2006-03-01 namespace, s3rver in another, GCS's XML API in
 * none.  Each element's own text is collected (capped) and handed to the
 * callback with the element's path when the element ends.  No DTDs or
 * entities beyond the predefined ones reach the caller: expat does not
 * fetch external entities, and a document with a DOCTYPE is refused.
 */
#include "http/http.h"
#include "arca/error.h"

#include <expat.h>

#include <limits.h>
#include <string.h>

#define XML_PATH_MAX 512
#define XML_TEXT_MAX (64 * 1024)

typedef struct xml_ctx {
	XML_Parser p;
	arca_xml_cb cb;
	void *payload;
	char path[XML_PATH_MAX];
	size_t plen;
	size_t lens[64]; /* path length before each open element */
	unsigned depth;
	arca_buf text;
	int rc;
	bool overflow;
} xml_ctx;

static void stop(xml_ctx *x, int rc)
{
	if (!x->rc)
		x->rc = rc;
	XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	xml_ctx *x = ud;
	const char *local = strrchr(name, '|');
	size_t n;
	(void)attrs;
	local = local ? local + 1 : name;
	n = strlen(local);
	if (x->depth >= sizeof(x->lens) / sizeof(x->lens[0]) || x->plen + n + 2 > sizeof(x->path)) {
		x->overflow = true;
		stop(x, ARCA_CORRUPT);
		return;
	}
	x->lens[x->depth++] = x->plen;
	if (x->plen)
		x->path[x->plen++] = '/';
	memcpy(x->path + x->plen, local, n);
	x->plen += n;
	x->path[x->plen] = '\0';
	arca_buf_clear(&x->text);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	xml_ctx *x = ud;
	int rc;
	(void)name;
	if (arca_buf_cstr(&x->text)) {
		stop(x, ARCA_NOMEM);
		return;
	}
	rc = x->cb(x->path, x->text.data ? (const char *)x->text.data : "", x->text.len, x->payload);
	if (rc) {
		stop(x, rc);
		return;
	}
	arca_buf_clear(&x->text);
	x->plen = x->lens[--x->depth];
	x->path[x->plen] = '\0';
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	xml_ctx *x = ud;
	if (x->text.len + (size_t)len > XML_TEXT_MAX) {
		x->overflow = true;
		stop(x, ARCA_CORRUPT);
		return;
	}
	if (arca_buf_put(&x->text, s, (size_t)len))
		stop(x, ARCA_NOMEM);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	stop(ud, ARCA_CORRUPT);
}

int arca_xml_parse(const void *p, size_t n, const char *what, arca_xml_cb cb, void *payload)
{
	xml_ctx x;
	int rc = 0;
	memset(&x, 0, sizeof(x));
	if (n > INT_MAX)
		return arca_error_set(ARCA_CORRUPT, "%s: xml response too large", what);
	if (!(x.p = XML_ParserCreateNS(NULL, '|')))
		return arca_error_set(ARCA_NOMEM, "cannot create an xml parser");
	x.cb = cb;
	x.payload = payload;
	XML_SetUserData(x.p, &x);
	XML_SetElementHandler(x.p, on_start, on_end);
	XML_SetCharacterDataHandler(x.p, on_text);
	XML_SetStartDoctypeDeclHandler(x.p, on_doctype);
	if (XML_Parse(x.p, p, (int)n, XML_TRUE) != XML_STATUS_OK) {
		if (x.rc == ARCA_CORRUPT || !x.rc)
			rc = arca_error_set(ARCA_CORRUPT, "%s: bad xml response (%s at line %lu)", what,
					    x.overflow ? "too deep or too long" :
					    x.rc ? "doctype refused" : XML_ErrorString(XML_GetErrorCode(x.p)),
					    (unsigned long)XML_GetCurrentLineNumber(x.p));
		else if (x.rc == ARCA_NOMEM)
			rc = arca_error_set(ARCA_NOMEM, "out of memory parsing xml");
		else
			rc = x.rc; /* the callback's own code, message already set */
	}
	XML_ParserFree(x.p);
	arca_buf_free(&x.text);
	return rc;
}

int arca_xml_escape(arca_buf *out, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '&': rc = arca_buf_puts(out, "&amp;"); break;
		case '<': rc = arca_buf_puts(out, "&lt;"); break;
		case '>': rc = arca_buf_puts(out, "&gt;"); break;
		case '"': rc = arca_buf_puts(out, "&quot;"); break;
		case '\'': rc = arca_buf_puts(out, "&apos;"); break;
		default: rc = arca_buf_put(out, s, 1);
		}
	}
	return rc;
}
