#!/usr/bin/env bash
# Cache soak: starts the release server on the bundled sample at 127.0.0.1 with a small tile
# cache and no precompute, then requests random tile variants (examples/tile_soak.rs) and prints
# resident memory against cache.max_bytes every ten seconds. Not a pass/fail test: read the last
# line ("peak resident memory over base: N x cache.max_bytes").
#
#   bash scripts/soak.sh [seconds=120] [max_bytes=268435456] [clients=8] [coverage_share=0.3]
#
# Only 127.0.0.1 is ever contacted; the server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
max_bytes="${2:-268435456}"
clients="${3:-8}"
coverage_share="${4:-0.3}"
port=18932

cargo build --release --quiet --bin lifecircle --example tile_soak
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
scratch="$(mktemp -d)"
cat > "$scratch/soak.toml" <<EOF
[data]
facilities = "$PWD/data/changning/facilities.fgb"
roads = "$PWD/data/changning/roads.fgb"
subdistricts = "$PWD/data/changning/subdistricts.fgb"
residents = "$PWD/data/changning/residents.fgb"
[cache]
max_bytes = $max_bytes
precompute_minzoom = 0
precompute_maxzoom = 0
[coverage]
precompute_maxzoom = 0
[server]
max_queued_renders = 4096
EOF
"$target_dir/release/lifecircle" --config "$scratch/soak.toml" serve --listen "127.0.0.1:$port" \
  2>"$scratch/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$scratch"' EXIT
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$port/ready" | grep -q '"state":"finished"' && break
  sleep 0.2
done
# Structures built on first use (GCJ-02 positions, search) belong to the base, not the cache.
curl -fs -o /dev/null "http://127.0.0.1:$port/tiles/facilities/14/13718/6693.mvt?crs=gcj02"
curl -fs -o /dev/null "http://127.0.0.1:$port/search?q=school"
"$target_dir/release/examples/tile_soak" "http://127.0.0.1:$port" "$server" "$seconds" "$clients" "$max_bytes" "$coverage_share"
