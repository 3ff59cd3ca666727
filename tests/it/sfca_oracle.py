"""Reference two-step floating catchment (2SFCA) for the service load tests, independent of
lifecircle.

Reads JSON from stdin:
  {"mode": "euclidean" | "network", "roads": "PATH.geojson" (network mode), "d0": metres,
   "decay": "none" | "linear" | "gaussian",
   "facilities": [{"name", "lon", "lat", "capacity"}...],
   "places": [{"lon", "lat", "population"}...]}
and writes {"facilities": {name: {"ratio": R_j or null, "within": residents within d0,
"demand": weighted demand}}, "access": [A_i per place]}.

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


class Network:
    def __init__(self, path, places):
        import networkx as nx

        self.nx = nx
        with open(path, encoding="utf-8") as f:
            roads = json.load(f)
        self.segments = []
        for feature in roads["features"]:
            coords = [tuple(c[:2]) for c in feature["geometry"]["coordinates"]]
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


def main():
    data = json.load(sys.stdin)
    d0, decay = data["d0"], data["decay"]
    places, facilities = data["places"], data["facilities"]
    if data["mode"] == "network":
        network = Network(data["roads"], places)
        reach = [network.distances(f, d0) for f in facilities]
    else:
        reach = [straight_distances(f, places, d0) for f in facilities]
    out_facilities = {}
    access = [0.0] * len(places)
    ratios = []
    for f, within in zip(facilities, reach):
        demand = sum(places[k]["population"] * weight(decay, d, d0) for k, d in within.items())
        ratio = f["capacity"] / demand if demand > 0 else None
        ratios.append(ratio)
        out_facilities[f["name"]] = {
            "ratio": ratio,
            "within": sum(places[k]["population"] for k in within),
            "demand": demand,
        }
    for ratio, within in zip(ratios, reach):
        if ratio is None:
            continue
        for k, d in within.items():
            access[k] += ratio * weight(decay, d, d0)
    json.dump({"facilities": out_facilities, "access": access}, sys.stdout)


if __name__ == "__main__":
    main()
