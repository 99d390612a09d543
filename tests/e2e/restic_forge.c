/*
 * tests/e2e/restic_forge.c - write snapshot objects straight into a local
 * restic repository, for test_forget.sh.  `restic backup --time` costs
 * ~0.5 s per snapshot (key derivation, lock wait), far too slow for the
 * hundreds of snapshots a retention comparison needs; `forget --dry-run`
 * reads only the snapshot objects, so writing them directly is enough.
 *
 *   restic_forge REPO MASTERKEY_FILE < snapshots.jsonl
 *   restic_forge --key REPO MASTERKEY_FILE PASSWORD
 *
 * MASTERKEY_FILE holds the output of `restic cat masterkey`.  Each input
 * line is one snapshot document in restic's JSON (time, tree, paths,
 * hostname, username, tags).  It is sealed the way restic stores every
 * unpacked file (a plain JSON plaintext is valid in repository versions 1
 * and 2):
 *   IV (16 random bytes) || AES-256-CTR(encrypt, IV, json) || MAC (16)
 *   MAC = Poly1305(r = mac.r, s = AES-128(mac.k, IV)) over the ciphertext
 * and written to REPO/snapshots/<hex SHA-256 of those bytes>, whose id it
 * prints, one per line.
 *
 * --key writes a key file for PASSWORD with cheap scrypt parameters (N=1024,
 * r=8, p=1), so that each restic command starts in milliseconds instead of
 * ~0.4 s: the master key file sealed as above with the 64 bytes of
 * scrypt(PASSWORD, salt) as encryption key (32) || mac.k (16) || mac.r (16),
 * in restic's key JSON, stored as REPO/keys/<hex SHA-256>.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void die(const char *msg)
{
	fprintf(stderr, "restic_forge: %s\n", msg);
	exit(1);
}

/* The base64 string of "name": "..." in the master key JSON, decoded. */
static void key_field(const char *json, const char *name, unsigned char *out, int want)
{
	char pat[32], b64[128];
	unsigned char dec[96];
	const char *p, *q;
	int n;
	snprintf(pat, sizeof(pat), "\"%s\"", name);
	if (!(p = strstr(json, pat)) || !(p = strchr(p + strlen(pat), '"')) || !(q = strchr(p + 1, '"')) ||
	    q - p - 1 >= (int)sizeof(b64))
		die("cannot find a key in the master key file");
	memcpy(b64, p + 1, (size_t)(q - p - 1));
	b64[q - p - 1] = '\0';
	n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)strlen(b64));
	/* EVP_DecodeBlock counts '=' padding as zero bytes */
	if (strlen(b64) >= 1 && b64[strlen(b64) - 1] == '=')
		n--;
	if (strlen(b64) >= 2 && b64[strlen(b64) - 2] == '=')
		n--;
	if (n != want)
		die("a master key field has the wrong length");
	memcpy(out, dec, (size_t)want);
}

static void aes_block(const unsigned char key[16], const unsigned char in[16], unsigned char out[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0;
	if (!c || !EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) || !EVP_CIPHER_CTX_set_padding(c, 0) ||
	    !EVP_EncryptUpdate(c, out, &n, in, 16) || n != 16)
		die("aes-128 failed");
	EVP_CIPHER_CTX_free(c);
}

static void poly1305(const unsigned char key[32], const unsigned char *msg, size_t n, unsigned char tag[16])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t tl = 0;
	if (!ctx || !EVP_MAC_init(ctx, key, 32, NULL) || !EVP_MAC_update(ctx, msg, n) ||
	    !EVP_MAC_final(ctx, tag, &tl, 16) || tl != 16)
		die("poly1305 failed");
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

/* out = IV || AES-256-CTR || Poly1305-AES: n + 32 bytes. */
static void seal(const unsigned char enc[32], const unsigned char mk[16], const unsigned char mr[16],
		 const unsigned char *in, size_t n, unsigned char *out)
{
	unsigned char polykey[32];
	EVP_CIPHER_CTX *c;
	int len = 0, fin = 0;
	if (RAND_bytes(out, 16) != 1)
		die("no random bytes");
	c = EVP_CIPHER_CTX_new();
	if (!c || !EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, enc, out) ||
	    !EVP_EncryptUpdate(c, out + 16, &len, in, (int)n) || !EVP_EncryptFinal_ex(c, out + 16 + len, &fin) ||
	    (size_t)(len + fin) != n)
		die("aes-256-ctr failed");
	EVP_CIPHER_CTX_free(c);
	memcpy(polykey, mr, 16);
	aes_block(mk, out, polykey + 16);
	poly1305(polykey, out + 16, n, out + 16 + n);
}

/* Write data to DIR/<hex sha256 of data>; the hex goes to hex. */
static void store(const char *dir, const unsigned char *data, size_t n, char hex[65])
{
	unsigned char digest[32];
	char path[4096];
	FILE *f;
	int i;
	if (!EVP_Digest(data, n, digest, NULL, EVP_sha256(), NULL))
		die("sha-256 failed");
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	snprintf(path, sizeof(path), "%s/%s", dir, hex);
	if (!(f = fopen(path, "wb")) || fwrite(data, 1, n, f) != n || fclose(f))
		die("cannot write a file into the repository");
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;
	if (!f)
		die("cannot open the master key file");
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static void b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int make_key(const char *repo, const char *mkfile, const char *password)
{
	static char json[1 << 16], doc[1 << 17], dir[4096], hex[65];
	static unsigned char sealed[(1 << 16) + 32];
	static char data64[(1 << 17)];
	unsigned char salt[64], derived[64];
	char salt64[96];
	size_t n = read_file(mkfile, json, sizeof(json));
	int len;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		die("no random bytes");
	if (!EVP_PBE_scrypt(password, strlen(password), salt, sizeof(salt), 1024, 8, 1, 0, derived, sizeof(derived)))
		die("scrypt failed");
	seal(derived, derived + 32, derived + 48, (const unsigned char *)json, n, sealed);
	b64(salt, sizeof(salt), salt64);
	b64(sealed, n + 32, data64);
	len = snprintf(doc, sizeof(doc),
		       "{\"created\":\"2024-01-01T00:00:00Z\",\"username\":\"e2e\",\"hostname\":\"e2e\","
		       "\"kdf\":\"scrypt\",\"N\":1024,\"r\":8,\"p\":1,\"salt\":\"%s\",\"data\":\"%s\"}",
		       salt64, data64);
	if (len <= 0 || (size_t)len >= sizeof(doc))
		die("key document too long");
	snprintf(dir, sizeof(dir), "%s/keys", repo);
	store(dir, (const unsigned char *)doc, (size_t)len, hex);
	printf("%s\n", hex);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char enc[32], mk[16], mr[16];
	static char json[1 << 16], line[1 << 16], dir[4096];
	static unsigned char out[(1 << 16) + 32];
	size_t n;
	if (argc == 5 && !strcmp(argv[1], "--key"))
		return make_key(argv[2], argv[3], argv[4]);
	if (argc != 3)
		die("usage: restic_forge REPO MASTERKEY_FILE < snapshots.jsonl | --key REPO MASTERKEY_FILE PASSWORD");
	read_file(argv[2], json, sizeof(json));
	key_field(json, "encrypt", enc, 32);
	key_field(json, "k", mk, 16);
	key_field(json, "r", mr, 16);
	snprintf(dir, sizeof(dir), "%s/snapshots", argv[1]);
	while (fgets(line, sizeof(line), stdin)) {
		char hex[65];
		n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n)
			continue;
		seal(enc, mk, mr, (const unsigned char *)line, n, out);
		store(dir, out, n + 32, hex);
		printf("%s\n", hex);
	}
	return 0;
}
