// Validates a MapLibre style (URL or file) against the MapLibre style specification.
// Usage: node validate_style.mjs URL|FILE
// Prints {"ok": bool, "errors": [...]} and exits 0 when valid, 1 when not, 2 on usage errors.
import { readFile } from 'node:fs/promises';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';

const target = process.argv[2];
if (!target) {
  console.error('usage: node validate_style.mjs URL|FILE');
  process.exit(2);
}
const text = /^https?:/.test(target) ? await (await fetch(target)).text() : await readFile(target, 'utf8');
const errors = validateStyleMin(JSON.parse(text)).map((e) => e.message);
console.log(JSON.stringify({ ok: errors.length === 0, errors }));
process.exit(errors.length === 0 ? 0 : 1);
