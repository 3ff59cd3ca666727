#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
#
#   bash scripts/test.sh
#
# - Node packages for the JavaScript-side checks (MapLibre style validator, the reference MVT
#   decoder @mapbox/vector-tile, playwright-core) from tests/js/package-lock.json.
# - Chromium (Debian package) for the browser tests, when it is missing and apt is usable, and a
#   Chinese font for the page screenshots.
# - osmium-tool and python3-networkx (Debian packages) for the OpenStreetMap import test.
# - python3-openpyxl (Debian package) to read the report's XLSX workbooks back.
# - PostgreSQL (Debian package) for the shared feedback store's tests: a throwaway server on
#   127.0.0.1, stopped and removed at exit.
# - (MapLibre GL JS for the map page is installed by the build itself, see build.rs.)
# - Then: formatting, clippy, and every Rust test (unit, integration, and tests/browser, the
#   node/Chromium checks) with LIFECIRCLE_JS_TESTS=1 so those run rather than skip; the last
#   line counts passed, failed and skipped (ignored) tests.
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

# The browser test writes screenshots of the page, which is in Chinese by default; without a
# CJK font they would show empty boxes.
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing a Chinese font for the page screenshots (fonts-wqy-microhei)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null
  else
    echo "note: no Chinese font installed; page screenshots will show boxes for Chinese text" >&2
  fi
fi

# The OpenStreetMap import test converts its .osm fixture with osmium and checks walking
# distances against networkx (Debian's python3-networkx, importable by the system python3).
if ! command -v osmium >/dev/null 2>&1 \
  || ! { python3 -c 'import networkx' 2>/dev/null || /usr/bin/python3 -c 'import networkx' 2>/dev/null; }; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing osmium-tool and python3-networkx (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq osmium-tool python3-networkx >/dev/null
  else
    echo "osmium or networkx is missing and cannot be installed here; install Debian's 'osmium-tool' and 'python3-networkx'" >&2
    exit 1
  fi
fi

# The report's XLSX downloads are read back with openpyxl (Debian's python3-openpyxl).
if ! { python3 -c 'import openpyxl' 2>/dev/null || /usr/bin/python3 -c 'import openpyxl' 2>/dev/null; }; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing python3-openpyxl (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-openpyxl >/dev/null
  else
    echo "openpyxl is missing and cannot be installed here; install Debian's 'python3-openpyxl'" >&2
    exit 1
  fi
fi

# The shared feedback store's tests run against a real PostgreSQL server: Debian's postgresql
# package, a throwaway cluster in a temporary directory (initdb refuses to run as root, so the
# cluster belongs to the postgres user), listening on 127.0.0.1 on a free port only.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing postgresql (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is missing and cannot be installed here; install Debian's 'postgresql' package" >&2
    exit 1
  fi
fi
pg_bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
pg_dir=$(mktemp -d)
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$pg_dir"
  as_pg=(runuser -u postgres --)
fi
stop_postgres() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
cleanup() {
  stop_postgres
  rm -f "${results:-}"
}
trap cleanup EXIT
log "starting a throwaway PostgreSQL server on 127.0.0.1:$pg_port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=on -c max_connections=200" start >/dev/null
export LIFECIRCLE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"

log "installing node test packages (tests/js)"
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
export LIFECIRCLE_JS_TESTS=1
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
# Library, binary and integration tests of every workspace member (the server and the data
# generator, whose tests check the committed sample byte for byte; no doc tests). The last line
# sums the runners' results.
# --include-ignored: the tests that need PostgreSQL are ignored under plain `cargo test`.
results=$(mktemp)
trap 'rm -f "$results"' EXIT
cargo test --workspace --locked --no-fail-fast --lib --bins --tests -- --test-threads=2 --include-ignored 2>&1 | tee "$results"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0 || p == 0) }' "$results"
