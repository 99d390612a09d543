/*
 * backend/backend_gcs.h - what the Google Cloud Storage driver exposes
 * besides its constructor (arca_backend_gcs_new in backend.h): the service
 * account assertion, so that tests can check its signature.
 */
#ifndef ARCA_BACKEND_GCS_H
#define ARCA_BACKEND_GCS_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

#define ARCA_GCS_SCOPE "https://www.googleapis.com/auth/devstorage.read_write"

/*
 * Append a JSON Web Token (RFC 7519) signed RS256 with pem (the service
 * account's private key) to out: header {"alg":"RS256","typ":"JWT"},
 * claims {"iss": email, "scope": scope, "aud": aud, "iat": now,
 * "exp": now + 3600}, each part base64url without padding.  Google's
 * token endpoint (aud) exchanges it for an access token.
 */
int arca_gcs_jwt(arca_buf *out, const char *email, const char *pem, size_t pemlen, const char *aud,
		 const char *scope, int64_t now);

#endif
