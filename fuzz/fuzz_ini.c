/*
 * fuzz/fuzz_ini.c - the INI reader behind AWS profiles
 * (arca_cloud_ini_get in src/backend/backend_cloud.c), which reads
 * ~/.aws/credentials and ~/.aws/config: files a user edits by hand.
 *
 * Input: the file's bytes.  Several (section, key) pairs are looked up.  A
 * found value has no line break and no blanks at either end, and occurs in
 * the input; the result is otherwise ARCA_NOTFOUND, or ARCA_CORRUPT
 * exactly when the input holds a NUL byte.
 */
#include "fuzz_common.h"
#include "backend/backend_cloud.h"

#include <string.h>

static void lookup(const uint8_t *data, size_t size, const char *section, const char *key)
{
	char *v = NULL;
	size_t n;
	int rc = arca_cloud_ini_get((const char *)data, size, section, key, &v);
	if (rc) {
		FUZZ_CHECK(v == NULL);
		FUZZ_CHECK(rc == ARCA_NOTFOUND || rc == ARCA_CORRUPT);
		FUZZ_CHECK((rc == ARCA_CORRUPT) == (size && memchr(data, '\0', size) != NULL));
		return;
	}
	FUZZ_CHECK(v != NULL);
	n = strlen(v);
	FUZZ_CHECK(!strchr(v, '\n'));
	if (n) {
		FUZZ_CHECK(v[0] != ' ' && v[0] != '\t' && v[0] != '\r');
		FUZZ_CHECK(v[n - 1] != ' ' && v[n - 1] != '\t' && v[n - 1] != '\r');
		FUZZ_CHECK(memmem(data, size, v, n) != NULL);
	}
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_setup();
	lookup(data, size, "default", "aws_access_key_id");
	lookup(data, size, "default", "aws_secret_access_key");
	lookup(data, size, "profile dev", "region");
	lookup(data, size, "a", "k");
	lookup(data, size, "", "");
	return 0;
}
