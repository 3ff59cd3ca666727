"""Reference two-step floating catchment (2SFCA) for the service load tests, independent of
lifecircle.

Reads JSON from stdin:
  {"mode": "euclidean" | "network", "roads": "PATH.geojson" or "PATH.fgb" (network mode),
   "exclude_highways": [classes not walked], "d0": metres,
   "decay": "none" | "linear" | "gaussian" (or "decays": [...], answered under "by_decay"),
   "facilities": [{"key" or "name", "lon", "lat", "capacity"}...],
   "places": [{"lon", "lat", "population"}...] or "residents": "PATH.fgb" (points, `population`)}
and writes {"facilities": {key: {"ratio": R_j or null, "within": residents within d0,
"demand": weighted demand}}, "access": [A_i per place], "places": the places read}.
FlatGeobuf files are read by the small reader below (the format's FlatBuffers header and
features, no GIS library).

Distances: euclidean mode is the haversine (mean Earth radius). Network mode reads the street
file itself (a GeoJSON FeatureCollection of LineStrings; consecutive vertices are segments
weighted by haversine metres, equal coordinates are one node), attaches every facility and
place to the segment whose nearest point is nearest (the nearest point found in the segment's
own equirectangular plane, cosine of its mid latitude; the leg off the street is a haversine),
and walks with networkx's Dijkstra: a facility enters the network at both ends of its segment,
and a place is reached from either end of its own segment, or straight along the segment when
both share it.

    step 1: R_j = S_j / sum over places k with d_kj <= d0 of P_k * W(d_kj)
    step 2: A_i = sum over facilities j with d_ij <= d0 of R_j * W(d_ij)
"""

import json
import math
import struct
import sys

EARTH_RADIUS_M = 6371008.8


def haversine(a, b):
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def weight(decay, d, d0):
    if decay == "none":
        return 1.0
    if decay == "linear":
        return 1.0 - d / d0
    if decay == "gaussian":
        floor = math.exp(-0.5)
        return (math.exp(-0.5 * (d / d0) ** 2) - floor) / (1.0 - floor)
    raise ValueError(f"unknown decay {decay}")


def straight_distances(facility, places, d0):
    out = {}
    for k, p in enumerate(places):
        d = haversine((facility["lon"], facility["lat"]), (p["lon"], p["lat"]))
        if d <= d0:
            out[k] = d
    return out


def _table(buf, pos):
    """(start, vtable fields) of the FlatBuffers table at `pos`."""
    vt = pos - struct.unpack_from("<i", buf, pos)[0]
    vt_len = struct.unpack_from("<H", buf, vt)[0]
    fields = [struct.unpack_from("<H", buf, vt + 4 + 2 * i)[0] for i in range((vt_len - 4) // 2)]
    return pos, fields


def _field(buf, table, i):
    pos, fields = table
    return pos + fields[i] if i < len(fields) and fields[i] else None


def _ref(buf, at):
    return at + struct.unpack_from("<I", buf, at)[0]


def _vector(buf, table, i):
    at = _field(buf, table, i)
    if at is None:
        return None, 0
    start = _ref(buf, at)
    return start + 4, struct.unpack_from("<I", buf, start)[0]


def _string(buf, table, i):
    start, n = _vector(buf, table, i)
    return None if start is None else buf[start:start + n].decode("utf-8")


# FlatGeobuf column types and their fixed sizes (None: u32 length + bytes).
_SIZES = {0: ("b", 1), 1: ("B", 1), 2: ("?", 1), 3: ("h", 2), 4: ("H", 2), 5: ("i", 4), 6: ("I", 4),
          7: ("q", 8), 8: ("Q", 8), 9: ("f", 4), 10: ("d", 8)}


def read_fgb(path):
    """Features of a FlatGeobuf file as (geometry parts: lists of (x, y), properties dict).
    Reads the format itself (magic, header, optional packed R-tree, size-prefixed features)."""
    with open(path, "rb") as f:
        buf = f.read()
    assert buf[:3] == b"fgb", f"{path} is not FlatGeobuf"
    header_len = struct.unpack_from("<I", buf, 8)[0]
    hstart = 12
    header = _table(buf, _ref(buf, hstart))
    columns = []
    cstart, ncols = _vector(buf, header, 7)
    for c in range(ncols or 0):
        col = _table(buf, _ref(buf, cstart + 4 * c))
        at = _field(buf, col, 1)
        columns.append((_string(buf, col, 0), buf[at] if at else 0))
    at = _field(buf, header, 8)
    n_features = struct.unpack_from("<Q", buf, at)[0] if at else 0
    at = _field(buf, header, 9)
    node_size = struct.unpack_from("<H", buf, at)[0] if at else 16
    pos = hstart + header_len
    if node_size > 0 and n_features > 0:
        n, nodes = n_features, n_features
        while n != 1:
            n = (n + node_size - 1) // node_size
            nodes += n
        pos += nodes * 40
    out = []
    while pos < len(buf):
        size = struct.unpack_from("<I", buf, pos)[0]
        feature = _table(buf, _ref(buf, pos + 4))
        pos += 4 + size
        parts = []
        gat = _field(buf, feature, 0)
        if gat is not None:
            geometry = _table(buf, _ref(buf, gat))
            xy_start, n_xy = _vector(buf, geometry, 1)
            xy = struct.unpack_from(f"<{n_xy}d", buf, xy_start) if xy_start else ()
            points = [(xy[2 * i], xy[2 * i + 1]) for i in range(n_xy // 2)]
            ends_start, n_ends = _vector(buf, geometry, 0)
            ends = list(struct.unpack_from(f"<{n_ends}I", buf, ends_start)) if ends_start else [len(points)]
            begin = 0
            for end in ends:
                parts.append(points[begin:end])
                begin = end
        props = {}
        pstart, plen = _vector(buf, feature, 1)
        i = 0
        while pstart is not None and i < plen:
            col = struct.unpack_from("<H", buf, pstart + i)[0]
            i += 2
            name, kind = columns[col]
            if kind in _SIZES:
                fmt, n = _SIZES[kind]
                props[name] = struct.unpack_from("<" + fmt, buf, pstart + i)[0]
                i += n
            else:
                n = struct.unpack_from("<I", buf, pstart + i)[0]
                props[name] = buf[pstart + i + 4:pstart + i + 4 + n].decode("utf-8", "replace")
                i += 4 + n
        out.append((parts, props))
    return out


def read_lines(path, excluded):
    """Street lines (lists of (lon, lat)) of a GeoJSON or FlatGeobuf file, without the
    `highway` classes in `excluded`."""
    if path.endswith(".fgb"):
        features = read_fgb(path)
    else:
        with open(path, encoding="utf-8") as f:
            features = [
                ([[tuple(c[:2]) for c in feature["geometry"]["coordinates"]]], feature.get("properties") or {})
                for feature in json.load(f)["features"]
            ]
    lines = []
    for parts, props in features:
        if str(props.get("highway") or "").lower() in excluded:
            continue
        lines.extend(parts)
    return lines


def read_places(path, population_field="population"):
    """Residential points of a FlatGeobuf file: {lon, lat, population}."""
    return [
        {"lon": parts[0][0][0], "lat": parts[0][0][1], "population": int(props.get(population_field) or 0)}
        for parts, props in read_fgb(path)
        if parts and parts[0]
    ]


class Network:
    def __init__(self, path, places, excluded=()):
        import networkx as nx

        self.nx = nx
        self.segments = []
        for coords in read_lines(path, {e.lower() for e in excluded}):
            for a, b in zip(coords, coords[1:]):
                if a != b:
                    self.segments.append((a, b))
        self.graph = nx.Graph()
        for a, b in self.segments:
            w = haversine(a, b)
            if self.graph.has_edge(a, b):
                w = min(w, self.graph[a][b]["weight"])
            self.graph.add_edge(a, b, weight=w)
        self.places = [self.attach((p["lon"], p["lat"])) for p in places]
        self.by_segment = {}
        for k, at in enumerate(self.places):
            self.by_segment.setdefault(at[0], []).append(k)

    def attach(self, p):
        """(segment index, point on it, off-street metres) of the nearest segment."""
        best = None
        for i, (a, b) in enumerate(self.segments):
            kx = math.cos(math.radians((a[1] + b[1]) / 2))
            dx, dy = (b[0] - a[0]) * kx, b[1] - a[1]
            l2 = dx * dx + dy * dy
            t = 0.0 if l2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * kx * dx + (p[1] - a[1]) * dy) / l2))
            on = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
            off = haversine(p, on)
            if best is None or off < best[2]:
                best = (i, on, off)
        return best

    def distances(self, facility, d0):
        seg, on, off = self.attach((facility["lon"], facility["lat"]))
        a, b = self.segments[seg]
        source = ("facility",)
        self.graph.add_edge(source, a, weight=off + haversine(a, on))
        if self.graph.has_edge(source, b):
            w = min(self.graph[source][b]["weight"], off + haversine(on, b))
        else:
            w = off + haversine(on, b)
        self.graph.add_edge(source, b, weight=w)
        node_dist = self.nx.single_source_dijkstra_path_length(self.graph, source, cutoff=d0, weight="weight")
        self.graph.remove_node(source)
        out = {}
        for k, (pseg, pon, poff) in enumerate(self.places):
            pa, pb = self.segments[pseg]
            best = math.inf
            if pa in node_dist:
                best = min(best, node_dist[pa] + haversine(pa, pon))
            if pb in node_dist:
                best = min(best, node_dist[pb] + haversine(pon, pb))
            if pseg == seg:
                best = min(best, off + haversine(on, pon))
            d = best + poff
            if d <= d0:
                out[k] = d
        return out


def sfca(decay, d0, facilities, places, reach):
    """(per facility {ratio, within, demand}, A_i per place) for one decay."""
    out_facilities = {}
    access = [0.0] * len(places)
    ratios = []
    for f, within in zip(facilities, reach):
        demand = sum(places[k]["population"] * weight(decay, d, d0) for k, d in within.items())
        ratio = f["capacity"] / demand if demand > 0 else None
        ratios.append(ratio)
        out_facilities[f.get("key", f.get("name"))] = {
            "ratio": ratio,
            "within": sum(places[k]["population"] for k in within),
            "demand": demand,
        }
    for ratio, within in zip(ratios, reach):
        if ratio is None:
            continue
        for k, d in within.items():
            access[k] += ratio * weight(decay, d, d0)
    return out_facilities, access


def main():
    data = json.load(sys.stdin)
    d0 = data["d0"]
    facilities = data["facilities"]
    places = data["places"] if "places" in data else read_places(data["residents"])
    if data["mode"] == "network":
        network = Network(data["roads"], places, data.get("exclude_highways", ()))
        reach = [network.distances(f, d0) for f in facilities]
    else:
        reach = [straight_distances(f, places, d0) for f in facilities]
    if "decays" in data:
        by_decay = {}
        for decay in data["decays"]:
            out_facilities, access = sfca(decay, d0, facilities, places, reach)
            by_decay[decay] = {"facilities": out_facilities, "access": access}
        json.dump({"by_decay": by_decay, "places": places}, sys.stdout)
    else:
        out_facilities, access = sfca(data["decay"], d0, facilities, places, reach)
        json.dump({"facilities": out_facilities, "access": access, "places": places}, sys.stdout)


if __name__ == "__main__":
    main()
