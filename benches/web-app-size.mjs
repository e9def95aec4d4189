// What the web app ships to a viewer, gzip-compressed (level 9, as a server would send it), from the Vite build's
// manifest (web-app/frontend/dist/.vite/manifest.json): the first load of any page, the watch page's extra code
// including the player library it loads, and hls.js alone (the baseline: a page that is only an hls.js player).
//
//   scripts/build-web-app.sh && node benches/web-app-size.mjs
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'web-app', 'frontend');
const dist = join(root, 'dist');
const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'));
const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
const kb = (bytes) => (bytes / 1024).toFixed(1);

/** The chunk files a manifest entry loads before it runs: itself and its static imports, transitively. */
function closure(key, seen = new Set()) {
  if (seen.has(key)) return seen;
  seen.add(key);
  for (const next of manifest[key].imports ?? []) closure(next, seen);
  return seen;
}
function files(keys) {
  const js = new Set();
  const css = new Set();
  for (const key of keys) {
    js.add(manifest[key].file);
    for (const sheet of manifest[key].css ?? []) css.add(sheet);
  }
  return { js, css };
}
const sum = (set) => [...set].reduce((total, file) => total + gz(join(dist, file)), 0);

const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
const initial = files(closure(entry));
console.log(`first load of any page: JS ${kb(sum(initial.js))} KB + CSS ${kb(sum(initial.css))} KB (gzip)`);

// Every lazily loaded page or library, beyond what the first load has.
const extra = (keys) => {
  const { js, css } = files(keys);
  for (const file of initial.js) js.delete(file);
  for (const file of initial.css) css.delete(file);
  return { js, css };
};
const dynamic = Object.keys(manifest).filter((key) => manifest[key].isDynamicEntry);
const rows = dynamic.map((key) => {
  const { js, css } = extra(closure(key));
  return { key, js: sum(js), css: sum(css) };
});
rows.sort((a, b) => b.js - a.js);
for (const row of rows) console.log(`  lazy ${row.key}: JS ${kb(row.js)} KB, CSS ${kb(row.css)} KB`);

// The watch page: its own chunks, and every library it loads lazily (the player).
const watchKeys = dynamic.filter((key) => key.includes('pages/watch/'));
if (watchKeys.length > 0) {
  // Its chunks and what they import statically, then the one player library it loads for HLS (hls.js); dash.js
  // is loaded only where HLS cannot play, so it is left out.
  const keys = new Set();
  for (const key of watchKeys) closure(key, keys);
  for (const key of [...keys]) {
    for (const lazy of manifest[key].dynamicImports ?? []) if (lazy.includes('hls.js')) closure(lazy, keys);
  }
  const watch = extra(keys);
  const total = sum(initial.js) + sum(initial.css) + sum(watch.js) + sum(watch.css);
  console.log(`watch page with hls.js, everything: ${kb(total)} KB (gzip)`);
}
const require = createRequire(join(root, 'package.json'));
const hlsMin = join(dirname(require.resolve('hls.js/package.json')), 'dist', 'hls.min.js');
console.log(`baseline, hls.js alone (dist/hls.min.js): ${kb(gz(hlsMin))} KB (gzip)`);
