// tests/servers/gcs-emulator.js - the Cloud Storage emulator of firebase-tools
// (pinned in package.json: this uses its internals) serving the GCS JSON API
// on loopback for arca's tests, without Java or the Firebase CLI.
//
// usage: TMPDIR=/private/dir node gcs-emulator.js PORT
// Blobs live under $TMPDIR/firebase/storage/blobs: give every instance its
// own TMPDIR.  The security-rules runtime (a Java jar) is replaced by no-ops;
// the JSON API goes through the admin storage layer, which does not consult
// rules.  Authorization headers are accepted and never checked.
"use strict";
const path = require("path");
const base = path.join(__dirname, "node_modules", "firebase-tools", "lib", "emulator");
const { StorageEmulator } = require(path.join(base, "storage"));
const { StorageRulesRuntime } = require(path.join(base, "storage", "rules", "runtime"));
const { EmulatorRegistry } = require(path.join(base, "registry"));

const port = parseInt(process.argv[2] || "0", 10);
if (!port) {
	console.error("usage: node gcs-emulator.js PORT");
	process.exit(2);
}
StorageRulesRuntime.prototype.start = async function () {};
StorageRulesRuntime.prototype.stop = async function () {};

const emu = new StorageEmulator({ projectId: "arca-test", host: "127.0.0.1", port, rules: [], auto_download: false });
EmulatorRegistry.start(emu).then(
	() => console.log(`gcs emulator listening on 127.0.0.1:${port}`),
	(e) => {
		console.error("gcs emulator failed to start:", e);
		process.exit(1);
	}
);
for (const sig of ["SIGTERM", "SIGINT"])
	process.on(sig, () => process.exit(0));
