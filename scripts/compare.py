"""Side-by-side benchmark of lifecircle at city scale (the 1M-facility generated set) against
PostGIS ST_AsMVT, a bare axum server holding the same tile bytes, and Martin serving them from
an MBTiles. Run through scripts/compare.sh, which builds the binaries and generates the data.

Prints every figure of the performance table: cold tile medians per zoom and the PostGIS ratio,
cached-tile requests per second (wrk) and their ratios, /search p50/p99 over HTTP on one
connection, resident memory at 1M before any tile is cached, and the snapshot time.
LIFECIRCLE_BASELINE=BINARY measures an earlier build too, in the same run, before this one. Only
127.0.0.1 is contacted; every process started here is stopped at the end."""

import csv
import http.client
import json
import math
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from urllib.parse import quote

TARGET, SECONDS, ROUNDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# The lifecircle builds to compare, one after another in the same run: this build, and any given
# in LIFECIRCLE_BASELINE (a binary built before a change).
BINARIES = [("lifecircle", f"{TARGET}/release/lifecircle")]
if os.environ.get("LIFECIRCLE_BASELINE"):
    BINARIES.insert(0, ("baseline", os.environ["LIFECIRCLE_BASELINE"]))
ROOT = os.getcwd()
CITY = os.path.join(ROOT, os.environ.get("LIFECIRCLE_CITY", os.path.join("data", "city")))
LC_PORT, BARE_PORT, MARTIN_PORT, PG_PORT = 18941, 18942, 18943, 18944
EXTENT, BUFFER, MAX_POINTS, FINE_PX, CELL_PX = 4096, 64, 3000, 16, 32

scratch = tempfile.mkdtemp(prefix="lifecircle-compare-")
procs = []


def load():
    return open("/proc/loadavg").read().split()[:3]


def say(*args):
    print(*args, flush=True)


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_http(port, path, accept=lambda body: True, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            if r.status < 500 and accept(body):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not come up")


def tile_of(lon, lat, z):
    n = 2**z
    x = (lon + 180) / 360 * n
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n
    return x, y


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(p / 100 * len(xs)) - 1)]


# ---------------------------------------------------------------- the same points as CSV
config = os.path.join(scratch, "city.toml")
with open(config, "w") as f:
    f.write(f"""[data]
facilities = "{CITY}/facilities.fgb"
roads = "{CITY}/roads.fgb"
subdistricts = "{CITY}/subdistricts.fgb"
residents = "{CITY}/residents.fgb"
[cache]
precompute_minzoom = 0
precompute_maxzoom = 0
[coverage]
precompute_maxzoom = 0
[feedback]
path = "{scratch}/feedback.sqlite"
""")
say(f"load average at start: {' '.join(load())}")
points_csv = os.path.join(scratch, "points.csv")
subprocess.run([f"{TARGET}/release/examples/bench_points", f"{CITY}/facilities.fgb", points_csv], check=True)
lonlat = []
with open(points_csv, newline="") as f:
    for row in csv.DictReader(f):
        lonlat.append((float(row["lon"]), float(row["lat"])))


def densest(z, n):
    counts = Counter()
    for lon, lat in lonlat:
        x, y = tile_of(lon, lat, z)
        counts[(int(x), int(y))] += 1
    return [(z, x, y, c) for (x, y), c in counts.most_common(n)]


def counts_in_buffer(z):
    """Facilities per tile grown by the buffer (what decides points or clusters)."""
    m = BUFFER / EXTENT
    counts = Counter()
    for lon, lat in lonlat:
        tx, ty = tile_of(lon, lat, z)
        ix, iy = int(tx), int(ty)
        for dx in (-1, 0, 1):
            if ix + dx - m <= tx <= ix + dx + 1 + m:
                for dy in (-1, 0, 1):
                    if iy + dy - m <= ty <= iy + dy + 1 + m:
                        counts[(ix + dx, iy + dy)] += 1
    return counts


zoom_tiles = {14: densest(14, 50), 12: densest(12, 50), 10: densest(10, 50)}
z14_buffer = counts_in_buffer(14)
z12 = zoom_tiles[12][0]
mix = [(z, x, y) for z in range(12, 17) for x in range(z12[1] * 2 ** (z - 12), (z12[1] + 1) * 2 ** (z - 12))
       for y in range(z12[2] * 2 ** (z - 12), (z12[2] + 1) * 2 ** (z - 12))]
terms = ["学校", "幼儿园", "医院", "超市", "公园", "菜市场", "药店", "银行", "社区", "图书馆"]
rng = random.Random(15)
queries = []
for i in range(220):
    lon, lat = lonlat[rng.randrange(len(lonlat))]
    radius = rng.choice([1000, 1500, 2000])
    queries.append(f"/search?q={quote(terms[i % len(terms)])}&near={lon:.6f},{lat:.6f}&radius={radius}")
tiles_dir = os.path.join(scratch, "tiles")
paths = []


def wrk(port, prefix, suffix):
    lua = os.path.join(scratch, f"paths-{port}.lua")
    with open(lua, "w") as f:
        f.write("paths = {" + ",".join(json.dumps(f"{prefix}/{z}/{x}/{y}{suffix}") for z, x, y in paths) + "}\n")
        f.write("counter = 0\nrequest = function()\n  counter = counter + 1\n"
                "  return wrk.format('GET', paths[(counter % #paths) + 1], {['Accept-Encoding'] = 'gzip'})\nend\n")
    out = subprocess.run(["wrk", "-t", "2", "-c", "64", "-d", f"{SECONDS}s", "-s", lua, f"http://127.0.0.1:{port}"],
                         check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors from port {port}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def run_lifecircle(label, binary):
    """Snapshot, memory, cold tiles, search and cached tiles of one build; the server is stopped
    at the end."""
    result = {}
    log_path = os.path.join(scratch, f"server-{label}.log")
    started = time.time()
    server = subprocess.Popen(
        [binary, "--config", config, "serve", "--listen", f"127.0.0.1:{LC_PORT}"],
        stderr=open(log_path, "w"), stdout=subprocess.DEVNULL)
    procs.append(server)
    try:
        wait_http(LC_PORT, "/ready", lambda b: b'"state":"finished"' in b)
        ready_s = time.time() - started
        status = open(f"/proc/{server.pid}/status").read()
        result["rss_mb"] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        hwm_mb = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
        clean = re.sub(r"\x1b\[[0-9;]*m", "", open(log_path).read())
        snap = re.search(r"snapshot built.*?elapsed_ms=(\d+)", clean)
        result["snapshot_s"] = int(snap.group(1)) / 1000 if snap else float("nan")
        stages = {k: re.search(pat, clean) for k, pat in
                  [("coverage", r"coverage built.*?elapsed_ms=(\d+)"), ("search", r"search index built.*?elapsed_ms=(\d+)")]}
        say(f"[{label}] snapshot of the city set: {result['snapshot_s']:.1f} s (ready after {ready_s:.1f} s; "
            + ", ".join(f"{k} {int(m.group(1)) / 1000:.1f} s" for k, m in stages.items() if m) + ")")
        say(f"[{label}] resident memory before any tile is cached: {result['rss_mb']:.0f} MB "
            f"(peak during the build {hwm_mb:.0f} MB)   load {' '.join(load())}")
        conn = http.client.HTTPConnection("127.0.0.1", LC_PORT)

        def get(path, headers=None):
            t = time.perf_counter()
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            body = r.read()
            return r.status, body, (time.perf_counter() - t) * 1000

        result["cold"] = {}
        for z, tiles in zoom_tiles.items():
            times = []
            for (_, x, y, _) in tiles:
                status, _, ms = get(f"/tiles/facilities/{z}/{x}/{y}.mvt", {"Accept-Encoding": "gzip"})
                assert status in (200, 204), status
                times.append(ms)
            result["cold"][z] = times
            say(f"[{label}] cold z{z}: {len(tiles)} densest tiles (largest {tiles[0][3]} facilities), "
                f"median {median(times):.2f} ms, min {min(times):.2f}, max {max(times):.2f}   load {' '.join(load())}")
        search_ms = []
        for i, path in enumerate(queries):
            status, body, ms = get(path)
            assert status == 200, (status, body[:200])
            if i >= 20:  # the first 20 warm the connection
                search_ms.append(ms)
        result["search"] = search_ms
        say(f"[{label}] /search over HTTP, 200 queries (Chinese terms, 1–2 km) on one connection: "
            f"p50 {median(search_ms):.2f} ms, p99 {pct(search_ms, 99):.2f} ms   load {' '.join(load())}")
        # The cached-tile mix: every tile z12–16 under the densest z12 tile, fetched once.
        for z, x, y in mix:
            status, body, _ = get(f"/tiles/facilities/{z}/{x}/{y}.mvt", {"Accept-Encoding": "gzip"})
            if status == 200 and not os.path.exists(f"{tiles_dir}/{z}/{x}/{y}.mvt.gz"):
                os.makedirs(f"{tiles_dir}/{z}/{x}", exist_ok=True)
                with open(f"{tiles_dir}/{z}/{x}/{y}.mvt.gz", "wb") as f:
                    f.write(body)
                paths.append((z, x, y))
        conn.close()
        if shutil.which("wrk") is None:
            say("cached-tile comparison skipped: install wrk")
            return result
        contenders = [(label, LC_PORT, "/tiles/facilities", ".mvt")] + references()
        rates = {name: [] for name, *_ in contenders}
        for _ in range(ROUNDS):
            for name, port, prefix, suffix in contenders:
                rates[name].append(wrk(port, prefix, suffix))
        lc = median(rates[label])
        for name, *_ in contenders:
            r = median(rates[name])
            say(f"[{label}] wrk -t2 -c64 {SECONDS} s × {ROUNDS}, {name}: median {r:,.0f} req/s "
                f"({', '.join(f'{v:,.0f}' for v in rates[name])}); {label} = {lc / r:.2f}× this   load {' '.join(load())}")
        result["rates"] = {k: median(v) for k, v in rates.items()}
        return result
    finally:
        server.terminate()
        server.wait(30)


reference_servers = []


def references():
    """The bare axum server and Martin on the tiles fetched by the first build (started once)."""
    if reference_servers:
        return reference_servers
    size = sum(os.path.getsize(f"{tiles_dir}/{z}/{x}/{y}.mvt.gz") for z, x, y in paths)
    say(f"cached-tile mix: {len(paths)} tiles z12–16 under the densest z12 tile, "
        f"{size / len(paths) / 1024:.1f} KB gzip on average")
    bare = subprocess.Popen([f"{TARGET}/release/examples/bare_tiles", tiles_dir, f"127.0.0.1:{BARE_PORT}"],
                            stderr=subprocess.DEVNULL)
    procs.append(bare)
    wait_http(BARE_PORT, "/tiles/facilities/0/0/0.mvt")
    reference_servers.append(("bare axum (HashMap)", BARE_PORT, "/tiles/facilities", ".mvt"))
    if shutil.which("martin"):
        mbtiles = os.path.join(scratch, "facilities.mbtiles")
        db = sqlite3.connect(mbtiles)
        db.executescript("CREATE TABLE metadata (name text, value text); "
                         "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob); "
                         "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [
            ("name", "facilities"), ("format", "pbf"), ("minzoom", "12"), ("maxzoom", "16"),
            ("json", json.dumps({"vector_layers": [{"id": "facilities", "fields": {}}]}))])
        for z, x, y in paths:
            data = open(f"{tiles_dir}/{z}/{x}/{y}.mvt.gz", "rb").read()
            db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2**z - 1 - y, data))
        db.commit()
        db.close()
        martin = subprocess.Popen(["martin", "--listen-addresses", f"127.0.0.1:{MARTIN_PORT}", mbtiles],
                                  stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        procs.append(martin)
        wait_http(MARTIN_PORT, "/catalog")
        reference_servers.append(("Martin (MBTiles)", MARTIN_PORT, "/facilities", ""))
    else:
        say("Martin comparison skipped: `martin` is not installed (cargo install martin)")
    return reference_servers


def run_postgis():
    """Median ST_AsMVT time per zoom on the same tiles, or None without PostGIS."""
    pg_bin = sorted(p for p in os.listdir("/usr/lib/postgresql") if p.isdigit()) if os.path.isdir("/usr/lib/postgresql") else []
    if not any(os.path.exists(f"/usr/share/postgresql/{v}/extension/postgis.control") for v in pg_bin):
        say("PostGIS comparison skipped: install postgresql and postgresql-15-postgis-3")
        return None
    bindir = f"/usr/lib/postgresql/{pg_bin[-1]}/bin"
    pgdata = os.path.join(scratch, "pg")
    os.chmod(scratch, 0o755)
    os.chmod(points_csv, 0o644)
    os.makedirs(pgdata)
    shutil.chown(pgdata, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [f"{bindir}/initdb", "-D", pgdata, "-A", "trust", "-E", "UTF8", "--no-locale"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", pgdata, "-l", f"{pgdata}/log", "-w", "-o",
                            f"-p {PG_PORT} -k {pgdata} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c jit=off",
                            "start"],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        def psql(sql, *flags):
            out = subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres",
                                   "-v", "ON_ERROR_STOP=1", *flags, "-c", sql],
                                  capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"psql failed: {out.stderr.strip()}\n{sql[:300]}")
            return out.stdout
        t = time.time()
        psql("CREATE EXTENSION postgis")
        psql("CREATE TABLE raw (id bigint, lon float8, lat float8, name text, label text, label_en text, "
             "name_en text, category text, color text, grp text, address text)")
        psql(f"\\copy raw FROM '{points_csv}' CSV HEADER")
        psql("CREATE TABLE facilities AS SELECT id, name, "
             "NULLIF(label, '') label, NULLIF(label_en, '') label_en, NULLIF(name_en, '') name_en, category, color, "
             "grp AS \"group\", NULLIF(address, '') address, "
             "ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 3857) AS geom FROM raw")
        psql("CREATE INDEX ON facilities USING gist (geom)")
        psql("DROP TABLE raw")
        psql("VACUUM ANALYZE facilities")
        say(f"PostGIS loaded {len(lonlat)} points in {time.time() - t:.0f} s")
        # Same output as lifecircle: points with the facility properties, or grid clusters
        # (count, dominant category, centroid) where lifecircle clusters.
        psql(f"""
CREATE FUNCTION tile_ms(z int, x int, y int, cell_px int) RETURNS float8 AS $$
DECLARE t0 timestamptz; b bytea; env geometry; benv geometry; cell float8;
BEGIN
  t0 := clock_timestamp();
  env := ST_TileEnvelope(z, x, y);
  benv := ST_TileEnvelope(z, x, y, margin => {BUFFER}.0 / {EXTENT});
  IF cell_px = 0 THEN
SELECT ST_AsMVT(t, 'facilities', {EXTENT}, 'geom', 'id') INTO b FROM (
  SELECT id, name, label, label_en, name_en, category, color, "group", address,
         ST_AsMVTGeom(geom, env, {EXTENT}, {BUFFER}, true) AS geom
  FROM facilities WHERE geom && benv) t;
  ELSE
cell := (ST_XMax(env) - ST_XMin(env)) * cell_px / 256;
SELECT ST_AsMVT(t, 'facilities', {EXTENT}, 'geom') INTO b FROM (
  SELECT true AS cluster, count(*) AS point_count,
         mode() WITHIN GROUP (ORDER BY category) AS category,
         ST_AsMVTGeom(ST_Centroid(ST_Collect(geom)), env, {EXTENT}, {BUFFER}, true) AS geom
  FROM facilities WHERE geom && benv
  GROUP BY floor(ST_X(geom) / cell), floor(ST_Y(geom) / cell)) t;
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$ LANGUAGE plpgsql""")
        pg = {}
        for z, tiles in zoom_tiles.items():
            calls = []
            for (_, x, y, _) in tiles:
                cell_px = CELL_PX if z <= 13 else (FINE_PX if z14_buffer[(x, y)] > MAX_POINTS else 0)
                calls.append(f"tile_ms({z}, {x}, {y}, {cell_px})")
            # One pass to warm the table's pages, then the timed pass.
            psql("SELECT " + ", ".join(calls))
            out = psql("SELECT " + ", ".join(calls), "-A", "-t", "-F", " ")
            pg[z] = [float(v) for v in out.split()]
            say(f"PostGIS ST_AsMVT z{z}: median {median(pg[z]):.2f} ms (min {min(pg[z]):.2f}, "
                f"max {max(pg[z]):.2f})   load {' '.join(load())}")
        return pg
    finally:
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", pgdata, "-m", "fast", "stop"], stdout=subprocess.DEVNULL)


try:
    results = {label: run_lifecircle(label, binary) for label, binary in BINARIES}
    pg = run_postgis()
    say("")
    say("summary")
    for label, r in results.items():
        for z in zoom_tiles:
            line = f"  [{label}] cold z{z} median {median(r['cold'][z]):.2f} ms"
            if pg:
                line += f"; PostGIS {median(pg[z]):.2f} ms → {median(pg[z]) / median(r['cold'][z]):.1f}×"
            say(line)
        if "rates" in r:
            for name, rate in r["rates"].items():
                if name != label:
                    say(f"  [{label}] cached tiles {r['rates'][label]:,.0f} req/s = {r['rates'][label] / rate:.2f}× {name} ({rate:,.0f})")
        say(f"  [{label}] search p50 {median(r['search']):.2f} ms, p99 {pct(r['search'], 99):.2f} ms; "
            f"RSS before caching {r['rss_mb']:.0f} MB; snapshot {r['snapshot_s']:.1f} s")
    say(f"load average at the end: {' '.join(load())}")
finally:
    stop_all()
    shutil.rmtree(scratch, ignore_errors=True)
