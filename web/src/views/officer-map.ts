// The coverage choropleth: SPARC's own area tiles (/tiles/coverage, one
// kind) give the shapes; each area's class comes from the coverage API's
// JSON as MapLibre feature state keyed by area code, so any measure can be
// drawn without new tiles. The deprivation overlay hatches the most
// deprived fifth (deciles 1-2) from the tiles' deprivation_decile; the
// hatch is drawn here (no sprite server).
import type * as ML from 'maplibre-gl';
import { areaLabels, loadMap } from '../map';
import { t } from '../i18n';

export const palette = ['#eff3ff', '#bdd7e7', '#6baed6', '#3182bd', '#08519c'];
export const noValue = '#bdbdbd';

export interface CoverageMap {
  /** Colours the areas: class per code (absent = no value). */
  paint(kind: string, classes: Map<string, number>): void;
  select(code: string | undefined): void;
  deprivation(on: boolean): void;
  /** The view as "minLon,minLat,maxLon,maxLat", 4 decimals. */
  bbox(): string;
  onMove(f: () => void): void;
  /** Shows the box [west, south, east, north]. */
  fit(box: [number, number, number, number]): void;
  destroy(): void;
}

const tiles = (kind: string) => [location.origin + '/tiles/coverage/{z}/{x}/{y}.mvt?kind=' + encodeURIComponent(kind)];

function hatch(): { width: number; height: number; data: Uint8Array } {
  const n = 8, data = new Uint8Array(n * n * 4);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    if ((x + y) % n > 1) continue;
    const i = (y * n + x) * 4;
    data.set([90, 20, 60, 255], i);
  }
  return { width: n, height: n, data };
}

export async function coverageMap(el: HTMLElement, kind: string, onPick: (code: string) => void): Promise<CoverageMap> {
  const ml = await loadMap();
  const map = new ml.Map({
    container: el, center: [-1.8904, 52.4862], zoom: 10.5, attributionControl: false,
    style: {
      version: 8,
      sources: { areas: { type: 'vector', tiles: tiles(kind), minzoom: 6, maxzoom: 14, promoteId: 'code' } },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } },
        {
          id: 'cov-fill', type: 'fill', source: 'areas', 'source-layer': 'coverage',
          paint: { 'fill-color': ['match', ['coalesce', ['feature-state', 'cls'], -1], 0, palette[0], 1, palette[1], 2, palette[2], 3, palette[3], 4, palette[4], noValue], 'fill-opacity': 0.85 },
        },
        { id: 'cov-line', type: 'line', source: 'areas', 'source-layer': 'coverage', paint: { 'line-color': '#ffffff', 'line-width': 0.5 } },
        {
          id: 'deprived', type: 'fill', source: 'areas', 'source-layer': 'coverage', layout: { visibility: 'none' },
          filter: ['all', ['>=', ['get', 'deprivation_decile'], 1], ['<=', ['get', 'deprivation_decile'], 2]],
          paint: { 'fill-pattern': 'hatch' },
        },
        { id: 'selected', type: 'line', source: 'areas', 'source-layer': 'coverage', filter: ['==', ['get', 'code'], ''], paint: { 'line-color': '#d4351c', 'line-width': 3 } },
      ],
    },
  });
  map.addImage('hatch', hatch());
  map.addControl(new ml.NavigationControl({ showCompass: false }));
  map.getCanvas().setAttribute('aria-label', t('officer.mapLabel'));
  map.on('click', 'cov-fill', (e) => {
    const code = e.features?.[0]?.properties?.code;
    if (code) onPick(String(code));
  });
  areaLabels(ml, map, 'cov-fill', 12.5); // names when close: HTML labels, see map.ts
  map.on('mouseenter', 'cov-fill', () => (map.getCanvas().style.cursor = 'pointer'));
  map.on('mouseleave', 'cov-fill', () => (map.getCanvas().style.cursor = ''));
  await new Promise<void>((r) => (map.loaded() ? r() : map.once('load', () => r())));
  let current = kind;
  return {
    paint(kind, classes) {
      if (kind !== current) {
        (map.getSource('areas') as ML.VectorTileSource).setTiles(tiles(kind));
        current = kind;
      }
      map.removeFeatureState({ source: 'areas', sourceLayer: 'coverage' });
      for (const [code, cls] of classes) map.setFeatureState({ source: 'areas', sourceLayer: 'coverage', id: code }, { cls });
      el.dataset.painted = String(classes.size);
    },
    select: (code) => map.setFilter('selected', ['==', ['get', 'code'], code ?? '']),
    deprivation: (on) => map.setLayoutProperty('deprived', 'visibility', on ? 'visible' : 'none'),
    bbox() {
      const b = map.getBounds();
      return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => x.toFixed(4)).join(',');
    },
    onMove: (f) => map.on('moveend', f),
    fit: (box) => map.fitBounds(box, { padding: 30, duration: 0, maxZoom: 14 }),
    destroy: () => map.remove(),
  };
}
