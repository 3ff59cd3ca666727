"""Snapshot time and resident memory of the release server on the city-scale set (a benchmark,
not a test). Run through scripts/snapshot.sh, which builds the binary and generates the data.

Per round: starts `lifecircle serve` on the generated set (roads, subdistricts, residents and
the walking coverage included; precompute off), waits for /ready, reads VmRSS and VmHWM from
/proc/PID/status (resident memory before any tile is cached, and the peak during the build),
takes the stage times from the server's log, and stops it. Prints each round and the medians,
with the load average. LIFECIRCLE_BASELINE=BINARY measures an earlier build too, alternating
with this one round by round. Only 127.0.0.1 is contacted."""

import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TARGET, ROUNDS, CITY = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

BINARIES = [("lifecircle", f"{TARGET}/release/lifecircle")]
if os.environ.get("LIFECIRCLE_BASELINE"):
    BINARIES.insert(0, ("baseline", os.environ["LIFECIRCLE_BASELINE"]))

scratch = tempfile.mkdtemp(prefix="lifecircle-snapshot-")
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


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/ready")
        return b'"state":"finished"' in c.getresponse().read()
    except OSError:
        return False


def one_round(label, binary):
    log_path = os.path.join(scratch, f"{label}.log")
    port = free_port()
    env = dict(os.environ, LIFECIRCLE_LOG="info")
    server = subprocess.Popen([binary, "--config", config, "serve", "--listen", f"127.0.0.1:{port}"],
                              stderr=open(log_path, "w"), stdout=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 900
        while not ready(port):
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"{label} did not become ready; see {log_path}")
            time.sleep(0.2)
        status = open(f"/proc/{server.pid}/status").read()
        mb = lambda name: int(re.search(name + r":\s+(\d+)", status).group(1)) / 1024
        log = re.sub(r"\x1b\[[0-9;]*m", "", open(log_path).read())
        figures = {"snapshot_s": int(re.search(r"snapshot built.*?elapsed_ms=(\d+)", log).group(1)) / 1000,
                   "rss_mb": mb("VmRSS"), "hwm_mb": mb("VmHWM"), "load": load()}
        stages = {}
        for m in re.finditer(r"snapshot stage stage=\"?([\w ]+?)\"? elapsed_ms=(\d+)", log):
            stages[m.group(1)] = int(m.group(2)) / 1000
        for name, pat in [("coverage", r"coverage built.*?elapsed_ms=(\d+)"),
                          ("search", r"search index built.*?elapsed_ms=(\d+)")]:
            m = re.search(pat, log)
            if m:
                stages[name] = int(m.group(1)) / 1000
        for m in re.finditer(r"stage=\"?(\w+)\"? since_start_ms=(\d+) rss_mb=(\d+) hwm_mb=(\d+)", log):
            stages[f"{m.group(1)} done at"] = int(m.group(2)) / 1000
            figures[f"rss after {m.group(1)}"] = int(m.group(3))
        figures["stages"] = stages
        return figures
    finally:
        server.terminate()
        server.wait(30)


results = {label: [] for label, _ in BINARIES}
print(f"load average at start: {load()}", flush=True)
for r in range(ROUNDS):
    for label, binary in BINARIES:
        f = one_round(label, binary)
        results[label].append(f)
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in f["stages"].items())
        print(f"[{label}] round {r + 1}: snapshot {f['snapshot_s']:.1f} s ({stages}); "
              f"VmRSS {f['rss_mb']:.0f} MB, VmHWM {f['hwm_mb']:.0f} MB; load {f['load']}", flush=True)
for label, rounds in results.items():
    med = lambda key: statistics.median(x[key] for x in rounds)
    print(f"[{label}] median of {len(rounds)}: snapshot {med('snapshot_s'):.1f} s, "
          f"VmRSS {med('rss_mb'):.0f} MB, VmHWM {med('hwm_mb'):.0f} MB; load at end {load()}")
