// The results map: MapLibre GL JS over SPARC's own vector tiles (council,
// MSOA and LSOA outlines from /tiles/coverage as the base layer, councils
// named from afar and LSOAs close in; the whole directory from /tiles/assets,
// faint), the search results as a clustered GeoJSON source on top, the
// search's starting point marked. MapLibre is loaded on first use from our
// own origin (build.mjs copies it), so the first screen does not wait for
// it.
//
// Labels are HTML, not map text: MapLibre draws text only from glyph
// PBFs, which would need a glyph server or a font build step; nothing may
// be fetched from elsewhere (offline, CSP). HTML labels (maplibregl.Marker
// with our own element) use the system font, need no build step or new
// package, and cost DOM only for what is in view: they are made when the
// map is idle, for the features drawn in view, at close zooms only,
// at most a few dozen. They are hidden from screen readers: the list
// beside the map names every result.
import type * as ML from 'maplibre-gl';
import { t } from './i18n';
import type { SearchResult } from './types';
import { idOf } from './types';

declare const MAPLIBRE_URL: string;
declare const MAPLIBRE_WORKER_URL: string;

let lib: Promise<typeof ML> | undefined;

export const loadMap = () =>
  (lib ??= (import(MAPLIBRE_URL) as Promise<typeof ML>).then((m) => {
    m.setWorkerUrl(MAPLIBRE_WORKER_URL);
    return m;
  }));

/** What a label layer shows: features of layers, from zoom minzoom, at most max. */
export interface LabelSpec {
  layers: string[];
  minzoom: number;
  /** Shown below this zoom only (none: at every zoom from minzoom). */
  maxzoom?: number;
  max: number;
  className: string;
  /** Text, key (one label per key) and position of a feature; undefined skips it. */
  label(f: ML.MapGeoJSONFeature): { text: string; key: string; at: [number, number] } | undefined;
}

/**
 * HTML labels for the features of spec.layers drawn in view, redrawn when
 * the map is idle (panning moves them with the map, nothing is
 * computed per frame but their position). Returns a function that redraws
 * them now (after new data).
 */
export function htmlLabels(ml: typeof ML, map: ML.Map, spec: LabelSpec): () => void {
  const shown = new Map<string, ML.Marker>();
  const redraw = () => {
    const want = new Map<string, { text: string; at: [number, number] }>();
    const z = map.getZoom();
    if (z >= spec.minzoom && z < (spec.maxzoom ?? Infinity)) {
      for (const f of map.queryRenderedFeatures({ layers: spec.layers })) {
        const l = spec.label(f);
        if (l && !want.has(l.key)) want.set(l.key, l);
        if (want.size >= spec.max) break;
      }
    }
    for (const [key, m] of shown) {
      if (!want.has(key)) {
        m.remove();
        shown.delete(key);
      }
    }
    for (const [key, l] of want) {
      if (shown.has(key)) continue;
      const el = document.createElement('div');
      el.className = 'map-label ' + spec.className;
      el.setAttribute('aria-hidden', 'true');
      el.textContent = l.text;
      shown.set(key, new ml.Marker({ element: el, anchor: 'top', offset: [0, 6] }).setLngLat(l.at).addTo(map));
    }
    map.getContainer().dataset[spec.className.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = String(shown.size);
  };
  map.on('idle', redraw); // after a move, once its tiles are drawn
  return redraw;
}

/** A point inside view near the middle of a (tile-clipped) polygon feature: its box's centre, kept in view. */
function polygonLabelPoint(map: ML.Map, f: ML.MapGeoJSONFeature): [number, number] | undefined {
  const g = f.geometry as { type: string; coordinates: unknown };
  const rings = g.type === 'Polygon' ? [(g.coordinates as number[][][])[0]]
    : g.type === 'MultiPolygon' ? (g.coordinates as number[][][][]).map((p) => p[0]) : [];
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  for (const r of rings) for (const [x, y] of r) {
    w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
  }
  if (!isFinite(w)) return undefined;
  const v = map.getBounds();
  const x = Math.min(Math.max((w + e) / 2, v.getWest()), v.getEast()), y = Math.min(Math.max((s + n) / 2, v.getSouth()), v.getNorth());
  return [x, y];
}

/** Area names (tiles' display_name) as labels, one per area code, from zoom minzoom (below maxzoom). */
export const areaLabels = (ml: typeof ML, map: ML.Map, layer: string, minzoom: number, maxzoom?: number, className = 'area-label') =>
  htmlLabels(ml, map, {
    layers: [layer], minzoom, maxzoom, max: 40, className,
    label: (f) => {
      const at = polygonLabelPoint(map, f);
      const text = f.properties.display_name;
      return at && text ? { text: String(text), key: String(f.properties.code), at } : undefined;
    },
  });

export interface ResultsMap {
  /** Draws results; when drawn, the container's data-shown-for is tag (the list's data-seq). */
  show(results: SearchResult[], centre?: [number, number], tag?: string): void;
  /** The centre of the view, [longitude, latitude]. */
  centre(): [number, number];
  destroy(): void;
}

const empty = { type: 'FeatureCollection' as const, features: [] };

function resultsStyle(): ML.StyleSpecification {
  const tiles = (path: string) => [location.origin + path];
  return {
    version: 8,
    sources: {
      // The base layer: councils from afar, MSOAs and LSOAs closer in.
      councils: { type: 'vector', tiles: tiles('/tiles/coverage/{z}/{x}/{y}.mvt?kind=local_authority'), minzoom: 6, maxzoom: 14 },
      msoas: { type: 'vector', tiles: tiles('/tiles/coverage/{z}/{x}/{y}.mvt?kind=msoa'), minzoom: 9, maxzoom: 12 },
      areas: { type: 'vector', tiles: tiles('/tiles/coverage/{z}/{x}/{y}.mvt?kind=lsoa'), minzoom: 9, maxzoom: 14 },
      directory: { type: 'vector', tiles: tiles('/tiles/assets/{z}/{x}/{y}.mvt'), minzoom: 6, maxzoom: 14 },
      results: { type: 'geojson', data: empty, cluster: true, clusterRadius: 40, clusterMaxZoom: 14 },
      origin: { type: 'geojson', data: empty },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } },
      // Outlines only, no fill: a fill of every LSOA in view was the
      // largest cost of a frame while panning (software WebGL), for a
      // tint; the line features also give the areas' names.
      { id: 'areas-line', type: 'line', source: 'areas', 'source-layer': 'coverage', paint: { 'line-color': '#8aa39a', 'line-width': 0.6 } },
      // MSOAs between the councils and the LSOAs (from zoom 12 the LSOAs
      // draw their outlines, and a third outline layer costs frames
      // while panning); councils only as lines, whose features also give
      // the councils' names: no fill of whole councils to draw.
      { id: 'msoas-line', type: 'line', source: 'msoas', 'source-layer': 'coverage', minzoom: 9, maxzoom: 12, paint: { 'line-color': '#5f7d73', 'line-width': 1.1 } },
      { id: 'councils-line', type: 'line', source: 'councils', 'source-layer': 'coverage', paint: { 'line-color': '#3d5a51', 'line-width': 2 } },
      {
        id: 'directory', type: 'circle', source: 'directory', 'source-layer': 'assets',
        paint: { 'circle-color': '#6b6b6b', 'circle-opacity': 0.55, 'circle-radius': ['interpolate', ['linear'], ['get', 'count'], 1, 2.5, 20, 6] },
      },
      {
        id: 'origin', type: 'circle', source: 'origin',
        paint: { 'circle-color': '#fff', 'circle-radius': 6, 'circle-stroke-color': '#1b1b1b', 'circle-stroke-width': 3 },
      },
      {
        id: 'clusters', type: 'circle', source: 'results', filter: ['has', 'point_count'],
        paint: { 'circle-color': '#1d5c8c', 'circle-opacity': 0.85, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2,
          'circle-radius': ['step', ['get', 'point_count'], 12, 5, 16, 20, 22] },
      },
      {
        id: 'points', type: 'circle', source: 'results', filter: ['!', ['has', 'point_count']],
        paint: { 'circle-color': '#c0392b', 'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
      },
    ],
  };
}

/**
 * A map in el; onPick is called with an asset id when a result is chosen,
 * onPoint with [longitude, latitude] when the map is clicked elsewhere.
 */
export async function resultsMap(el: HTMLElement, onPick: (id: string) => void, onPoint: (at: [number, number]) => void): Promise<ResultsMap> {
  const ml = await loadMap();
  const map = new ml.Map({ container: el, center: [-1.8904, 52.4862], zoom: 11, attributionControl: false, style: resultsStyle() });
  // For the browser test's frame-time measurement (a programmatic pan).
  Object.defineProperty(el, 'maplibre', { value: map });
  map.addControl(new ml.NavigationControl({ showCompass: false }));
  map.getCanvas().setAttribute('aria-label', t('map.label'));
  map.on('click', (e) => {
    const hit = map.queryRenderedFeatures(e.point, { layers: ['points', 'clusters'] })[0];
    if (!hit) return onPoint([e.lngLat.lng, e.lngLat.lat]);
    if (hit.layer.id === 'points') return onPick(String(hit.properties.id));
    void (map.getSource('results') as ML.GeoJSONSource).getClusterExpansionZoom(hit.properties.cluster_id)
      .then((zoom) => map.easeTo({ center: (hit.geometry as { coordinates: number[] }).coordinates as [number, number], zoom }));
  });
  for (const layer of ['points', 'clusters']) {
    map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
  }
  map.getCanvas().style.cursor = 'crosshair';
  areaLabels(ml, map, 'areas-line', 13.5);
  areaLabels(ml, map, 'councils-line', 7, 11.5, 'council-label');
  const assetLabels = htmlLabels(ml, map, {
    layers: ['points'], minzoom: 14, max: 40, className: 'asset-label',
    label: (f) => ({ text: String(f.properties.name), key: String(f.properties.id), at: (f.geometry as { coordinates: [number, number] }).coordinates }),
  });
  const ready = new Promise<void>((r) => (map.loaded() ? r() : map.once('load', () => r())));
  return {
    show(results, centre, tag = '') {
      void ready.then(() => {
        const features = results.map((r) => ({
          type: 'Feature' as const,
          properties: { id: idOf(r.asset.name), name: r.asset.display_name },
          geometry: { type: 'Point' as const, coordinates: [r.asset.location.longitude, r.asset.location.latitude] },
        }));
        (map.getSource('results') as ML.GeoJSONSource).setData({ type: 'FeatureCollection', features });
        (map.getSource('origin') as ML.GeoJSONSource).setData(centre
          ? { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: centre } }] }
          : empty);
        const b = new ml.LngLatBounds();
        for (const f of features) b.extend(f.geometry.coordinates as [number, number]);
        if (centre) b.extend(centre);
        if (!b.isEmpty()) map.fitBounds(b, { padding: 40, maxZoom: 15, duration: 0 });
        // When drawn, the map says how many results it shows (points and
        // the points inside clusters): the list and the map agree.
        map.once('idle', () => {
          const drawn = map.queryRenderedFeatures({ layers: ['points', 'clusters'] })
            .reduce((n, f) => n + (f.properties.point_count ?? 1), 0);
          el.dataset.shown = String(drawn);
          el.dataset.shownFor = tag;
          assetLabels();
        });
      });
    },
    centre: () => map.getCenter().toArray() as [number, number],
    destroy: () => map.remove(),
  };
}
