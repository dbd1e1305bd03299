#!/usr/bin/env bash
# Installs what the tests need beyond the venv's Python packages (`make test` runs it
# before pytest). Idempotent: each part checks first and does nothing when its tool
# is already there. CI runs as root on Debian, so apt-get works there.
set -euo pipefail

apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "install-test-deps: cannot install $* (needs root and apt-get)" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$@" >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

# -- Console browser tests (tests/console): Debian's chromium, driven by Python
# playwright (a dev dependency) through executable_path=/usr/bin/chromium.
# Playwright's own browser downloads are never used.
if [ ! -x /usr/bin/chromium ]; then
    echo "install-test-deps: installing chromium for the console tests" >&2
    apt_install chromium || echo "install-test-deps: console browser tests will fail or skip" >&2
fi

# -- Bulk import tests (tests/imports): Azurite, the Azure Blob Storage emulator, from
# npm into .cache/node (gitignored). 3.35.0 is the last release that runs on Node 20.
# moto (S3) and fake-gcs-server (GCS) come with the venv's dev extra.
NODE_PREFIX="$(cd "$(dirname "$0")/.." && pwd)/.cache/node"
if [ ! -x "$NODE_PREFIX/node_modules/.bin/azurite-blob" ]; then
    if command -v npm >/dev/null; then
        echo "install-test-deps: installing azurite@3.35.0 for the Azure import tests" >&2
        npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error azurite@3.35.0 >/dev/null
    else
        echo "install-test-deps: npm not found; the Azure import tests will fail" >&2
    fi
fi

# -- TypeScript SDK suite (tests/ts): Pinecone's official TypeScript client, from npm
# into the same .cache/node. 8.2.0 is the newest release that runs on Node 20.
TS_SDK_VERSION=8.2.0
TS_SDK_PACKAGE="$NODE_PREFIX/node_modules/@pinecone-database/pinecone/package.json"
if ! grep -q "\"version\": \"$TS_SDK_VERSION\"" "$TS_SDK_PACKAGE" 2>/dev/null; then
    if command -v npm >/dev/null; then
        echo "install-test-deps: installing @pinecone-database/pinecone@$TS_SDK_VERSION for the TypeScript SDK tests" >&2
        npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error --save-exact \
            "@pinecone-database/pinecone@$TS_SDK_VERSION" >/dev/null
    else
        echo "install-test-deps: npm not found; the TypeScript SDK tests will fail" >&2
    fi
fi
