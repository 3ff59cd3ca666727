// Reads tiles of a PMTiles archive with the `pmtiles` npm package (the reader MapLibre's
// pmtiles:// protocol uses) from a local file, and prints the header, the metadata and, for each
// requested tile, its decompressed bytes in hex (null when the archive lacks it), as JSON.
// Usage: node read_pmtiles.mjs ARCHIVE TILES_FILE   (TILES_FILE: one "z x y" per line)
import { open, readFile } from 'node:fs/promises';
import { PMTiles } from 'pmtiles';

const [archive, tilesFile] = process.argv.slice(2);
if (!archive || !tilesFile) {
  console.error('usage: node read_pmtiles.mjs ARCHIVE TILES_FILE');
  process.exit(2);
}

/** A pmtiles Source over a local file: byte ranges read with positioned reads. */
class NodeFileSource {
  constructor(path) {
    this.path = path;
    this.handle = null;
  }
  getKey() {
    return this.path;
  }
  async getBytes(offset, length) {
    this.handle ??= await open(this.path, 'r');
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, offset);
    const bytes = buffer.subarray(0, bytesRead);
    return { data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
  }
}

const pmtiles = new PMTiles(new NodeFileSource(archive));
const header = await pmtiles.getHeader();
const metadata = await pmtiles.getMetadata();
const tiles = {};
for (const line of (await readFile(tilesFile, 'utf8')).split('\n')) {
  if (!line.trim()) continue;
  const [z, x, y] = line.trim().split(/\s+/).map(Number);
  const tile = await pmtiles.getZxy(z, x, y);
  tiles[`${z}/${x}/${y}`] = tile ? Buffer.from(tile.data).toString('hex') : null;
}
process.stdout.write(JSON.stringify({ header, metadata, tiles }));
