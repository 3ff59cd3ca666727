// Decodes one MVT tile with @mapbox/vector-tile (the decoder MapLibre uses) and prints its
// features as JSON: [{layer, id, type, properties, geometry: [[x, y], ...]}] in tile units.
// Usage: node decode_tile.mjs URL   (gzip Content-Encoding is undone by fetch, as in a browser)
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader as Pbf } from 'pbf';

const url = process.argv[2];
if (!url) {
  console.error('usage: node decode_tile.mjs URL');
  process.exit(2);
}
const response = await fetch(url, { headers: { 'Accept-Encoding': 'gzip' } });
if (!response.ok) {
  console.error(`HTTP ${response.status} for ${url}`);
  process.exit(1);
}
const tile = new VectorTile(new Pbf(new Uint8Array(await response.arrayBuffer())));
const features = [];
for (const [name, layer] of Object.entries(tile.layers)) {
  for (let i = 0; i < layer.length; i++) {
    const f = layer.feature(i);
    features.push({
      layer: name,
      extent: layer.extent,
      id: f.id,
      type: f.type,
      properties: f.properties,
      geometry: f.loadGeometry().map((ring) => ring.map((p) => [p.x, p.y])),
    });
  }
}
console.log(JSON.stringify(features));
