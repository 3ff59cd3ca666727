#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
#
#   bash scripts/test.sh
#
# - Node packages for the JavaScript-side checks (MapLibre style validator, the reference MVT
#   decoder @mapbox/vector-tile, playwright-core) from tests/js/package-lock.json.
# - Chromium (Debian package) for the browser tests, when it is missing and apt is usable.
# - Then: formatting, clippy, and every Rust test (unit, integration, browser) with
#   LIFECIRCLE_JS_TESTS=1 so the tests that need node and Chromium run rather than skip.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing chromium (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and cannot be installed here; install Debian's 'chromium' package" >&2
    exit 1
  fi
fi

log "installing node test packages (tests/js)"
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

if [ -f web/package.json ]; then
  log "installing web assets (web/)"
  npm ci --prefix web --no-audit --no-fund --loglevel=error
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

log "cargo test"
export LIFECIRCLE_JS_TESTS=1
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
cargo test --locked -- --test-threads=2
