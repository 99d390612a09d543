#!/usr/bin/env bash
# Install what arca needs to build and test on Debian 12: compilers, the
# core libraries, cmocka, clang's fuzzer runtime.  Idempotent and quick when
# everything is present (it only asks dpkg).  Runs apt-get as root, or
# through sudo when available.
set -euo pipefail

pkgs=(build-essential pkg-config libzstd-dev libssl-dev libsodium-dev liblmdb-dev
      libcmocka-dev clang libclang-rt-14-dev zstd xxd procps psmisc python3 time
      libcurl4-openssl-dev libpq-dev libexpat1-dev libjansson-dev curl
      postgresql-15 postgresql-client-15)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm run the S3 and GCS test servers; any install that provides
# the commands will do (Debian's packages, or NodeSource's nodejs with npm)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then SUDO="sudo"; else
		echo "error: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
