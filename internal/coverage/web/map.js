// SPARC coverage map: draws /tiles/coverage and /tiles/assets vector tiles
// on a canvas, with a hand-written Mapbox Vector Tile decoder, so the page
// needs no external tile server and no map library. Query parameters:
// lat, lng, z (view), and any ComputeCoverage parameter (kind, parent_code,
// categories, walking_distance_meters, window_start, window_end), passed
// on to the coverage tiles. After each full draw it records on <body>
// data-features (features drawn) and data-painted (pixels coloured), which
// the headless browser test reads.
'use strict';

// ---- Protocol buffers, just what vector tiles use ----
function Pbf(buf) { this.buf = buf; this.pos = 0; this.end = buf.length; }
Pbf.prototype.varint = function () {
  let result = 0, shift = 1, b;
  do {
    b = this.buf[this.pos++];
    result += (b & 0x7f) * shift;
    shift *= 128;
  } while (b & 0x80);
  return result;
};
Pbf.prototype.svarint = function () { const n = this.varint(); return n % 2 === 1 ? (n + 1) / -2 : n / 2; };
Pbf.prototype.bytes = function () { const n = this.varint(); const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b; };
Pbf.prototype.skip = function (wire) {
  if (wire === 0) this.varint();
  else if (wire === 1) this.pos += 8;
  else if (wire === 2) this.pos += this.varint();
  else if (wire === 5) this.pos += 4;
  else throw new Error('unsupported wire type ' + wire);
};
Pbf.prototype.fields = function (end, fn) {
  while (this.pos < end) {
    const key = this.varint();
    fn(key >> 3, key & 7);
  }
};
Pbf.prototype.packed = function () {
  const end = this.varint() + this.pos, out = [];
  while (this.pos < end) out.push(this.varint());
  return out;
};
const utf8 = new TextDecoder();

function readValue(p, end) {
  let v = null;
  p.fields(end, (f, w) => {
    const view = new DataView(p.buf.buffer, p.buf.byteOffset + p.pos);
    if (f === 1) v = utf8.decode(p.bytes());
    else if (f === 2) { v = view.getFloat32(0, true); p.pos += 4; }
    else if (f === 3) { v = view.getFloat64(0, true); p.pos += 8; }
    else if (f === 4 || f === 5) v = p.varint();
    else if (f === 6) v = p.svarint();
    else if (f === 7) v = p.varint() === 1;
    else p.skip(w);
  });
  return v;
}

// decodeTile returns {layerName: {extent, features: [{type, props, rings}]}}
// where rings are arrays of [x, y] in tile units.
function decodeTile(buf) {
  const p = new Pbf(buf), layers = {};
  p.fields(p.end, (f, w) => {
    if (f !== 3) { p.skip(w); return; }
    const end = p.varint() + p.pos;
    const layer = { name: '', extent: 4096, keys: [], values: [], raw: [] };
    p.fields(end, (lf, lw) => {
      if (lf === 1) layer.name = utf8.decode(p.bytes());
      else if (lf === 5) layer.extent = p.varint();
      else if (lf === 3) layer.keys.push(utf8.decode(p.bytes()));
      else if (lf === 4) { const vend = p.varint() + p.pos; layer.values.push(readValue(p, vend)); }
      else if (lf === 2) {
        const fend = p.varint() + p.pos, feat = { type: 0, tags: [], geom: [] };
        p.fields(fend, (ff, fw) => {
          if (ff === 2) feat.tags = p.packed();
          else if (ff === 3) feat.type = p.varint();
          else if (ff === 4) feat.geom = p.packed();
          else p.skip(fw);
        });
        layer.raw.push(feat);
      } else p.skip(lw);
    });
    layer.features = layer.raw.map((ft) => {
      const props = {};
      for (let i = 0; i + 1 < ft.tags.length; i += 2) props[layer.keys[ft.tags[i]]] = layer.values[ft.tags[i + 1]];
      return { type: ft.type, props, rings: geometry(ft.geom) };
    });
    delete layer.raw;
    layers[layer.name] = layer;
  });
  return layers;
}

function geometry(cmds) {
  const rings = [];
  let x = 0, y = 0, ring = null;
  for (let i = 0; i < cmds.length;) {
    const id = cmds[i] & 7, count = cmds[i] >> 3;
    i++;
    if (id === 7) { if (ring) ring.closed = true; continue; }
    for (let k = 0; k < count; k++) {
      const dx = cmds[i++], dy = cmds[i++];
      x += dx % 2 === 1 ? (dx + 1) / -2 : dx / 2;
      y += dy % 2 === 1 ? (dy + 1) / -2 : dy / 2;
      if (id === 1) { ring = [[x, y]]; rings.push(ring); } else ring.push([x, y]);
    }
  }
  return rings;
}

// ---- The map ----
const params = new URLSearchParams(location.search);
const canvas = document.getElementById('map');
const ctx = canvas.getContext('2d');
const TILE = 256;
const state = {
  lat: parseFloat(params.get('lat') || '52.48'),
  lng: parseFloat(params.get('lng') || '-1.89'),
  z: Math.max(0, Math.min(16, parseInt(params.get('z') || '11', 10))),
};
const coverageQuery = new URLSearchParams();
for (const [k, v] of params) if (!['lat', 'lng', 'z'].includes(k)) coverageQuery.append(k, v);
if (!coverageQuery.has('kind') && !coverageQuery.has('parent_code')) coverageQuery.set('kind', 'lsoa');
const tiles = new Map(); // "layer/z/x/y" -> {status, layers}
const BACKGROUND = [233, 238, 240];

function ramp(score) {
  // red (0) -> amber (50) -> green (100), mixed a quarter with the
  // background: opaque, so tiles meet without seams.
  const t = Math.max(0, Math.min(1, score / 100));
  const stops = [[215, 48, 39], [254, 224, 139], [26, 152, 80]];
  const [a, b, u] = t < 0.5 ? [stops[0], stops[1], t * 2] : [stops[1], stops[2], (t - 0.5) * 2];
  return `rgb(${a.map((c, i) => Math.round(0.75 * (c + (b[i] - c) * u) + 0.25 * BACKGROUND[i])).join(',')})`;
}
document.getElementById('ramp').innerHTML = [0, 20, 40, 60, 80, 100].map((s) => `<span style="background:${ramp(s)}"></span>`).join('');

function project(lat, lng, z) {
  const s = TILE * Math.pow(2, z), sin = Math.sin(lat * Math.PI / 180);
  return [(lng + 180) / 360 * s, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * s];
}
function unproject(px, py, z) {
  const s = TILE * Math.pow(2, z), lng = px / s * 360 - 180;
  const n = Math.PI - 2 * Math.PI * py / s;
  return [180 / Math.PI * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n))), lng];
}

function tileURL(layer, z, x, y) {
  const q = layer === 'coverage' ? '?' + coverageQuery.toString() : '';
  return `/tiles/${layer}/${z}/${x}/${y}.mvt${q}`;
}

function want(layer, z, x, y) {
  const key = `${layer}/${z}/${x}/${y}`;
  let t = tiles.get(key);
  if (!t) {
    t = { status: 'loading', layers: {} };
    tiles.set(key, t);
    fetch(tileURL(layer, z, x, y))
      .then((r) => { if (!r.ok) throw new Error(r.status + ' ' + r.statusText); return r.arrayBuffer(); })
      .then((b) => { t.layers = decodeTile(new Uint8Array(b)); t.status = 'ready'; schedule(); })
      .catch((e) => { t.status = 'error'; t.error = String(e); console.error(key, e); schedule(); });
  }
  return t;
}

let pending = false;
// A timer rather than requestAnimationFrame: timers also run in headless
// browsers' virtual time, so screenshots and tests see the last tiles.
function schedule() { if (!pending) { pending = true; setTimeout(() => { pending = false; draw(); }, 16); } }

let hoverables = [];
function draw() {
  const w = canvas.width = canvas.clientWidth, h = canvas.height = canvas.clientHeight;
  ctx.fillStyle = `rgb(${BACKGROUND.join(',')})`;
  ctx.fillRect(0, 0, w, h);
  const z = state.z, [cx, cy] = project(state.lat, state.lng, z);
  const left = cx - w / 2, top = cy - h / 2, n = Math.pow(2, z);
  const x0 = Math.floor(left / TILE), x1 = Math.floor((left + w) / TILE);
  const y0 = Math.max(0, Math.floor(top / TILE)), y1 = Math.min(n - 1, Math.floor((top + h) / TILE));
  let drawn = 0, loading = 0, errors = 0;
  hoverables = [];
  for (const layer of ['coverage', 'assets']) {
    for (let ty = y0; ty <= y1; ty++) {
      for (let tx = x0; tx <= x1; tx++) {
        const wx = ((tx % n) + n) % n;
        const t = want(layer, z, wx, ty);
        if (t.status === 'loading') { loading++; continue; }
        if (t.status === 'error') { errors++; continue; }
        const l = t.layers[layer];
        if (!l) continue;
        const scale = TILE / l.extent, ox = tx * TILE - left, oy = ty * TILE - top;
        ctx.save();
        ctx.beginPath();
        ctx.rect(ox - 0.5, oy - 0.5, TILE + 1, TILE + 1);
        ctx.clip();
        for (const f of l.features) {
          drawn++;
          if (f.type === 3) {
            ctx.beginPath();
            for (const ring of f.rings) {
              ring.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, ox + x * scale, oy + y * scale));
              ctx.closePath();
            }
            ctx.fillStyle = ramp(f.props.coverage_score || 0);
            ctx.fill('evenodd');
            ctx.strokeStyle = 'rgba(60,60,60,0.6)';
            ctx.lineWidth = 0.6;
            ctx.stroke();
            hoverables.push({ f, ox, oy, scale });
          } else if (f.type === 1) {
            for (const ring of f.rings) for (const [x, y] of ring) {
              ctx.beginPath();
              ctx.arc(ox + x * scale, oy + y * scale, z >= 13 ? 4 : 2.5, 0, 2 * Math.PI);
              ctx.fillStyle = '#1f3b73';
              ctx.fill();
              ctx.strokeStyle = '#fff';
              ctx.lineWidth = 1;
              ctx.stroke();
            }
          }
        }
        ctx.restore();
      }
    }
  }
  if (loading === 0) {
    const img = ctx.getImageData(0, 0, w, h).data;
    let painted = 0;
    for (let i = 0; i < img.length; i += 4 * 7) {
      if (Math.abs(img[i] - BACKGROUND[0]) + Math.abs(img[i + 1] - BACKGROUND[1]) + Math.abs(img[i + 2] - BACKGROUND[2]) > 12) painted++;
    }
    document.body.dataset.features = String(drawn);
    document.body.dataset.painted = String(painted);
    document.body.dataset.errors = String(errors);
    document.body.dataset.ready = '1';
  }
}

// ---- Interaction ----
let drag = null;
canvas.addEventListener('mousedown', (e) => { drag = { x: e.clientX, y: e.clientY }; canvas.style.cursor = 'grabbing'; });
window.addEventListener('mouseup', () => { drag = null; canvas.style.cursor = 'grab'; });
window.addEventListener('mousemove', (e) => {
  if (drag) {
    const [cx, cy] = project(state.lat, state.lng, state.z);
    [state.lat, state.lng] = unproject(cx - (e.clientX - drag.x), cy - (e.clientY - drag.y), state.z);
    drag = { x: e.clientX, y: e.clientY };
    schedule();
    return;
  }
  const info = document.getElementById('info');
  for (let i = hoverables.length - 1; i >= 0; i--) {
    const { f, ox, oy, scale } = hoverables[i];
    const path = new Path2D();
    for (const ring of f.rings) {
      ring.forEach(([x, y], k) => (k ? path.lineTo(ox + x * scale, oy + y * scale) : path.moveTo(ox + x * scale, oy + y * scale)));
      path.closePath();
    }
    if (ctx.isPointInPath(path, e.offsetX, e.offsetY, 'evenodd')) {
      const p = f.props;
      info.textContent = `${p.display_name} (${p.code}): score ${Math.round(p.coverage_score)}, ${p.assets_within_walk} assets within walking distance` +
        (p.deprivation_decile ? `, deprivation decile ${p.deprivation_decile}` : '');
      return;
    }
  }
});
function zoom(dz) { state.z = Math.max(2, Math.min(16, state.z + dz)); schedule(); }
canvas.addEventListener('wheel', (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1 : -1); }, { passive: false });
document.getElementById('zin').onclick = () => zoom(1);
document.getElementById('zout').onclick = () => zoom(-1);
window.addEventListener('resize', draw);
draw();
