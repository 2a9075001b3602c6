// Builds the console into ../internal/console/dist, which sparcd embeds
// (go:embed). Every asset is named by a hash of its content, so it can be
// cached for a year; only index.html, which names them, is revalidated.
// MapLibre is not bundled: its module and its worker are copied as they
// ship (hashed too) and loaded on first use of the map, so the console's
// own code stays small and the worker loads from our origin (CSP
// worker-src 'self', no blob: workers).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, '..', 'internal', 'console', 'dist');
const assets = join(out, 'assets');

const hashed = (name, bytes) => {
  const h = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  const dot = name.indexOf('.');
  return `${name.slice(0, dot)}-${h}${name.slice(dot)}`;
};

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });
writeFileSync(join(out, '.gitkeep'), '');

// MapLibre's module, worker and stylesheet, copied with hashed names.
const ml = join(here, 'node_modules', 'maplibre-gl', 'dist');
const copied = {};
for (const f of ['maplibre-gl.mjs', 'maplibre-gl-worker.mjs', 'maplibre-gl.css']) {
  // The source-map comment points at a file we do not ship.
  const text = readFileSync(join(ml, f), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  const name = hashed(f, text);
  writeFileSync(join(assets, name), text);
  copied[f] = 'assets/' + name;
}

const result = await build({
  entryPoints: { app: join(here, 'src', 'main.ts'), style: join(here, 'src', 'style.css') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome111', 'firefox115', 'safari16'],
  outdir: assets,
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  external: ['/app/*'], // MapLibre, copied beside the bundle
  define: {
    MAPLIBRE_URL: JSON.stringify('/app/' + copied['maplibre-gl.mjs']),
    MAPLIBRE_WORKER_URL: JSON.stringify('/app/' + copied['maplibre-gl-worker.mjs']),
  },
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => p.split('/').pop());
const app = outputs.find((n) => n.startsWith('app-') && n.endsWith('.js'));
const style = outputs.find((n) => n.startsWith('style-') && n.endsWith('.css'));

const index = readFileSync(join(here, 'src', 'index.html'), 'utf8')
  .replace('%MAPLIBRE_CSS%', '/app/' + copied['maplibre-gl.css'])
  .replace('%STYLE%', '/app/assets/' + style)
  .replace('%APP%', '/app/assets/' + app);
writeFileSync(join(out, 'index.html'), index);
console.log(`console built into ${out}: ${app}, ${style}`);
