// tests/servers/s3rver.js - an S3 server on loopback for arca's tests:
// @20minutes/s3rver (pinned in package.json), which checks SigV4 signatures.
//
// usage: node --openssl-legacy-provider s3rver.js DIR PORT
// (the legacy provider is needed: s3rver encrypts ListObjectsV2 continuation
// tokens with DES).  Key pairs: S3RVER:S3RVER, plus ARCATESTKEY:arca-test-secret
// for the tests.  Buckets are created by the tests (PUT /bucket).
"use strict";
const path = require("path");
const pkg = path.join(__dirname, "node_modules", "@20minutes", "s3rver");
const dir = process.argv[2];
const port = process.argv[3];
if (!dir || !port) {
	console.error("usage: node --openssl-legacy-provider s3rver.js DIR PORT");
	process.exit(2);
}
const AWSAccount = require(path.join(pkg, "lib", "models", "account.js"));
AWSAccount.DUMMY_ACCOUNT.createKeyPair("ARCATESTKEY", "arca-test-secret");
for (const sig of ["SIGTERM", "SIGINT"])
	process.on(sig, () => process.exit(0));
require(path.join(pkg, "lib", "cli.js"))
	.parseAsync(["node", "s3rver", "-d", dir, "-a", "127.0.0.1", "-p", String(port), "--no-vhost-buckets", "--silent"])
	.catch((e) => {
		console.error("s3rver failed to start:", e);
		process.exit(1);
	});
